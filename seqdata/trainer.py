"""A resumable training run: the loop of [`fit`][seqdata.train.fit] plus everything a
checkpoint needs to continue it exactly.

[`Trainer`][seqdata.trainer.Trainer] counts the optimizer steps it has actually taken (not
the batches a ``DataLoader`` with workers has drawn ahead), and its
[`state_dict`][seqdata.trainer.Trainer.state_dict] holds the epoch, the step, the sampler's
epoch and position (from that count), the running sums of the epoch's loss, the scheduler,
the RNG states (python, numpy, torch, CUDA) and a free ``meta`` dict (history, best score).
With the model's and the optimizer's state it is enough for a run killed at any step and
resumed from its last save to end with the same weights as one never interrupted.

A non-finite loss stops the run with a
[`TrainingDivergedError`][seqdata.trainer.TrainingDivergedError] naming the step; on a GPU
the check is a device-side flag read at each log and save point
(no host sync per step), on the CPU every step.

>>> import torch
>>> from seqdata.models import CharLM
>>> t = Trainer(CharLM(vocab_size=4, embed_dim=4, hidden_size=8), [], None, epochs=1)
>>> sorted(t.state_dict())[:4]
['epoch', 'loss_sum', 'meta', 'position']
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from seqdata.collate import Batch
from seqdata.device import move_model
from seqdata.errors import SeqdataError, StateDictError

__all__ = [
    "Progress",
    "Trainer",
    "TrainingDivergedError",
    "get_rng_state",
    "set_rng_state",
    "train_step",
]


class TrainingDivergedError(SeqdataError):
    """The training loss became NaN or infinite."""


@dataclass
class Progress:
    """Where a run stands: what ``Trainer.state_dict`` saves besides the RNG and scheduler."""

    epoch: int = 0  # the current epoch (0-based)
    step: int = 0  # optimizer steps taken in total
    position: int = 0  # steps taken in the current epoch
    loss_sum: float = 0.0  # this epoch's sum of loss x targets so far
    targets: int = 0
    samples: int = 0
    tokens: int = 0
    seconds: float = 0.0  # training time spent in this epoch so far
    meta: dict[str, Any] = field(default_factory=dict)


def get_rng_state() -> dict[str, Any]:
    """Every global RNG a training step may draw from: python, numpy, torch, CUDA."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(np.asarray(keys).copy()), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what [`get_rng_state`][seqdata.trainer.get_rng_state] saved."""
    random.setstate(_as_tuple(state["python"]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(value: Any) -> Any:
    return tuple(_as_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value


def _targets(model: nn.Module, batch: Batch) -> int:
    count = getattr(model, "num_targets", None)
    return int(count(batch)) if callable(count) else len(batch)


def _tokens(batch: Batch) -> int:
    tgt = 0 if batch.tgt_lengths is None else int(batch.tgt_lengths.sum())
    return int(batch.src_lengths.sum()) + tgt


def train_step(
    model: nn.Module,
    batch: Batch,
    optimizer: torch.optim.Optimizer,
    *,
    clip_norm: float | None = 1.0,
) -> Tensor:
    """One optimisation step on a batch already on the model's device; returns the loss.

    Reads no value back from the device (no ``.item()``, no boolean masks of device values):
    the tests run it on the ``meta`` device, where any such read fails.
    """
    loss: Tensor = model.loss(batch)  # type: ignore[operator]
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip_norm is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()
    return loss.detach()


Hook = Callable[["Trainer"], Any]


class Trainer:
    """A training run that can stop at any step and resume exactly.

    Args:
        model: a model with ``loss(batch)``; moved to ``device``.
        loader: batches, re-iterated every epoch; its ``batch_sampler`` (a seqdata sampler)
            gets ``set_epoch`` and its position saved and restored.
        optimizer: steps once per batch.
        epochs: the number of epochs of the whole run.
        scheduler: a learning-rate scheduler stepped after every optimizer step, or a
            ``ReduceLROnPlateau``, which the ``on_epoch_end`` hook steps itself.
        device: where to train (default: where the model is).
        clip_norm: max global gradient norm (``None``: no clipping).
        max_steps: stop after this many optimizer steps in total.
        save_every: call ``on_save`` every this many steps (and always at an epoch's end).
        on_save: ``hook(trainer)``: write a checkpoint with ``trainer.state_dict()``.
        on_epoch_end: ``hook(trainer)`` after each epoch (``trainer.epoch_stats`` is set);
            returning ``True`` stops the run (early stopping).
        on_log: ``hook(trainer)`` every ``log_every_s`` seconds of training.
        log_every_s: how often ``on_log`` runs (and the GPU's NaN flag is read).
    """

    def __init__(
        self,
        model: nn.Module,
        loader: Iterable[Batch],
        optimizer: torch.optim.Optimizer | None,
        *,
        epochs: int,
        scheduler: Any = None,
        device: torch.device | str | None = None,
        clip_norm: float | None = 1.0,
        max_steps: int | None = None,
        save_every: int | None = None,
        on_save: Hook | None = None,
        on_epoch_end: Hook | None = None,
        on_log: Hook | None = None,
        log_every_s: float = 30.0,
    ) -> None:
        self.model, self.loader, self.optimizer = model, loader, optimizer
        self.epochs, self.scheduler, self.clip_norm = epochs, scheduler, clip_norm
        self.max_steps, self.save_every, self.log_every_s = max_steps, save_every, log_every_s
        self.on_save, self.on_epoch_end, self.on_log = on_save, on_epoch_end, on_log
        self.device = move_model(model, device)
        self.progress = Progress()
        self.epoch_stats: dict[str, Any] = {}
        self.stopped_early = False
        self._rng: dict[str, Any] | None = None  # restored when the next epoch starts
        self._bad = torch.full((), -1, dtype=torch.int64, device=self.device)
        self._loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)

    # -- state ------------------------------------------------------------------------------

    @property
    def sampler(self) -> Any:
        return getattr(self.loader, "batch_sampler", None)

    @property
    def running_loss(self) -> float:
        """The mean training loss of the current epoch so far (one read-back)."""
        total = self.progress.loss_sum + float(self._loss_sum)
        return total / max(self.progress.targets, 1)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the model and the optimizer: progress, sampler, scheduler, RNG."""
        progress = asdict(self.progress)
        progress["loss_sum"] = self.progress.loss_sum + float(self._loss_sum)
        sampler = self.sampler
        sampler_state = None
        if callable(getattr(sampler, "state_dict", None)):
            # the steps actually taken, not the batches a worker has drawn ahead
            sampler_state = {
                **sampler.state_dict(),
                "epoch": self.progress.epoch,
                "position": self.progress.position,
            }
        scheduler = self.scheduler.state_dict() if self.scheduler is not None else None
        return {
            **progress,
            "sampler": sampler_state,
            "scheduler": scheduler,
            "rng": get_rng_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from ``state`` (call before ``run``, after loading model and optimizer).

        Raises:
            StateDictError: a key is missing, or the sampler state does not fit.
        """
        names = [f for f in asdict(Progress())]
        missing = sorted({*names, "sampler", "scheduler", "rng"} - set(state))
        if missing:
            raise StateDictError(f"the training state is missing the keys {missing}")
        self.progress = Progress(**{k: state[k] for k in names})
        # the sum continues on the device, in the same order as an uninterrupted run
        self._loss_sum.fill_(float(self.progress.loss_sum))
        self.progress.loss_sum = 0.0
        sampler = self.sampler
        if state["sampler"] is not None and callable(getattr(sampler, "load_state_dict", None)):
            sampler.load_state_dict(state["sampler"])
        if state["scheduler"] is not None and self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self._rng = dict(state["rng"])

    # -- the loop ---------------------------------------------------------------------------

    def _done(self) -> bool:
        p = self.progress
        return (
            self.stopped_early
            or p.epoch >= self.epochs
            or (self.max_steps is not None and p.step >= self.max_steps)
        )

    def run(self) -> Progress:
        """Train until ``epochs`` (or ``max_steps``, or early stopping); returns the progress."""
        while not self._done():
            self._epoch()
        return self.progress

    def check_finite(self) -> None:
        """Raise if a non-finite loss was seen (one read-back of the device-side flag)."""
        bad = int(self._bad)
        if bad >= 0:
            raise TrainingDivergedError(
                f"the training loss became NaN or infinite at step {bad} (epoch "
                f"{self.progress.epoch + 1}); lower --lr, clip gradients (--clip-norm) or check "
                "the data — the last checkpoint saved before it is intact"
            )

    def _start_epoch(self) -> Any:
        sampler = self.sampler
        if callable(getattr(sampler, "set_epoch", None)):
            sampler.set_epoch(self.progress.epoch)
        rng, self._rng = self._rng, None
        if rng is not None and self.progress.position == 0:
            set_rng_state(rng)  # as it was before the interrupted run drew this iterator
        batches = iter(self.loader)
        if rng is not None and self.progress.position > 0:
            set_rng_state(rng)  # the iterator's own draw happened before the save
        return batches

    def _epoch(self) -> None:
        p, model = self.progress, self.model
        model.train()
        check_every_step = self.device.type != "cuda"
        last_log = time.perf_counter()
        start = time.perf_counter() - p.seconds
        for batch in self._start_epoch():
            batch = batch.to(self.device, non_blocking=True)
            loss = train_step(model, batch, self.optimizer, clip_norm=self.clip_norm)  # type: ignore[arg-type]
            p.step += 1
            p.position += 1
            self._note_loss(loss, batch, check_every_step)
            if self.scheduler is not None and not _is_plateau(self.scheduler):
                self.scheduler.step()
            p.seconds = time.perf_counter() - start
            if self.on_log is not None and time.perf_counter() - last_log >= self.log_every_s:
                self.check_finite()
                self.on_log(self)
                last_log = time.perf_counter()
            if self.max_steps is not None and p.step >= self.max_steps:
                break
            if self.save_every is not None and p.step % self.save_every == 0:
                self._save()
        p.seconds = time.perf_counter() - start
        self._end_epoch()

    def _note_loss(self, loss: Tensor, batch: Batch, check_every_step: bool) -> None:
        p = self.progress
        n = _targets(self.model, batch)
        bad_now = ~torch.isfinite(loss)
        self._bad = torch.where(bad_now & (self._bad < 0), p.step, self._bad)
        if check_every_step:
            self.check_finite()
        self._loss_sum += loss * n
        p.targets += n
        p.samples += len(batch)
        p.tokens += _tokens(batch)

    def _save(self) -> None:
        self.check_finite()
        if self.on_save is not None:
            self.on_save(self)

    def _end_epoch(self) -> None:
        self.check_finite()
        p = self.progress
        seconds = max(p.seconds, 1e-9)
        self.epoch_stats = {
            "epoch": p.epoch + 1,
            "step": p.step,
            "train_loss": self.running_loss,
            "seconds": p.seconds,
            "samples_per_s": p.samples / seconds,
            "tokens_per_s": p.tokens / seconds,
        }
        if self.on_epoch_end is not None and self.on_epoch_end(self):
            self.stopped_early = True
        p.epoch += 1
        p.position = p.targets = p.samples = p.tokens = 0
        p.loss_sum = p.seconds = 0.0
        self._loss_sum.zero_()
        self._save()


def _is_plateau(scheduler: Any) -> bool:
    return isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
