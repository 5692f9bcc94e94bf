"""The steps that ``seqdata demo`` and the ``seqdata`` commands share, usable from Python.

Each is a short function over seqdata's stages: loaders with a batch sampler and
:class:`~seqdata.collate.PadCollate`, the three batching strategies the demo compares,
greedy translation of raw text with a trained checkpoint, the plots, and an output folder
that appears only once it is complete.

>>> check_device("cpu")
device(type='cpu')
>>> with tempfile.TemporaryDirectory() as tmp:
...     with output_dir(f"{tmp}/out", marker="example") as work:
...         _ = (work / "a.txt").write_text("done")
...     sorted(p.name for p in Path(tmp, "out").iterdir())
['a.txt', 'seqdata-output.json']
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, Sampler

from seqdata.collate import PadCollate
from seqdata.errors import ConfigError, SeqdataError
from seqdata.models import Seq2Seq
from seqdata.store import ParallelCorpus, Ragged

__all__ = [
    "MARKER_FILE",
    "LossLog",
    "Strategy",
    "batching_strategies",
    "bucket_edges",
    "check_device",
    "check_output_dir",
    "loader",
    "matching_batch_size",
    "matching_max_tokens",
    "output_dir",
    "plot_lengths",
    "plot_loss",
    "split_holdout",
    "time_epoch",
    "translate_texts",
]

MARKER_FILE = "seqdata-output.json"
"""Written last into every folder the CLI produces; a folder with it may be replaced."""


# --------------------------------------------------------------------------- output folders


def _is_replaceable(path: Path, marker: str) -> bool:
    if not path.exists():
        return True
    if not path.is_dir():
        return False
    if not any(path.iterdir()):
        return True
    try:
        info = json.loads((path / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get("kind") == marker


def check_output_dir(path: str | os.PathLike[str], marker: str) -> Path:
    """Refuse ``path`` unless it is absent, empty, or an earlier output of the same kind.

    Call it *before* the long work, so a bad ``--out`` fails at once.
    """
    out = Path(path)
    if not _is_replaceable(out, marker):
        raise ConfigError(
            f"--out {out} exists and is not an earlier `seqdata {marker}` output; refusing to "
            "overwrite it — choose a new folder or remove it"
        )
    return out


@contextlib.contextmanager
def output_dir(path: str | os.PathLike[str], *, marker: str) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; on success it becomes ``path`` at once.

    On any error the temporary folder is deleted, so ``path`` is either the complete new
    output, the untouched old one, or absent — never half-written. An existing ``path`` is
    replaced only if it is empty or was written by the same command (its
    ``seqdata-output.json`` says ``marker``).
    """
    out = check_output_dir(path, marker)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
        (tmp / MARKER_FILE).write_text(
            json.dumps({"kind": marker, "format": "seqdata-output", "version": 1}) + "\n",
            encoding="utf-8",
        )
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- devices, data


def check_device(name: str) -> torch.device:
    """``torch.device(name)`` for ``cpu``/``cuda``; a clear error when CUDA is not there."""
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise ConfigError(f"device should be 'cpu' or 'cuda', but got device={name!r}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"device {name!r} was asked for, but torch.cuda.is_available() is False "
            f"(torch {torch.__version__}); use --device cpu or install a CUDA build of torch"
        )
    return torch.device(name)


def split_holdout(
    corpus: ParallelCorpus, size: int, *, seed: int = 0
) -> tuple[ParallelCorpus, ParallelCorpus | None]:
    """Hold ``size`` random examples out of ``corpus``: ``(rest, held_out)``.

    ``size=0`` returns ``(corpus, None)``. At least one example stays in ``rest``.

    >>> c = ParallelCorpus.from_sequences([[i + 4] for i in range(10)], [[2, 3]] * 10)
    >>> rest, held = split_holdout(c, 3, seed=0)
    >>> len(rest), len(held)
    (7, 3)
    """
    if size <= 0:
        return corpus, None
    if size >= len(corpus):
        raise ConfigError(
            f"the held-out size should be < the corpus size ({len(corpus)}), but got {size}; "
            "pass a smaller --valid"
        )
    order = np.random.default_rng(seed).permutation(len(corpus))
    held, rest = np.sort(order[:size]), np.sort(order[size:])
    return (
        ParallelCorpus(corpus.src.gather(rest), corpus.tgt.gather(rest)),
        ParallelCorpus(corpus.src.gather(held), corpus.tgt.gather(held)),
    )


def loader(
    corpus: ParallelCorpus, sampler: Sampler[list[int]], *, pad_id: int = 0
) -> DataLoader[Any]:
    """``DataLoader(corpus, batch_sampler=sampler, collate_fn=PadCollate(pad_id))``."""
    return DataLoader(corpus, batch_sampler=sampler, collate_fn=PadCollate(pad_id=pad_id))


def matching_max_tokens(corpus: ParallelCorpus, batch_size: int) -> int:
    """A token budget whose batches hold about ``batch_size`` examples on average.

    ``batch_size × mean(max(src_len, tgt_len))``: a token-budget batch of average examples
    then has about as many examples as a fixed-size one.
    """
    longest = np.maximum(corpus.src_lengths, corpus.tgt_lengths)
    return max(int(batch_size * float(longest.mean())), int(longest.max()))


def matching_batch_size(corpus: ParallelCorpus, max_tokens: int) -> int:
    """The inverse of :func:`matching_max_tokens`: examples per batch for ``max_tokens``."""
    longest = np.maximum(corpus.src_lengths, corpus.tgt_lengths)
    return max(1, round(max_tokens / float(longest.mean())))


