"""Flat corpus storage: one contiguous id array plus offsets per field, memory-mappable.

A :class:`Ragged` holds ``N`` integer sequences as one 1-D ``values`` array (``int32``, or
``uint16`` when every id fits) and ``N + 1`` ``int64`` ``offsets``: sequence ``i`` is
``values[offsets[i]:offsets[i+1]]``. Lengths are ``np.diff(offsets)`` (no token is touched),
bucketing is an ``argsort`` of them, and fetching a batch is one vectorized gather — the layout
of fairseq's indexed datasets. :class:`ParallelCorpus` pairs two of them (source, target) as a
``torch.utils.data.Dataset``; :class:`MonoCorpus` holds one (plus optional labels) for
classification, tagging and language modelling.

>>> corpus = ParallelCorpus.from_sequences([[5, 6, 7], [8]], [[2, 9, 3], [2, 3]])
>>> corpus.src_lengths.tolist(), corpus.tgt_lengths.tolist()
([3, 1], [3, 2])
>>> src, tgt = corpus[1]
>>> src.tolist(), tgt.tolist()
([8], [2, 3])
>>> corpus.src.take([1, 0]).tolist()                   # (B, L) int64, padded with 0
[[8, 0, 0], [5, 6, 7]]

Saved stores are a directory of ``.npy`` files plus ``manifest.json`` (format version,
counts, dtypes, vocabulary checksums); :meth:`ParallelCorpus.load` memory-maps them, so a
corpus of millions of pairs opens in milliseconds and DataLoader workers share the pages.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from seqdata.errors import (
    ConfigError,
    CorpusError,
    EmptyCorpusError,
    InputTypeError,
    ManifestError,
    ParallelMismatchError,
    ShapeError,
)

__all__ = [
    "FORMAT_VERSION",
    "MonoCorpus",
    "ParallelCorpus",
    "ParallelCorpusWriter",
    "Ragged",
    "RaggedBatch",
    "WriteStats",
    "hf_lengths",
    "padded_length",
]

#: Version of the on-disk layout written by ``save``; ``load`` refuses any other.
FORMAT_VERSION = 1
_FORMAT = "seqdata-store"
_MANIFEST = "manifest.json"
_INT32_MAX = np.iinfo(np.int32).max
_UINT16_MAX = np.iinfo(np.uint16).max
_COPY_BLOCK = 1 << 24  # elements per block when a written values file changes dtype


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
        elif isinstance(seqs[0], Tensor):
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
        ``batch_first``); ``L`` is the longest length, rounded up by :func:`padded_length`.

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
    :class:`seqdata.collate.PadCollate` calls :meth:`padded`, which gathers each side
    straight into its padded tensor. It also reads as a sequence of examples (``batch[i]``
    is what ``corpus[indices[i]]`` returns), so any other ``collate_fn`` works too, and it
    pickles as a compact copy of its own examples only.

    Args:
        src: the source (or only) sequences the batch's examples are taken from.
        tgt: the target sequences, or ``None`` for single-sequence corpora.
        labels: ``(B,)`` labels of the batch's examples, or ``None``.
        indices: ``(B,)`` rows of ``src``/``tgt`` in the batch; ``None`` means all of them.

    >>> batch = RaggedBatch(Ragged.from_sequences([[4, 5], [6], [7, 8, 9]]), indices=[2, 1])
    >>> len(batch), batch.src_lengths.tolist(), batch[0].tolist()
    (2, [3, 1], [7, 8, 9])
    >>> batch.padded("src", rows=np.array([1, 0]), pad_id=0).tolist()   # row r: example rows[r]
    [[6, 0, 0], [7, 8, 9]]
    """

    __slots__ = ("_src", "_tgt", "indices", "labels")

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
        self.indices = (
            np.arange(len(src), dtype=np.int64)
            if indices is None
            else _as_index_array(indices, len(src))
        )

    @classmethod
    def _of(
        cls, src: Ragged, tgt: Ragged | None, labels: np.ndarray | None, indices: np.ndarray
    ) -> RaggedBatch:
        """Build from already checked ``indices`` (the corpus's ``__getitems__``)."""
        batch = cls.__new__(cls)
        batch._src, batch._tgt, batch.labels, batch.indices = src, tgt, labels, indices
        return batch

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Any:
        row = int(self.indices[i])
        if self._tgt is not None:
            return self._src[row], self._tgt[row]
        if self.labels is not None:
            return self._src[row], self.labels[i]
        return self._src[row]

    def __reduce__(self) -> tuple[Any, ...]:
        return (RaggedBatch, (self.src, self.tgt, self.labels))

    @property
    def has_tgt(self) -> bool:
        return self._tgt is not None

    @property
    def src(self) -> Ragged:
        """The batch's source sequences, as a compact :class:`Ragged` (a copy)."""
        return self._src._gather(self.indices)

    @property
    def tgt(self) -> Ragged | None:
        """The batch's target sequences (a copy), or ``None``."""
        return None if self._tgt is None else self._tgt._gather(self.indices)

    @property
    def src_lengths(self) -> np.ndarray:
        """``(B,)`` int64 source lengths."""
        return self._src.lengths[self.indices]

    @property
    def tgt_lengths(self) -> np.ndarray | None:
        """``(B,)`` int64 target lengths, or ``None``."""
        return None if self._tgt is None else self._tgt.lengths[self.indices]

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
        up by :func:`padded_length`. One masked gather from the corpus arrays.
        """
        ragged = self._src if side == "src" else self._tgt
        if ragged is None:
            raise ShapeError(f"this batch has no {side!r} side")
        picked = self.indices[rows]
        lengths = ragged.lengths[picked]
        width = padded_length(int(lengths.max()) if len(rows) else 0, pad_to_multiple_of)
        return _pad_gather(ragged, picked, lengths, width, pad_id, batch_first)


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
    return torch.from_numpy(out)


# --------------------------------------------------------------------------- Arrow / HF


def _hf_column(ds: Any, col: str) -> Any:
    """The Arrow array of column ``col`` of a HF ``Dataset`` (indices mapping applied)."""
    import pyarrow as pa

    if not hasattr(ds, "with_format") or not hasattr(ds, "column_names"):
        raise InputTypeError(
            f"expected a datasets.Dataset, but got {type(ds).__name__}; for a DatasetDict pick "
            "a split (ds['train']), and an IterableDataset must be materialised first"
        )
    if col not in ds.column_names:
        raise CorpusError(
            f"the dataset has no column {col!r}; its columns are {ds.column_names} (map a "
            "pipeline over it to add id columns, or pass the right column name)"
        )
    column = ds.with_format("arrow")[col]  # zero-copy unless the dataset has an indices map
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
        raise CorpusError(
            f"column {col!r} should be a list of integer ids, but has Arrow type {column.type}"
        )
    if column.null_count:
        first = int(np.flatnonzero(np.asarray(column.is_null()))[0])
        raise CorpusError(f"column {col!r} has {column.null_count} null rows", index=first)
    return column


def _ragged_from_arrow(column: Any, col: str) -> Ragged:
    import pyarrow as pa

    if not pa.types.is_integer(column.type.value_type):
        raise CorpusError(
            f"column {col!r} should hold integer ids, but its items are {column.type.value_type}"
        )
    offsets = np.asarray(column.offsets).astype(np.int64)
    child = column.values  # not sliced: offsets index into it
    if child.null_count:
        raise CorpusError(f"column {col!r} has null ids inside its lists")
    values = child.to_numpy()[offsets[0] : offsets[-1]]
    return Ragged(values, offsets - offsets[0])


def hf_lengths(ds: Any, col: str) -> np.ndarray:
    """Lengths of the lists in column ``col`` of a HF ``Dataset``, without converting it.

    Computed by Arrow (``list_value_length``), so a sampler can bucket a dataset that stays
    in HuggingFace format.

    Returns:
        ``(N,)`` int64 numpy array.

    >>> import datasets
    >>> ds = datasets.Dataset.from_dict({"src_ids": [[4, 5, 6], [7]]})
    >>> hf_lengths(ds, "src_ids").tolist()
    [3, 1]
    """
    import pyarrow.compute as pc

    column = _hf_column(ds, col)
    return np.asarray(pc.list_value_length(column)).astype(np.int64)


# --------------------------------------------------------------------------- save / load


def _vocab_digest(vocab: Any) -> dict[str, Any]:
    blob = json.dumps(vocab.to_dict(), sort_keys=True, ensure_ascii=False).encode("utf-8")
    return {"size": len(vocab), "sha256": hashlib.sha256(blob).hexdigest()}


def _pipeline_vocabs(pipeline: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """``{field: vocab}`` of a PairPipeline (src_vocab, tgt_vocab) or TextPipeline (vocab)."""
    if pipeline is None:
        return {}
    pair = {"src": "src_vocab", "tgt": "tgt_vocab"}
    attrs = pair if len(names) == 2 else {names[0]: "vocab"}
    missing = [a for a in attrs.values() if not hasattr(pipeline, a)]
    if missing:
        raise InputTypeError(
            f"pipeline should have {sorted(attrs.values())} (a PairPipeline for a "
            f"ParallelCorpus, a TextPipeline for a MonoCorpus), but "
            f"{type(pipeline).__name__} lacks {missing}"
        )
    return {name: getattr(pipeline, attr) for name, attr in attrs.items()}


def _compact(values: np.ndarray) -> np.ndarray:
    """uint16 when every id fits (half the disk and page cache), else int32."""
    if values.dtype == np.uint16 or values.size == 0:
        return values.astype(np.uint16, copy=False)
    if int(values.max()) <= np.iinfo(np.uint16).max:
        return values.astype(np.uint16)
    return values


def _new_manifest(kind: str, n: int, vocabs: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": _FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "num_examples": n,
        "fields": {},
        "labels": None,
        "vocab": {name: _vocab_digest(v) for name, v in vocabs.items()} or None,
    }


def _field_spec(name: str, dtype: np.dtype, num_tokens: int) -> dict[str, Any]:
    return {
        "values": f"{name}.values.npy",
        "offsets": f"{name}.offsets.npy",
        "dtype": dtype.name,
        "num_tokens": int(num_tokens),
    }


def _write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` atomically (a temporary file renamed over it)."""
    tmp = out / f".{_MANIFEST}.part"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out / _MANIFEST)


