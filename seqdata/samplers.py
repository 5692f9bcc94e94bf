"""Batch samplers that group examples of similar length: buckets and token budgets.

Both are ``torch.utils.data.Sampler[list[int]]`` for ``DataLoader(batch_sampler=...)``, and
share one epoch machinery ([`LengthBatchSampler`][seqdata.samplers.LengthBatchSampler]):

* **seeded**: the epoch's order comes from ``np.random.default_rng(seed + epoch)``, so every
  rank computes the same batch list without talking; ``set_epoch(e)`` moves to epoch ``e``;
* **sharded**: with ``world_size`` ranks, the shuffled batch list is cut so that rank ``r``
  takes batches ``r, r + world_size, …``; every rank gets the same number of batches.
  *Remainder policy*: when the number of batches ``n`` is not a multiple of ``world_size``,
  ``drop_last=False`` repeats the first ``world_size·⌈n/world_size⌉ − n`` (at most
  ``world_size − 1``) batches of the shuffled list, so every example appears at least once
  and exactly once when ``n`` divides evenly; ``drop_last=True`` drops the last
  ``n mod world_size`` (at most ``world_size − 1``) batches of the shuffled list — a random
  choice each epoch, never the same examples;
* **resumable**: ``state_dict()`` records the epoch and the number of batches this rank has
  yielded; ``load_state_dict()`` (strict) restores it and the next iteration yields exactly
  the rest of that epoch.

Policy and loop are separate: bucket keys ([`bucket_keys`][seqdata.bucketing.bucket_keys]), groups
([`length_groups`][seqdata.bucketing.length_groups]), the k-d cut of leftovers into tight batches
([`partition_cells`][seqdata.bucketing.partition_cells])
and token-budget cuts ([`token_budget_bounds`][seqdata.bucketing.token_budget_bounds]) are pure
functions of the lengths, run
once in ``__init__``; an epoch is then a few vectorized numpy passes (a permutation, a radix
argsort of group ids, a batch permutation) — about 0.6 CPU seconds for 5M pairs.

>>> sampler = BucketBatchSampler([3, 1, 3, 2, 1, 2], batch_size=2, shuffle=False)
>>> list(sampler)
[[1, 4], [3, 5], [0, 2]]
>>> len(sampler), sampler.state_dict()["position"]
(3, 0)
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from torch.utils.data import Sampler

from seqdata._checks import check_int, check_state_keys, resolve_rank
from seqdata.bucketing import (
    as_lengths,
    bucket_keys,
    length_groups,
    lengths_fingerprint,
    partition_cells,
    token_budget_bounds,
)
from seqdata.errors import ConfigError, SequenceTooLongError, StateDictError

__all__ = [
    "BucketBatchSampler",
    "LengthBatchSampler",
    "TokenBudgetBatchSampler",
    "bucket_keys",
    "length_groups",
    "partition_cells",
    "token_budget_bounds",
]


# --------------------------------------------------------------------------- epoch machinery


class LengthBatchSampler(Sampler[list[int]], ABC):
    """Shared machinery: groups, epoch seeding, sharding over ranks, strict resume.

    Subclasses fix the length groups and the batch sizes in ``__init__`` and implement
    `_epoch` (the epoch's examples in batch layout and the batch boundaries).
    """

    def __init__(
        self,
        src_lengths: Any,
        tgt_lengths: Any,
        *,
        shuffle: bool,
        seed: int,
        drop_last: bool,
        rank: int | None,
        world_size: int | None,
    ) -> None:
        self.src_lengths = as_lengths("src_lengths", src_lengths)
        self.tgt_lengths = None if tgt_lengths is None else as_lengths("tgt_lengths", tgt_lengths)
        if self.tgt_lengths is not None and len(self.tgt_lengths) != len(self.src_lengths):
            raise ConfigError(
                f"tgt_lengths should have one length per example like src_lengths "
                f"({len(self.src_lengths)}), but got {len(self.tgt_lengths)}"
            )
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ConfigError(f"seed should be an integer >= 0, but got seed={seed!r}")
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.rank, self.world_size = resolve_rank(rank, world_size)
        self._fingerprint = lengths_fingerprint(self.src_lengths, self.tgt_lengths)
        self.epoch = 0
        self._position = 0  # batches of this epoch handed out (what state_dict saves)
        self._start = 0  # where the next __iter__ begins: 0, or a restored position
        self._group = np.zeros(0, dtype=np.uint16)  # set by _set_groups
        self._base = np.zeros(0, dtype=np.int64)
        self._sizes = np.zeros(0, dtype=np.int64)

    @property
    def num_examples(self) -> int:
        return len(self.src_lengths)

    def _set_groups(self, width: int) -> None:
        """Group the examples by the length-bucket key (``width``) once, for all epochs."""
        group, num_groups = length_groups(*bucket_keys(self.src_lengths, self.tgt_lengths, width))
        self._group = group
        self._base = np.argsort(group, kind="stable")  # examples in group order, by index
        self._sizes = np.bincount(group, minlength=num_groups).astype(np.int64)

    def _grouped_order(self, rng: np.random.Generator | None) -> np.ndarray:
        """The examples in group order, shuffled within each group when ``rng`` is given."""
        if rng is None:
            return self._base
        perm = rng.permutation(self.num_examples)
        return perm[np.argsort(self._group[perm], kind="stable")]  # radix sort for uint16

    def _layout(self, batch_size: int, carve_longest: bool = False) -> tuple[np.ndarray, int]:
        """Positions (into the grouped order) laid out in batches of ``batch_size``.

        Each group's full batches first (chunked in order), then the groups' leftovers
        cut by [`partition_cells`][seqdata.bucketing.partition_cells], then one partial batch of ``r
        < batch_size``
        examples carved from the largest groups (so that ``drop_last`` drops random members
        of big groups, never the same examples) or, with ``carve_longest``, from the groups
        of the longest examples. Only *which* example of a group sits at a position changes
        between epochs, so the layout is computed once.

        Returns:
            ``(layout, r)``: the ``(N,)`` positions and the size of the final partial batch.
        """
        sizes, n = self._sizes, self.num_examples
        starts = np.cumsum(sizes) - sizes
        full = sizes - sizes % batch_size
        left = sizes - full
        partial = int(left.sum()) % batch_size
        # the partial batch: from the leftovers of the largest groups
        if carve_longest:
            by_size = np.arange(len(sizes))[::-1]
        else:
            by_size = np.argsort(-sizes, kind="stable")
        before = np.cumsum(left[by_size]) - left[by_size]
        carve = np.zeros_like(sizes)
        carve[by_size] = np.clip(partial - before, 0, left[by_size])
        lengths = [self.src_lengths[self._base]]
        if self.tgt_lengths is not None:
            lengths.append(self.tgt_lengths[self._base])
        cell_len = [np.maximum.reduceat(x, starts) for x in lengths]  # (G,) longest per group
        cells, runs = partition_cells(
            cell_len[0], cell_len[1] if len(cell_len) > 1 else None, left - carve, batch_size
        )
        # the i-th run of a cell takes the cell's next `runs` leftover positions
        by_cell = np.argsort(cells, kind="stable")
        run_sorted = runs[by_cell]
        before_run = np.cumsum(run_sorted) - run_sorted
        first = np.searchsorted(cells[by_cell], cells[by_cell])
        within = np.empty_like(runs)
        within[by_cell] = before_run - before_run[first]
        run_start = starts[cells] + full[cells] + within
        ends = np.cumsum(runs)
        left_pos = np.repeat(run_start - (ends - runs), runs) + np.arange(
            int(ends[-1]) if len(ends) else 0
        )
        rank_in_group = np.arange(n) - np.repeat(starts, sizes)
        full_pos = np.flatnonzero(rank_in_group < np.repeat(full, sizes))
        carve_pos = np.flatnonzero(rank_in_group >= np.repeat(sizes - carve, sizes))
        return np.concatenate([full_pos, left_pos, carve_pos]).astype(np.int64), partial

    # -- subclass interface ----------------------------------------------------------------

    @abstractmethod
    def _num_batches_total(self) -> int:
        """Batches in one epoch over all ranks (before sharding)."""

    @abstractmethod
    def _epoch(self, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
        """``(flat, bounds)``: batch ``b`` is ``flat[bounds[b]:bounds[b+1]]``."""

    def _config(self) -> dict[str, Any]:
        """The settings a saved state is only valid for."""
        return {
            "num_examples": self.num_examples,
            "lengths": self._fingerprint,
            "shuffle": self.shuffle,
            "seed": self.seed,
            "drop_last": self.drop_last,
            "rank": self.rank,
            "world_size": self.world_size,
        }

    # -- sampler protocol ------------------------------------------------------------------

    def _check_shardable(self) -> None:
        if self.drop_last and self._num_batches_total() < self.world_size:
            raise ConfigError(
                f"{self._num_batches_total()} batches cannot be shared by world_size="
                f"{self.world_size} ranks with drop_last=True; use drop_last=False or smaller "
                "batches"
            )

    def __len__(self) -> int:
        """Batches this rank yields per epoch (the same on every rank)."""
        total = self._num_batches_total()
        if self.world_size == 1:
            return total
        if self.drop_last:
            return total // self.world_size
        return math.ceil(total / self.world_size)

    def _plan(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed + self.epoch) if self.shuffle else None
        flat, bounds = self._epoch(rng)
        total = len(bounds) - 1
        order = rng.permutation(total) if rng is not None else np.arange(total)
        per_rank = len(self)
        if self.world_size > 1:
            # drop_last: cut the tail; else repeat the head (cyclically if total < world_size)
            order = np.resize(order, per_rank * self.world_size)
        return flat, bounds, order[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[list[int]]:
        """One epoch of batches; from the restored position right after a resume, else whole.

        A fresh ``iter()`` always starts the epoch at its first batch (peeking at a batch, or
        breaking out of a loop, never makes the next pass skip batches); only
        `load_state_dict` makes the next pass start mid-epoch.
        """
        flat, bounds, mine = self._plan()
        start, self._start = self._start, 0
        self._position = start
        for k in range(start, len(mine)):
            b = mine[k]
            self._position = k + 1
            yield flat[bounds[b] : bounds[b + 1]].tolist()
        self._position = 0

    def __getstate__(self) -> dict[str, Any]:
        # A pickled sampler is a saved state: its copy resumes where this one stands.
        return {**self.__dict__, "_start": self._position}

    def set_epoch(self, epoch: int) -> None:
        """Use the order of epoch ``epoch`` from the next iteration on.

        Moving to another epoch starts it from the beginning; setting the epoch a restored
        state already has keeps its position, so the usual
        ``for e in range(start, n): sampler.set_epoch(e); …`` loop resumes mid-epoch.
        """
        epoch = check_int("epoch", epoch, low=0)
        if epoch != self.epoch:
            self._position = self._start = 0
        self.epoch = epoch

    def state_dict(self) -> dict[str, Any]:
        """``epoch`` and ``position`` (batches this rank has yielded), plus the settings.

        With ``DataLoader(num_workers>0)`` the loader draws batches ahead of the training
        loop; save ``state | {"position": steps_done_this_epoch}`` in that case (or use a
        stateful loader), since the sampler only knows what it has handed out.
        """
        return {**self._config(), "epoch": self.epoch, "position": self._position}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state saved by `state_dict` of a sampler built the same way.

        Raises:
            StateDictError: unknown or missing keys, a setting that differs (both values
                are named), or a bad epoch/position.
        """
        check_state_keys(type(self).__name__, state, self.state_dict(), self._config())
        epoch = check_int("epoch", state["epoch"], low=0, error=StateDictError)
        position = check_int("position", state["position"], 0, len(self), error=StateDictError)
        self.epoch = int(epoch)
        self._position = self._start = int(position)


# --------------------------------------------------------------------------- samplers


class BucketBatchSampler(LengthBatchSampler):
    """Length bucketing: group by length key, shuffle within groups, chunk, shuffle batches.

    Key: ``((src_len - min_src + 1) // bucket_width, (tgt_len - min_tgt + 1) // bucket_width)``
    with the **true** minimum lengths. (A common hand-written version computes the minimum as
    ``min(sentence_length, key=len)[0]`` — but every item is a ``(src_len, tgt_len)`` pair,
    so ``key=len`` is 2 for all of them and ``min`` returns the *first* pair: its lengths,
    not the minima. Keys can then be negative and the buckets shift with whatever example
    happens to come first.)

    Each group is chunked into full batches of ``batch_size``, as usual; the groups'
    leftovers (``size mod batch_size`` each) are not kept as small batches but merged by
    [`partition_cells`][seqdata.bucketing.partition_cells] into full batches that
    are tight boxes in the ``(src_len, tgt_len)`` plane; one partial batch remains (``N mod
    batch_size`` examples,
    random members of the largest groups), dropped with ``drop_last``. Which examples of a
    group go into which of its batches is reshuffled every epoch, and the batch list too.

    With the default ``bucket_width=1`` the groups are the exact ``(src_len, tgt_len)``
    pairs: on generated news-like corpora (long tail, 2% misaligned pairs) the padding
    efficiency is ≈ 0.96 / 0.95 (source / target) at 30k pairs and ≥ 0.995 from 1M pairs,
    every batch full. ``bucket_width=5`` (a common hand-written setting) (≈ 0.87-0.93): wider
    buckets
    mix more lengths in a batch, i.e. more randomness for more padding. With few examples
    per length (a small corpus), batch mates vary little between epochs — the price of
    tight batches; the batch order is always shuffled.

    Args:
        src_lengths: ``(N,)`` source lengths (e.g. ``corpus.src_lengths``).
        tgt_lengths: ``(N,)`` target lengths, or ``None`` to bucket on one side.
        batch_size: examples per batch.
        bucket_width: length range of one bucket on each side.
        shuffle: shuffle within groups and the batch list (seeded by ``seed + epoch``);
            ``False`` gives batches in length order, deterministically.
        seed: base seed shared by all ranks.
        drop_last: drop the epoch's one partial batch, and the remainder over ranks (see
            the module docstring); else keep it, repeating up to ``world_size - 1`` batches.
        rank, world_size: this process's shard; default from ``torch.distributed``.

    >>> src = [5, 1, 5, 2, 1, 2, 9]
    >>> s = BucketBatchSampler(src, batch_size=2, seed=0)
    >>> sorted(i for b in s for i in b) == list(range(7)), len(s)
    (True, 4)
    >>> [len(b) for b in BucketBatchSampler(src, batch_size=2, drop_last=True)]
    [2, 2, 2]
    """

    def __init__(
        self,
        src_lengths: Any,
        tgt_lengths: Any = None,
        *,
        batch_size: int = 64,
        bucket_width: int = 1,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        super().__init__(
            src_lengths,
            tgt_lengths,
            shuffle=shuffle,
            seed=seed,
            drop_last=drop_last,
            rank=rank,
            world_size=world_size,
        )
        self.batch_size = check_int("batch_size", batch_size)
        self.bucket_width = check_int("bucket_width", bucket_width)
        self._set_groups(self.bucket_width)
        layout, partial = self._layout(self.batch_size)
        if partial and self.drop_last:
            layout = layout[: len(layout) - partial]
        self._positions = layout
        self._bounds = np.append(np.arange(0, len(layout), self.batch_size), len(layout))
        self._check_shardable()

    def _num_batches_total(self) -> int:
        return len(self._bounds) - 1

    def _config(self) -> dict[str, Any]:
        return {
            **super()._config(),
            "batch_size": self.batch_size,
            "bucket_width": self.bucket_width,
        }

    def _epoch(self, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
        return self._grouped_order(rng)[self._positions], self._bounds


class TokenBudgetBatchSampler(LengthBatchSampler):
    """Batches whose *padded* size, ``batch size × longest``, stays within ``max_tokens``.

    Examples are grouped by exact ``(src_len, tgt_len)``, laid out in tight boxes of the
    length plane ([`partition_cells`][seqdata.bucketing.partition_cells] at the budget's batch size
    for the median
    length), and cut greedily along that order by
    [`token_budget_bounds`][seqdata.bucketing.token_budget_bounds] — once, in
    ``__init__``, since only the members of a group change between epochs (they are
    reshuffled), and the batch list is shuffled. ``B × max(src_len) <= max_tokens`` and
    ``B × max(tgt_len) <= max_tokens`` hold for every batch (padding to a multiple in the
    collate comes on top).

    Args:
        src_lengths, tgt_lengths: as for
            [`BucketBatchSampler`][seqdata.samplers.BucketBatchSampler].
        max_tokens: padded-token budget per side and batch.
        batch_size_multiple: round batch sizes down to a multiple of this (when at least
            that many fit), e.g. 8 for tensor cores.
        max_batch_size: cap on examples per batch (short sentences otherwise make huge
            batches), or ``None``.
        oversize: what to do with an example longer than ``max_tokens``: ``"error"`` raises
            [`SequenceTooLongError`][seqdata.errors.SequenceTooLongError] naming it;
            ``"single"`` gives it a batch of its own (the only batches allowed over budget).
        shuffle, seed, drop_last, rank, world_size: see
            [`BucketBatchSampler`][seqdata.samplers.BucketBatchSampler]; ``drop_last`` only
            concerns the remainder over ranks.

    >>> s = TokenBudgetBatchSampler([1, 2, 2, 3, 5], max_tokens=6, shuffle=False)
    >>> list(s)
    [[0, 1, 2], [3], [4]]
    """

    def __init__(
        self,
        src_lengths: Any,
        tgt_lengths: Any = None,
        *,
        max_tokens: int,
        batch_size_multiple: int = 1,
        max_batch_size: int | None = None,
        oversize: str = "error",
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        super().__init__(
            src_lengths,
            tgt_lengths,
            shuffle=shuffle,
            seed=seed,
            drop_last=drop_last,
            rank=rank,
            world_size=world_size,
        )
        self.max_tokens = check_int("max_tokens", max_tokens)
        self.batch_size_multiple = check_int("batch_size_multiple", batch_size_multiple)
        self.max_batch_size = (
            None if max_batch_size is None else check_int("max_batch_size", max_batch_size)
        )
        if oversize not in ("error", "single"):
            raise ConfigError(
                f"oversize should be 'error' or 'single', but got oversize={oversize!r}"
            )
        self.oversize = oversize
        if oversize == "error":
            self._check_budget()
        # Order: exact-length groups laid out in k-d boxes of a nominal batch size (the
        # budget's batch size at the median length), then greedy budget cuts along it.
        self._set_groups(1)
        longest = self.src_lengths
        if self.tgt_lengths is not None:
            longest = np.maximum(longest, self.tgt_lengths)
        nominal = max(1, self.max_tokens // max(1, int(np.median(longest))))
        self._positions = self._layout(nominal, carve_longest=True)[0]
        order = self._base[self._positions]
        self._bounds = token_budget_bounds(
            self.src_lengths[order],
            None if self.tgt_lengths is None else self.tgt_lengths[order],
            self.max_tokens,
            batch_size_multiple=self.batch_size_multiple,
            max_batch_size=self.max_batch_size,
        )
        self._check_shardable()

    def _check_budget(self) -> None:
        for side, lengths in (("source", self.src_lengths), ("target", self.tgt_lengths)):
            if lengths is None:
                continue
            over = np.flatnonzero(lengths > self.max_tokens)
            if len(over):
                i = int(over[0])
                raise SequenceTooLongError(
                    f"the {side} has {int(lengths[i])} tokens, more than max_tokens="
                    f"{self.max_tokens} ({len(over)} such examples); raise max_tokens, filter "
                    "long examples out, or pass oversize='single' to give each its own batch",
                    index=i,
                )

    def _num_batches_total(self) -> int:
        return len(self._bounds) - 1

    def _config(self) -> dict[str, Any]:
        return {
            **super()._config(),
            "max_tokens": self.max_tokens,
            "batch_size_multiple": self.batch_size_multiple,
            "max_batch_size": self.max_batch_size,
            "oversize": self.oversize,
        }

    def _epoch(self, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
        return self._grouped_order(rng)[self._positions], self._bounds
