"""Batch samplers that group examples of similar length: buckets and token budgets.

Both are ``torch.utils.data.Sampler[list[int]]`` for ``DataLoader(batch_sampler=...)``, and
share one epoch machinery (:class:`LengthBatchSampler`):

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

Policy and loop are separate: bucket keys (:func:`bucket_keys`), groups
(:func:`length_groups`), the k-d cut of leftovers into tight batches (:func:`partition_cells`)
and token-budget cuts (:func:`token_budget_bounds`) are pure functions of the lengths, run
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
import torch
from torch.utils.data import Sampler

from seqdata.errors import ConfigError, InputTypeError, SequenceTooLongError, StateDictError

__all__ = [
    "BucketBatchSampler",
    "LengthBatchSampler",
    "TokenBudgetBatchSampler",
    "bucket_keys",
    "length_groups",
    "partition_cells",
    "token_budget_bounds",
]


# --------------------------------------------------------------------------- checks


def _check_int(name: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        kind = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ConfigError(f"{name} should be {kind}, but got {name}={value!r}")
    return int(value)


def _as_lengths(name: str, lengths: Any) -> np.ndarray:
    if isinstance(lengths, torch.Tensor):
        lengths = lengths.detach().cpu().numpy()
    array = np.asarray(lengths)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise InputTypeError(
            f"{name} should be a 1-D array of integer lengths, but got shape {array.shape} and "
            f"dtype {array.dtype}"
        )
    if array.size == 0:
        raise ConfigError(f"{name} should hold at least one length, but got an empty array")
    array = array.astype(np.int64, copy=False)
    if int(array.min()) < 0:
        first = int(np.argmax(array < 0))
        raise ConfigError(f"{name} should be >= 0, but got {name}[{first}]={int(array[first])}")
    return array


def _resolve_rank(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """``rank``/``world_size`` as given, else from ``torch.distributed`` when initialised."""
    dist = torch.distributed
    initialised = dist.is_available() and dist.is_initialized()
    if world_size is None:
        world_size = dist.get_world_size() if initialised else 1
    if rank is None:
        rank = dist.get_rank() if initialised else 0
    world_size = _check_int("world_size", world_size)
    rank = _check_int("rank", rank, low=0)
    if rank >= world_size:
        raise ConfigError(f"rank should be in [0, world_size={world_size}), but got rank={rank}")
    return rank, world_size


# --------------------------------------------------------------------------- pure policy


def bucket_keys(
    src_lengths: np.ndarray, tgt_lengths: np.ndarray | None, width: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """The notes' bucket key, with the **true** minimum lengths.

    ``((src_len - min_src + 1) // width, (tgt_len - min_tgt + 1) // width)``.

    >>> ks, kt = bucket_keys(np.array([7, 3, 12]), np.array([5, 9, 5]), 5)
    >>> ks.tolist(), kt.tolist()
    ([1, 0, 2], [0, 1, 0])
    """
    ks = (src_lengths - src_lengths.min() + 1) // width
    kt = None if tgt_lengths is None else (tgt_lengths - tgt_lengths.min() + 1) // width
    return ks, kt


def length_groups(
    src_keys: np.ndarray, tgt_keys: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    """Dense group ids of the ``(src_key, tgt_key)`` pairs, numbered in key order.

    Returns ``(group, num_groups)`` with ``group`` of shape ``(N,)``, ``uint16`` when there
    are at most 65,536 groups (the per-epoch stable argsort of ``uint16`` is a radix sort),
    else ``int32``.

    >>> group, count = length_groups(np.array([3, 1, 3, 2]), np.array([0, 5, 0, 1]))
    >>> group.tolist(), count
    ([2, 0, 2, 1], 3)
    """
    n = len(src_keys)
    combined = src_keys
    if tgt_keys is not None:
        combined = src_keys * (int(tgt_keys.max()) + 1) + tgt_keys
    top = int(combined.max()) + 1
    if top <= max(4 * n, 1 << 20):  # dense key range: counting instead of sorting
        present = np.bincount(combined, minlength=top) > 0
        inverse = (np.cumsum(present) - 1)[combined]
        count = int(present.sum())
    else:
        uniq, inverse = np.unique(combined, return_inverse=True)
        count = len(uniq)
    dtype = np.uint16 if count <= 1 << 16 else np.int32
    return inverse.astype(dtype), count


def _insert_cuts(
    cell: np.ndarray, count: np.ndarray, bounds: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add boundaries after ``targets`` examples (cumulative), cutting runs where needed."""
    csum = np.zeros(len(count) + 1, dtype=np.int64)
    np.cumsum(count, out=csum[1:])
    e = np.searchsorted(csum, targets)  # csum[e] >= target
    exact = csum[e] == targets
    cut = e[~exact] - 1  # run `cut` straddles its target: split it in two
    left = targets[~exact] - csum[cut]
    rest = count[cut] - left
    count = count.copy()
    count[cut] = left
    ins = cut + 1  # ascending, distinct (one cut per segment)
    shift = np.concatenate([bounds, e[exact]])
    shift = shift + np.searchsorted(ins, shift, side="right")
    cell = np.insert(cell, ins, cell[cut])
    count = np.insert(count, ins, rest)
    new = ins + np.arange(len(ins))
    return cell, count, np.unique(np.concatenate([shift, new]))


def partition_cells(
    cell_src: np.ndarray,
    cell_tgt: np.ndarray | None,
    counts: np.ndarray,
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut weighted length cells into batches of exactly ``batch_size`` tight on both sides.

    A k-d partition: every segment (initially all cells) holding more than ``batch_size``
    examples is sorted along the side where its padding waste (``size·max − sum``) is larger
    and cut in two at a multiple of ``batch_size`` near its middle; a cell may be cut between
    the two halves. It ends when every segment holds ``batch_size`` examples, so a batch is a
    small box in the ``(src_len, tgt_len)`` plane — unlike a lexicographic sort, whose
    batches are tight on the source but can span a wide range of target lengths (e.g.
    misaligned pairs at the end of every source length's run). All work is on cells, not
    examples: about ``log2(N / batch_size)`` vectorized passes.

    Args:
        cell_src, cell_tgt: ``(G,)`` the (longest) lengths of each cell; ``cell_tgt=None``
            partitions on the source alone (a sort).
        counts: ``(G,)`` examples per cell; ``counts.sum()`` a multiple of ``batch_size``.

    Returns:
        ``(cells, runs)``: consecutive runs of ``runs[i]`` examples of cell ``cells[i]``;
        every ``batch_size`` consecutive examples form one batch.

    >>> cells, runs = partition_cells(np.array([2, 2, 9, 9]), np.array([2, 9, 2, 9]),
    ...                               np.array([2, 2, 2, 2]), 2)
    >>> list(zip(cells.tolist(), runs.tolist()))
    [(0, 2), (1, 2), (2, 2), (3, 2)]
    """
    cell = np.flatnonzero(counts > 0)
    count = counts[cell].astype(np.int64)
    if cell_tgt is None:
        order = np.argsort(cell_src[cell], kind="stable")
        return cell[order], count[order]
    bounds = np.array([0, len(cell)], dtype=np.int64)
    while True:
        starts, lens = bounds[:-1], np.diff(bounds)
        csum = np.zeros(len(count) + 1, dtype=np.int64)
        np.cumsum(count, out=csum[1:])
        sizes = csum[bounds[1:]] - csum[starts]
        split = sizes > batch_size
        if not split.any():
            return cell, count
        src, tgt = cell_src[cell], cell_tgt[cell]
        waste_s = sizes * np.maximum.reduceat(src, starts) - np.add.reduceat(src * count, starts)
        waste_t = sizes * np.maximum.reduceat(tgt, starts) - np.add.reduceat(tgt * count, starts)
        on_src = np.repeat(waste_s >= waste_t, lens)
        segment = np.repeat(np.arange(len(lens)), lens)
        perm = np.lexsort((np.where(on_src, tgt, src), np.where(on_src, src, tgt), segment))
        cell, count = cell[perm], count[perm]
        half = batch_size * np.maximum(1, sizes[split] // batch_size // 2)
        cell, count, bounds = _insert_cuts(cell, count, bounds, csum[starts[split]] + half)


def token_budget_bounds(
    src_lengths: np.ndarray,
    tgt_lengths: np.ndarray | None,
    max_tokens: int,
    *,
    batch_size_multiple: int = 1,
    max_batch_size: int | None = None,
) -> np.ndarray:
    """Greedy cuts of an (already length-ordered) sequence into token-budget batches.

    A batch ``[a, b)`` is extended while ``(b - a) * max(lengths[a:b]) <= max_tokens`` on
    each side; its size is then rounded down to a multiple of ``batch_size_multiple`` (when
    at least that many fit) and capped by ``max_batch_size``. An example longer than the
    budget on its own gets a batch of one. One numpy pass per *batch*, none per example.

    Returns:
        ``(num_batches + 1,)`` int64 boundaries, from 0 to ``N``.

    >>> token_budget_bounds(np.array([1, 2, 2, 3, 5, 9]), None, 6).tolist()
    [0, 3, 4, 5, 6]
    """
    n = len(src_lengths)
    longest = src_lengths if tgt_lengths is None else np.maximum(src_lengths, tgt_lengths)
    cap = n if max_batch_size is None else max_batch_size
    bounds = [0]
    i = 0
    while i < n:
        # the batch's longest is at least longest[i], so no more than
        # max_tokens // longest[i] examples fit: one window per batch suffices
        window = min(n - i, cap, max_tokens // max(1, int(longest[i])))
        size = 1
        if window > 1:
            count = np.arange(1, window + 1, dtype=np.int64)
            ok = count * np.maximum.accumulate(src_lengths[i : i + window]) <= max_tokens
            if tgt_lengths is not None:
                ok &= count * np.maximum.accumulate(tgt_lengths[i : i + window]) <= max_tokens
            size = window if ok[-1] else max(1, int(np.argmin(ok)))
            if batch_size_multiple > 1 and size >= batch_size_multiple:
                size -= size % batch_size_multiple
        i += size
        bounds.append(i)
    return np.asarray(bounds, dtype=np.int64)


# --------------------------------------------------------------------------- epoch machinery


class LengthBatchSampler(Sampler[list[int]], ABC):
    """Shared machinery: groups, epoch seeding, sharding over ranks, strict resume.

    Subclasses fix the length groups and the batch sizes in ``__init__`` and implement
    :meth:`_epoch` (the epoch's examples in batch layout and the batch boundaries).
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
        self.src_lengths = _as_lengths("src_lengths", src_lengths)
        self.tgt_lengths = None if tgt_lengths is None else _as_lengths("tgt_lengths", tgt_lengths)
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
        self.rank, self.world_size = _resolve_rank(rank, world_size)
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
        """Group the examples by the notes' bucket key (``width``) once, for all epochs."""
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

        Each group's full batches first (the notes' chunking), then the groups' leftovers
        cut by :func:`partition_cells`, then one partial batch of ``r < batch_size``
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
        :meth:`load_state_dict` makes the next pass start mid-epoch.
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
        epoch = _check_int("epoch", epoch, low=0)
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
        """Restore a state saved by :meth:`state_dict` of a sampler built the same way.

        Raises:
            StateDictError: unknown or missing keys, a setting that differs (both values
                are named), or a bad epoch/position.
        """
        expected = self.state_dict()
        unknown = sorted(set(state) - set(expected))
        missing = sorted(set(expected) - set(state))
        if unknown or missing:
            raise StateDictError(
                f"{type(self).__name__} state should have keys {sorted(expected)}, but got "
                f"unknown keys {unknown} and missing keys {missing}"
            )
        for key, value in self._config().items():
            if state[key] != value:
                raise StateDictError(
                    f"the saved state is for {key}={state[key]!r}, but this sampler has "
                    f"{key}={value!r}; restore into a sampler built the same way"
                )
        epoch, position = state["epoch"], state["position"]
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise StateDictError(f"epoch should be an int >= 0, but got epoch={epoch!r}")
        if (
            isinstance(position, bool)
            or not isinstance(position, (int, np.integer))
            or not 0 <= position <= len(self)
        ):
            raise StateDictError(
                f"position should be an int in [0, {len(self)}] (batches per epoch on this "
                f"rank), but got position={position!r}"
            )
        self.epoch = int(epoch)
        self._position = self._start = int(position)


# --------------------------------------------------------------------------- samplers


class BucketBatchSampler(LengthBatchSampler):
    """The notes' bucketing: group by length key, shuffle within groups, chunk, shuffle batches.

    Key: ``((src_len - min_src + 1) // bucket_width, (tgt_len - min_tgt + 1) // bucket_width)``
    with the **true** minimum lengths. (The notes compute the minimum as
    ``min(sentence_length, key=len)[0]`` — but every item is a ``(src_len, tgt_len)`` pair,
    so ``key=len`` is 2 for all of them and ``min`` returns the *first* pair: its lengths,
    not the minima. Keys can then be negative and the buckets shift with whatever example
    happens to come first.)

    Each group is chunked into full batches of ``batch_size``, as in the notes; the groups'
    leftovers (``size mod batch_size`` each) are not kept as small batches but merged by
    :func:`partition_cells` into full batches that are tight boxes in the
    ``(src_len, tgt_len)`` plane; one partial batch remains (``N mod batch_size`` examples,
    random members of the largest groups), dropped with ``drop_last``. Which examples of a
    group go into which of its batches is reshuffled every epoch, and the batch list too.

    With the default ``bucket_width=1`` the groups are the exact ``(src_len, tgt_len)``
    pairs: on generated news-like corpora (long tail, 2% misaligned pairs) the padding
    efficiency is ≈ 0.96 / 0.95 (source / target) at 30k pairs and ≥ 0.995 from 1M pairs,
    every batch full. ``bucket_width=5`` is the notes' setting (≈ 0.87-0.93): wider buckets
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
        self.batch_size = _check_int("batch_size", batch_size)
        self.bucket_width = _check_int("bucket_width", bucket_width)
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
    length plane (:func:`partition_cells` at the budget's batch size for the median
    length), and cut greedily along that order by :func:`token_budget_bounds` — once, in
    ``__init__``, since only the members of a group change between epochs (they are
    reshuffled), and the batch list is shuffled. ``B × max(src_len) <= max_tokens`` and
    ``B × max(tgt_len) <= max_tokens`` hold for every batch (padding to a multiple in the
    collate comes on top).

    Args:
        src_lengths, tgt_lengths: as for :class:`BucketBatchSampler`.
        max_tokens: padded-token budget per side and batch.
        batch_size_multiple: round batch sizes down to a multiple of this (when at least
            that many fit), e.g. 8 for tensor cores.
        max_batch_size: cap on examples per batch (short sentences otherwise make huge
            batches), or ``None``.
        oversize: what to do with an example longer than ``max_tokens``: ``"error"`` raises
            :class:`SequenceTooLongError` naming it; ``"single"`` gives it a batch of its own
            (the only batches allowed over budget).
        shuffle, seed, drop_last, rank, world_size: see :class:`BucketBatchSampler`;
            ``drop_last`` only concerns the remainder over ranks.

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
        self.max_tokens = _check_int("max_tokens", max_tokens)
        self.batch_size_multiple = _check_int("batch_size_multiple", batch_size_multiple)
        self.max_batch_size = (
            None if max_batch_size is None else _check_int("max_batch_size", max_batch_size)
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
