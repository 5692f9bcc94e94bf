"""Training loops that fit on a screen: sequence batches, BPTT chunks, evaluation.

Any model with ``loss(batch) -> Tensor`` (mean over its targets) trains here; a
``num_targets(batch) -> int`` method, when present, weights the per-batch means into exact
per-target averages. All of seqdata's reference models have both. Checkpoints live in
``seqdata.checkpoint`` (re-exported here).

Every loop takes ``device``: the model is moved there first, then every batch (ids with
``non_blocking=True``; lengths stay on the CPU where packing wants them). The training step
never reads a device value back: the running loss is summed on the device and read once per
epoch (or once a second for the progress bar), so a GPU is never stalled by the host.

>>> import torch
>>> from seqdata.models import CharLM
>>> from seqdata.lm import BPTTBatcher
>>> lm = CharLM(vocab_size=4, embed_dim=4, hidden_size=8)
>>> batcher = BPTTBatcher([0, 1, 2, 3] * 8, batch_size=2, bptt_len=4)
>>> loss = train_bptt(lm, batcher, torch.optim.Adam(lm.parameters(), lr=1e-2), device="cpu")
>>> loss > 0
True
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from seqdata._checks import check_float, check_int
from seqdata.checkpoint import (
    Checkpoint,
    load_checkpoint,
    load_optimizer_state,
    save_checkpoint,
)
from seqdata.collate import Batch
from seqdata.device import move_model
from seqdata.lm import BPTTBatcher
from seqdata.metrics import corpus_bleu, corpus_chrf
from seqdata.models import Seq2Seq
from seqdata.models._cells import State, detach_state
from seqdata.trainer import TrainingDivergedError, _targets, _tokens, train_step

__all__ = [
    "Checkpoint",
    "EpochStats",
    "evaluate",
    "evaluate_bptt",
    "exact_match",
    "fit",
    "load_checkpoint",
    "load_optimizer_state",
    "save_checkpoint",
    "train_bptt",
    "train_epoch",
    "train_step",
    "translation_scores",
]

_POSTFIX_EVERY_S = 1.0  # the progress bar reads the loss back at most this often


@dataclass(frozen=True)
class EpochStats:
    """What one epoch of [`fit`][seqdata.train.fit] did."""

    epoch: int
    train_loss: float
    valid_loss: float | None
    seconds: float
    samples_per_s: float
    tokens_per_s: float


def _num_samples(loader: Iterable[Batch]) -> int | None:
    try:
        return len(loader.dataset)  # type: ignore[attr-defined]
    except (AttributeError, TypeError):
        return None


def train_epoch(
    model: nn.Module,
    loader: Iterable[Batch],
    optimizer: torch.optim.Optimizer,
    *,
    device: torch.device | str | None = None,
    clip_norm: float | None = 1.0,
    progress: bool = False,
    epoch: int = 0,
) -> EpochStats:
    """One pass over ``loader``: loss, backward, clip the gradient norm, step.

    Args:
        model: moved to ``device`` first (default: where it is).
        loader: batches (CPU tensors, pinned or not); each is moved to the model's device.
        optimizer: steps once per batch.
        device: where to train.
        clip_norm: max global gradient norm (``None``: no clipping).
        progress: a tqdm bar with samples/s and the running loss.
        epoch: the epoch number shown on the bar.

    Returns:
        The epoch's stats (``valid_loss=None``); the loss is the mean over all targets.
    """
    dev = move_model(model, device)
    model.train()
    total = torch.zeros((), dtype=torch.float64, device=dev)  # sum of loss * targets
    targets, samples, tokens = 0, 0, 0
    start = last_postfix = time.perf_counter()
    bar = tqdm(
        total=_num_samples(loader),
        unit="sample",
        desc=f"epoch {epoch}",
        disable=not progress,
        dynamic_ncols=True,
    )
    with bar:
        for batch in loader:
            batch = batch.to(dev, non_blocking=True)
            loss = train_step(model, batch, optimizer, clip_norm=clip_norm)
            n = _targets(model, batch)  # from the CPU lengths: no sync
            total += loss * n
            targets += n
            samples += len(batch)
            tokens += _tokens(batch)
            bar.update(len(batch))
            if progress and time.perf_counter() - last_postfix >= _POSTFIX_EVERY_S:
                bar.set_postfix(loss=f"{float(total) / max(targets, 1):.3f}")
                last_postfix = time.perf_counter()
        train_loss = float(total) / max(targets, 1)  # the epoch's one read-back
        if not math.isfinite(train_loss):
            raise TrainingDivergedError(
                f"the training loss of epoch {epoch} is {train_loss}: it became NaN or "
                "infinite; lower the learning rate or clip gradients"
            )
        if progress:
            bar.set_postfix(loss=f"{train_loss:.3f}")
    seconds = time.perf_counter() - start
    return EpochStats(
        epoch=epoch,
        train_loss=train_loss,
        valid_loss=None,
        seconds=seconds,
        samples_per_s=samples / seconds,
        tokens_per_s=tokens / seconds,
    )


@torch.no_grad()
def evaluate(
    model: nn.Module, loader: Iterable[Batch], *, device: torch.device | str | None = None
) -> float:
    """Mean loss over every target of ``loader``, in eval mode (teacher forcing for Seq2Seq).

    The model is moved to ``device`` (default: where it is) and so is every batch.
    """
    dev = move_model(model, device)
    was_training = model.training
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=dev)
    targets = 0
    for batch in loader:
        batch = batch.to(dev, non_blocking=True)
        n = _targets(model, batch)
        total += model.loss(batch) * n  # type: ignore[operator]
        targets += n
    model.train(was_training)
    return float(total) / max(targets, 1)


@torch.no_grad()
def exact_match(
    model: Seq2Seq,
    loader: Iterable[Batch],
    max_len: int | None = None,
    *,
    device: torch.device | str | None = None,
) -> float:
    """Fraction of sequences whose greedy decode equals the reference target.

    The reference is ``tgt[1 : tgt_length]`` (the tokens after SOS, EOS included); a decode
    matches when it has the same length and the same ids up to and including its EOS.

    Args:
        model: a [`Seq2Seq`][seqdata.models.Seq2Seq]; moved to ``device``.
        loader: batches with targets.
        max_len: decoding budget; default: each batch's ``Lt - 1`` (enough for its references).
        device: where to decode (default: the model's device).
    """
    dev = move_model(model, device)
    was_training = model.training
    model.eval()
    pad = model.config.decoder.pad_id
    hits, count = 0, 0
    for batch in loader:
        tgt, tgt_lengths = model._check_target(batch)
        ref = tgt[:, 1:].cpu()  # (B, Lt-1)
        ref_len = tgt_lengths - 1  # (B,) EOS included
        budget = max_len if max_len is not None else ref.shape[1]
        src = batch.src.to(dev, non_blocking=True)  # (B, S)
        ids, lengths = model.greedy_decode(src, batch.src_lengths, budget)
        ids = ids.cpu()  # (B, T)
        width = max(ids.shape[1], ref.shape[1])
        ids = nn.functional.pad(ids, (0, width - ids.shape[1]), value=pad)  # (B, W)
        ref = nn.functional.pad(ref, (0, width - ref.shape[1]), value=pad)  # (B, W)
        real = torch.arange(width)[None, :] < ref_len[:, None]  # (B, W)
        same = ((ids == ref) | ~real).all(dim=1) & (lengths == ref_len)  # (B,)
        hits += int(same.sum())
        count += len(same)
    model.train(was_training)
    return hits / max(count, 1)


def _bleu_chrf(hyps: list[str], refs: list[str]) -> tuple[float, float]:
    """Corpus BLEU and chrF (sacrebleu, through ``seqdata.metrics``)."""
    return float(corpus_bleu(hyps, refs).score), float(corpus_chrf(hyps, refs).score)


def translation_scores(
    model: Seq2Seq,
    loader: Iterable[Batch],
    pipeline: Any,
    *,
    max_pairs: int = 1000,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Greedy BLEU and chrF of ``model`` on up to ``max_pairs`` pairs of ``loader``.

    Hypotheses and references are detokenized text (``pipeline.decode_target``), so the
    scores are those sacrebleu gives on plain text; the decoding budget is each batch's
    ``2 × longest source + 10`` tokens, as [`translate`][seqdata.translation.translate] uses.
    The references come from the stored ids, so an out-of-vocabulary reference word would
    read as ``<unk>``: it is replaced by a marker no hypothesis can produce, so an ``<unk>``
    output never scores as a match (test-set scores come from raw text: `seqdata evaluate`).

    Returns:
        ``{"bleu": …, "chrf": …, "pairs": n}``.
    """
    dev = move_model(model, device)
    was_training = model.training
    model.eval()
    hyps: list[str] = []
    refs: list[str] = []
    unk = pipeline.decode_target([pipeline.tgt_vocab.unk_id]).strip()
    for batch in loader:
        take = min(len(batch), max_pairs - len(hyps))
        if take <= 0:
            break
        src, lengths = batch.src[:take].to(dev), batch.src_lengths[:take]  # (B, S), (B,)
        ids, out_len = model.greedy_decode(src, lengths, 2 * int(lengths.max()) + 10)
        ids = ids.cpu()  # (B, T)
        tgt, tgt_len = model._check_target(batch)
        for row in range(take):
            hyps.append(pipeline.decode_target(ids[row, : int(out_len[row])].tolist()))
            ref = pipeline.decode_target(tgt[row, : int(tgt_len[row])].tolist())
            refs.append(ref.replace(unk, "\u2047unknown\u2047") if unk else ref)
    model.train(was_training)
    bleu, chrf = _bleu_chrf(hyps, refs) if hyps else (0.0, 0.0)
    return {"bleu": bleu, "chrf": chrf, "pairs": float(len(hyps))}


def fit(
    model: nn.Module,
    train_loader: Iterable[Batch],
    *,
    epochs: int,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    device: torch.device | str | None = None,
    clip_norm: float | None = 1.0,
    valid_loader: Iterable[Batch] | None = None,
    progress: bool = False,
    on_epoch_end: Callable[[EpochStats], bool | None] | None = None,
) -> list[EpochStats]:
    """Train for ``epochs`` epochs; returns one ``EpochStats`` per epoch run.

    Args:
        model: a model with ``loss(batch)``; moved to ``device``.
        train_loader: an iterable of [`Batch`][seqdata.Batch] (e.g. a ``DataLoader``
            with a seqdata batch sampler and ``PadCollate``); re-iterated every epoch, and its
            ``batch_sampler.set_epoch(e)`` is called when it has one.
        epochs: number of passes.
        optimizer: default ``Adam(model.parameters(), lr=lr)``.
        lr: learning rate of the default optimizer.
        device: where to train (default: where the model is).
        clip_norm: max global gradient norm (``None``: no clipping).
        valid_loader: evaluated after every epoch into ``valid_loss``.
        progress: show a tqdm bar with samples/s and the running loss.
        on_epoch_end: called with each epoch's stats; returning ``True`` stops training.
    """
    check_int("epochs", epochs)
    if clip_norm is not None:
        check_float("clip_norm", clip_norm, 0.0, low_open=True)
    check_float("lr", lr, 0.0, low_open=True)
    dev = move_model(model, device)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history: list[EpochStats] = []
    for epoch in range(epochs):
        sampler = getattr(train_loader, "batch_sampler", None)
        if callable(getattr(sampler, "set_epoch", None)):
            sampler.set_epoch(epoch)  # type: ignore[union-attr]
        stats = train_epoch(
            model,
            train_loader,
            optimizer,
            device=dev,
            clip_norm=clip_norm,
            progress=progress,
            epoch=epoch,
        )
        if valid_loader is not None:
            valid = evaluate(model, valid_loader, device=dev)
            stats = EpochStats(**{**asdict(stats), "valid_loss": valid})
        history.append(stats)
        if on_epoch_end is not None and on_epoch_end(stats):
            break
    return history


def _lm_loss(logits: Tensor, y: Tensor, reduction: str = "mean") -> Tensor:
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction=reduction)