@dataclass(frozen=True)
class Strategy:
    """One batching strategy: a name, a sampler, and a one-line description."""

    name: str
    sampler: Sampler[list[int]]
    description: str


def batching_strategies(
    corpus: ParallelCorpus,
    *,
    batch_size: int,
    max_tokens: int,
    bucket_width: int = 5,
    seed: int = 0,
) -> list[Strategy]:
    """The three strategies the demo and ``seqdata stats`` compare, on ``corpus``.

    - ``random``: ``BatchSampler(RandomSampler)`` — what a plain DataLoader does;
    - ``bucket``: the notes' bucketing (:class:`~seqdata.samplers.BucketBatchSampler` with
      ``bucket_width``);
    - ``token-budget``: :class:`~seqdata.samplers.TokenBudgetBatchSampler` (``max_tokens``).
    """
    from seqdata.samplers import BucketBatchSampler, TokenBudgetBatchSampler

    generator = torch.Generator().manual_seed(seed)
    random = BatchSampler(
        RandomSampler(range(len(corpus)), generator=generator), batch_size, drop_last=False
    )
    bucket = BucketBatchSampler(
        corpus.src_lengths,
        corpus.tgt_lengths,
        batch_size=batch_size,
        bucket_width=bucket_width,
        seed=seed,
    )
    budget = TokenBudgetBatchSampler(
        corpus.src_lengths,
        corpus.tgt_lengths,
        max_tokens=max_tokens,
        oversize="single",
        seed=seed,
    )
    return [
        Strategy("random", random, f"random batches of {batch_size}"),
        Strategy("bucket", bucket, f"notes' buckets, width {bucket_width}, {batch_size}/batch"),
        Strategy("token-budget", budget, f"token budget {max_tokens} per side"),
    ]


# --------------------------------------------------------------------------- training helpers


class LossLog:
    """Record every training batch's loss while ``fit`` runs (for the loss curve).

    Wraps ``model.loss`` on the instance; :meth:`close` restores it. Only calls made in
    training mode with gradients on are recorded (not ``evaluate``'s).
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.losses: list[float] = []
        self._loss = model.loss
        setattr(model, "loss", self)  # noqa: B010 -- shadow the method on this instance only

    def __call__(self, batch: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        loss: torch.Tensor = self._loss(batch, *args, **kwargs)  # type: ignore[operator]
        if self.model.training and torch.is_grad_enabled():
            self.losses.append(float(loss.detach()))
        return loss

    def close(self) -> None:
        """Put the model's own ``loss`` method back."""
        if "loss" in vars(self.model):
            delattr(self.model, "loss")


def time_epoch(
    model: nn.Module,
    corpus: ParallelCorpus,
    sampler: Sampler[list[int]],
    *,
    pad_id: int,
    device: torch.device,
    lr: float = 1e-3,
) -> tuple[float, float]:
    """Train ``model`` for one epoch with ``sampler``; ``(seconds, mean train loss)``."""
    from seqdata.train import train_epoch

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    start = time.perf_counter()
    stats = train_epoch(model, loader(corpus, sampler, pad_id=pad_id), optimizer, device=device)
    return time.perf_counter() - start, stats.train_loss


# --------------------------------------------------------------------------- translation


@torch.no_grad()
def translate_texts(
    model: Seq2Seq,
    pipeline: Any,
    texts: Sequence[str],
    *,
    max_len: int | None = None,
    batch_size: int = 128,
    device: torch.device | str | None = None,
) -> list[str]:
    """Greedy-translate raw ``texts`` with a trained model and its pipeline, in order.

    Texts are encoded with ``pipeline.encode_source``, batched by length, decoded to EOS
    and detokenized with ``pipeline.decode_target``. A text with no tokens translates to
    ``""``.

    Args:
        model: a trained :class:`~seqdata.models.Seq2Seq`.
        pipeline: the ``PairPipeline`` it was trained with (from the checkpoint).
        texts: one source sentence each.
        max_len: the most target tokens to generate (EOS included); default
            ``2 × longest source + 10``.
        batch_size: sentences decoded at once.
        device: where to decode (default: the model's device).
    """
    if not isinstance(model, Seq2Seq):
        raise ConfigError(
            f"translation needs a Seq2Seq checkpoint, but this one holds a {type(model).__name__}"
        )
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    out = [""] * len(texts)
    ids: list[list[int]] = []
    keep: list[int] = []
    for i, text in enumerate(texts):
        try:
            encoded = pipeline.encode_source(text)
        except SeqdataError:
            if text.strip():
                raise
            continue  # an empty line: nothing to translate
        if len(encoded):
            ids.append(list(encoded))
            keep.append(i)
    if not ids:
        return out
    ragged = Ragged.from_sequences(ids)
    order = np.argsort(-ragged.lengths, kind="stable")
    pad = model.config.decoder.pad_id
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        src = ragged.take(chunk, pad_id=pad).to(dev)  # (B, S)
        lengths = torch.from_numpy(ragged.lengths[chunk])  # (B,)
        budget = max_len if max_len is not None else 2 * int(lengths.max()) + 10
        hyp, hyp_lengths = model.greedy_decode(src, lengths, budget)  # (B, T), (B,)
        for row, j in enumerate(chunk.tolist()):
            out[keep[j]] = pipeline.decode_target(hyp[row, : int(hyp_lengths[row])].tolist())
    return out


# --------------------------------------------------------------------------- plots


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bucket_edges(lengths: np.ndarray, width: int) -> np.ndarray:
    """Lengths where the notes' bucket key ``(len - min + 1) // width`` changes.

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
    """Histogram of source and target lengths with the notes' bucket edges; a PNG."""
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
