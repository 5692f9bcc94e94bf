"""Raw text lines → framed id sequences, three ways, side by side.

1. **notes**: the study notes' plain Python — ``line.lower().split()``, then
   ``[w2i[w] if w in w2i else UNK for w in sent]``, then ``src[:max_len]`` and
   ``[SOS] + tgt[:max_len - 2] + [EOS]``, one pair at a time;
2. **seqdata**: ``PairPipeline.encode_flat`` — Arrow/numpy whitespace split, one Arrow hash
   probe per token, numpy framing, chunks on a thread pool (the store's path);
3. **HF tokenizers**: a ``WordLevel`` model with a ``Lowercase`` normalizer, a
   ``WhitespaceSplit`` pre-tokenizer, truncation and a ``<sos> $A <eos>`` template for the
   target, ``encode_batch`` (Rust, all cores), then ``.ids`` of each encoding.

All three start from the same Python ``list[str]`` of raw lines, use the same vocabularies
(built once with seqdata) and must produce the same ids — checked after timing.

Corpus (generated, WMT/news-like per DESIGN.md §6, deterministic from ``--seed``): ``--pairs``
sentence pairs (default 1,000,000); source lengths log-normal (mean ≈ 25 words, p50 ≈ 20,
p99 ≈ 80, tail clipped at 400, minimum 1); target length = source × 0.95 × N(1, 0.1), plus 2%
misaligned pairs with an independent length; words Zipf (s = 1.2) over 1,000,000 synthetic
word types per language; the first word is capitalised and a final " ." ends 90% of the
sentences. Vocabularies: ``min_freq=2``, ``max_size=50,000`` per side (UNK rate ≈ 5%).

Prints the corpus shape, tokens/s (source + target words of the raw text per second of wall
time, best of ``--repeat`` runs; the first run of a process also pays for page-faulting its
memory in) for each path, and the ratios.

    python benchmarks/bench_index.py [--pairs 1000000] [--max-len 50] [--repeat 2]
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from seqdata.pipeline import PairPipeline

UNK, SOS, EOS = 1, 2, 3


# ------------------------------------------------------------------------------- corpus


def make_words(n: int, rng: np.random.Generator) -> pl.Series:
    """``n`` distinct lowercase pseudo-words of 1–12 letters (short ones are frequent)."""
    letters = np.frombuffer(b"etaoinshrdlcumwfgypbvkjxqz", dtype=np.uint8)
    weights = 1.0 / np.arange(1, 27) ** 0.9
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < n:
        lengths = np.clip(np.round(rng.lognormal(1.7, 0.4, n)), 1, 12).astype(np.int64)
        codes = rng.choice(letters, size=int(lengths.sum()), p=weights / weights.sum())
        blob = codes.tobytes().decode("ascii")
        ends = np.cumsum(lengths)
        for start, end in zip(ends - lengths, ends, strict=True):
            word = blob[start:end]
            if word not in seen:
                seen.add(word)
                words.append(word)
                if len(words) == n:
                    break
    return pl.Series(words)


def make_lines(
    lengths: np.ndarray, words: pl.Series, zipf_s: float, rng: np.random.Generator
) -> list[str]:
    ranks = np.arange(1, len(words) + 1, dtype=np.float64)
    cdf = np.cumsum(ranks**-zipf_s)
    cdf /= cdf[-1]
    ids = np.searchsorted(cdf, rng.random(int(lengths.sum())))
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    lists = pl.Series(
        pa.LargeListArray.from_arrays(pa.array(offsets), words.gather(ids).to_arrow())
    )
    text = lists.list.join(" ")
    full_stop = pl.Series(rng.random(len(lengths)) < 0.9)
    frame = pl.DataFrame({"t": text, "stop": full_stop})
    text = frame.select(
        pl.col("t").str.slice(0, 1).str.to_uppercase()
        + pl.col("t").str.slice(1)
        + pl.when(pl.col("stop")).then(pl.lit(" .")).otherwise(pl.lit(""))
    ).to_series()
    return text.to_list()


def make_corpus(
    pairs: int, seed: int, types: int = 1_000_000, zipf_s: float = 1.2
) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    src_len = np.clip(np.round(rng.lognormal(3.0, 0.6, pairs)), 1, 400).astype(np.int64)
    tgt_len = np.round(src_len * 0.95 * rng.normal(1.0, 0.1, pairs)).astype(np.int64)
    misaligned = rng.random(pairs) < 0.02
    tgt_len[misaligned] = np.round(rng.lognormal(3.0, 0.6, int(misaligned.sum())))
    tgt_len = np.clip(tgt_len, 1, 400)
    src_words = make_words(types, rng)
    tgt_words = make_words(types, rng)
    return make_lines(src_len, src_words, zipf_s, rng), make_lines(tgt_len, tgt_words, zipf_s, rng)


# -------------------------------------------------------------------------------- paths


def notes_path(
    src_lines: list[str],
    tgt_lines: list[str],
    src_w2i: dict[str, int],
    tgt_w2i: dict[str, int],
    max_len: int,
) -> tuple[list[list[int]], list[list[int]]]:
    """The notes' listing, verbatim apart from the loop around it."""
    srcs, tgts = [], []
    for src_line, tgt_line in zip(src_lines, tgt_lines, strict=True):
        raw_src_sentence = src_line.lower().split()
        raw_tgt_sentence = tgt_line.lower().split()
        src_sentence = [src_w2i[w] if w in src_w2i else UNK for w in raw_src_sentence]  # noqa: SIM401
        tgt_sentence = [tgt_w2i[w] if w in tgt_w2i else UNK for w in raw_tgt_sentence]  # noqa: SIM401
        src_sentence = src_sentence[:max_len]
        tgt_sentence = [SOS] + tgt_sentence[: max_len - 2] + [EOS]  # noqa: RUF005
        srcs.append(src_sentence)
        tgts.append(tgt_sentence)
    return srcs, tgts