def train_bptt(
    model: nn.Module,
    batcher: BPTTBatcher | Iterable[tuple[Tensor, Tensor]],
    optimizer: torch.optim.Optimizer,
    *,
    device: torch.device | str | None = None,
    clip_norm: float | None = 1.0,
    max_steps: int | None = None,
) -> float:
    """One pass of truncated BPTT; returns the mean training loss per token (nats).

    The hidden state is carried across chunks and detached before each one, so gradients
    flow back at most ``bptt_len`` steps; gradients are clipped to ``clip_norm`` (the remedy
    for exploding gradients). The model is moved to ``device`` and so is every chunk.

    Args:
        model: ``model(x (B, T), hidden) -> (logits (B, T, V), hidden)``, e.g. ``CharLM``.
        batcher: the chunks: a ``BPTTBatcher`` (a fresh pass from its start, or from
            where ``load_state_dict`` put it), or an iterator over one (``iter(batcher)``),
            which the next call continues.
        optimizer: steps once per chunk.
        device: where to train (default: where the model is).
        clip_norm: max global gradient norm, or ``None`` not to clip.
        max_steps: stop after this many chunks.
    """
    dev = move_model(model, device)
    model.train()
    hidden: State | None = None
    total = torch.zeros((), dtype=torch.float64, device=dev)
    count = 0
    for step, (x, y) in enumerate(batcher):
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)  # (B, T)
        hidden = detach_state(hidden)
        logits, hidden = model(x, hidden)  # (B, T, V)
        loss = _lm_loss(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        optimizer.step()
        total += loss.detach() * y.numel()
        count += y.numel()
        if max_steps is not None and step + 1 >= max_steps:
            break
    return float(total) / max(count, 1)


@torch.no_grad()
def evaluate_bptt(
    model: nn.Module, batcher: BPTTBatcher, *, device: torch.device | str | None = None
) -> float:
    """Mean loss per token (nats) over a full pass, hidden state carried across chunks."""
    dev = move_model(model, device)
    was_training = model.training
    model.eval()
    hidden: State | None = None
    total = torch.zeros((), dtype=torch.float64, device=dev)
    count = 0
    for x, y in batcher:
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)  # (B, T)
        logits, hidden = model(x, hidden)  # (B, T, V)
        total += _lm_loss(logits, y, reduction="sum")
        count += y.numel()
    model.train(was_training)
    return float(total) / max(count, 1)
