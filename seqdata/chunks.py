"""Chunked text input: the text columns of each chunk of a corpus read in pieces.

A "chunks" argument is an iterable of polars DataFrames (or mappings of columns) — e.g.
``seqdata.readers.iter_parallel_chunks(...)`` — or a function returning one.

>>> import polars as pl
>>> frames = [pl.DataFrame({"src": ["a b"], "tgt": ["x"]})]
>>> [(src.to_list(), tgt.to_list()) for src, tgt in text_columns(frames, ["src", "tgt"])]
[(['a b'], ['x'])]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import polars as pl

from seqdata.errors import ConfigError, InputTypeError
from seqdata.texts import as_string_series

__all__ = ["Chunks", "text_columns"]

Chunks = Iterable[Any] | Callable[[], Iterable[Any]]


def text_columns(
    chunks: Chunks, cols: Sequence[str], what: str = "chunk"
) -> Iterator[tuple[pl.Series, ...]]:
    """The ``cols`` of each chunk (a polars DataFrame or a mapping of columns) as Series."""
    source = chunks() if callable(chunks) else chunks
    if isinstance(source, pl.DataFrame | str) or not isinstance(source, Iterable):
        raise InputTypeError(
            f"chunks should be an iterable of frames (e.g. seqdata.readers.iter_parallel_chunks"
            f"(...)) or a function returning one, but got {type(source).__name__}"
        )
    for i, chunk in enumerate(source):
        columns = getattr(chunk, "columns", None)
        if columns is None and not isinstance(chunk, Mapping):
            raise InputTypeError(
                f"{what} {i} should be a polars DataFrame or a mapping of columns, but got "
                f"{type(chunk).__name__}"
            )
        names = list(columns if columns is not None else chunk)
        missing = [c for c in cols if c not in names]
        if missing:
            raise ConfigError(
                f"{what} {i} has no column {missing[0]!r} (it has {names}); pass the column "
                "names (src_col=..., tgt_col=...)"
            )
        yield tuple(as_string_series(chunk[c], c) for c in cols)
