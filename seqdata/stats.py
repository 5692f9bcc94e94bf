"""How much padding a batching wastes: real vs padded tokens per side.

"Show me my length distribution and how much padding I waste":
[`padding_stats`][seqdata.stats.padding_stats] runs a
sampler (or any list of index batches) over a corpus's lengths — no token is read — and
reports, per side, the real tokens, the padded cells ``B × longest`` summed over batches,
and their ratio (the padding efficiency; 1.0 means no padding at all).

>>> from seqdata.corpus import ParallelCorpus
>>> corpus = ParallelCorpus.from_sequences([[1, 2, 3], [4], [5, 6]], [[2, 3], [2, 7, 3], [2, 3]])
>>> stats = padding_stats([[0, 2], [1]], corpus)
>>> stats.src.real, stats.src.padded, round(stats.src.efficiency, 3), stats.tgt.efficiency
(6, 7, 0.857, 1.0)
>>> round(stats.efficiency, 3)                            # both sides together
0.929
>>> print(stats)  # doctest: +NORMALIZE_WHITESPACE
2 batches, 3 examples (mean batch 1.5);
source 6/7 tokens real (efficiency 0.857); target 7/7 tokens real (efficiency 1.000)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from seqdata.errors import ConfigError, InputTypeError

__all__ = ["PaddingStats", "SidePadding", "length_summary", "padding_stats"]


@dataclass(frozen=True)
class SidePadding:
    """Padding of one side (source or target).

    Attributes:
        real: real tokens.
        padded: padded cells, ``B × L`` summed over the batches.
    """

    real: int
    padded: int

    @property
    def efficiency(self) -> float:
        """``real / padded`` (1.0 = no padding)."""
        return self.real / self.padded if self.padded else 1.0

    def __str__(self) -> str:
        return f"{self.real}/{self.padded} tokens real (efficiency {self.efficiency:.3f})"


@dataclass(frozen=True)
class PaddingStats:
    """Padding of one pass over a batching.

    Attributes:
        batches: number of batches.
        examples: examples in them (repeats counted again).
        mean_batch_size: ``examples / batches``.
        src: the source side's [`SidePadding`][seqdata.stats.SidePadding].
        tgt: the target side's, or ``None`` for a single-sequence corpus.
    """

    batches: int
    examples: int
    mean_batch_size: float
    src: SidePadding
    tgt: SidePadding | None = None

    @property
    def efficiency(self) -> float:
        """Real / padded tokens over both sides together."""
        sides = [self.src] if self.tgt is None else [self.src, self.tgt]
        padded = sum(s.padded for s in sides)
        return sum(s.real for s in sides) / padded if padded else 1.0

    def __str__(self) -> str:
        text = (
            f"{self.batches} batches, {self.examples} examples (mean batch "
            f"{self.mean_batch_size:.1f});\nsource {self.src}"
        )
        return text if self.tgt is None else f"{text}; target {self.tgt}"


def _lengths_of(corpus: Any) -> tuple[np.ndarray, np.ndarray | None]:
    if hasattr(corpus, "src_lengths"):
        src, tgt = corpus.src_lengths, getattr(corpus, "tgt_lengths", None)
    elif isinstance(corpus, tuple) and len(corpus) == 2:
        src, tgt = corpus
    else:
        src, tgt = corpus, None
    src = np.asarray(src)
    if src.ndim != 1 or not np.issubdtype(src.dtype, np.integer):
        raise InputTypeError(
            "corpus should be a ParallelCorpus/MonoCorpus, a (src_lengths, tgt_lengths) tuple "
            f"or a 1-D array of lengths, but got {type(corpus).__name__}"
        )
    return src.astype(np.int64), None if tgt is None else np.asarray(tgt, dtype=np.int64)


def _side(
    lengths: np.ndarray,
    flat: np.ndarray,
    sizes: np.ndarray,
    starts: np.ndarray,
    multiple: int | None,
) -> SidePadding:
    picked = lengths[flat]
    longest = np.maximum.reduceat(picked, starts)
    if multiple is not None:
        longest = -(-longest // multiple) * multiple  # as seqdata.ragged.padded_length
    return SidePadding(int(picked.sum()), int((sizes * longest).sum()))


def padding_stats(
    batches: Iterable[Iterable[int]], corpus: Any, *, pad_to_multiple_of: int | None = None
) -> PaddingStats:
    """Real and padded tokens of ``batches`` (a sampler, or lists of indices) over ``corpus``.

    Args:
        batches: a batch sampler (one pass is drawn: the whole epoch for a fresh sampler,
            this rank's share when sharded) or any iterable of index lists.
        corpus: a ``ParallelCorpus`` / ``MonoCorpus`` (anything with ``src_lengths`` and
            optionally ``tgt_lengths``), a ``(src_lengths, tgt_lengths)`` tuple, or one
            ``(N,)`` array of lengths.
        pad_to_multiple_of: count padding to this multiple, as ``PadCollate`` would.

    Returns:
        A [`PaddingStats`][seqdata.stats.PaddingStats].
    """
    src, tgt = _lengths_of(corpus)
    parts = [b if isinstance(b, (list, np.ndarray)) else list(b) for b in batches]
    if not parts:
        raise ConfigError("batches should hold at least one batch, but got none")
    sizes = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
    if int(sizes.min()) == 0:
        raise ConfigError(
            f"every batch should be non-empty, but batch {int(np.argmin(sizes))} is empty"
        )
    flat = np.fromiter(chain.from_iterable(parts), dtype=np.int64, count=int(sizes.sum()))
    starts = np.cumsum(sizes) - sizes
    return PaddingStats(
        batches=len(parts),
        examples=len(flat),
        mean_batch_size=len(flat) / len(parts),
        src=_side(src, flat, sizes, starts, pad_to_multiple_of),
        tgt=None if tgt is None else _side(tgt, flat, sizes, starts, pad_to_multiple_of),
    )


def length_summary(lengths: Any) -> dict[str, float]:
    """Mean, 5th/50th/95th/99th percentiles and maximum of a length array.

    Args:
        lengths: ``(N,)`` lengths (e.g. ``corpus.src_lengths``), N >= 1.

    >>> length_summary(np.array([1, 2, 3, 4, 10]))
    {'mean': 4.0, 'p5': 1.2, 'p50': 3.0, 'p95': 8.8, 'p99': 9.76, 'max': 10}
    """
    lengths = np.asarray(lengths)
    if lengths.size == 0:
        raise ConfigError("lengths should hold at least one length, but got an empty array")
    p = np.percentile(lengths, [5, 50, 95, 99])
    return {
        "mean": round(float(lengths.mean()), 2),
        "p5": round(float(p[0]), 2),
        "p50": round(float(p[1]), 2),
        "p95": round(float(p[2]), 2),
        "p99": round(float(p[3]), 2),
        "max": int(lengths.max()),
    }
