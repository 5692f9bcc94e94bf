"""Plots of a corpus and a training run (PNG files, drawn with matplotlib's Agg backend).

- [`plot_lengths`][seqdata.plots.plot_lengths]: source and target length histograms with
  the bucket edges of [`BucketBatchSampler`][seqdata.BucketBatchSampler];
- [`plot_loss`][seqdata.plots.plot_loss]: the training loss per batch and the validation
  loss per epoch;
- [`plot_curves`][seqdata.plots.plot_curves]: a run's training and validation loss and its
  BLEU per epoch (what ``seqdata train`` draws into its run folder).

matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["bucket_edges", "plot_curves", "plot_lengths", "plot_loss"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bucket_edges(lengths: np.ndarray, width: int) -> np.ndarray:
    """Lengths where the bucket key ``(len - min + 1) // width`` changes.

    These are the edges of [`BucketBatchSampler`][seqdata.BucketBatchSampler]'s buckets:
    lengths within ``width`` tokens of each other share a bucket.

    >>> bucket_edges(np.array([3, 4, 12]), 5).tolist()
    [7, 12]
    """
    low = int(lengths.min())
    first = low - 1 + width  # the smallest length with key 1
    return np.arange(first, int(lengths.max()) + 1, width)


def plot_lengths(
    path: str | os.PathLike[str],
    src_lengths: np.ndarray,
    tgt_lengths: np.ndarray,
    *,
    bucket_width: int = 5,
    title: str = "",
) -> Path:
    """Histogram of source and target lengths with the bucket edges; writes a PNG to ``path``.

    Args:
        path: the ``.png`` file to write.
        src_lengths: source lengths, shape ``(N,)``.
        tgt_lengths: target lengths, shape ``(N,)``.
        bucket_width: the bucket width whose edges are drawn as dashed lines.
        title: a title above both panels.
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, lengths, side in ((axes[0], src_lengths, "source"), (axes[1], tgt_lengths, "target")):
        lengths = np.asarray(lengths)
        bins = np.arange(int(lengths.min()), int(lengths.max()) + 2) - 0.5
        ax.hist(lengths, bins=bins, color="#4C72B0")
        for k, edge in enumerate(bucket_edges(lengths, bucket_width)):
            ax.axvline(
                edge - 0.5,
                color="#C44E52",
                ls="--",
                lw=1,
                label=f"bucket edge (width {bucket_width})" if k == 0 else None,
            )
        ax.set_xlim(bins[0] - 1, bins[-1] + 1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(f"{side} length (tokens)")
        ax.set_ylabel("examples")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def plot_loss(
    path: str | os.PathLike[str],
    step_losses: Sequence[float],
    steps_per_epoch: Sequence[int],
    valid_losses: Sequence[float | None] = (),
) -> Path:
    """Training loss per step (and its moving average) with the validation loss per epoch."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    losses = np.asarray(step_losses, dtype=np.float64)
    steps = np.arange(1, len(losses) + 1)
    ax.plot(steps, losses, color="#4C72B0", alpha=0.35, lw=0.8, label="train (per batch)")
    window = max(1, min(50, len(losses) // 20))
    if len(losses) >= window > 1:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(
            steps[window - 1 :],
            smooth,
            color="#4C72B0",
            lw=1.8,
            label=f"train ({window}-batch mean)",
        )
    ends = np.cumsum(steps_per_epoch)
    points = [(e, v) for e, v in zip(ends, valid_losses, strict=False) if v is not None]
    if points:
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, "o-", color="#C44E52", label="valid (end of epoch)")
    ax.set_yscale("log")
    ax.set_xlabel("training step (batch)")
    ax.set_ylabel("cross-entropy per target token")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def plot_curves(path: str | os.PathLike[str], history: Sequence[Mapping[str, Any]]) -> Path:
    """Loss (train, valid) and BLEU per epoch from a run's history; writes a PNG to ``path``.

    Args:
        path: the ``.png`` file to write.
        history: one mapping per epoch with ``epoch``, ``train_loss`` and, when validated,
            ``valid_loss`` and ``bleu`` (the entries of ``metrics.jsonl``).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    epochs = [int(h["epoch"]) for h in history]
    ax.plot(epochs, [h["train_loss"] for h in history], "o-", color="#4C72B0", label="train loss")
    valid = [(int(h["epoch"]), h["valid_loss"]) for h in history if h.get("valid_loss") is not None]
    if valid:
        ax.plot(*zip(*valid, strict=True), "o-", color="#C44E52", label="valid loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy per target token")
    ax.legend(loc="upper left", fontsize=8)
    bleu = [(int(h["epoch"]), h["bleu"]) for h in history if h.get("bleu") is not None]
    if bleu:
        twin = ax.twinx()
        twin.plot(*zip(*bleu, strict=True), "s--", color="#55A868", label="valid BLEU")
        twin.set_ylabel("BLEU")
        twin.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
