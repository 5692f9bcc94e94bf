"""Flat ragged arrays: one contiguous id array plus offsets, and their padded gathers.

A [`Ragged`][seqdata.Ragged] holds ``N`` integer sequences as one 1-D ``values`` array
(``int32``, or ``uint16`` when every id fits) and ``N + 1`` ``int64`` ``offsets``: sequence
``i`` is ``values[offsets[i]:offsets[i+1]]``. Lengths are ``np.diff(offsets)`` (no token is
touched), bucketing is an ``argsort`` of them, and fetching a batch is one vectorized gather —
the layout of fairseq's indexed datasets. A ``RaggedBatch`` is the examples of one batch, not
yet padded; ``RaggedBatch.padded`` gathers a side straight into its ``(B, L)`` tensor.

>>> r = Ragged.from_sequences([[5, 6, 7], [8]])
>>> r.lengths.tolist(), r.take([1, 0]).tolist()        # (B, L) int64, padded with 0
([3, 1], [[8, 0, 0], [5, 6, 7]])
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np

from seqdata.errors import ConfigError, InputTypeError, ShapeError

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["Ragged", "RaggedBatch", "as_ragged", "check_ragged", "padded_length"]

_INT32_MAX = np.iinfo(np.int32).max


def padded_length(longest: int, multiple: int | None = None) -> int:
    """The smallest multiple of ``multiple`` that is ``>= longest`` (``longest`` if ``None``).

    An already aligned length stays as it is (no extra block):

    >>> padded_length(17, 8), padded_length(16, 8), padded_length(0, 8), padded_length(5)
    (24, 16, 0, 5)
    """
    if multiple is None or multiple == 1:
        return longest
    return -(-longest // multiple) * multiple


def _as_index_array(indices: Any, n: int) -> np.ndarray:
    """``indices`` as a 1-D int64 array in ``[0, n)`` (negative ones wrapped)."""
    idx = np.asarray(indices)
    if idx.ndim == 1 and idx.size and idx.dtype.kind in "iu":  # the common case, fast
        idx = idx.astype(np.int64, copy=False)
        low, high = int(idx.min()), int(idx.max())
        if low >= 0 and high < n:
            return idx
    elif idx.ndim == 0:
        idx = idx.reshape(1)
    if idx.size == 0:
        return np.zeros(0, dtype=np.int64)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        raise InputTypeError(
            f"indices should be a 1-D sequence of integers, but got an array of shape "
            f"{idx.shape} and dtype {idx.dtype}"
        )
    idx = idx.astype(np.int64, copy=False)
    low, high = int(idx.min()), int(idx.max())
    if low < -n or high >= n:
        bad = low if low < -n else high
        raise IndexError(f"index {bad} is out of range for {n} sequences")
    return np.where(idx < 0, idx + n, idx)


def _flat_positions(starts: np.ndarray, lengths: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Positions ``[s0, s0+1, …, s0+l0-1, s1, …]`` of the tokens of sequences ``(starts,
    lengths)``; ``offsets`` are the ``(B + 1,)`` cumulative lengths starting at 0.

    >>> _flat_positions(np.array([10, 3]), np.array([2, 3]), np.array([0, 2, 5])).tolist()
    [10, 11, 3, 4, 5]
    """
    positions = np.repeat(starts - offsets[:-1], lengths)
    positions += np.arange(int(offsets[-1]), dtype=np.int64)
    return positions


def _offsets(lengths: np.ndarray) -> np.ndarray:
    offsets = np.empty(len(lengths) + 1, dtype=np.int64)
    offsets[0] = 0
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def _check_values(values: np.ndarray, what: str = "values") -> np.ndarray:
    """Store ids as uint16/int32; convert other integer dtypes after a range check."""
    if values.ndim != 1:
        raise InputTypeError(f"{what} should be a 1-D array, but got shape {values.shape}")
    if values.dtype in (np.uint16, np.int32):
        return values
    if not np.issubdtype(values.dtype, np.integer):
        if values.size == 0:
            return values.astype(np.int32)
        raise InputTypeError(
            f"{what} should hold integer token ids, but got dtype={values.dtype}; encode the "
            "text with a pipeline first"
        )
    if values.size and (int(values.min()) < 0 or int(values.max()) > _INT32_MAX):
        raise ConfigError(
            f"token ids should be in [0, {_INT32_MAX}], but got ids from {int(values.min())} "
            f"to {int(values.max())}"
        )
    return values.astype(np.int32)


