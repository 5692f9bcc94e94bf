"""What a tokenizer is and what it takes: the ``Tokenizer`` protocol and text-input checks.

>>> as_string_series(["a b", "c"]).to_list()
['a b', 'c']
>>> as_string_series(["a", None])
Traceback (most recent call last):
...
seqdata.errors.InputTypeError: example 1: texts[1] should be a str, but got None ...
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import polars as pl
import pyarrow as pa

from seqdata.errors import InputTypeError

__all__ = ["Tokenizer", "as_string_series", "check_text", "check_texts"]


@runtime_checkable
class Tokenizer(Protocol):
    """What every tokenizer offers; write your own by providing these four methods."""

    def __call__(self, text: str) -> list[str]:
        """Split one string into tokens."""
        ...

    def batch(self, texts: Sequence[str]) -> list[list[str]]:
        """Split a batch of strings; ``batch(texts)[i] == self(texts[i])``."""
        ...

    def detokenize(self, tokens: Sequence[str]) -> str:
        """Join tokens back into text."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description that
        [`tokenizer_from_dict`][seqdata.tokenizers.tokenizer_from_dict] rebuilds."""
        ...


def check_text(text: object, index: int | None = None) -> str:
    if not isinstance(text, str):
        what = "text" if index is None else f"texts[{index}]"
        raise InputTypeError(
            f"{what} should be a str, but got {type(text).__name__} ({text!r:.60}); "
            "convert or drop the item before tokenizing",
            index=index,
        )
    return text


def check_texts(texts: object) -> Sequence[str]:
    if isinstance(texts, str | bytes):
        raise InputTypeError(
            f"texts should be a sequence of strings, but got a single {type(texts).__name__}; "
            "wrap it in a list: tok.batch([text])"
        )
    if isinstance(texts, pl.Series | np.ndarray):
        return as_string_series(texts, "texts").to_list()
    items: Sequence[Any] = texts if isinstance(texts, Sequence) else list(texts)  # type: ignore[call-overload]
    for i, text in enumerate(items):
        check_text(text, i)
    return items


def as_string_series(texts: object, name: str = "texts") -> pl.Series:
    """Turn a batch of texts into a polars String Series, or say which item is not a string.

    Args:
        texts: a list/tuple of ``str``, a numpy array of strings, a polars Series (String,
            Categorical or Enum) or a pyarrow string array.
        name: how the error message calls the batch.

    Returns:
        A ``pl.Series`` of dtype ``String`` with no nulls, shape ``(N,)``.

    Raises:
        InputTypeError: a bare string, or an item that is not a string (the message and the
            ``index`` attribute name the first such item).

    >>> as_string_series(["a", 3])
    Traceback (most recent call last):
    ...
    seqdata.errors.InputTypeError: example 1: texts[1] should be a str, but got int (3); ...
    """
    if isinstance(texts, str | bytes):
        raise InputTypeError(
            f"{name} should be a sequence of strings, but got a single "
            f"{type(texts).__name__}; wrap it in a list"
        )
    if isinstance(texts, pa.ChunkedArray | pa.Array):
        texts = pl.Series(pl.from_arrow(texts))
    if isinstance(texts, pl.Series):
        series = texts
        if series.dtype in (pl.Categorical,) or isinstance(series.dtype, pl.Enum):
            series = series.cast(pl.String)
        if series.dtype == pl.Null and len(series) == 0:
            series = series.cast(pl.String)
        if series.dtype != pl.String:
            raise InputTypeError(
                f"{name} should hold strings, but got a polars Series of dtype {series.dtype}; "
                f"cast it with .cast(pl.String) if that is what you mean"
            )
    else:
        if isinstance(texts, np.ndarray):
            if texts.ndim != 1:
                raise InputTypeError(
                    f"{name} should be one-dimensional, but got an array of shape {texts.shape}"
                )
            values: Sequence[Any] = texts.tolist()
        elif isinstance(texts, Sequence):
            values = texts
        elif isinstance(texts, Iterable):
            values = list(texts)
        else:
            raise InputTypeError(
                f"{name} should be a sequence of strings, but got {type(texts).__name__}"
            )
        try:
            series = pl.Series(name, values, dtype=pl.String, strict=True)
        except (TypeError, ValueError, pl.exceptions.PolarsError):
            for i, item in enumerate(values):
                if not isinstance(item, str):
                    raise InputTypeError(
                        f"{name}[{i}] should be a str, but got {type(item).__name__} "
                        f"({item!r:.60}); convert or drop the item",
                        index=i,
                    ) from None
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError as err:
                    raise InputTypeError(
                        f"{name}[{i}] is not valid text ({err.reason} at position {err.start}); "
                        "fix or drop the item",
                        index=i,
                    ) from None
            raise
    if series.null_count():
        i = int(series.is_null().arg_max() or 0)
        raise InputTypeError(
            f"{name}[{i}] should be a str, but got None (a missing value); drop or fill it",
            index=i,
        )
    return series
