"""Real text for the scale benchmark: the corpora, the in-process measurements and the
command line's wall time and peak memory.

Used by ``benchmarks/bench_scale.py --real`` (which runs `run_real` in a pinned subprocess and
`cli_prepare` from its driver) and by ``benchmarks/bench_map.py`` (which takes `real_pairs`).

Corpora (`real_pairs`, deterministic, seed 0):

- ``bible``: the ``bible`` task's verse pairs (ASV → WEB, English, mean ≈ 29 words a side),
  sampled with replacement;
- ``dates``: the ``dates`` task's dates written in 13 languages, three per line joined by
  " ; " (≈ 12 words a line, most lines non-ASCII) → the three ISO dates;
- ``mix``: 29,000 distinct pairs replicated, like a captions corpus (29k English–German
  caption pairs replicated to millions, mean 12 words a side, German with umlauts): the first
  12 words of 29,000 distinct bible verses (sampled without replacement) → three ``dates``
  strings joined by " ; " (non-ASCII on most lines), each pair repeated by sampling with
  replacement.

The command line (`cli_prepare`): ``python -m seqdata prepare --src S --tgt T --min-freq M
--out DIR --quiet``, without and with ``--lower``, interleaved, each in its own subprocess
whose wall time, CPU time (user + system) and peak RSS come from ``os.wait4``.

    python benchmarks/bench_scale.py --real mix --sizes 200000 --cores 0
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REAL_CORPORA = ("bible", "dates", "mix")
MIX_DISTINCT, MIX_WORDS = 29_000, 12


# --------------------------------------------------------------------------- corpora


def _three_dates(texts: Any, picks: Any) -> Any:
    """``texts.gather(picks[:, k])`` for k = 0, 1, 2, joined by " ; " row by row."""
    import polars as pl

    wide = pl.DataFrame({f"d{k}": texts.gather(picks[:, k]) for k in range(3)})
    return wide.select(pl.concat_str(["d0", "d1", "d2"], separator=" ; ")).to_series()


def real_pairs(name: str, n: int) -> tuple[Any, Any]:
    """``(src, tgt)``: ``n`` pairs of the real corpus ``name`` (see the module docstring) as
    two polars String Series."""
    import numpy as np

    from seqdata.tasks import load_task

    if name not in REAL_CORPORA:
        raise ValueError(f"name should be one of {REAL_CORPORA}, but got name={name!r}")
    rng = np.random.default_rng(0)
    if name == "bible":
        frame = load_task("bible")
        picks = rng.integers(0, frame.height, n)
        return frame["src"].gather(picks), frame["tgt"].gather(picks)
    dates = load_task("dates", 40_000)
    if name == "dates":
        picks = rng.integers(0, dates.height, (n, 3))
        return _three_dates(dates["src"], picks), _three_dates(dates["tgt"], picks)
    bible = load_task("bible")
    verses = bible["src"].gather(rng.choice(bible.height, MIX_DISTINCT, replace=False))
    src = verses.str.split(" ").list.head(MIX_WORDS).list.join(" ")
    day_picks = [rng.integers(0, dates.height, MIX_DISTINCT) for _ in range(3)]
    tgt = _three_dates(dates["src"], np.stack(day_picks, axis=1))
    picks = rng.integers(0, MIX_DISTINCT, n)
    return src.gather(picks), tgt.gather(picks)


def real_corpus(data_dir: Path, name: str, n: int) -> tuple[Path, Path]:
    """`real_pairs` written once as two line files ``{name}{n}.src/.tgt`` in ``data_dir``."""
    import polars as pl

    src_path, tgt_path = data_dir / f"{name}{n}.src", data_dir / f"{name}{n}.tgt"
    if src_path.exists() and tgt_path.exists():
        return src_path, tgt_path
    data_dir.mkdir(parents=True, exist_ok=True)
    for path, texts in zip((src_path, tgt_path), real_pairs(name, n), strict=True):
        part = path.with_name(path.name + ".part")
        pl.DataFrame({"x": texts}).write_csv(part, include_header=False, quote_style="never")
        part.rename(path)
    return src_path, tgt_path


# --------------------------------------------------------------------------- in process


def _timed(fn: Any) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def _count_and_encode(args: argparse.Namespace, r: dict[str, Any]) -> None:
    """Counting (``Counter`` vs ``TokenCounts``) and encoding (the notes' loop vs
    ``encode_flat``) on the first 500,000 pairs of the corpus."""
    from collections import Counter

    from seqdata.counts import TokenCounts
    from seqdata.pipeline import PairPipeline
    from seqdata.readers import iter_parallel_chunks
    from seqdata.tokenizers import WhitespaceTokenizer

    sample = next(iter(iter_parallel_chunks(args.src, args.tgt, 500_000)))
    texts = sample["src"]  # the side with the non-ASCII text for dates
    lines = texts.to_list()
    r["count_tokens"] = sum(len(line.split()) for line in lines)

    def counter() -> Counter[str]:
        counts: Counter[str] = Counter()
        for line in lines:
            counts.update(line.split())
        return counts

    r["counter_s"] = min(_timed(counter)[0] for _ in range(2))
    for lower in (False, True):
        tok = WhitespaceTokenizer(lower=lower)
        r[f"tokencounts_lower{lower:d}_s"] = min(
            _timed(lambda tok=tok: TokenCounts().update_texts(texts, tok).to_frame())[0]
            for _ in range(2)
        )
    tok = WhitespaceTokenizer(lower=True)
    pipe = PairPipeline.build(texts, sample["tgt"], tok, min_freq=2)
    w2i = {w: i for i, w in enumerate(pipe.src_vocab.tokens)}
    t2i = {w: i for i, w in enumerate(pipe.tgt_vocab.tokens)}
    tgt_lines = sample["tgt"].to_list()

    def loop() -> list[Any]:
        return [
            ([w2i.get(w, 1) for w in a.lower().split()],
             [2, *(t2i.get(w, 1) for w in b.lower().split()), 3])
            for a, b in zip(lines, tgt_lines, strict=True)
        ]  # fmt: skip

    r["python_encode_s"] = min(_timed(loop)[0] for _ in range(2))
    r["encode_flat_s"] = min(
        _timed(lambda: pipe.encode_flat(texts, sample["tgt"]))[0] for _ in range(2)
    )


def run_real(args: argparse.Namespace) -> dict[str, Any]:
    """Counting, encoding and ``prepare`` on a real corpus, each beside its plain-Python
    counterpart in the same process: ``Counter.update(line.split())``, the notes' loop
    ``[w2i.get(w, UNK) for w in line.lower().split()]`` + framing, and the serial
    ``build_from_chunks`` + ``write_chunks``."""
    from seqdata.corpus import ParallelCorpus
    from seqdata.pipeline import PairPipeline
    from seqdata.prepare import prepare_corpus
    from seqdata.readers import iter_parallel_chunks
    from seqdata.tokenizers import WhitespaceTokenizer

    def chunks() -> Any:
        return iter_parallel_chunks(args.src, args.tgt, args.chunk_rows)

    r: dict[str, Any] = {}
    _count_and_encode(args, r)
    out = args.src.parent / "real.store"
    for lower in (False, True):
        tok = WhitespaceTokenizer(lower=lower)
        shutil.rmtree(out, ignore_errors=True)

        def serial(tok: Any = tok) -> Any:
            built = PairPipeline.build_from_chunks(chunks, tok, tok, min_freq=args.min_freq)
            return ParallelCorpus.write_chunks(out, chunks, built)

        if not args.skip_serial:
            r[f"serial_lower{lower:d}_s"], r[f"serial_lower{lower:d}_cpu_s"], _ = _timed(serial)
            shutil.rmtree(out, ignore_errors=True)
        wall, cpu, (_, stats) = _timed(
            lambda tok=tok: prepare_corpus(out, chunks, tok, min_freq=args.min_freq)
        )
        r[f"prepare_lower{lower:d}_s"], r[f"prepare_lower{lower:d}_cpu_s"] = wall, cpu
        r["pairs"] = stats.examples
        shutil.rmtree(out, ignore_errors=True)
    r["load_avg"] = os.getloadavg()[0]
    return r


def print_real(name: str, r: dict[str, Any]) -> None:
    mtok = r["count_tokens"] / 1e6
    print(f"## {name}: {r['pairs']:,} pairs (load average {r['load_avg']:.1f})")
    print(f"count   Counter           {mtok / r['counter_s']:6.1f} Mtok/s")
    for lower in (0, 1):
        rate = mtok / r[f"tokencounts_lower{lower}_s"]
        print(
            f"count   TokenCounts lower={lower} {rate:6.1f} Mtok/s  "
            f"= {r['counter_s'] / r[f'tokencounts_lower{lower}_s']:.1f}x Counter"
        )
    ratio = r["python_encode_s"] / r["encode_flat_s"]
    print(f"encode  lower=True: encode_flat {ratio:.1f}x the plain-Python loop")
    for lower in (0, 1):
        new = f"prepare_lower{lower}"
        line = f"prepare lower={lower}: {r[new + '_s']:.1f} s wall, {r[new + '_cpu_s']:.1f} s CPU"
        if f"serial_lower{lower}_s" in r:
            old = f"serial_lower{lower}"
            line += (
                f"  (serial: {r[old + '_s']:.1f} s wall, {r[old + '_cpu_s']:.1f} s CPU; "
                f"{r[old + '_s'] / r[new + '_s']:.2f}x)"
            )
        print(line, flush=True)


# --------------------------------------------------------------------------- command line


def _cli_once(cmd: list[str], cores: int) -> dict[str, float]:
    """Run ``cmd`` once (pinned to the first ``cores`` CPUs; 0: all): wall and CPU seconds
    and peak RSS of that child alone (``os.wait4``'s rusage, not the ever-growing
    ``RUSAGE_CHILDREN`` maximum)."""
    env = dict(os.environ)
    cpus = set(sorted(os.sched_getaffinity(0))[:cores]) if cores else None
    if cpus:
        env["POLARS_MAX_THREADS"] = env["OMP_NUM_THREADS"] = str(len(cpus))

    def pin() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)

    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, preexec_fn=pin)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace")[-3000:]
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{tail}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_mb": usage.ru_maxrss / 1024,  # Linux: KiB
    }


def cli_prepare(src: Path, tgt: Path, args: argparse.Namespace) -> dict[str, Any]:
    """``seqdata prepare`` on ``src``/``tgt`` without and with ``--lower``, interleaved,
    ``args.cli_repeat`` times each; the output folder is removed before and after each run."""
    out = src.parent / f"{src.stem}.cli-prepare"
    base = [sys.executable, "-m", "seqdata", "prepare", "--src", str(src), "--tgt", str(tgt)]
    base += ["--min-freq", str(args.min_freq), "--out", str(out), "--quiet"]
    runs: dict[str, list[dict[str, float]]] = {"plain": [], "lower": []}
    for _ in range(args.cli_repeat):
        for mode in runs:
            shutil.rmtree(out, ignore_errors=True)
            cmd = [*base, "--lower"] if mode == "lower" else base
            runs[mode].append(_cli_once(cmd, args.cores))
            shutil.rmtree(out, ignore_errors=True)
    result: dict[str, Any] = {"cores": args.cores, "load_avg": os.getloadavg()[0]}
    result["startup"] = _cli_once([*base[:4], "--help"], args.cores)  # imports + argparse
    for mode, rs in runs.items():
        result[mode] = {
            "wall_s": statistics.median(r["wall_s"] for r in rs),
            "cpu_s": statistics.median(r["cpu_s"] for r in rs),
            "peak_mb": max(r["peak_mb"] for r in rs),
            "walls": [round(r["wall_s"], 2) for r in rs],
        }
    return result


def print_cli(r: dict[str, Any]) -> None:
    cores = f"{r['cores']} core(s)" if r["cores"] else f"all {os.cpu_count()} cores"
    print(f"cli     seqdata prepare --min-freq 2 ({cores}, load average {r['load_avg']:.1f}):")
    for mode, flag in (("plain", ""), ("lower", "--lower")):
        m = r[mode]
        walls = ", ".join(f"{w:.1f}" for w in m["walls"])
        print(
            f"cli     {flag or '(cased)':8s} {m['wall_s']:6.1f} s wall (median of {walls}), "
            f"{m['cpu_s']:6.1f} s CPU, peak {m['peak_mb']:6.0f} MiB"
        )
    start = r["startup"]
    print(
        f"cli     startup (prepare --help): {start['wall_s']:.1f} s wall, "
        f"peak {start['peak_mb']:.0f} MiB (included in the times above)"
    )
    overhead = 100 * (r["lower"]["wall_s"] / r["plain"]["wall_s"] - 1)
    peak = max(r["plain"]["peak_mb"], r["lower"]["peak_mb"])
    print(
        f"cli     --lower overhead {overhead:+.1f} % (target <= 10 %); "
        f"peak <= 1 GiB: {'yes' if peak <= 1024 else 'no'}",
        flush=True,
    )
