"""Scale: prepare + one epoch of batches for 1M and 5M generated pairs: in memory, streaming,
and chunked to disk.

Three paths, each run in its own subprocess (so that its peak RSS is its own), pinned to one
CPU core by default (``--cores 0``: all cores):

- **memory**: ``read_parallel`` (polars) → ``PairPipeline.build`` (both vocabularies) →
  ``encode_flat`` → ``ParallelCorpus`` (flat int32 ids + offsets) → ``BucketBatchSampler`` →
  ``DataLoader(collate_fn=PadCollate)``.
- **streaming**: pass 1 ``PairPipeline.build_from_chunks(iter_parallel_chunks(...))`` counts
  the tokens chunk by chunk (``TokenCounts``) into the vocabularies; pass 2 reads chunks again
  → ``encode_flat`` per chunk → ``StreamingBucketer(buffer_size=…, collate_fn=PadCollate)`` →
  ``DataLoader``. Memory is bounded by the chunk and buffer sizes, not by the corpus.
- **chunked**: the bounded-memory ``prepare``: pass 1 ``build_from_chunks``; pass 2
  ``ParallelCorpus.write_chunks`` encodes chunk by chunk into a store next to the corpus
  (``pairsN.store/``); then ``ParallelCorpus.load(mmap=True)`` → ``BucketBatchSampler`` →
  ``DataLoader(collate_fn=PadCollate)`` for one epoch.

Printed per case: prepare time, batching time, tokens/s of the batching (real source + target
tokens delivered in padded batches per second; for streaming the pass also reads and encodes),
padding efficiency and peak RSS.

Corpus shape (DESIGN.md §6, WMT-like): source lengths lognormal (mean ≈ 25 words, p99 ≈ 80,
clipped to [1, 400]); target ≈ 0.95 × source with noise, ~1% misaligned pairs with unrelated
lengths; words drawn from a Zipf law (s = 1.1) over 50,000 types. Generated once into
``--data-dir`` (default ``/tmp/seqdata-bench``), reused afterwards.

Real text (``--real``, corpora and measurements in ``benchmarks/bench_real.py``): the
``bible`` task's verse pairs, the ``dates`` task's dates in 13 languages (three per line, most
lines non-ASCII) and ``mix`` (29,000 distinct pairs replicated, like a captions corpus:
12-word bible verse heads → three dates, non-ASCII on most lines), sampled to each size; per
corpus, in one process: counting (``Counter`` vs ``TokenCounts``, with and without ``lower``),
encoding (the plain-Python ``lower().split()`` + dict loop vs ``encode_flat(lower=True)``) and
the whole ``prepare`` (serial ``build_from_chunks`` + ``write_chunks`` vs the overlapped
``seqdata.prepare.prepare_corpus``), with wall and CPU seconds and the load average; then the
command line ``seqdata prepare --min-freq 2 --quiet`` without and with ``--lower``,
interleaved, each run in its own subprocess (``--cli-repeat`` times each, pinned to
``--cores``): median wall, CPU, peak RSS, the ``--lower`` overhead and "peak <= 1 GiB".

    python benchmarks/bench_scale.py                      # 1M and 5M, both paths
    python benchmarks/bench_scale.py --real --sizes 5000000 --cores 2 --chunk-rows 200000
    python benchmarks/bench_scale.py --real mix --sizes 200000 --cores 0 --cli-repeat 1
    python benchmarks/bench_scale.py --sizes 200000 --cases streaming
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_real import REAL_CORPORA, cli_prepare, print_cli, print_real, real_corpus, run_real

GEN_CHUNK = 250_000


# --------------------------------------------------------------------------- data


def generate(path_src: Path, path_tgt: Path, n: int, seed: int = 0) -> None:
    """Write ``n`` generated pairs as two line-aligned UTF-8 files (chunk by chunk)."""
    import numpy as np
    import polars as pl
    import pyarrow as pa

    types = 50_000
    words = pa.array([f"w{k}" for k in range(types)], pa.large_string())
    tmp_src = path_src.with_name(path_src.name + ".part")
    tmp_tgt = path_tgt.with_name(path_tgt.name + ".part")
    with tmp_src.open("wb") as fs, tmp_tgt.open("wb") as ft:
        for start in range(0, n, GEN_CHUNK):
            m = min(GEN_CHUNK, n - start)
            rng = np.random.default_rng([seed, start])
            src_len = np.clip(rng.lognormal(3.05, 0.55, m), 1, 400).astype(np.int64)
            tgt_len = np.clip(np.rint(src_len * rng.normal(0.95, 0.1, m)), 1, 400).astype(np.int64)
            bad = rng.random(m) < 0.01
            tgt_len[bad] = rng.integers(1, 120, int(bad.sum()))
            for lengths, f in ((src_len, fs), (tgt_len, ft)):
                ids = (rng.zipf(1.1, int(lengths.sum())) - 1) % types
                tokens = words.take(pa.array(ids))
                offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
                lists = pa.LargeListArray.from_arrays(pa.array(offsets), tokens)
                text = pl.Series(pl.from_arrow(lists)).list.join(" ")
                pl.DataFrame({"t": text}).write_csv(f, include_header=False, quote_style="never")
    tmp_src.rename(path_src)
    tmp_tgt.rename(path_tgt)


def corpus_files(data_dir: Path, n: int) -> tuple[Path, Path]:
    data_dir.mkdir(parents=True, exist_ok=True)
    src, tgt = data_dir / f"pairs{n}.src", data_dir / f"pairs{n}.tgt"
    if not (src.exists() and tgt.exists()):
        start = time.perf_counter()
        generate(src, tgt, n)
        print(f"# generated {n:,} pairs in {time.perf_counter() - start:.1f}s -> {data_dir}")
    return src, tgt


# --------------------------------------------------------------------------- the two paths


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _drain(loader: Any) -> tuple[int, int, int]:
    """Real tokens, padded tokens, batches of one epoch."""
    real = padded = batches = 0
    for batch in loader:
        real += int(batch.src_lengths.sum()) + int(batch.tgt_lengths.sum())
        padded += batch.src.numel() + batch.tgt.numel()
        batches += 1
    return real, padded, batches


def run_memory(args: argparse.Namespace) -> dict[str, Any]:
    from torch.utils.data import DataLoader

    from seqdata.collate import PadCollate
    from seqdata.corpus import ParallelCorpus
    from seqdata.pipeline import PairPipeline
    from seqdata.ragged import Ragged
    from seqdata.readers import read_parallel
    from seqdata.samplers import BucketBatchSampler

    t0 = time.perf_counter()
    df = read_parallel(args.src, args.tgt)
    t_read = time.perf_counter()
    pipe = PairPipeline.build(df["src"], df["tgt"], min_freq=args.min_freq)
    t_vocab = time.perf_counter()
    (s, so), (t, to) = pipe.encode_flat(df["src"], df["tgt"])
    del df
    corpus = ParallelCorpus(Ragged(s, so), Ragged(t, to))
    t_prep = time.perf_counter()
    sampler = BucketBatchSampler(
        corpus.src_lengths, corpus.tgt_lengths, batch_size=args.batch_size, seed=0
    )
    loader = DataLoader(corpus, batch_sampler=sampler, collate_fn=PadCollate(pad_id=0))
    real, padded, batches = _drain(loader)
    t_end = time.perf_counter()
    return {
        "pairs": len(corpus),
        "read_s": t_read - t0,
        "vocab_s": t_vocab - t_read,
        "encode_s": t_prep - t_vocab,
        "prepare_s": t_prep - t0,
        "batch_s": t_end - t_prep,
        "tokens": real,
        "efficiency": real / padded,
        "batches": batches,
    }


def run_streaming(args: argparse.Namespace) -> dict[str, Any]:
    from torch.utils.data import DataLoader

    from seqdata.collate import PadCollate
    from seqdata.pipeline import PairPipeline
    from seqdata.readers import iter_parallel_chunks
    from seqdata.streaming import StreamingBucketer

    t0 = time.perf_counter()
    # pass 1: token counts per side, chunk by chunk (seqdata.vocab.TokenCounts)
    pipe = PairPipeline.build_from_chunks(
        lambda: iter_parallel_chunks(args.src, args.tgt, args.chunk_rows), min_freq=args.min_freq
    )
    t_vocab = time.perf_counter()
    timing = {"read_encode_s": 0.0, "pairs": 0}

    def examples():
        it = iter_parallel_chunks(args.src, args.tgt, args.chunk_rows)
        while True:
            start = time.perf_counter()
            chunk = next(it, None)
            if chunk is None:
                return
            (s, so), (t, to) = pipe.encode_flat(chunk["src"], chunk["tgt"])
            timing["read_encode_s"] += time.perf_counter() - start
            timing["pairs"] += len(chunk)
            so, to = so.tolist(), to.tolist()
            for i in range(len(so) - 1):
                yield s[so[i] : so[i + 1]], t[to[i] : to[i + 1]]

    bucketer = StreamingBucketer(
        examples,
        batch_size=args.batch_size,
        buffer_size=args.buffer_size,
        collate_fn=PadCollate(pad_id=0),
    )
    real, padded, batches = _drain(DataLoader(bucketer, batch_size=None))
    t_end = time.perf_counter()
    return {
        "pairs": timing["pairs"],
        "vocab_s": t_vocab - t0,
        "read_encode_s": timing["read_encode_s"],
        "prepare_s": t_vocab - t0 + timing["read_encode_s"],
        "batch_s": t_end - t_vocab - timing["read_encode_s"],
        "pass_s": t_end - t_vocab,
        "tokens": real,
        "efficiency": real / padded,
        "batches": batches,
    }


def run_chunked(args: argparse.Namespace) -> dict[str, Any]:
    from torch.utils.data import DataLoader

    from seqdata.collate import PadCollate
    from seqdata.corpus import ParallelCorpus
    from seqdata.pipeline import PairPipeline
    from seqdata.readers import iter_parallel_chunks
    from seqdata.samplers import BucketBatchSampler

    def chunks():
        return iter_parallel_chunks(args.src, args.tgt, args.chunk_rows)

    store = args.src.with_name(args.src.stem + ".store")
    t0 = time.perf_counter()
    pipe = PairPipeline.build_from_chunks(chunks, min_freq=args.min_freq)  # pass 1: vocab
    t_vocab = time.perf_counter()
    stats = ParallelCorpus.write_chunks(store, chunks, pipe)  # pass 2: encode → .npy
    t_write = time.perf_counter()
    rss_prepare = _peak_rss_mb()
    corpus = ParallelCorpus.load(store, mmap=True, pipeline=pipe)
    t_prep = time.perf_counter()
    sampler = BucketBatchSampler(
        corpus.src_lengths, corpus.tgt_lengths, batch_size=args.batch_size, seed=0
    )
    loader = DataLoader(corpus, batch_sampler=sampler, collate_fn=PadCollate(pad_id=0))
    real, padded, batches = _drain(loader)
    t_end = time.perf_counter()
    return {
        "pairs": len(corpus),
        "vocab_s": t_vocab - t0,
        "write_s": t_write - t_vocab,
        "load_s": t_prep - t_write,
        "prepare_s": t_prep - t0,
        "batch_s": t_end - t_prep,
        "tokens": real,
        "efficiency": real / padded,
        "batches": batches,
        "prepare_peak_rss_mb": rss_prepare,
        "store_mb": sum(f.stat().st_size for f in store.iterdir()) / 2**20,
        "src_unk_rate": stats.src_unk_rate,
        "tgt_unk_rate": stats.tgt_unk_rate,
    }


CASES = {
    "memory": run_memory,
    "streaming": run_streaming,
    "chunked": run_chunked,
    "real": run_real,
}


def child(args: argparse.Namespace) -> None:
    if args.cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.cores]))
    import torch

    torch.set_num_threads(1)
    result = CASES[args.child](args)
    result["peak_rss_mb"] = _peak_rss_mb()
    print("RESULT " + json.dumps(result))


# --------------------------------------------------------------------------- driver


def spawn(case: str, src: Path, tgt: Path, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        case,
        "--src",
        str(src),
        "--tgt",
        str(tgt),
        "--batch-size",
        str(args.batch_size),
        "--buffer-size",
        str(args.buffer_size),
        "--chunk-rows",
        str(args.chunk_rows),
        "--min-freq",
        str(args.min_freq),
        *(["--skip-serial"] if args.skip_serial else []),
    ]
    env = dict(os.environ)
    if args.cores:  # read at import by polars / torch; the child pins itself (see child())
        env["POLARS_MAX_THREADS"] = str(args.cores)
        env["OMP_NUM_THREADS"] = str(args.cores)
        cmd += ["--cores", str(args.cores)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{case} failed:\n{out.stderr[-3000:]}")
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    p.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    p.add_argument("--data-dir", type=Path, default=Path("/tmp/seqdata-bench"))
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--buffer-size", type=int, default=100_000)
    p.add_argument("--chunk-rows", type=int, default=100_000)
    p.add_argument("--min-freq", type=int, default=2)
    p.add_argument("--cores", type=int, default=1, help="pin each case to N cores (0: all)")
    p.add_argument(
        "--real",
        nargs="*",
        choices=REAL_CORPORA,
        help="real text instead: some of the bible, dates, mix corpora at --sizes (default all)",
    )
    p.add_argument("--skip-serial", action="store_true", help="--real: no serial prepare")
    p.add_argument(
        "--cli-repeat", type=int, default=2, help="--real: seqdata prepare runs per mode (0: none)"
    )
    p.add_argument("--child", choices=list(CASES), help=argparse.SUPPRESS)
    p.add_argument("--src", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--tgt", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    if args.real is not None:
        for n in args.sizes:
            for name in args.real or REAL_CORPORA:
                src, tgt = real_corpus(args.data_dir, name, n)
                print_real(name, spawn("real", src, tgt, args))
                if args.cli_repeat > 0:
                    print_cli(cli_prepare(src, tgt, args))
        return
    cores = f"{args.cores} core(s)" if args.cores else "all cores"
    print(
        f"# batch_size={args.batch_size}, buffer_size={args.buffer_size}, "
        f"chunk_rows={args.chunk_rows}, min_freq={args.min_freq}, {cores} per case"
    )
    header = (
        f"{'pairs':>10} {'path':>10} {'prepare s':>10} {'batch s':>8} {'Mtok/s':>7} "
        f"{'pad eff':>7} {'peak RSS MB':>11}"
    )
    print(header)
    for n in args.sizes:
        src, tgt = corpus_files(args.data_dir, n)
        for case in args.cases:
            r = spawn(case, src, tgt, args)
            print(
                f"{r['pairs']:>10,} {case:>10} {r['prepare_s']:>10.1f} {r['batch_s']:>8.1f} "
                f"{r['tokens'] / r['batch_s'] / 1e6:>7.2f} {r['efficiency']:>7.3f} "
                f"{r['peak_rss_mb']:>11.0f}",
                flush=True,
            )
            print("#   " + json.dumps({k: round(v, 3) for k, v in r.items()}), flush=True)


if __name__ == "__main__":
    main()
