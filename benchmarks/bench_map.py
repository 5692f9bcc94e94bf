"""The HuggingFace ``datasets.map`` path against its floor: seqdata's map function, a plain
Python one, and a map function that does no work at all.

For each corpus and each ``--batch-sizes`` value, in one process, best of ``--repeat`` runs
(interleaved, so that a change in the machine's load hits all three alike), over one
in-memory ``datasets.Dataset`` with string columns ``src`` and ``tgt``:

- **floor**: ``Dataset.map(fn, batched=True, with_indices=True, keep_in_memory=True)`` where
  ``fn`` sets precomputed ``src_ids``/``tgt_ids`` columns on the batch and returns it: slices
  of polars ``List(Int32)`` Series holding the seqdata run's output, the type seqdata
  returns. What ``map`` itself costs: batching, writing the Arrow table, fingerprinting.
- **seqdata**: ``Dataset.map(pipe, batched=True, keep_in_memory=True)`` with
  ``pipe = PairPipeline.build(src, tgt, WhitespaceTokenizer(lower=True), min_freq=2)``,
  a fresh copy (``PairPipeline.from_dict(pipe.to_dict())``, made before the clock starts)
  for every run, so that each run pays for building its lookups and remembering the cased
  forms, as a user's one ``map`` does.
- **plain Python**: a map function returning ``[w2i.get(w, UNK) for w in t.lower().split()]``
  per source text and ``[SOS, ..., EOS]`` around the same per target text, with the same
  vocabularies (``w2i`` holds the ordinary tokens only: a special token written in the text is
  UNK, as in seqdata). Its output must equal seqdata's (checked, "ok" or "MISMATCH").

Corpora (``--pairs`` pairs each, default 200,000, built in memory):

- ``bible``: the ``bible`` task's verse pairs (English ASV → WEB, mean ≈ 29 words a side),
  sampled with replacement (``benchmarks/bench_real.py``);
- ``dates``: the ``dates`` task's dates in 13 languages, three per line joined by " ; "
  (≈ 12 words a line, most lines non-ASCII) → ISO dates (``benchmarks/bench_real.py``);
- ``wmt``: generated WMT-like text (``benchmarks/bench_index.py``'s generator: log-normal
  lengths, mean ≈ 25 words, 2% misaligned pairs, Zipf words over ``--types`` types, the first
  word capitalised, most lines ending in " .");
- ``mix`` (not run by default): 29,000 distinct pairs replicated (12-word verse heads → three
  dates), the captions-like corpus of ``bench_scale.py --real mix``.

Printed: one row per corpus and batch size with the three times, seqdata / floor (target
<= 1.5x), plain / seqdata, and seqdata's tokens/s (source + target words, SOS/EOS not
counted); the core count and the load average.

    python benchmarks/bench_map.py [--pairs 200000] [--batch-sizes 1000 10000] [--repeat 3]
    python benchmarks/bench_map.py --corpora mix --pairs 1000000
"""

from __future__ import annotations

import os

os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import datasets
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_index import make_corpus
from bench_real import real_pairs

from seqdata.pipeline import PairPipeline
from seqdata.tokenizers import WhitespaceTokenizer
from seqdata.vocab import Vocab

CORPORA = ("bible", "dates", "wmt", "mix")


def load_corpus(name: str, args: argparse.Namespace) -> tuple[pl.Series, pl.Series]:
    """``(src, tgt)`` String Series of ``args.pairs`` pairs."""
    if name == "wmt":
        src, tgt = make_corpus(args.pairs, args.seed, args.types)
        return pl.Series(src), pl.Series(tgt)
    return real_pairs(name, args.pairs)


def plain_map(src_vocab: Vocab, tgt_vocab: Vocab) -> Callable[[Any], dict[str, Any]]:
    """The plain-Python ``map(batched=True)`` function: ``lower().split()`` and dict lookups."""
    w2i = {w: i for i, w in enumerate(src_vocab.tokens) if i >= len(src_vocab.specials)}
    t2i = {w: i for i, w in enumerate(tgt_vocab.tokens) if i >= len(tgt_vocab.specials)}
    unk, t_unk, sos, eos = src_vocab.unk_id, tgt_vocab.unk_id, tgt_vocab.sos_id, tgt_vocab.eos_id

    def plain(batch: Any) -> dict[str, Any]:
        return {
            "src_ids": [[w2i.get(w, unk) for w in t.lower().split()] for t in batch["src"]],
            "tgt_ids": [
                [sos, *(t2i.get(w, t_unk) for w in t.lower().split()), eos] for t in batch["tgt"]
            ],
        }

    return plain


