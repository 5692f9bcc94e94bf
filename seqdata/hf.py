"""Arrow / HuggingFace columns: list-of-int id columns read straight into flat arrays.

>>> import datasets
>>> ds = datasets.Dataset.from_dict({"src_ids": [[4, 5, 6], [7]]})
>>> hf_lengths(ds, "src_ids").tolist()
[3, 1]
>>> ragged_from_hf(ds, "src_ids").offsets.tolist()
[0, 3, 4]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seqdata.errors import CorpusError, InputTypeError
from seqdata.ragged import Ragged

__all__ = ["hf_column", "hf_lengths", "ragged_from_hf"]


def hf_column(ds: Any, col: str) -> Any:
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

    column = hf_column(ds, col)
    return np.asarray(pc.list_value_length(column)).astype(np.int64)


def ragged_from_hf(ds: Any, col: str) -> Ragged:
    """Column ``col`` of a HF ``Dataset`` (list of int ids) as a [`Ragged`][seqdata.Ragged].

    The list column's offsets and values buffers become the arrays (no Python loop per row;
    a dataset with an indices mapping, e.g. after ``select``, is gathered by Arrow first).
    """
    return _ragged_from_arrow(hf_column(ds, col), col)
