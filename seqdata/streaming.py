"""Length-bucketed batches from a stream: a buffer that sorts, batches, and resumes exactly.

[`StreamingBucketer`][seqdata.streaming.StreamingBucketer] is a ``torch.utils.data.IterableDataset``
over any iterable of
examples — id sequences, ``(src, tgt)`` pairs, or dict rows such as a HuggingFace
``datasets.IterableDataset`` yields — for corpora that are never held in memory at once:

1. **fill** a buffer with ``buffer_size`` examples of this process's shard of the stream;
2. **sort** it by ``(src_len, tgt_len)`` and cut it into batches of ``batch_size`` examples
   (or, with ``max_tokens``, of at most ``max_tokens`` padded tokens per side, via
   [`token_budget_bounds`][seqdata.bucketing.token_budget_bounds]). A buffer holds a whole number of
   batches
   (``buffer_size`` rounded down to a multiple of ``batch_size``), so only the stream's final
   batch can be short — and no example waits longer than one buffer;
3. **emit** the batches in a seeded random order (``seed``, epoch, shard and buffer number),
   as lists of examples or, with ``collate_fn`` (e.g. [`PadCollate`][seqdata.collate.PadCollate]),
   as [`Batch`][seqdata.collate.Batch] es.

**Sharding.** Each DataLoader worker of each rank reads a disjoint part of the stream, so no
example is produced twice: a generic iterable is strided (example ``i`` goes to shard
``i mod (world_size × num_workers)``); a HuggingFace ``IterableDataset`` is split across ranks
by ``datasets.distributed.split_dataset_by_node`` and across workers by ``datasets`` itself
(a dataset with fewer shards than workers leaves the extra workers idle — still exactly
once). Ranks can get different numbers of batches at the end of a stream; stop a DDP job
after a fixed number of steps, or use ``torch.distributed.algorithms.Join``.

**Resume.** `state_dict` holds the number of examples this shard has consumed from the
stream *and the buffer's not yet emitted examples* (its pending batches) as plain lists, so
``load_state_dict`` followed by iteration yields exactly the batches an uninterrupted run would
have yielded next — unlike a shuffle buffer that is refilled from scratch. Resuming re-reads
(and discards) the consumed part of the stream, so the stream must replay in the same order
(files, HF datasets with a fixed seed and epoch). The state is that of the iterating process:
with ``num_workers=0`` call it on the dataset; with workers, use a stateful loader that calls
it inside each worker (``torchdata.stateful_dataloader.StatefulDataLoader``).

>>> stream = [[1] * n for n in [5, 1, 4, 2, 3, 6, 2, 1]]
>>> bucketer = StreamingBucketer(stream, batch_size=2, buffer_size=4, shuffle=False)
>>> [[len(ex) for ex in batch] for batch in bucketer]
[[1, 2], [4, 5], [1, 2], [3, 6]]
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from seqdata._checks import check_int, check_optional_int, check_state_keys, resolve_rank
from seqdata.bucketing import token_budget_bounds
from seqdata.errors import ConfigError, InputTypeError, StateDictError

__all__ = ["StreamingBucketer"]

_VERSION = 1
_STATE_KEYS = (
    "version",
    "epoch",
    "worker",
    "num_workers",
    "consumed",
    "buffers",
    "done",
    "pending",
)


def _is_hf_iterable(source: Any) -> bool:
    if not type(source).__module__.startswith("datasets"):
        return False
    from datasets import IterableDataset as HFIterableDataset

    return isinstance(source, HFIterableDataset)


def _is_seq(x: Any) -> bool:
    return isinstance(x, (list, tuple)) or (
        isinstance(x, (np.ndarray, torch.Tensor)) and x.ndim > 0
    )


def _plain(x: Any) -> Any:
    """JSON-friendly copy of an example: arrays and tuples become lists, dicts stay dicts."""
    if isinstance(x, (np.ndarray, torch.Tensor)):
        return x.tolist()
    if isinstance(x, Mapping):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if callable(getattr(x, "to_list", None)):  # a polars Series
        return x.to_list()
    if callable(getattr(x, "as_py", None)):  # a pyarrow scalar
        return x.as_py()
    return x


def _len(ex: Any, what: str) -> int:
    try:
        return len(ex)
    except TypeError:
        raise InputTypeError(
            f"StreamingBucketer examples should be sequences of token ids (or (src, tgt) pairs, "
            f"or dicts of them), but got {what} of type {type(ex).__name__}: {ex!r:.60}"
        ) from None


def _example_lengths(
    buffer: Sequence[Any], src_key: str, tgt_key: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(src_lengths, tgt_lengths or None)`` of a buffer of examples, each ``(N,)``."""
    first = buffer[0]
    n = len(buffer)
    if isinstance(first, Mapping):
        src = np.fromiter((_len(ex[src_key], src_key) for ex in buffer), np.int64, n)
        if tgt_key not in first:
            return src, None
        return src, np.fromiter((_len(ex[tgt_key], tgt_key) for ex in buffer), np.int64, n)
    if _is_seq(first) and len(first) == 2 and _is_seq(first[0]):
        src = np.fromiter((_len(ex[0], "a source") for ex in buffer), np.int64, n)
        if not _is_seq(first[1]):  # (ids, label)
            return src, None
        return src, np.fromiter((_len(ex[1], "a target") for ex in buffer), np.int64, n)
    return np.fromiter((_len(ex, "an example") for ex in buffer), np.int64, n), None


