"""Generated parallel corpora with realistic length shapes (DESIGN.md §6), for benchmarks.

Shapes (whitespace words; the target is framed with SOS/EOS, so it is 2 longer):

* ``wmt`` — news/parliament-like: source log-normal (median ≈ 21, mean ≈ 25, p99 ≈ 85),
  plus a 0.5% long tail (Pareto, up to 400 words) and 0.3% one-word lines; target =
  source × 1.05 × N(1, 0.12), except 2% misaligned pairs with an independent target length.
  Empty lines are assumed skipped by the reader's policy (a store cannot hold an empty
  source).
* ``wmt-bpe`` — the same, in subword units: every length × 1.3.
* ``captions`` — image captions: log-normal with median 11 (p5 ≈ 7, p95 ≈ 19, p99 ≈ 24,
  clipped to 40); target tracks the source (× 0.95 × N(1, 0.08)).

Ids are Zipf-like (``P(id) ∝ 1/id`` over the word ids), drawn with one vectorized
``exp`` — their values do not matter for batching, only their count.

>>> src, tgt = make_lengths(1000, "wmt", seed=0)
>>> len(src), int(src.min()) >= 1, int(tgt.min()) >= 3
(1000, True, True)
"""

from __future__ import annotations

import numpy as np

from seqdata.corpus import ParallelCorpus
from seqdata.ragged import Ragged

SHAPES = ("wmt", "wmt-bpe", "captions")
FIRST_WORD, SOS, EOS = 4, 2, 3


def make_lengths(n: int, shape: str = "wmt", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(src_lengths, tgt_lengths)``, int64 ``(n,)`` each; targets include SOS and EOS."""
    if shape not in SHAPES:
        raise ValueError(f"shape should be one of {SHAPES}, but got shape={shape!r}")
    rng = np.random.default_rng(seed)
    if shape == "captions":
        src = np.clip(np.round(rng.lognormal(np.log(11), 0.333, n)), 3, 40)
        tgt = np.clip(np.round(src * 0.95 * rng.normal(1.0, 0.08, n)), 3, 40)
    else:
        src = rng.lognormal(np.log(21), 0.6, n)
        tail = rng.random(n) < 0.005
        src[tail] = 80 * (1 + rng.pareto(1.5, int(tail.sum())))
        src = np.clip(np.round(src), 1, 400)
        src[rng.random(n) < 0.003] = 1
        tgt = np.round(src * 1.05 * rng.normal(1.0, 0.12, n))
        misaligned = rng.random(n) < 0.02
        tgt[misaligned] = np.round(rng.lognormal(np.log(21), 0.6, int(misaligned.sum())))
        tgt = np.clip(tgt, 1, 400)
        if shape == "wmt-bpe":
            src, tgt = np.ceil(src * 1.3), np.ceil(tgt * 1.3)
    return src.astype(np.int64), tgt.astype(np.int64) + 2


def make_ids(lengths: np.ndarray, vocab: int, rng: np.random.Generator) -> np.ndarray:
    """``lengths.sum()`` Zipf-like word ids in ``[FIRST_WORD, vocab)``, int32."""
    u = rng.random(int(lengths.sum()), dtype=np.float32)
    ids = np.exp(u * np.float32(np.log(vocab - FIRST_WORD))).astype(np.int32)
    return np.minimum(ids + (FIRST_WORD - 1), vocab - 1)


def make_corpus(n: int, shape: str = "wmt", seed: int = 0, vocab: int = 32000) -> ParallelCorpus:
    """A :class:`ParallelCorpus` of ``n`` pairs; targets framed ``[SOS] … [EOS]``."""
    src_len, tgt_len = make_lengths(n, shape, seed)
    rng = np.random.default_rng(seed + 1)
    src_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(src_len, out=src_off[1:])
    tgt_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(tgt_len, out=tgt_off[1:])
    tgt_values = make_ids(tgt_len, vocab, rng)
    tgt_values[tgt_off[:-1]] = SOS
    tgt_values[tgt_off[1:] - 1] = EOS
    return ParallelCorpus(
        Ragged(make_ids(src_len, vocab, rng), src_off), Ragged(tgt_values, tgt_off)
    )


def describe(src: np.ndarray, tgt: np.ndarray) -> str:
    """One line: mean and percentiles of both sides."""

    def side(x: np.ndarray) -> str:
        p = np.percentile(x, [5, 50, 95, 99])
        return (
            f"mean {x.mean():.1f}, p5 {p[0]:.0f}, p50 {p[1]:.0f}, p95 {p[2]:.0f}, "
            f"p99 {p[3]:.0f}, max {x.max()}"
        )

    corr = float(np.corrcoef(src, tgt)[0, 1])
    return f"source {side(src)}; target {side(tgt)}; corr {corr:.2f}"
