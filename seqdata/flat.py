"""The vectorized split: the tokens of a batch of texts as one flat Arrow array.

The whitespace and char tokenizers split a whole Arrow string buffer with numpy (no Python
per token); any other tokenizer goes through its ``batch``. The vocabulary then looks up all
pieces in one hash probe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import polars as pl
import pyarrow as pa

if TYPE_CHECKING:
    from seqdata.texts import Tokenizer

__all__ = ["FlatPieces", "char_pieces", "flat_pieces", "whitespace_pieces"]


class FlatPieces(NamedTuple):
    """Tokens of a batch of texts as one flat Arrow string array (the vectorized split).

    ``pieces[bounds[i]:bounds[i + 1]]`` are the pieces of text ``i``. Each piece is a token
    followed by ``suffix`` (the whitespace tokenizer keeps the separator so the pieces can
    share the text's buffer without a copy); pieces where ``keep`` is False are empty tokens
    (runs of separators) and are dropped after the lookup.
    """

    pieces: pa.Array  # large_string, (P,)
    bounds: np.ndarray  # int64, (N + 1,)
    suffix: str
    keep: np.ndarray | None  # bool, (P,) or None when every piece is a token


# Python's str.split() separators: str.isspace() characters, as UTF-8.
_ASCII_WS = np.zeros(256, dtype=bool)
_ASCII_WS[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True


def _string_buffers(series: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 bytes, int64 offsets of length N+1 starting at 0) of a String Series."""
    arr = series.to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    if buffers[2] is None:
        data = np.zeros(0, dtype=np.uint8)
    else:
        data = np.frombuffer(buffers[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data, offsets - offsets[0]


def _multibyte_whitespace(data: np.ndarray) -> np.ndarray:
    """Byte positions (sorted) of the non-ASCII str.isspace() characters in UTF-8 ``data``."""
    n = len(data)
    lead = np.flatnonzero((data == 0xC2) | ((data >= 0xE1) & (data <= 0xE3)))
    if len(lead) == 0:
        return lead
    b0 = data[lead]
    b1 = data[np.minimum(lead + 1, n - 1)]
    b2 = data[np.minimum(lead + 2, n - 1)]
    two = (b0 == 0xC2) & ((b1 == 0x85) | (b1 == 0xA0))
    e2_80 = (b0 == 0xE2) & (b1 == 0x80)
    three = (
        ((b0 == 0xE1) & (b1 == 0x9A) & (b2 == 0x80))
        | (e2_80 & ((b2 <= 0x8A) | (b2 == 0xA8) | (b2 == 0xA9) | (b2 == 0xAF)))
        | ((b0 == 0xE2) & (b1 == 0x81) & (b2 == 0x9F))
        | ((b0 == 0xE3) & (b1 == 0x80) & (b2 == 0x80))
    )
    starts2, starts3 = lead[two], lead[three]
    return np.sort(np.concatenate([starts2, starts2 + 1, starts3, starts3 + 1, starts3 + 2]))


def whitespace_pieces(series: pl.Series, lower: bool) -> FlatPieces:
    """Vectorized ``[t.split() for t in texts]`` (``t.lower().split()`` with ``lower``)."""
    data, offsets = _string_buffers(series + " ")  # every text ends with a separator
    has_high = bool(len(data)) and int(data.max()) >= 0x80
    if lower and has_high:
        # Exactly str.lower() on the texts with non-ASCII characters (polars' Unicode tables
        # are newer than Python's); the rest is lowered as ASCII below.
        rows = np.unique(np.searchsorted(offsets, np.flatnonzero(data >= 0x80), "right") - 1)
        lowered = [text.lower() for text in series.gather(rows).to_list()]
        data, offsets = _string_buffers(series.clone().scatter(rows, lowered) + " ")
    if lower:
        data = data.copy()
        upper = (data - np.uint8(65)) < np.uint8(26)  # A-Z
        data |= upper.view(np.uint8) << np.uint8(5)  # → a-z
    seps = np.flatnonzero(data <= 32)
    found = data[seps]
    other = found != 32
    if other.any():  # ASCII whitespace other than " ", and control bytes that are not spaces
        if not data.flags.writeable:
            data = data.copy()
        ws = _ASCII_WS[found]
        data[seps[other & ws]] = 32
        seps = seps[ws]
    if has_high:
        multi = _multibyte_whitespace(data)
        if len(multi):
            if not data.flags.writeable:
                data = data.copy()
            data[multi] = 32
            seps = np.union1d(seps, multi)
    piece_offsets = np.empty(len(seps) + 1, dtype=np.int64)
    piece_offsets[0] = 0
    np.add(seps, 1, out=piece_offsets[1:])
    pieces = pa.LargeStringArray.from_buffers(
        len(seps), pa.py_buffer(piece_offsets), pa.py_buffer(data)
    )
    keep = piece_offsets[1:] - piece_offsets[:-1] > 1
    bounds = np.searchsorted(seps, offsets, "left")
    return FlatPieces(pieces, bounds, " ", None if keep.all() else keep)


def char_pieces(series: pl.Series) -> FlatPieces:
    """Vectorized ``[list(t) for t in texts]``: one piece per code point."""
    data, offsets = _string_buffers(series)
    starts = np.flatnonzero((data & 0xC0) != 0x80)  # first byte of each UTF-8 character
    piece_offsets = np.append(starts, len(data)).astype(np.int64)
    pieces = pa.LargeStringArray.from_buffers(
        len(starts), pa.py_buffer(piece_offsets), pa.py_buffer(data.copy())
    )
    bounds = np.searchsorted(starts, offsets, "left").astype(np.int64)
    return FlatPieces(pieces, bounds, "", None)


def flat_pieces(tokenizer: Tokenizer, texts: pl.Series) -> FlatPieces:
    """The tokens of ``texts`` as :class:`FlatPieces`: vectorized for the built-in
    whitespace and char tokenizers, through ``tokenizer.batch`` for any other."""
    split = getattr(tokenizer, "_flat_pieces", None)
    if split is not None:
        result: FlatPieces = split(texts)
        return result
    token_lists = tokenizer.batch(texts.to_list())
    arr = pa.array(token_lists, type=pa.large_list(pa.large_string()))
    bounds = np.asarray(arr.offsets, dtype=np.int64)
    return FlatPieces(arr.flatten(), bounds - bounds[0], "", None)
