"""TokenCounts: token → count of a corpus, accumulated chunk by chunk (and on threads).

>>> counts = TokenCounts()
>>> counts.update([["the", "cat"], ["the"]]).most_common(1)
[('the', 2)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from seqdata._checks import check_int, check_threads
from seqdata.errors import ConfigError, InputTypeError
from seqdata.flat import FlatPieces, flat_pieces, lower_texts
from seqdata.texts import Tokenizer, as_string_series

__all__ = ["TokenCounts", "count_frame", "rank_tokens", "token_lists_to_arrow"]

_CHUNK = 1 << 16
# Texts per counting job in TokenCounts.update_texts (bigger chunks: fewer partial counts).
_MIN_TEXT_ROWS = 1 << 12
_MAX_TEXT_ROWS = 1 << 17
# Partial counts are merged once they hold this many rows, or more than the running total.
_MERGE_ROWS = 1 << 18


def token_lists_to_arrow(token_lists: object, start: int = 0) -> pa.LargeListArray:
    """A batch of token lists as an Arrow ``large_list<large_string>`` (no Python per token)."""
    if isinstance(token_lists, pl.Series):
        if token_lists.dtype != pl.List(pl.String):
            raise InputTypeError(
                f"token_lists should be a polars Series of list[str], but got dtype "
                f"{token_lists.dtype}"
            )
        arr = token_lists.to_arrow(compat_level=pl.CompatLevel.oldest())
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
    else:
        if isinstance(token_lists, str) or not isinstance(token_lists, Sequence):
            raise InputTypeError(
                f"token_lists should be a list of token lists, but got {type(token_lists).__name__}"
            )
        arr = None
        if not any(isinstance(tokens, str) for tokens in token_lists):  # pa would split a str
            try:
                arr = pa.array(token_lists, type=pa.large_list(pa.large_string()))
            except (pa.ArrowException, TypeError, ValueError):
                arr = None
        if arr is None or arr.null_count or arr.values.null_count:
            _raise_bad_token_list(token_lists, start)
    if arr.type != pa.large_list(pa.large_string()):
        arr = arr.cast(pa.large_list(pa.large_string()))
    if arr.null_count or arr.values.null_count:
        raise InputTypeError("token_lists should not contain missing values (None)")
    return arr


def _raise_bad_token_list(token_lists: Sequence[Any], start: int) -> None:
    for i, tokens in enumerate(token_lists):
        if isinstance(tokens, str) or not isinstance(tokens, Sequence):
            raise InputTypeError(
                f"token_lists[{start + i}] should be a list of tokens, but got "
                f"{type(tokens).__name__} ({tokens!r:.40}); tokenize the text first",
                index=start + i,
            )
        for j, token in enumerate(tokens):
            if not isinstance(token, str):
                raise InputTypeError(
                    f"token_lists[{start + i}][{j}] should be a str, but got "
                    f"{type(token).__name__} ({token!r:.40})",
                    index=start + i,
                )
    raise InputTypeError("token_lists could not be read as lists of strings")


class TokenCounts:
    """Token → count of a corpus, accumulated chunk by chunk: the vocabulary pass of a corpus
    larger than memory.

    Each update counts its chunk with Arrow (``pyarrow.compute.value_counts``; no Python per
    token) and keeps the partial count; partial counts are merged with a polars ``group_by``
    once they outgrow the running total, so memory stays about the number of distinct tokens
    plus one chunk. `Vocab.from_counts` turns the counts into the vocabulary — exactly
    the one `Vocab.build` gives on the whole corpus at once. Counts of separate shards
    merge with ``update(other_counts)``.

    >>> counts = TokenCounts()
    >>> counts.update([["the", "cat"], ["the"]]).update([["a", "cat", "the"]])
    TokenCounts(types=3, tokens=6, examples=3)
    >>> counts["the"], counts["dog"], counts.most_common(2)
    (3, 0, [('the', 3), ('cat', 2)])
        >>> from seqdata.tokenizers import WhitespaceTokenizer
    >>> TokenCounts().update_texts(["a b", "b  c"], WhitespaceTokenizer()).most_common()
    [('b', 2), ('a', 1), ('c', 1)]
    """

    def __init__(self) -> None:
        self._merged = _empty_counts()
        self._parts: list[pl.DataFrame] = []
        self._pending = 0
        self._examples = 0

    @property
    def examples(self) -> int:
        """How many token lists (texts) were counted."""
        return self._examples

    def update(
        self, tokens: Iterable[Sequence[str]] | pl.Series | FlatPieces | TokenCounts
    ) -> TokenCounts:
        """Add the tokens of one chunk; returns ``self``.

        Args:
            tokens: a chunk of tokenized examples — a list of token lists (any iterable of
                them, counted ``65536`` at a time), a polars Series of ``list[str]``, a
                tokenizer's [`FlatPieces`][seqdata.flat.FlatPieces] — or another
                [`TokenCounts`][seqdata.counts.TokenCounts] to merge.

        Raises:
            InputTypeError: an example that is not a list of strings (its index counts every
                example passed to this object so far).
        """
        if isinstance(tokens, TokenCounts):
            tokens._flush()
            self._add(tokens._merged, tokens._examples)
        elif isinstance(tokens, FlatPieces):
            self._add(_count_pieces(tokens), len(tokens.bounds) - 1)
        elif isinstance(tokens, pl.Series):
            self._add(_count(token_lists_to_arrow(tokens).flatten()), len(tokens))
        else:
            if isinstance(tokens, str) or not isinstance(tokens, Iterable):
                raise InputTypeError(
                    "token_lists should be an iterable of token lists, but got "
                    f"{type(tokens).__name__}"
                )
            chunk: list[Sequence[str]] = []
            for item in tokens:
                chunk.append(item)
                if len(chunk) == _CHUNK:
                    self._add_lists(chunk)
                    chunk = []
            if chunk:
                self._add_lists(chunk)
        return self

    def update_texts(
        self,
        texts: Sequence[str] | np.ndarray | pl.Series,
        tokenizer: Tokenizer,
        *,
        num_threads: int | None = None,
    ) -> TokenCounts:
        """Tokenize a chunk of texts and add their tokens; returns ``self``.

        Args:
            texts: ``(N,)`` strings (list, numpy array or polars Series).
            tokenizer: vectorized for the whitespace and char tokenizers
                (`flat_pieces`), ``tokenizer.batch`` for any other.
            num_threads: threads over slices of ``texts`` (``None`` = all cores); the counts
                do not depend on it.
        """
        series = as_string_series(texts, "texts")
        threads = check_threads(num_threads)
        rows = min(max(-(-len(series) // threads), _MIN_TEXT_ROWS), _MAX_TEXT_ROWS)
        slices = [series.slice(start, rows) for start in range(0, len(series), rows)]

        def count(chunk: pl.Series) -> pl.DataFrame:
            return _count_pieces(flat_pieces(tokenizer, chunk))

        frames = _map_threads(count, slices, threads)
        for frame in frames:
            self._add(frame, 0)
        self._examples += len(series)
        return self

    def _add_lists(self, chunk: list[Sequence[str]]) -> None:
        arr = token_lists_to_arrow(chunk, self._examples)
        self._add(_count(arr.flatten()), len(chunk))

    def _add(self, frame: pl.DataFrame, examples: int) -> None:
        self._examples += examples
        if frame.height == 0:
            return
        self._parts.append(frame)
        self._pending += frame.height
        if self._pending > max(_MERGE_ROWS, self._merged.height):
            self._flush()

    def _flush(self) -> None:
        if self._parts:
            frames = [self._merged, *self._parts] if self._merged.height else self._parts
            self._merged = pl.concat(frames).group_by("token").agg(pl.col("count").sum())
            self._parts, self._pending = [], 0

    def to_frame(self) -> pl.DataFrame:
        """The counts as a polars frame ``token`` (String), ``count`` (Int64), one row per
        distinct token, in no particular order."""
        self._flush()
        return self._merged

    @property
    def total(self) -> int:
        """How many tokens were counted."""
        return int(self.to_frame()["count"].sum())

    def most_common(self, n: int | None = None) -> list[tuple[str, int]]:
        """``(token, count)`` by decreasing count, ties in code-point order (as
        `Vocab.build` ranks them); the first ``n`` or all."""
        ranked = self.to_frame().sort(["count", "token"], descending=[True, False])
        if n is not None:
            ranked = ranked.head(n)
        return list(ranked.iter_rows())

    def to_dict(self) -> dict[str, int]:
        """A plain ``{token: count}`` dict."""
        frame = self.to_frame()
        return dict(zip(frame["token"].to_list(), frame["count"].to_list(), strict=True))

    def __len__(self) -> int:
        return self.to_frame().height

    def __getitem__(self, token: str) -> int:
        """The count of ``token`` (0 if never seen)."""
        found = self.to_frame().filter(pl.col("token") == token)["count"]
        return int(found[0]) if len(found) else 0

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and self[token] > 0

    def __repr__(self) -> str:
        return f"TokenCounts(types={len(self)}, tokens={self.total}, examples={self._examples})"


def _empty_counts() -> pl.DataFrame:
    return pl.DataFrame(schema={"token": pl.String, "count": pl.Int64})


def _map_threads(
    fn: Callable[[pl.Series], pl.DataFrame], items: list[pl.Series], threads: int
) -> list[pl.DataFrame]:
    if threads == 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(min(threads, len(items))) as pool:
        return list(pool.map(fn, items))


def _count_pieces(pieces: FlatPieces) -> pl.DataFrame:
    """Token counts of a tokenizer's flat pieces (suffix stripped, empty pieces dropped; with
    ``pieces.lower`` the distinct tokens lowered and their counts summed)."""
    frame = _count(pieces.pieces)
    if pieces.suffix:
        # Every piece ends with the suffix, so stripping it keeps the tokens distinct.
        frame = frame.with_columns(pl.col("token").str.strip_suffix(pieces.suffix)).filter(
            pl.col("token") != ""
        )
    elif pieces.keep is not None:
        frame = frame.filter(pl.col("token") != "")
    if pieces.lower:
        frame = (
            frame.with_columns(lower_texts(frame["token"]))
            .group_by("token")
            .agg(pl.col("count").sum())
        )
    return frame


def _count(tokens: pa.Array) -> pl.DataFrame:
    counted = pc.value_counts(tokens)
    return pl.DataFrame(
        {
            "token": pl.Series(pl.from_arrow(counted.field("values"))).cast(pl.String),
            "count": pl.Series(pl.from_arrow(counted.field("counts"))).cast(pl.Int64),
        }
    )


def count_frame(counts: TokenCounts | Mapping[str, int]) -> pl.DataFrame:
    """``token`` (String), ``count`` (Int64) of a `TokenCounts` or a token → count map."""
    if isinstance(counts, TokenCounts):
        return counts.to_frame()
    if not isinstance(counts, Mapping):
        raise InputTypeError(
            "counts should be a TokenCounts or a mapping token → count, but got "
            f"{type(counts).__name__}"
        )
    return pl.DataFrame(
        {"token": list(counts.keys()), "count": list(counts.values())},
        schema={"token": pl.String, "count": pl.Int64},
    )


def rank_tokens(
    frame: pl.DataFrame, min_freq: int, max_size: int | None, specials: Mapping[str, str]
) -> list[str]:
    """The tokens of a count frame seen at least ``min_freq`` times, by decreasing count, ties
    in code-point order, the specials' tokens left out, at most ``max_size - len(specials)``.

    >>> frame = count_frame({"b": 2, "a": 2, "c": 1, "<unk>": 5})
    >>> rank_tokens(frame, 1, None, {"pad": "<pad>", "unk": "<unk>"})
    ['a', 'b', 'c']
    """
    check_int("min_freq", min_freq)
    if max_size is not None and (
        isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < len(specials)
    ):
        raise ConfigError(
            f"max_size should be None or an integer >= the {len(specials)} specials, but "
            f"got max_size={max_size!r}"
        )
    ranked = (
        frame.filter(
            (pl.col("count") >= min_freq) & ~pl.col("token").is_in(list(specials.values()))
        )
        .sort(["count", "token"], descending=[True, False])
        .get_column("token")
    )
    if max_size is not None:
        ranked = ranked.head(max_size - len(specials))
    return ranked.to_list()
