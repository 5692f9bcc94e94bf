"""Batching for the commands: held-out splits, loaders, and the strategies they compare.

``seqdata stats`` and ``seqdata demo`` compare three batching strategies on one corpus
(random batches, length buckets, a token budget); ``seqdata train`` and the demo train
with loaders built here. A loader that feeds a GPU pins its batches' memory so the copy to
the device can overlap the computation (``Batch.to(device, non_blocking=True)``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, Sampler

from seqdata import (
    BucketBatchSampler,
    ConfigError,
    PadCollate,
    ParallelCorpus,
    TokenBudgetBatchSampler,
)
from seqdata.device import move_model

__all__ = [
    "AUTO_UPDATES",
    "LossLog",
    "Strategy",
    "auto_max_tokens",
    "batching_strategies",
    "loader",
    "matching_batch_size",
    "matching_max_tokens",
    "split_holdout",
    "time_epoch",
]


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
    corpus: ParallelCorpus,
    sampler: Sampler[list[int]],
    *,
    pad_id: int = 0,
    device: torch.device | None = None,
) -> DataLoader[Any]:
    """``DataLoader(corpus, batch_sampler=sampler, collate_fn=PadCollate(pad_id))``.

    With a CUDA ``device`` the loader pins its batches (``pin_memory=True``), so that
    ``batch.to(device, non_blocking=True)`` copies them while the GPU computes.
    """
    pin = device is not None and device.type == "cuda"
    return DataLoader(
        corpus, batch_sampler=sampler, collate_fn=PadCollate(pad_id=pad_id), pin_memory=pin
    )


def matching_max_tokens(corpus: ParallelCorpus, batch_size: int) -> int:
    """A token budget whose batches hold about ``batch_size`` examples on average.

    ``batch_size × mean(max(src_len, tgt_len))``: a token-budget batch of average examples
    then has about as many examples as a fixed-size one.
    """
    longest = np.maximum(corpus.src_lengths, corpus.tgt_lengths)
    return max(int(batch_size * float(longest.mean())), int(longest.max()))


AUTO_UPDATES = 256
"""The updates an epoch that ``--max-tokens auto`` aims at (see `auto_max_tokens`)."""


def auto_max_tokens(src_lengths: Any, tgt_lengths: Any) -> int:
    """The token budget of ``--max-tokens auto``: about `AUTO_UPDATES` batches an epoch.

    The larger side's token total over ``AUTO_UPDATES``, rounded to a multiple of 256 and
    kept within 1,024–4,096. Measured on the bible task (tutorial 8): with too few updates an
    epoch a small corpus does not learn in the epochs a recipe has (8,000 short verses:
    1,024-token batches make ~130 updates an epoch and reach 44 BLEU in 20 epochs, 2,048
    ~65 and are 2.9 BLEU behind, still climbing at epoch 20; 4,096 with Adam 1e-3 ~33, near
    0 BLEU), so a small corpus gets 1,024; a large one gets bigger batches, which cost the
    same time a step on a GPU, so an epoch of ~30,000 pairs stays near 256 steps.

    >>> auto_max_tokens(np.full(8_000, 14), np.full(8_000, 16))  # 128k tokens: the floor
    1024
    >>> auto_max_tokens(np.full(29_000, 18), np.full(29_000, 17))  # 522k tokens
    2048
    """
    total = max(int(np.sum(src_lengths)), int(np.sum(tgt_lengths)))
    budget = 256 * round(total / AUTO_UPDATES / 256)
    return int(min(max(budget, 1024), 4096))


def matching_batch_size(corpus: ParallelCorpus, max_tokens: int) -> int:
    """Examples per batch for ``max_tokens``: the inverse of ``matching_max_tokens``."""
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
    - ``bucket``: length buckets ([`BucketBatchSampler`][seqdata.BucketBatchSampler]: lengths
      within ``bucket_width`` tokens share a bucket);
    - ``token-budget``: [`TokenBudgetBatchSampler`][seqdata.TokenBudgetBatchSampler]
      (``max_tokens`` per side).
    """
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
        Strategy("bucket", bucket, f"length buckets, width {bucket_width}, {batch_size}/batch"),
        Strategy("token-budget", budget, f"token budget {max_tokens} per side"),
    ]


# --------------------------------------------------------------------------- training helpers


class LossLog:
    """Record every training batch's loss while ``fit`` runs (for the loss curve).

    Wraps ``model.loss`` on the instance; ``close()`` restores it. Only calls made in
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
    device: torch.device | str | None,
    lr: float = 1e-3,
) -> tuple[float, float]:
    """Train ``model`` for one epoch with ``sampler``; ``(seconds, mean train loss)``.

    The model is moved to ``device`` first (the optimizer is built after, on the moved
    parameters), and the loader pins its batches when ``device`` is a GPU.
    """
    from seqdata.train import train_epoch

    dev = move_model(model, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    batches = loader(corpus, sampler, pad_id=pad_id, device=dev)
    start = time.perf_counter()
    stats = train_epoch(model, batches, optimizer, device=dev)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)  # the last steps may still be queued on the GPU
    return time.perf_counter() - start, stats.train_loss