def hf_tokenizers(w2i: dict[str, int], max_len: int, target: bool) -> Any:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.WordLevel(vocab=w2i, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    if target:
        tok.post_processor = processors.TemplateProcessing(
            single="<sos> $A <eos>", special_tokens=[("<sos>", SOS), ("<eos>", EOS)]
        )
    tok.enable_truncation(max_length=max_len)
    return tok


def hf_path(
    src_lines: list[str], tgt_lines: list[str], src_tok: Any, tgt_tok: Any, chunk: int = 65536
) -> tuple[list[list[int]], list[list[int]]]:
    srcs: list[list[int]] = []
    tgts: list[list[int]] = []
    for start in range(0, len(src_lines), chunk):
        encode_src = getattr(src_tok, "encode_batch_fast", src_tok.encode_batch)
        encode_tgt = getattr(tgt_tok, "encode_batch_fast", tgt_tok.encode_batch)
        srcs.extend(e.ids for e in encode_src(src_lines[start : start + chunk]))
        tgts.extend(e.ids for e in encode_tgt(tgt_lines[start : start + chunk]))
    return srcs, tgts


# ------------------------------------------------------------------------------ helpers


def flatten(seqs: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = np.fromiter(itertools.chain.from_iterable(seqs), dtype=np.int32, count=offsets[-1])
    return values, offsets


def same(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    return np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None  # free the previous run's output first
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def describe(name: str, lines: list[str]) -> str:
    lengths = (pl.Series(lines).str.count_matches(" ") + 1).to_numpy()
    q = np.percentile(lengths, [50, 95, 99])
    return (
        f"{name}: {lengths.sum():,} words, length mean {lengths.mean():.1f}, "
        f"p50 {q[0]:.0f}, p95 {q[1]:.0f}, p99 {q[2]:.0f}, max {lengths.max()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--max-len", type=int, default=50)
    parser.add_argument("--min-freq", type=int, default=2)
    parser.add_argument("--max-size", type=int, default=50_000, help="ids per side")
    parser.add_argument("--types", type=int, default=1_000_000, help="word types per language")
    parser.add_argument("--zipf", type=float, default=1.2, help="Zipf exponent s")
    parser.add_argument("--repeat", type=int, default=2, help="best of N runs per path")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-hf", action="store_true")
    args = parser.parse_args()

    start = time.perf_counter()
    src_lines, tgt_lines = make_corpus(args.pairs, args.seed, args.types, args.zipf)
    print(f"generated {args.pairs:,} pairs in {time.perf_counter() - start:.1f} s")
    print(describe("source", src_lines))
    print(describe("target", tgt_lines))

    from seqdata.tokenizers import WhitespaceTokenizer

    start = time.perf_counter()
    pipe = PairPipeline.build(
        src_lines,
        tgt_lines,
        WhitespaceTokenizer(lower=True),
        min_freq=args.min_freq,
        max_size=args.max_size,
        max_len=args.max_len,
    )
    build_s = time.perf_counter() - start
    src_w2i = {w: i for i, w in enumerate(pipe.src_vocab.tokens)}
    tgt_w2i = {w: i for i, w in enumerate(pipe.tgt_vocab.tokens)}
    words = sum(len(line.split()) for line in src_lines) + sum(len(t.split()) for t in tgt_lines)
    src_unk = pipe.src_vocab.unknown_rate([line.lower().split() for line in src_lines[:100_000]])
    print(
        f"vocab (min_freq={args.min_freq}, max_size={args.max_size}): source "
        f"{len(pipe.src_vocab):,}, target {len(pipe.tgt_vocab):,} ids; "
        f"built from the text by seqdata in {build_s:.2f} s; "
        f"source UNK rate {src_unk:.1%}; max_len={args.max_len}; "
        f"{len(os.sched_getaffinity(0))} CPU cores"
    )
    print(f"{words:,} words (source + target) per run\n")

    rows: list[tuple[str, float]] = []
    t_notes, notes = best_of(
        args.repeat, lambda: notes_path(src_lines, tgt_lines, src_w2i, tgt_w2i, args.max_len)
    )
    rows.append(("notes (plain Python)", t_notes))
    notes_flat = (flatten(notes[0]), flatten(notes[1]))
    del notes

    t_seq, seq = best_of(args.repeat, lambda: pipe.encode_flat(src_lines, tgt_lines))
    rows.append(("seqdata encode_flat (list[str] in)", t_seq))
    ok_seq = same(seq[0], notes_flat[0]) and same(seq[1], notes_flat[1])
    src_series, tgt_series = pl.Series(src_lines), pl.Series(tgt_lines)
    t_seq_pl, seq = best_of(args.repeat, lambda: pipe.encode_flat(src_series, tgt_series))
    rows.append(("seqdata encode_flat (pl.Series in)", t_seq_pl))
    del seq

    ok_hf: bool | None = None
    t_hf = None
    if not args.skip_hf:
        try:
            src_tok = hf_tokenizers(src_w2i, args.max_len, target=False)
            tgt_tok = hf_tokenizers(tgt_w2i, args.max_len, target=True)
        except ImportError:
            print("HuggingFace `tokenizers` is not installed: pip install tokenizers (skipped)")
        else:
            t_hf, hf = best_of(args.repeat, lambda: hf_path(src_lines, tgt_lines, src_tok, tgt_tok))
            rows.append(("HF tokenizers WordLevel encode_batch", t_hf))
            ok_hf = same(flatten(hf[0]), notes_flat[0]) and same(flatten(hf[1]), notes_flat[1])
            del hf

    print(f"{'path (best of ' + str(args.repeat) + ')':40s} {'seconds':>8s} {'Mtokens/s':>10s}")
    for name, seconds in rows:
        print(f"{name:40s} {seconds:8.2f} {words / seconds / 1e6:10.2f}")
    print()
    print(f"seqdata vs notes:          {t_notes / t_seq:6.1f}x   (target >= 5x)")
    if t_hf is not None:
        print(f"seqdata vs HF tokenizers:  {t_hf / t_seq:6.1f}x   (target >= 10x)")
        print(f"HF tokenizers vs notes:    {t_notes / t_hf:6.2f}x")
    print(f"identical ids: seqdata == notes: {ok_seq}; HF tokenizers == notes: {ok_hf}")


if __name__ == "__main__":
    main()