def floor_map(done: datasets.Dataset) -> Callable[[Any, list[int]], Any]:
    """A map function that sets the finished columns of ``done`` on the batch (no work)."""
    pre_src = pl.Series(done.data.column("src_ids").combine_chunks())
    pre_tgt = pl.Series(done.data.column("tgt_ids").combine_chunks())

    def floor(batch: Any, indices: list[int]) -> Any:
        start, stop = indices[0], indices[-1] + 1
        batch["src_ids"] = pre_src.slice(start, stop - start)
        batch["tgt_ids"] = pre_tgt.slice(start, stop - start)
        return batch

    return floor


def ids(done: datasets.Dataset, column: str) -> pl.Series:
    return pl.Series(done.data.column(column).combine_chunks()).cast(pl.List(pl.Int64))


def same_ids(a: datasets.Dataset, b: datasets.Dataset) -> bool:
    return all(ids(a, c).equals(ids(b, c)) for c in ("src_ids", "tgt_ids"))


def bench_batch_size(
    ds: datasets.Dataset, pipe: PairPipeline, batch_size: int, repeat: int
) -> tuple[dict[str, float], bool, int]:
    """Best-of-``repeat`` seconds per path, whether seqdata == plain, and the token count."""
    kw: dict[str, Any] = {"batched": True, "batch_size": batch_size, "keep_in_memory": True}
    seq_out = ds.map(pipe, **kw)  # the floor's columns, and a warm-up
    paths: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
        "floor": (floor_map(seq_out), {"with_indices": True}),
        "seqdata": (pipe, {}),
        "plain": (plain_map(pipe.src_vocab, pipe.tgt_vocab), {}),
    }
    best = dict.fromkeys(paths, float("inf"))
    outputs: dict[str, datasets.Dataset] = {}
    for _ in range(repeat):
        for name, (fn, extra) in paths.items():
            outputs.pop(name, None)  # free the previous run's output first
            if name == "seqdata":  # a fresh copy: its lookups start cold, as in a user's map
                fn = PairPipeline.from_dict(pipe.to_dict())
            start = time.perf_counter()
            outputs[name] = ds.map(fn, **kw, **extra)
            best[name] = min(best[name], time.perf_counter() - start)
    ok = same_ids(outputs["seqdata"], outputs["plain"]) and same_ids(outputs["seqdata"], seq_out)
    lengths = ids(seq_out, "src_ids").list.len().sum() + ids(seq_out, "tgt_ids").list.len().sum()
    return best, ok, int(lengths) - 2 * len(ds)


def bench_corpus(name: str, args: argparse.Namespace) -> None:
    start = time.perf_counter()
    src, tgt = load_corpus(name, args)
    ds = datasets.Dataset.from_polars(pl.DataFrame({"src": src, "tgt": tgt}))
    pipe = PairPipeline.build(src, tgt, WhitespaceTokenizer(lower=True), min_freq=args.min_freq)
    non_ascii = [float((~t.str.contains(r"^[\x00-\x7f]*$")).mean() or 0.0) for t in (src, tgt)]
    print(
        f"# {name}: {len(ds):,} pairs, vocab {len(pipe.src_vocab):,} / {len(pipe.tgt_vocab):,} "
        f"ids, non-ASCII lines {non_ascii[0]:.0%} / {non_ascii[1]:.0%}, built in "
        f"{time.perf_counter() - start:.1f} s",
        flush=True,
    )
    for batch_size in args.batch_sizes:
        best, ok, tokens = bench_batch_size(ds, pipe, batch_size, args.repeat)
        floor, seq, plain = best["floor"], best["seqdata"], best["plain"]
        print(
            f"{name:>7} {batch_size:>7,} {floor:>8.2f} {seq:>9.2f} {plain:>8.2f} "
            f"{seq / floor:>9.2f}x {plain / seq:>9.2f}x {tokens / seq / 1e6:>8.2f} "
            f"{'ok' if ok else 'MISMATCH':>8} {os.getloadavg()[0]:>5.1f}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=200_000, help="pairs per corpus")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--repeat", type=int, default=3, help="best of N runs per path")
    p.add_argument("--corpora", nargs="+", choices=CORPORA, default=["bible", "dates", "wmt"])
    p.add_argument("--min-freq", type=int, default=2)
    p.add_argument("--types", type=int, default=1_000_000, help="wmt: word types per language")
    p.add_argument("--seed", type=int, default=0, help="wmt: generator seed")
    args = p.parse_args(argv)
    datasets.disable_progress_bars()
    print(
        f"# datasets {datasets.__version__}, polars {pl.__version__}; "
        f"{len(os.sched_getaffinity(0))} CPU cores, load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; best of {args.repeat}"
    )
    header = (
        f"{'corpus':>7} {'batch':>7} {'floor s':>8} {'seqdata s':>9} {'plain s':>8} "
        f"{'seq/floor':>10} {'plain/seq':>10} {'Mtok/s':>8} {'same ids':>8} {'load':>5}"
    )
    print(header)
    for name in args.corpora:
        bench_corpus(name, args)
    print("# target: seqdata within 1.5x of the floor; Mtok/s = seqdata's source + target words/s")


if __name__ == "__main__":
    main()