def _save_store(
    directory: str | os.PathLike[str],
    kind: str,
    fields: dict[str, Ragged],
    labels: np.ndarray | None,
    pipeline: Any,
) -> Path:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    vocabs = _pipeline_vocabs(pipeline, tuple(fields))
    manifest = _new_manifest(kind, len(next(iter(fields.values()))), vocabs)
    (out / _MANIFEST).unlink(missing_ok=True)  # a half-written store must not look valid
    for name, ragged in fields.items():
        values = _compact(np.asarray(ragged.values))
        np.save(out / f"{name}.values.npy", values)
        np.save(out / f"{name}.offsets.npy", ragged.offsets)
        manifest["fields"][name] = _field_spec(name, values.dtype, values.size)
    if labels is not None:
        np.save(out / "labels.npy", labels)
        manifest["labels"] = {"file": "labels.npy", "dtype": labels.dtype.name}
    _write_manifest(out, manifest)
    return out


def _read_manifest(directory: Path, kind: str) -> dict[str, Any]:
    path = directory / _MANIFEST
    if not path.is_file():
        raise ManifestError(
            "no manifest.json here: not a saved seqdata store (or an interrupted save); "
            "save the corpus again",
            path=path,
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ManifestError(f"the manifest is not valid JSON ({err})", path=path) from None
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise ManifestError(
            f"format should be {_FORMAT!r}, but the manifest says otherwise", path=path
        )
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ManifestError(
            f"format_version should be {FORMAT_VERSION}, but got format_version={version!r}; "
            "re-save the corpus with this seqdata version",
            path=path,
        )
    if manifest.get("kind") != kind:
        other = "MonoCorpus" if manifest.get("kind") == "mono" else "ParallelCorpus"
        raise ManifestError(
            f"kind should be {kind!r}, but got kind={manifest.get('kind')!r}; load it with "
            f"{other}.load",
            path=path,
        )
    n = manifest.get("num_examples")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ManifestError(f"num_examples should be a positive int, but got {n!r}", path=path)
    return manifest


def _load_array(directory: Path, name: Any, mmap: bool) -> tuple[np.ndarray, Path]:
    if not isinstance(name, str) or "/" in name or "\\" in name:
        raise ManifestError(f"bad array file name {name!r}", path=directory / _MANIFEST)
    path = directory / name
    if not path.is_file():
        raise ManifestError("the manifest lists this array file, but it is missing", path=path)
    try:
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise ManifestError(f"not a readable .npy file ({err})", path=path) from None
    return array, path


def _load_field(directory: Path, manifest: dict[str, Any], name: str, mmap: bool) -> Ragged:
    spec = manifest.get("fields", {}).get(name)
    if not isinstance(spec, dict):
        raise ManifestError(f"the manifest has no field {name!r}", path=directory / _MANIFEST)
    n = manifest["num_examples"]
    values, vpath = _load_array(directory, spec.get("values"), mmap)
    offsets, opath = _load_array(directory, spec.get("offsets"), mmap)
    if values.ndim != 1 or values.dtype.name != spec.get("dtype"):
        raise ManifestError(
            f"should be a 1-D {spec.get('dtype')} array as the manifest says, but got shape "
            f"{values.shape} and dtype {values.dtype}",
            path=vpath,
        )
    if len(values) != spec.get("num_tokens"):
        raise ManifestError(
            f"should hold num_tokens={spec.get('num_tokens')} ids as the manifest says, but "
            f"holds {len(values)}",
            path=vpath,
        )
    if offsets.ndim != 1 or offsets.dtype != np.int64 or len(offsets) != n + 1:
        raise ManifestError(
            f"should be a 1-D int64 array of num_examples + 1 = {n + 1} offsets, but got shape "
            f"{offsets.shape} and dtype {offsets.dtype}",
            path=opath,
        )
    try:
        ragged = Ragged(values, offsets)
    except ConfigError as err:
        raise ManifestError(f"offsets do not fit the values: {err}", path=opath) from None
    if mmap:
        ragged._files = (str(vpath), str(opath))
    return ragged


def _check_vocabs(
    directory: Path, manifest: dict[str, Any], pipeline: Any, names: tuple[str, ...]
) -> None:
    saved = manifest.get("vocab") or {}
    for name, vocab in _pipeline_vocabs(pipeline, names).items():
        if name not in saved:
            continue  # saved without a pipeline: nothing to compare against
        now = _vocab_digest(vocab)
        if now != saved[name]:
            raise ManifestError(
                f"the {name} ids were encoded with another vocabulary (size "
                f"{saved[name].get('size')}, sha256 {str(saved[name].get('sha256'))[:12]}…), "
                "but the pipeline's has size "
                f"{now['size']}, sha256 {now['sha256'][:12]}…; re-encode the corpus or load the "
                "pipeline it was saved with",
                path=directory / _MANIFEST,
            )


def _load_labels(directory: Path, manifest: dict[str, Any], mmap: bool) -> np.ndarray | None:
    spec = manifest.get("labels")
    if spec is None:
        return None
    labels, path = _load_array(directory, spec.get("file"), mmap)
    if labels.shape != (manifest["num_examples"],) or labels.dtype.name != spec.get("dtype"):
        raise ManifestError(
            f"should be a ({manifest['num_examples']},) {spec.get('dtype')} array as the "
            f"manifest says, but got shape {labels.shape} and dtype {labels.dtype}",
            path=path,
        )
    return labels


# --------------------------------------------------------------------------- chunked writing


def _npy_header(dtype: np.dtype, n: int) -> bytes:
    """The ``.npy`` header ``np.save`` writes for a 1-D array of ``n`` items of ``dtype``
    (numpy pads it so that the shape can grow without changing its length)."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer,
        {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (n,)},
    )
    return buffer.getvalue()


class _NpyAppender:
    """A 1-D ``.npy`` file written block by block into ``<name>.part``: room for the header
    first, the header itself (with the final length) at :meth:`close`, then renamed into
    place — byte for byte what ``np.save`` writes for the whole array."""

    def __init__(self, path: Path, dtype: Any) -> None:
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self.dtype = np.dtype(dtype)
        self.count = 0
        self._start = len(_npy_header(self.dtype, 0))
        self._file: BinaryIO = self.part.open("wb")
        self._file.write(b"\0" * self._start)

    def append(self, array: np.ndarray) -> None:
        block = np.ascontiguousarray(array, dtype=self.dtype)
        block.tofile(self._file)
        self.count += len(block)

    def retype(self, dtype: Any) -> None:
        """Rewrite what was written so far in a wider ``dtype`` (one pass, in blocks)."""
        self._file.close()
        old = (
            np.memmap(
                self.part, dtype=self.dtype, mode="r", offset=self._start, shape=(self.count,)
            )
            if self.count
            else np.zeros(0, self.dtype)
        )
        self.dtype = np.dtype(dtype)
        self._start = len(_npy_header(self.dtype, 0))
        fresh = self.part.with_name(self.part.name + "2")
        with fresh.open("wb") as out:
            out.write(b"\0" * self._start)
            for i in range(0, self.count, _COPY_BLOCK):
                np.ascontiguousarray(old[i : i + _COPY_BLOCK], dtype=self.dtype).tofile(out)
        del old
        os.replace(fresh, self.part)
        self._file = self.part.open("r+b")
        self._file.seek(0, os.SEEK_END)

    def close(self) -> None:
        header = _npy_header(self.dtype, self.count)
        if len(header) != self._start:  # pragma: no cover - numpy reserves room for growth
            self._file.close()
            data = np.fromfile(self.part, dtype=self.dtype, offset=self._start)
            np.save(self.part.with_suffix(""), data)
            os.replace(self.part.with_suffix(""), self.path)
            self.part.unlink(missing_ok=True)
            return
        self._file.seek(0)
        self._file.write(header)
        self._file.close()
        os.replace(self.part, self.path)

    def abort(self) -> None:
        self._file.close()
        self.part.unlink(missing_ok=True)
        self.part.with_name(self.part.name + "2").unlink(missing_ok=True)


@dataclass(frozen=True)
class WriteStats:
    """What :meth:`ParallelCorpus.write_chunks` wrote.

    Attributes:
        examples: pairs written.
        src_tokens: source ids stored (after truncation).
        tgt_tokens: target ids stored, SOS and EOS included.
        src_unk: stored source ids that are UNK.
        tgt_unk: stored target ids that are UNK.
        src_truncated: sources cut to ``max_len``.
        tgt_truncated: targets cut to ``max_len - 2`` tokens.
        chunks: chunks read.
    """

    examples: int
    src_tokens: int
    tgt_tokens: int
    src_unk: int
    tgt_unk: int
    src_truncated: int
    tgt_truncated: int
    chunks: int

    @property
    def src_unk_rate(self) -> float:
        """Share of the stored source ids that are UNK."""
        return self.src_unk / self.src_tokens if self.src_tokens else 0.0

    @property
    def tgt_unk_rate(self) -> float:
        """Share of the stored target ids that are UNK (SOS/EOS count as ids)."""
        return self.tgt_unk / self.tgt_tokens if self.tgt_tokens else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The fields plus the two UNK rates, JSON-serialisable."""
        return {
            **asdict(self),
            "src_unk_rate": self.src_unk_rate,
            "tgt_unk_rate": self.tgt_unk_rate,
        }


class ParallelCorpusWriter:
    """Write a :class:`ParallelCorpus` store chunk by chunk, in bounded memory.

    Each :meth:`append` adds encoded pairs to the ``.npy`` files on disk; :meth:`close`
    writes the header of each file and then ``manifest.json`` — the same files and manifest as
    :meth:`ParallelCorpus.save`, so :meth:`ParallelCorpus.load` (``mmap=True``) opens the
    result. Ids are stored as ``uint16`` while they all fit and ``int32`` after (the file
    written so far is widened once), as ``save`` does.

    Until :meth:`close` the arrays are ``*.part`` files and there is no manifest (an existing
    one is removed at once), so an interrupted write never looks like a store; on an error
    inside ``with`` the part files are deleted.

    Args:
        directory: the store folder (created if needed).
        pipeline: the :class:`seqdata.pipeline.PairPipeline` that encoded the ids; its
            vocabularies' checksums go into the manifest (see ``ParallelCorpus.load``).

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with ParallelCorpusWriter(folder) as writer:
    ...     writer.append(([5, 6, 7], [0, 2, 3]), ([2, 8, 3, 2, 3], [0, 3, 5]))
    ...     writer.append(([9], [0, 1]), ([2, 3], [0, 2]))
    >>> corpus = ParallelCorpus.load(folder)
    >>> len(corpus), corpus[2][0].tolist(), corpus.tgt_lengths.tolist()
    (3, [9], [3, 2, 2])
    """

    def __init__(self, directory: str | os.PathLike[str], *, pipeline: Any = None) -> None:
        self.directory = Path(directory)
        self._vocabs = _pipeline_vocabs(pipeline, ("src", "tgt"))
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / _MANIFEST).unlink(missing_ok=True)
        self._values: dict[str, _NpyAppender] = {}
        self._offsets: dict[str, _NpyAppender] = {}
        try:
            for name in ("src", "tgt"):
                self._values[name] = _NpyAppender(self.directory / f"{name}.values.npy", np.uint16)
                self._offsets[name] = _NpyAppender(self.directory / f"{name}.offsets.npy", np.int64)
                self._offsets[name].append(np.zeros(1, dtype=np.int64))
        except BaseException:
            self.abort()
            raise
        self._n = 0
        self._open = True

    @property
    def num_examples(self) -> int:
        """Pairs appended so far."""
        return self._n

    def append(self, src: Ragged | tuple[Any, Any], tgt: Ragged | tuple[Any, Any]) -> None:
        """Add a chunk of encoded pairs.

        Args:
            src: the chunk's source ids: a :class:`Ragged` or ``(values (T,), offsets
                (B + 1,))`` as :meth:`seqdata.pipeline.PairPipeline.encode_flat` returns.
            tgt: the target ids, as many sequences.

        Raises:
            ParallelMismatchError: different numbers of source and target sequences.
            ConfigError: bad offsets, or the writer is closed.
        """
        if not self._open:
            raise ConfigError("this writer is closed; open a new ParallelCorpusWriter")
        sides = {"src": _as_ragged(src, "src"), "tgt": _as_ragged(tgt, "tgt")}
        if len(sides["src"]) != len(sides["tgt"]):
            raise ParallelMismatchError(
                f"source and target should have the same number of sequences, but got "
                f"{len(sides['src'])} source and {len(sides['tgt'])} target sequences"
            )
        for name, ragged in sides.items():
            values = self._values[name]
            if (
                values.dtype == np.uint16
                and ragged.values.size
                and int(ragged.values.max()) > _UINT16_MAX
            ):
                values.retype(np.int32)
            start = values.count
            values.append(ragged.values)
            self._offsets[name].append(ragged.offsets[1:] + start)
        self._n += len(sides["src"])

    def close(self) -> Path:
        """Finish the files and write the manifest; returns the folder.

        Raises:
            EmptyCorpusError: nothing was appended (the part files are removed).
        """
        if not self._open:
            return self.directory
        if self._n == 0:
            self.abort()
            raise EmptyCorpusError("nothing was written: the chunks held no examples")
        manifest = _new_manifest("parallel", self._n, self._vocabs)
        for name in ("src", "tgt"):
            values = self._values[name]
            values.close()
            self._offsets[name].close()
            manifest["fields"][name] = _field_spec(name, values.dtype, values.count)
        _write_manifest(self.directory, manifest)
        self._open = False
        return self.directory

    def abort(self) -> None:
        """Delete the part files; nothing of this write is left."""
        for appender in [*self._values.values(), *self._offsets.values()]:
            appender.abort()
        self._open = False

    def __enter__(self) -> ParallelCorpusWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _as_ragged(side: Any, name: str) -> Ragged:
    if isinstance(side, Ragged):
        return side
    if isinstance(side, tuple | list) and len(side) == 2:
        return Ragged(side[0], side[1])
    raise InputTypeError(
        f"{name} should be a Ragged or a (values, offsets) pair, but got {type(side).__name__}"
    )