class StreamingBucketer(IterableDataset[Any]):
    """An ``IterableDataset`` of length-bucketed batches over a stream of examples.

    Args:
        examples: an iterable of examples, re-iterated every epoch (a list, a
            ``datasets.IterableDataset`` / ``Dataset``, a reader), or a zero-argument callable
            returning a fresh iterator (for generators). An example is an id sequence, a
            ``(src, tgt)`` pair of id sequences, ``(ids, label)``, or a dict row with
            ``src_key`` (and ``tgt_key``).
        batch_size: examples per batch; with ``max_tokens``, the most examples per batch
            (``None``: no cap).
        max_tokens: instead of a fixed count, fill each batch up to ``max_tokens`` padded
            tokens per side (``batch size × longest``); an example longer than that gets a
            batch of its own.
        buffer_size: examples held and sorted together (``>= batch_size``; rounded down to a
            multiple of ``batch_size``); bigger buffers pad less and cost memory. Examples
            that are views into big arrays (numpy slices) keep those alive while buffered.
        collate_fn: applied to each batch (a list of examples) before it is yielded, e.g.
            ``PadCollate(pad_id=0)``; ``None`` yields the lists.
        shuffle: emit each buffer's batches in a seeded random order (else shortest first).
        seed: base of the batch-order seed (with the epoch, the shard and the buffer number).
        drop_last: drop the stream's final batch if it has fewer than ``batch_size`` examples.
        rank, world_size: this process's rank; default: ``torch.distributed``'s when it is
            initialised, else ``0`` of ``1``.
        src_key, tgt_key: the columns of dict rows.

    Use it with ``DataLoader(bucketer, batch_size=None, num_workers=…)`` — the batches are
    already formed.

    >>> from seqdata.collate import PadCollate
    >>> pairs = [([5, 6, 7], [2, 8, 3]), ([5], [2, 3]), ([6, 7], [2, 9, 9, 3])]
    >>> bucketer = StreamingBucketer(pairs, batch_size=2, collate_fn=PadCollate(pad_id=0))
    >>> [tuple(b.src.shape) for b in bucketer]                  # (B, Ls)
    [(2, 2), (1, 3)]
    >>> state = bucketer.state_dict()                           # the end of the stream
    >>> state["consumed"], state["pending"], state["done"]
    (3, [], True)
    """

    def __init__(
        self,
        examples: Iterable[Any] | Callable[[], Iterable[Any]],
        *,
        batch_size: int | None = 64,
        max_tokens: int | None = None,
        buffer_size: int = 10_000,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
        src_key: str = "src_ids",
        tgt_key: str = "tgt_ids",
    ) -> None:
        super().__init__()
        if not (callable(examples) or isinstance(examples, Iterable)):
            raise ConfigError(
                f"examples should be an iterable or a zero-argument callable returning one, "
                f"but got {type(examples).__name__}"
            )
        if isinstance(examples, Iterator):
            raise ConfigError(
                "examples should be re-iterable (a list, a dataset, a reader), but got an "
                "iterator, which runs dry after one pass; pass a callable that returns a fresh "
                "iterator instead (e.g. lambda: my_generator(path))"
            )
        self.max_tokens = check_optional_int("max_tokens", max_tokens)
        self.batch_size = (
            check_optional_int("batch_size", batch_size)
            if self.max_tokens is not None
            else check_int("batch_size", batch_size)
        )
        self.buffer_size = check_int("buffer_size", buffer_size)
        if self.batch_size is not None and self.buffer_size < self.batch_size:
            raise ConfigError(
                f"buffer_size should be >= batch_size={self.batch_size} (one buffer makes "
                f"whole batches), but got buffer_size={self.buffer_size}"
            )
        if collate_fn is not None and not callable(collate_fn):
            raise ConfigError(f"collate_fn should be callable or None, but got {collate_fn!r}")
        seed_ = check_int("seed", seed, low=0)
        self.examples = examples
        self.collate_fn = collate_fn
        self.shuffle = bool(shuffle)
        self.seed = seed_
        self.drop_last = bool(drop_last)
        self.rank, self.world_size = resolve_rank(rank, world_size)
        self.src_key = src_key
        self.tgt_key = tgt_key
        self.epoch = 0
        self._resume: dict[str, Any] | None = None
        self._live: dict[str, Any] | None = None

    # -- configuration ---------------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        return {
            "batch_size": self.batch_size,
            "max_tokens": self.max_tokens,
            "buffer_size": self.buffer_size,
            "shuffle": self.shuffle,
            "seed": self.seed,
            "drop_last": self.drop_last,
            "rank": self.rank,
            "world_size": self.world_size,
        }

    def set_epoch(self, epoch: int) -> None:
        """Seed the next pass with ``epoch`` (also passed to a source with ``set_epoch``).

        Moving to another epoch drops a restored mid-stream state; setting the epoch the
        restored state already has keeps it, so ``set_epoch(e)`` before each pass resumes.
        """
        epoch_ = check_int("epoch", epoch, low=0)
        if self._resume is not None and self._resume["epoch"] != epoch_:
            self._resume = None
        self.epoch = epoch_

    # -- sharding --------------------------------------------------------------------------

    @staticmethod
    def _worker() -> tuple[int, int]:
        info = get_worker_info()
        return (0, 1) if info is None else (int(info.id), int(info.num_workers))

    def _shard_stream(self, worker: int, num_workers: int) -> Iterator[Any]:
        source: Any = self.examples() if callable(self.examples) else self.examples
        set_epoch = getattr(source, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(self.epoch)
        if _is_hf_iterable(source):
            if self.world_size > 1:
                from datasets.distributed import split_dataset_by_node

                source = split_dataset_by_node(source, rank=self.rank, world_size=self.world_size)
            return iter(source)  # datasets splits over DataLoader workers by itself
        shard = self.rank * num_workers + worker
        shards = self.world_size * num_workers
        it = iter(source)
        return it if shards == 1 else itertools.islice(it, shard, None, shards)

    # -- batching --------------------------------------------------------------------------

    def _cut(self, buffer: list[Any]) -> list[list[Any]]:
        """The buffer sorted by length and cut into batches (in length order)."""
        src, tgt = _example_lengths(buffer, self.src_key, self.tgt_key)
        order = np.lexsort((src,) if tgt is None else (tgt, src))
        if self.max_tokens is not None:
            bounds = token_budget_bounds(
                src[order],
                None if tgt is None else tgt[order],
                self.max_tokens,
                max_batch_size=self.batch_size,
            ).tolist()
        else:
            assert self.batch_size is not None
            bounds = [*range(0, len(buffer), self.batch_size), len(buffer)]
        idx = order.tolist()
        return [[buffer[i] for i in idx[a:b]] for a, b in itertools.pairwise(bounds)]

    def _fill_size(self) -> int:
        """Examples per buffer: a whole number of batches in count mode."""
        if self.max_tokens is not None or self.batch_size is None:
            return self.buffer_size
        return self.buffer_size - self.buffer_size % self.batch_size

    def _batches(self, buffer: list[Any], number: int, shard: int) -> list[list[Any]]:
        """The batches of one buffer, in emission order."""
        if not buffer:
            return []
        batches = self._cut(buffer)
        short = self.max_tokens is None and len(batches[-1]) < (self.batch_size or 0)
        if self.drop_last and short:  # only the stream's final buffer has one
            batches.pop()
        if self.shuffle and len(batches) > 1:
            rng = np.random.default_rng([self.seed, self.epoch, shard, number])
            batches = [batches[i] for i in rng.permutation(len(batches)).tolist()]
        return batches

    # -- iteration -------------------------------------------------------------------------

    def _fresh_state(self, worker: int, num_workers: int) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "worker": worker,
            "num_workers": num_workers,
            "consumed": 0,
            "buffers": 0,
            "done": False,
            "pending": deque(),
        }

    def __iter__(self) -> Iterator[Any]:
        worker, num_workers = self._worker()
        resume, self._resume = self._resume, None
        if resume is not None and (resume["worker"], resume["num_workers"]) != (
            worker,
            num_workers,
        ):
            raise StateDictError(
                f"the saved state is for DataLoader worker {resume['worker']} of "
                f"{resume['num_workers']}, but it is being restored in worker {worker} of "
                f"{num_workers}; resume with the same number of workers"
            )
        live = resume if resume is not None else self._fresh_state(worker, num_workers)
        self._live = live
        shard = self.rank * num_workers + worker
        stream = self._shard_stream(worker, num_workers)
        if live["consumed"]:
            skipped = sum(1 for _ in itertools.islice(stream, live["consumed"]))
            if skipped < live["consumed"]:
                raise StateDictError(
                    f"the saved state has consumed {live['consumed']} examples of this shard, "
                    f"but the stream now has only {skipped}; resume on the same data"
                )
        collate = self.collate_fn
        pending: deque[list[Any]] = live["pending"]
        while True:
            while pending:
                batch = pending.popleft()
                yield collate(batch) if collate is not None else batch
            if live["done"]:
                break
            size = self._fill_size()
            buffer = list(itertools.islice(stream, size))
            live["consumed"] += len(buffer)
            pending.extend(self._batches(buffer, live["buffers"], shard))
            live["buffers"] += 1
            live["done"] = len(buffer) < size

    # -- state -----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The position in the stream *and* the buffer's unemitted examples (plain lists).

        Keys: the settings (``batch_size``, ``max_tokens``, ``buffer_size``, ``shuffle``,
        ``seed``, ``drop_last``, ``rank``, ``world_size``), ``version``, ``epoch``,
        ``worker``/``num_workers`` (the DataLoader worker it was taken in), ``consumed``
        (examples read from this shard), ``buffers`` (buffers formed), ``done`` (the stream
        ran dry) and ``pending`` (the buffer's batches not yet yielded, in order). JSON- and
        ``torch.save``-friendly.
        """
        live = self._resume or self._live
        if live is None:
            worker, num_workers = self._worker()
            live = self._fresh_state(worker, num_workers)
        return {
            **self._config(),
            "version": _VERSION,
            "epoch": live["epoch"],
            "worker": live["worker"],
            "num_workers": live["num_workers"],
            "consumed": live["consumed"],
            "buffers": live["buffers"],
            "done": live["done"],
            "pending": [[_plain(ex) for ex in batch] for batch in live["pending"]],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore `state_dict`; the next iteration yields exactly what was left.

        Examples come back as the plain lists they were saved as (pairs as 2-lists, which
        [`PadCollate`][seqdata.collate.PadCollate] reads like tuples).

        Raises:
            StateDictError: unknown or missing keys, or a setting that differs from this
                bucketer's (both values named).
        """
        expected = {*self._config(), *_STATE_KEYS}
        check_state_keys("StreamingBucketer", state, expected)
        if state["version"] != _VERSION:
            raise StateDictError(
                f"state version should be {_VERSION}, but got version={state['version']!r}"
            )
        check_state_keys("StreamingBucketer", state, expected, self._config())
        for key in ("epoch", "consumed", "buffers", "worker"):
            check_int(key, state[key], 0, error=StateDictError)
        check_int("num_workers", state["num_workers"], error=StateDictError)
        self.epoch = int(state["epoch"])
        self._resume = {
            "epoch": self.epoch,
            "worker": int(state["worker"]),
            "num_workers": int(state["num_workers"]),
            "consumed": int(state["consumed"]),
            "buffers": int(state["buffers"]),
            "done": bool(state["done"]),
            "pending": deque(_thaw_batch(b) for b in state["pending"]),
        }


def _thaw(ex: Any) -> Any:
    # a saved pair is a 2-list whose first item is a list: give it back its tuple form
    if isinstance(ex, list) and len(ex) == 2 and isinstance(ex[0], list):
        return (ex[0], ex[1])
    return ex


def _thaw_batch(batch: Any) -> list[Any]:
    if not isinstance(batch, list):
        raise StateDictError(f"a saved batch should be a list, but got {type(batch).__name__}")
    return [_thaw(ex) for ex in batch]