class Ragged:
    """``N`` integer sequences stored flat: ``values`` (all ids) and ``offsets`` (``N + 1``).

    Args:
        values: ``(T,)`` ids, ``int32`` or ``uint16`` (other integer dtypes are converted to
            ``int32``); may be a ``np.memmap``.
        offsets: ``(N + 1,)`` non-decreasing, ``offsets[0] == 0``, ``offsets[-1] == T``; stored
            as ``int64``.

    Attributes:
        lengths: ``(N,)`` int64, ``np.diff(offsets)``.

    >>> r = Ragged.from_sequences([[4, 5, 6], [], [7]])
    >>> len(r), r.lengths.tolist(), r[2].tolist(), r.values.dtype.name
    (3, [3, 0, 1], [7], 'int32')
    >>> r.take([2, 0], pad_id=0, pad_to_multiple_of=2).tolist()   # (B=2, L=4)
    [[7, 0, 0, 0], [4, 5, 6, 0]]
    >>> r.gather([2, 0]).offsets.tolist()
    [0, 1, 4]
    """

    def __init__(self, values: Any, offsets: Any) -> None:
        values = _check_values(np.asanyarray(values))
        offsets = np.asanyarray(offsets)
        if offsets.ndim != 1 or len(offsets) == 0 or not np.issubdtype(offsets.dtype, np.integer):
            raise InputTypeError(
                f"offsets should be a 1-D integer array of N + 1 entries, but got shape "
                f"{offsets.shape} and dtype {offsets.dtype}"
            )
        offsets = offsets.astype(np.int64, copy=False)
        if int(offsets[0]) != 0 or int(offsets[-1]) != len(values):
            raise ConfigError(
                f"offsets should start at 0 and end at len(values)={len(values)}, but got "
                f"offsets[0]={int(offsets[0])}, offsets[-1]={int(offsets[-1])}"
            )
        lengths = np.diff(offsets)
        if len(lengths) and int(lengths.min()) < 0:
            first = int(np.argmax(lengths < 0))
            raise ConfigError(
                f"offsets should be non-decreasing, but offsets[{first + 1}]="
                f"{int(offsets[first + 1])} < offsets[{first}]={int(offsets[first])}"
            )
        self.values = values
        self.offsets = offsets
        self.lengths = lengths
        self._files: tuple[str, str] | None = None

    @classmethod
    def from_sequences(cls, sequences: Iterable[Any]) -> Ragged:
        """Build from any iterable of id sequences (lists, numpy arrays or tensors).

        One pass to measure, one concatenation (lists of Python ints are chained into one
        ``np.array``, not converted one sequence at a time).
        """
        seqs = sequences if isinstance(sequences, Sequence) else list(sequences)
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if len(seqs) == 0:
            values = np.zeros(0, dtype=np.int32)
        elif _is_tensor(seqs[0]):
            import torch

            values = torch.cat([torch.as_tensor(s).reshape(-1) for s in seqs]).numpy()
        elif isinstance(seqs[0], np.ndarray):
            values = np.concatenate([np.asarray(s).reshape(-1) for s in seqs])
        else:
            values = np.array(list(chain.from_iterable(seqs)))
            if values.size and not np.issubdtype(values.dtype, np.integer):
                raise InputTypeError(
                    f"every sequence should hold integer ids, but they read as {values.dtype} "
                    f"(first sequence: {list(seqs[0])[:5]!r}…)"
                )
        return cls(values, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def num_tokens(self) -> int:
        """Total number of ids, ``T``."""
        return len(self.values)

    def __getitem__(self, i: int) -> np.ndarray:
        """The ids of sequence ``i`` as a numpy view (no copy)."""
        n = len(self)
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
            raise InputTypeError(f"a Ragged is indexed by an int, but got {type(i).__name__}")
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for {n} sequences")
        i = int(i) % n
        return self.values[self.offsets[i] : self.offsets[i + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self.values[self.offsets[i] : self.offsets[i + 1]]

    def __repr__(self) -> str:
        return f"Ragged(n={len(self)}, tokens={self.num_tokens}, dtype={self.values.dtype.name})"

    def gather(self, indices: Any) -> Ragged:
        """A compact copy holding sequences ``indices`` in that order (one numpy gather)."""
        return self._gather(_as_index_array(indices, len(self)))

    def _gather(self, idx: np.ndarray) -> Ragged:
        lengths = self.lengths[idx]
        offsets = _offsets(lengths)
        values = self.values[_flat_positions(self.offsets[idx], lengths, offsets)]
        return Ragged._trusted(values, offsets, lengths)

    @classmethod
    def _trusted(cls, values: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> Ragged:
        """Build without validation, from arrays this module computed itself."""
        ragged = cls.__new__(cls)
        ragged.values, ragged.offsets, ragged.lengths = values, offsets, lengths
        ragged._files = None
        return ragged

    def take(
        self,
        indices: Any,
        *,
        pad_id: int = 0,
        pad_to_multiple_of: int | None = None,
        batch_first: bool = True,
    ) -> Tensor:
        """Sequences ``indices`` as one padded ``(B, L)`` int64 tensor (``(L, B)`` if not
        ``batch_first``); ``L`` is the longest length, rounded up by
        [`padded_length`][seqdata.ragged.padded_length].

        One masked gather from ``values`` into the output; no per-sequence loop.
        """
        idx = _as_index_array(indices, len(self))
        lengths = self.lengths[idx]
        width = padded_length(int(lengths.max()) if len(idx) else 0, pad_to_multiple_of)
        return _pad_gather(self, idx, lengths, width, pad_id, batch_first)

    def __reduce__(self) -> tuple[Any, ...]:
        # A memory-mapped Ragged pickles as its file names (DataLoader workers started with
        # "spawn"/"forkserver" re-open the map instead of copying gigabytes through a pipe).
        if self._files is not None:
            return (_open_ragged, self._files)
        return (Ragged, (np.asarray(self.values), self.offsets))


def _open_ragged(values_path: str, offsets_path: str) -> Ragged:
    ragged = Ragged(np.load(values_path, mmap_mode="r"), np.load(offsets_path, mmap_mode="r"))
    ragged._files = (values_path, offsets_path)
    return ragged


class RaggedBatch:
    """The examples of one batch, not yet padded: what ``corpus.__getitems__`` returns.

    It holds the corpus's arrays and the requested ``indices`` — nothing is copied until
    [`PadCollate`][seqdata.collate.PadCollate] calls `padded`, which gathers each side
    straight into its padded tensor. It also reads as a sequence of examples (``batch[i]``
    is what ``corpus[indices[i]]`` returns), so any other ``collate_fn`` works too, and it
    pickles as a compact copy of its own examples only.

    Args:
        src: the source (or only) sequences the batch's examples are taken from.
        tgt: the target sequences, or ``None`` for single-sequence corpora.
        labels: ``(B,)`` labels of the batch's examples, or ``None``.
        indices: ``(B,)`` rows of ``src``/``tgt`` in the batch; ``None`` means all of them.

    Attributes:
        indices: ``(B,)`` the examples' corpus indices — the same in the main process and
            in a batch that comes back from a DataLoader worker (pickled as a compact copy).

    >>> batch = RaggedBatch(Ragged.from_sequences([[4, 5], [6], [7, 8, 9]]), indices=[2, 1])
    >>> len(batch), batch.src_lengths.tolist(), batch[0].tolist()
    (2, [3, 1], [7, 8, 9])
    >>> batch.padded("src", rows=np.array([1, 0]), pad_id=0).tolist()   # row r: example rows[r]
    [[6, 0, 0], [7, 8, 9]]
    """

    __slots__ = ("_rows", "_src", "_tgt", "indices", "labels")

    def __init__(
        self,
        src: Ragged,
        tgt: Ragged | None = None,
        labels: Any = None,
        indices: Any = None,
    ) -> None:
        self._src = src
        self._tgt = tgt
        self.labels = None if labels is None else np.asarray(labels)
        self._rows = (  # positions in the arrays held
            np.arange(len(src), dtype=np.int64)
            if indices is None
            else _as_index_array(indices, len(src))
        )
        self.indices = self._rows

    @classmethod
    def _of(
        cls, src: Ragged, tgt: Ragged | None, labels: np.ndarray | None, indices: np.ndarray
    ) -> RaggedBatch:
        """Build from already checked ``indices`` (the corpus's ``__getitems__``)."""
        batch = cls.__new__(cls)
        batch._src, batch._tgt, batch.labels = src, tgt, labels
        batch._rows = batch.indices = indices
        return batch

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i: int) -> Any:
        row = int(self._rows[i])
        if self._tgt is not None:
            return self._src[row], self._tgt[row]
        if self.labels is not None:
            return self._src[row], self.labels[i]
        return self._src[row]

    def __reduce__(self) -> tuple[Any, ...]:
        # a compact copy of its own examples; `indices` keeps the corpus indices
        return (_unpickle_batch, (self.src, self.tgt, self.labels, self.indices))

    @property
    def has_tgt(self) -> bool:
        return self._tgt is not None

    @property
    def src(self) -> Ragged:
        """The batch's source sequences, as a compact [`Ragged`][seqdata.ragged.Ragged] (a copy)."""
        return self._src._gather(self._rows)

    @property
    def tgt(self) -> Ragged | None:
        """The batch's target sequences (a copy), or ``None``."""
        return None if self._tgt is None else self._tgt._gather(self._rows)

    @property
    def src_lengths(self) -> np.ndarray:
        """``(B,)`` int64 source lengths."""
        return self._src.lengths[self._rows]

    @property
    def tgt_lengths(self) -> np.ndarray | None:
        """``(B,)`` int64 target lengths, or ``None``."""
        return None if self._tgt is None else self._tgt.lengths[self._rows]

    def padded(
        self,
        side: str,
        rows: np.ndarray,
        pad_id: int = 0,
        pad_to_multiple_of: int | None = None,
        batch_first: bool = True,
    ) -> Tensor:
        """One side as a padded ``(B, L)`` int64 tensor (``(L, B)`` if not ``batch_first``).

        Row ``r`` holds the batch's example ``rows[r]``; ``L`` is the longest length rounded
        up by [`padded_length`][seqdata.ragged.padded_length]. One masked gather from the corpus
        arrays.
        """
        ragged = self._src if side == "src" else self._tgt
        if ragged is None:
            raise ShapeError(f"this batch has no {side!r} side")
        picked = self._rows[rows]
        lengths = ragged.lengths[picked]
        width = padded_length(int(lengths.max()) if len(rows) else 0, pad_to_multiple_of)
        return _pad_gather(ragged, picked, lengths, width, pad_id, batch_first)


def _unpickle_batch(
    src: Ragged, tgt: Ragged | None, labels: np.ndarray | None, indices: np.ndarray
) -> RaggedBatch:
    batch = RaggedBatch(src, tgt, labels)
    batch.indices = indices
    return batch


def _pad_gather(
    ragged: Ragged,
    picked: np.ndarray,
    lengths: np.ndarray,
    width: int,
    pad_id: int,
    batch_first: bool,
) -> Tensor:
    """Sequences ``picked`` of ``ragged`` gathered into a padded int64 tensor, no loop."""
    cols = np.arange(width, dtype=np.int64)
    starts = ragged.offsets[picked]
    if batch_first:
        real = cols < lengths[:, None]  # (B, L)
        source = starts[:, None] + cols
        out = np.full((len(picked), width), pad_id, dtype=np.int64)
    else:
        real = cols[:, None] < lengths  # (L, B)
        source = cols[:, None] + starts
        out = np.full((width, len(picked)), pad_id, dtype=np.int64)
    out[real] = ragged.values[source[real]]
    import torch

    return torch.from_numpy(out)


def _is_tensor(value: object) -> bool:
    """True for a torch tensor, without importing torch (a tensor means torch is loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def as_ragged(side: Any, name: str) -> Ragged:
    if isinstance(side, Ragged):
        return side
    if isinstance(side, tuple | list) and len(side) == 2:
        return Ragged(side[0], side[1])
    raise InputTypeError(
        f"{name} should be a Ragged or a (values, offsets) pair, but got {type(side).__name__}"
    )


def check_ragged(name: str, value: Any) -> Ragged:
    if not isinstance(value, Ragged):
        raise InputTypeError(
            f"{name} should be a Ragged, but got {type(value).__name__}; build one with "
            "Ragged.from_sequences or use a from_* constructor"
        )
    return value