# --------------------------------------------------------------------------- corpora


def _check_ragged(name: str, value: Any) -> Ragged:
    if not isinstance(value, Ragged):
        raise InputTypeError(
            f"{name} should be a Ragged, but got {type(value).__name__}; build one with "
            "Ragged.from_sequences or use a from_* constructor"
        )
    return value


def _frame_column(df: Any, col: str) -> Any:
    if col not in getattr(df, "columns", ()):
        raise CorpusError(f"the frame has no column {col!r}; its columns are {list(df.columns)}")
    series = df[col]
    nulls = int(series.null_count())
    if nulls:
        first = int(np.flatnonzero(series.is_null().to_numpy())[0])
        raise CorpusError(f"column {col!r} has {nulls} null values", index=first)
    return series


class ParallelCorpus(Dataset[tuple[np.ndarray, np.ndarray]]):
    """Sentence pairs as two :class:`Ragged` fields; a ``torch.utils.data.Dataset``.

    ``corpus[i]`` is ``(src_ids, tgt_ids)`` (numpy views); ``corpus.__getitems__(indices)``
    (which ``DataLoader`` calls once per batch) gathers the whole batch at once into a
    :class:`RaggedBatch` for :class:`seqdata.collate.PadCollate`.

    Args:
        src: the ``N`` source sequences.
        tgt: the ``N`` target sequences.

    Raises:
        ParallelMismatchError: ``len(src) != len(tgt)``.
        EmptyCorpusError: ``N == 0``.

    >>> corpus = ParallelCorpus.from_sequences([[5, 6], [7]], [[2, 8, 3], [2, 3]])
    >>> batch = corpus.__getitems__([1, 0])
    >>> len(batch), batch.src.lengths.tolist(), batch.tgt.lengths.tolist()
    (2, [1, 2], [2, 3])
    """

    def __init__(self, src: Ragged, tgt: Ragged) -> None:
        self.src = _check_ragged("src", src)
        self.tgt = _check_ragged("tgt", tgt)
        if len(src) != len(tgt):
            raise ParallelMismatchError(
                f"source and target should have the same number of sequences, but got "
                f"{len(src)} source and {len(tgt)} target sequences"
            )
        if len(src) == 0:
            raise EmptyCorpusError("the corpus has no examples")

    @property
    def src_lengths(self) -> np.ndarray:
        """``(N,)`` int64 source lengths."""
        return self.src.lengths

    @property
    def tgt_lengths(self) -> np.ndarray:
        """``(N,)`` int64 target lengths."""
        return self.tgt.lengths

    def __len__(self) -> int:
        return len(self.src)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.src[i], self.tgt[i]

    def __getitems__(self, indices: Sequence[int]) -> RaggedBatch:
        return RaggedBatch._of(self.src, self.tgt, None, _as_index_array(indices, len(self)))

    def __repr__(self) -> str:
        return (
            f"ParallelCorpus(n={len(self)}, src_tokens={self.src.num_tokens}, "
            f"tgt_tokens={self.tgt.num_tokens})"
        )

    # -- constructors --------------------------------------------------------------------

    @classmethod
    def from_sequences(cls, src: Iterable[Any], tgt: Iterable[Any]) -> ParallelCorpus:
        """From already encoded id sequences (lists, arrays or tensors)."""
        return cls(Ragged.from_sequences(src), Ragged.from_sequences(tgt))

    @classmethod
    def from_texts(cls, src_texts: Any, tgt_texts: Any, pipeline: Any) -> ParallelCorpus:
        """Encode parallel texts (lists, numpy arrays or polars Series) with
        ``pipeline.encode_flat`` (a :class:`seqdata.pipeline.PairPipeline`)."""
        if len(src_texts) != len(tgt_texts):
            raise ParallelMismatchError(
                f"source and target should have the same number of texts, but got "
                f"{len(src_texts)} source and {len(tgt_texts)} target texts"
            )
        if len(src_texts) == 0:
            raise EmptyCorpusError("there are no texts to encode")
        (sv, so), (tv, to) = pipeline.encode_flat(src_texts, tgt_texts)
        return cls(Ragged(sv, so), Ragged(tv, to))

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]], pipeline: Any) -> ParallelCorpus:
        """From ``(source_text, target_text)`` pairs."""
        pairs = list(pairs)
        for i, pair in enumerate(pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise InputTypeError(
                    f"every pair should be a (source, target) tuple, but got {pair!r}", index=i
                )
        return cls.from_texts([p[0] for p in pairs], [p[1] for p in pairs], pipeline)

    @classmethod
    def from_frame(
        cls, df: Any, pipeline: Any, src_col: str = "src", tgt_col: str = "tgt"
    ) -> ParallelCorpus:
        """From a polars ``DataFrame`` with text columns ``src_col`` and ``tgt_col``."""
        src, tgt = _frame_column(df, src_col), _frame_column(df, tgt_col)
        return cls.from_texts(src, tgt, pipeline)

    @classmethod
    def from_files(
        cls,
        src_path: str | os.PathLike[str],
        tgt_path: str | os.PathLike[str],
        pipeline: Any,
        *,
        empty: str = "error",
    ) -> ParallelCorpus:
        """Read two line-aligned text files (:func:`seqdata.readers.read_parallel`) and encode.

        ``empty`` is the readers' policy for empty lines: ``"error"`` (raise
        :class:`EmptyLineError` naming file and line) or ``"skip"`` (drop the pair and report
        the skipped line numbers). Mismatched line counts raise
        :class:`ParallelMismatchError`, bad bytes :class:`UndecodableInputError`.
        """
        from seqdata.readers import read_parallel

        result = read_parallel(src_path, tgt_path, empty=empty)
        frame = getattr(result, "frame", result)
        return cls.from_frame(frame, pipeline)

    @classmethod
    def from_hf(cls, ds: Any, src_col: str = "src_ids", tgt_col: str = "tgt_ids") -> ParallelCorpus:
        """From a HuggingFace ``Dataset`` with list-of-int id columns, straight from Arrow.

        The list columns' offsets and values buffers become the :class:`Ragged` arrays (no
        Python loop per row; a dataset with an indices mapping, e.g. after ``select``, is
        gathered by Arrow first).
        """
        src = _ragged_from_arrow(_hf_column(ds, src_col), src_col)
        tgt = _ragged_from_arrow(_hf_column(ds, tgt_col), tgt_col)
        return cls(src, tgt)

    # -- persistence ---------------------------------------------------------------------

    def save(self, directory: str | os.PathLike[str], *, pipeline: Any = None) -> Path:
        """Write ``src``/``tgt`` ``.values.npy`` + ``.offsets.npy`` and ``manifest.json``.

        Ids are stored as ``uint16`` when they all fit, else ``int32``. With ``pipeline`` the
        manifest records each vocabulary's size and SHA-256, and :meth:`load` can check it.
        """
        return _save_store(
            directory, "parallel", {"src": self.src, "tgt": self.tgt}, None, pipeline
        )

    @classmethod
    def write_chunks(
        cls,
        directory: str | os.PathLike[str],
        chunks: Iterable[Any] | Callable[[], Iterable[Any]],
        pipeline: Any,
        *,
        src_col: str = "src",
        tgt_col: str = "tgt",
        num_threads: int | None = None,
    ) -> WriteStats:
        """Encode a corpus chunk by chunk and write it as a store, in bounded memory.

        Each chunk is encoded with ``pipeline.encode_chunk`` (the vectorized
        ``encode_flat`` path) and appended to the files by a :class:`ParallelCorpusWriter`;
        the store equals ``ParallelCorpus.from_frame(whole_frame, pipeline).save(directory,
        pipeline=pipeline)``. Open it with :meth:`load` (``mmap=True``).

        Args:
            directory: the store folder.
            chunks: an iterable of polars DataFrames (or mappings of columns) with text
                columns ``src_col``/``tgt_col`` — e.g.
                :func:`seqdata.readers.iter_parallel_chunks` — or a function returning one.
            pipeline: a :class:`seqdata.pipeline.PairPipeline` (build its vocabularies first,
                e.g. with :meth:`~seqdata.pipeline.PairPipeline.build_from_chunks`).
            src_col: the source column.
            tgt_col: the target column.
            num_threads: encoding threads (``None`` = all cores).

        Returns:
            :class:`WriteStats`: examples, stored tokens, UNK ids and truncated examples.

        Raises:
            EmptyLineError: a source without tokens (names its index in the whole stream).
            EmptyCorpusError: the chunks held no examples.
            ManifestError, …: nothing is left that looks like a store on any error.

        >>> import tempfile, polars as pl
        >>> from seqdata.pipeline import PairPipeline
        >>> chunks = [pl.DataFrame({"src": ["a b", "b"], "tgt": ["x", "y x"]}),
        ...           pl.DataFrame({"src": ["a"], "tgt": ["z"]})]
        >>> pipe = PairPipeline.build_from_chunks(chunks, min_freq=2)   # "y", "z" → UNK
        >>> folder = tempfile.mkdtemp()
        >>> stats = ParallelCorpus.write_chunks(folder, chunks, pipe)
        >>> stats.examples, stats.tgt_unk, stats.tgt_tokens
        (3, 2, 10)
        >>> ParallelCorpus.load(folder, pipeline=pipe).src_lengths.tolist()
        [2, 1, 1]
        """
        from seqdata.pipeline import _iter_chunks

        totals = dict.fromkeys(("src_unk", "tgt_unk", "src_truncated", "tgt_truncated"), 0)
        src_unk, tgt_unk = pipeline.src_vocab.unk_id, pipeline.tgt_vocab.unk_id
        chunk_count = 0
        with ParallelCorpusWriter(directory, pipeline=pipeline) as writer:
            for src_texts, tgt_texts in _iter_chunks(chunks, (src_col, tgt_col)):
                start = writer.num_examples
                indices = np.arange(start, start + len(src_texts))
                encoded = pipeline.encode_chunk(
                    src_texts, tgt_texts, num_threads=num_threads, indices=indices
                )
                writer.append(encoded.src, encoded.tgt)
                totals["src_unk"] += int(np.count_nonzero(encoded.src[0] == src_unk))
                totals["tgt_unk"] += int(np.count_nonzero(encoded.tgt[0] == tgt_unk))
                totals["src_truncated"] += encoded.src_truncated
                totals["tgt_truncated"] += encoded.tgt_truncated
                chunk_count += 1
            examples = writer.num_examples
            src_tokens = writer._values["src"].count
            tgt_tokens = writer._values["tgt"].count
        return WriteStats(
            examples=examples,
            src_tokens=src_tokens,
            tgt_tokens=tgt_tokens,
            chunks=chunk_count,
            **totals,
        )

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str], mmap: bool = True, *, pipeline: Any = None
    ) -> ParallelCorpus:
        """Open a store written by :meth:`save`; ``mmap=True`` maps the files (no read).

        Raises:
            ManifestError: missing/corrupt manifest, a missing array file, or arrays whose
                shape/dtype/count disagree with it (the error names the file); a
                ``pipeline`` whose vocabularies differ from the recorded ones.
        """
        root = Path(directory)
        manifest = _read_manifest(root, "parallel")
        _check_vocabs(root, manifest, pipeline, ("src", "tgt"))
        return cls(
            _load_field(root, manifest, "src", mmap), _load_field(root, manifest, "tgt", mmap)
        )


