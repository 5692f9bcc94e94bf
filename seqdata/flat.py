"""The vectorized split: the tokens of a batch of texts as one flat Arrow array.

The whitespace and char tokenizers split a whole Arrow string buffer with numpy (no Python
per token); any other tokenizer goes through its ``batch``. The vocabulary then looks up all
pieces in one hash probe.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import polars as pl
import pyarrow as pa

if TYPE_CHECKING:
    from seqdata.texts import Tokenizer

__all__ = [
    "FlatPieces",
    "as_large_strings",
    "char_pieces",
    "drop_empty",
    "flat_pieces",
    "lower_texts",
    "whitespace_pieces",
]


class FlatPieces(NamedTuple):
    """Tokens of a batch of texts as one flat Arrow string array (the vectorized split).

    ``pieces[bounds[i]:bounds[i + 1]]`` are the pieces of text ``i``. Each piece is a token
    followed by ``suffix`` (the whitespace tokenizer keeps the separator so the pieces can
    share the text's buffer without a copy); pieces where ``keep`` is False are empty tokens
    (runs of separators) and are dropped after the lookup. With ``lower`` the tokens are the
    pieces lowercased: the consumers lower the *distinct* pieces only (a count's rows, a
    chunk's dictionary), which equals lowering every text first — no lowercase mapping makes
    or removes whitespace, and the one context rule (final sigma) stops at whitespace.
    """

    pieces: pa.Array  # large_string, (P,)
    bounds: np.ndarray  # int64, (N + 1,)
    suffix: str
    keep: np.ndarray | None  # bool, (P,) or None when every piece is a token
    lower: bool = False  # the tokens are the pieces lowered (`lower_texts`), still to apply


# Python's str.split() separators: str.isspace() characters, as UTF-8.
_ASCII_WS = np.zeros(256, dtype=bool)
_ASCII_WS[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True


def as_large_strings(tokens: pa.Array | pa.ChunkedArray | pl.Series) -> pa.Array:
    """``tokens`` as one Arrow ``large_string`` array (no copy when it already is one)."""
    if isinstance(tokens, pl.Series):
        tokens = tokens.to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(tokens, pa.ChunkedArray):
        tokens = tokens.combine_chunks()
    if tokens.type != pa.large_string():
        tokens = tokens.cast(pa.large_string())
    return tokens


def _string_buffers(series: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 bytes, int64 offsets of length N+1 starting at 0) of a String Series."""
    arr = as_large_strings(series)
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


@functools.cache
def _lower_differs() -> tuple[str, ...]:
    """The characters whose lowercase polars (Rust's Unicode tables) and Python's
    ``str.lower`` disagree on, plus ``"Σ"`` (its lowercase depends on the context).

    Computed once per process (about 0.2 s): every code point but the surrogates and ``"\\n"``
    lowered by both, side by side, a plane at a time (so it needs little memory).
    """
    differ: list[str] = []
    for plane in range(0, 0x110000, 0x10000):
        codes = range(plane, plane + 0x10000)
        chars = "\n".join(chr(c) for c in codes if c != 10 and not 0xD800 <= c < 0xE000)
        ours = pl.Series(chars.split("\n"))
        python = pl.Series(chars.lower().split("\n"))
        differ.extend(ours.filter(ours.str.to_lowercase() != python).to_list())
    return (*differ, "\u03a3")


@functools.cache
def _lowest_lead_byte() -> int:
    """The smallest first UTF-8 byte of a `_lower_differs` character other than ``"Σ"``
    (``0xE1`` today: they are all at U+1000 or above)."""
    leads = [c.encode()[0] for c in _lower_differs()[:-1]]
    return min(leads, default=0xFF)


def lower_texts(series: pl.Series) -> pl.Series:
    """``[text.lower() for text in texts]`` (Python's definition), vectorized.

    polars ``str.to_lowercase`` lowers every text; the few texts holding a character whose
    lowercase differs between polars' Unicode tables and Python's (Unicode 16 letters that
    Python 3.11 does not case yet, and the context-dependent ``"Σ"``) are lowered again with
    ``str.lower``, so the result is always exactly Python's.

    >>> lower_texts(pl.Series(["ÄRGER im Büro", "ΟΔΟΣ"])).to_list()
    ['ärger im büro', 'οδος']
    """
    lowered = series.str.to_lowercase()
    wide = _rows_maybe_differing(series)
    if len(wide) == 0:
        return lowered
    found = series.gather(wide).str.contains_any(list(_lower_differs())).to_numpy()
    rows = wide[found]
    if len(rows) == 0:
        return lowered
    redo = [text.lower() for text in series.gather(rows).to_list()]
    return lowered.scatter(rows, redo)


def _rows_maybe_differing(series: pl.Series) -> np.ndarray:
    """Rows that may hold a character of `_lower_differs`: ``"Σ"`` (UTF-8 ``CE A3``) or a
    byte at least `_lowest_lead_byte` (``0xE1``: so Latin, Greek and Cyrillic text skip the
    search)."""
    data, offsets = _string_buffers(series)
    starts = offsets[:-1]
    filled = offsets[1:] > starts
    top = np.zeros(len(series), dtype=np.uint8)  # each text's largest byte, one pass
    if filled.any():
        top[filled] = np.maximum.reduceat(data, starts[filled])
    rows = top >= _lowest_lead_byte()
    sigma = np.flatnonzero(data[:-1] == 0xCE)
    sigma = sigma[data[sigma + 1] == 0xA3]
    if len(sigma):
        rows[np.searchsorted(offsets, sigma, "right") - 1] = True
    return np.flatnonzero(rows)


def _blank_whitespace(data: np.ndarray) -> np.ndarray:
    """``data`` with every byte of every ``str.isspace()`` character set to ``b" "`` (a copy
    when anything changes). Control bytes that are not whitespace stay."""
    low = np.flatnonzero(data < 32)
    if len(low):
        ws = _ASCII_WS[data[low]]
        if ws.any():
            data = data.copy()
            data[low[ws]] = 32
    if len(data) and int(data.max()) >= 0x80:
        multi = _multibyte_whitespace(data)
        if len(multi):
            if not data.flags.writeable:
                data = data.copy()
            data[multi] = 32
    return data


def whitespace_pieces(series: pl.Series, lower: bool) -> FlatPieces:
    """Vectorized ``[t.split() for t in texts]`` (``t.lower().split()`` with ``lower``: the
    pieces are marked for [`lower_texts`][seqdata.flat.lower_texts], exactly Python's
    ``str.lower``, applied by the consumer to the distinct pieces).

    Every text gets a trailing ``" "``; all whitespace bytes become ``" "``; the pieces are
    the runs between blanks, each keeping its blank (so they share the buffer, no copy).
    """
    data, offsets = _string_buffers(series + " ")  # every text ends with a separator
    data = _blank_whitespace(data)
    seps = np.flatnonzero(data == 32)
    piece_offsets = np.empty(len(seps) + 1, dtype=np.int64)
    piece_offsets[0] = 0
    np.add(seps, 1, out=piece_offsets[1:])
    pieces = pa.LargeStringArray.from_buffers(
        len(seps), pa.py_buffer(piece_offsets), pa.py_buffer(data)
    )
    keep = piece_offsets[1:] - piece_offsets[:-1] > 1
    bounds = np.searchsorted(seps, offsets, "left")
    return FlatPieces(pieces, bounds, " ", None if keep.all() else keep, lower)


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
    """The tokens of ``texts`` as [`FlatPieces`][seqdata.flat.FlatPieces]: vectorized for the
    built-in
    whitespace and char tokenizers, through ``tokenizer.batch`` for any other."""
    split = getattr(tokenizer, "_flat_pieces", None)
    if split is not None:
        result: FlatPieces = split(texts)
        return result
    token_lists = tokenizer.batch(texts.to_list())
    arr = pa.array(token_lists, type=pa.large_list(pa.large_string()))
    bounds = np.asarray(arr.offsets, dtype=np.int64)
    return FlatPieces(arr.flatten(), bounds - bounds[0], "", None)


def drop_empty(ids: np.ndarray, pieces: FlatPieces) -> tuple[np.ndarray, np.ndarray]:
    """``(values (T,), offsets (N + 1,))`` of the ids of ``pieces``, empty pieces dropped."""
    if pieces.keep is None:
        return ids, pieces.bounds
    kept = np.zeros(len(pieces.keep) + 1, dtype=np.int64)
    np.cumsum(pieces.keep, out=kept[1:])
    return ids[pieces.keep], kept[pieces.bounds]