class MonoCorpus(Dataset[Any]):
    """Single sequences (classification, tagging, language modelling), optional labels.

    ``corpus[i]`` is the ids of example ``i``, or ``(ids, label)`` with labels.
    ``src_lengths`` (alias ``lengths``) and ``tgt_lengths = None`` let samplers and
    :func:`seqdata.stats.padding_stats` treat both corpus kinds alike.

    Args:
        ids: the ``N`` sequences.
        labels: ``(N,)`` per-example labels (class ids), or ``None``.

    >>> corpus = MonoCorpus(Ragged.from_sequences([[4, 5], [6]]), labels=[1, 0])
    >>> ids, label = corpus[0]
    >>> ids.tolist(), int(label), corpus.lengths.tolist()
    ([4, 5], 1, [2, 1])
    """

    tgt_lengths = None

    def __init__(self, ids: Ragged, labels: Any = None) -> None:
        self.ids = _check_ragged("ids", ids)
        if len(ids) == 0:
            raise EmptyCorpusError("the corpus has no examples")
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (len(ids),):
                raise ParallelMismatchError(
                    f"labels should have shape (N,) = ({len(ids)},), one per sequence, but got "
                    f"shape {labels.shape}"
                )
            if labels.dtype.kind in "iub":
                labels = labels.astype(np.int64, copy=False)
            elif labels.dtype.kind != "f":
                raise InputTypeError(f"labels should be numbers, but got dtype={labels.dtype}")
        self.labels: np.ndarray | None = labels

    @property
    def lengths(self) -> np.ndarray:
        """``(N,)`` int64 sequence lengths."""
        return self.ids.lengths

    @property
    def src_lengths(self) -> np.ndarray:
        """Alias of :attr:`lengths`, so code written for :class:`ParallelCorpus` works."""
        return self.ids.lengths

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> Any:
        if self.labels is None:
            return self.ids[i]
        return self.ids[i], self.labels[i]

    def __getitems__(self, indices: Sequence[int]) -> RaggedBatch:
        idx = _as_index_array(indices, len(self))
        labels = None if self.labels is None else np.asarray(self.labels[idx])
        return RaggedBatch._of(self.ids, None, labels, idx)

    def __repr__(self) -> str:
        labelled = self.labels is not None
        return f"MonoCorpus(n={len(self)}, tokens={self.ids.num_tokens}, labels={labelled})"

    @classmethod
    def from_sequences(cls, sequences: Iterable[Any], labels: Any = None) -> MonoCorpus:
        """From already encoded id sequences."""
        return cls(Ragged.from_sequences(sequences), labels)

    @classmethod
    def from_texts(cls, texts: Any, pipeline: Any, labels: Any = None) -> MonoCorpus:
        """Encode texts with ``pipeline.encode_flat`` (a :class:`seqdata.pipeline.TextPipeline`)."""
        if len(texts) == 0:
            raise EmptyCorpusError("there are no texts to encode")
        values, offsets = pipeline.encode_flat(texts)
        return cls(Ragged(values, offsets), labels)

    @classmethod
    def from_hf(cls, ds: Any, col: str = "ids", label_col: str | None = None) -> MonoCorpus:
        """From a HuggingFace ``Dataset`` list column (and a label column), via Arrow."""
        ids = _ragged_from_arrow(_hf_column(ds, col), col)
        labels = None
        if label_col is not None:
            if label_col not in ds.column_names:
                raise CorpusError(
                    f"the dataset has no column {label_col!r}; its columns are {ds.column_names}"
                )
            labels = np.asarray(ds.with_format("arrow")[label_col])
        return cls(ids, labels)

    def save(self, directory: str | os.PathLike[str], *, pipeline: Any = None) -> Path:
        """Like :meth:`ParallelCorpus.save`: ``ids`` arrays, ``labels.npy``, manifest."""
        return _save_store(directory, "mono", {"ids": self.ids}, self.labels, pipeline)

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str], mmap: bool = True, *, pipeline: Any = None
    ) -> MonoCorpus:
        """Open a store written by :meth:`save` (see :meth:`ParallelCorpus.load`)."""
        root = Path(directory)
        manifest = _read_manifest(root, "mono")
        _check_vocabs(root, manifest, pipeline, ("ids",))
        return cls(_load_field(root, manifest, "ids", mmap), _load_labels(root, manifest, mmap))
