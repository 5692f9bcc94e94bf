"""Index: tokens ↔ ids, with the special tokens at fixed leading ids and UNK for the rest.

A [`Vocab`][seqdata.vocab.Vocab] works like fairseq's ``Dictionary``: the specials come first (by
default
``PAD=0 "<pad>"``, ``UNK=1 "<unk>"``, ``SOS=2 "<sos>"``, ``EOS=3 "<eos>"``), then the corpus
tokens by decreasing frequency, ties broken by the token's code points (lexicographic), so the
same counts always give the same ids. A token that is not in the vocabulary becomes UNK — the
classic ``word2idx[w] if w in word2idx else UNK`` — and encoding never adds a token.

>>> vocab = Vocab.build([["the", "cat", "sat"], ["the", "dog", "sat"]])
>>> vocab.tokens
('<pad>', '<unk>', '<sos>', '<eos>', 'sat', 'the', 'cat', 'dog')
>>> vocab["the"], vocab["zebra"], vocab.unk_id
(5, 1, 1)
>>> vocab.encode(["the", "zebra", "sat"])
[5, 1, 4]
>>> vocab.encode_batch([["the", "cat"], [], ["dog"]])
[[5, 6], [], [7]]
>>> vocab.decode([2, 5, 6, 3, 0, 0])
['the', 'cat']

Saved format (``vocab.save(path)``, UTF-8, ``"\\n"`` line ends), version 1:

    {"format": "seqdata-vocab", "version": 1, "size": 8, "specials": {"pad": "<pad>", ...}}
    "<pad>"
    "<unk>"
    ...

Line 1 is a JSON header (``size`` = number of token lines, ``specials`` = role → token);
line ``k + 2`` holds the token with id ``k`` as a JSON string (so tokens with spaces, tabs or
newlines survive). The specials are the first ``len(specials)`` token lines, and those lines
(not the order of the header's mapping, which JSON tools may sort) give their ids.
[`VocabFile.load`][seqdata.vocab_file.VocabFile.load] checks everything and raises
[`VocabFormatError`][seqdata.errors.VocabFormatError]
naming the file and the line of the first problem (a garbled or blank line, a truncated file,
extra lines, a duplicate, a special out of place, an unknown version); invalid specials in the
header are a [`SpecialTokenError`][seqdata.errors.SpecialTokenError] (line 1).
"""

from __future__ import annotations

import itertools
import os
import pickle
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from seqdata.counts import TokenCounts, count_frame, rank_tokens, token_lists_to_arrow
from seqdata.errors import ConfigError, InputTypeError, SpecialTokenError
from seqdata.flat import FlatPieces, as_large_strings, drop_empty, lower_texts
from seqdata.lookup import TokenLookup
from seqdata.sentencepiece import SentencePieceTokenizer, leading_specials
from seqdata.specials import (
    DEFAULT_SPECIALS,
    SPECIAL_ROLES,
    SpecialIds,
    check_specials,
)
from seqdata.vocab_file import (
    VocabFile,
    index_tokens,
)

__all__ = ["DEFAULT_SPECIALS", "SPECIAL_ROLES", "Vocab"]


def _check_ids(ids: object, size: int) -> np.ndarray:
    values = np.asarray(ids)
    if values.ndim != 1 or (values.size and not np.issubdtype(values.dtype, np.integer)):
        raise InputTypeError(
            f"ids should be a 1-D sequence of integers, but got {type(ids).__name__} "
            f"of shape {values.shape} and dtype {values.dtype}"
        )
    if values.size and (values.min() < 0 or values.max() >= size):
        bad = values[(values < 0) | (values >= size)][0]
        raise ConfigError(f"ids should be in [0, len(vocab)={size}), but got id={int(bad)}")
    return values.astype(np.int64, copy=False)


def _offsets(arr: pa.LargeListArray) -> np.ndarray:
    offsets = np.asarray(arr.offsets, dtype=np.int64)
    return offsets - offsets[0]


def _index(tokens: Iterable[str], specials: dict[str, str]) -> tuple[list[str], dict[str, int]]:
    """``(itos, stoi)``: the specials' tokens, then ``tokens``, each checked once."""
    itos = list(specials.values())
    stoi = {token: i for i, token in enumerate(itos)}
    for token in tokens:
        if not isinstance(token, str):
            raise InputTypeError(
                f"tokens should be strings, but got {type(token).__name__} ({token!r:.40}) "
                f"for id {len(itos)}"
            )
        if token in stoi:
            if stoi[token] < len(specials):
                raise SpecialTokenError(
                    f"the token {token!r} (id {len(itos)}) is already the special "
                    f"{list(specials)[stoi[token]]!r}; drop it from the ordinary tokens"
                )
            raise ConfigError(
                f"tokens should be distinct, but {token!r} has ids {stoi[token]} and {len(itos)}"
            )
        stoi[token] = len(itos)
        itos.append(token)
    return itos, stoi


def _check_token_types(tokens: Sequence[object]) -> None:
    for i, token in enumerate(tokens):
        if not isinstance(token, str):
            raise InputTypeError(
                f"tokens[{i}] should be a str, but got {type(token).__name__} ({token!r:.40})",
                index=i,
            )


def _decode(
    values: np.ndarray, itos: np.ndarray, special_ids: dict[str, int], strip: bool
) -> list[str]:
    eos = special_ids.get("eos")
    if eos is not None:
        stops = np.flatnonzero(values == eos)
        if len(stops):
            values = values[: stops[0] + (0 if strip else 1)]
    if strip:
        values = values[~np.isin(values, [i for role, i in special_ids.items() if role != "unk"])]
    tokens: list[str] = itos[values].tolist()
    return tokens


def _value_set(
    cache: dict[str, pa.Array], itos: list[str], suffix: str, fixed: int = 0
) -> pa.Array:
    """The tokens + ``suffix`` as Arrow, in id order (cached); with ``fixed`` the tokens that
    ``str.lower`` changes get a ``"\\n"`` (never in a piece) so that they cannot match."""
    key = ("fixed:" if fixed else "") + suffix
    value_set = cache.get(key)
    if value_set is None:
        tokens = pl.Series(itos, dtype=pl.String)
        values = tokens + suffix
        if fixed:  # lower_texts is exactly str.lower
            changed = (lower_texts(tokens) != tokens).to_numpy()
            values = values + pl.Series(["", "\n"]).gather(changed.astype(np.int64))
        value_set = cache[key] = as_large_strings(values)
    return value_set


def _token_lookup(vocab: Vocab, suffix: str, lower: bool) -> TokenLookup:
    """The vocabulary's (cached) lookup of tokens ending in ``suffix``, lowered or exact."""
    key = (suffix, lower)
    found = vocab._lookups.get(key)
    if found is None:
        values = _value_set(vocab._value_sets, vocab._itos, suffix)
        fixed = _value_set(vocab._value_sets, vocab._itos, suffix, 1) if lower else None
        found = vocab._lookups.setdefault(key, TokenLookup(values, vocab.unk_id, fixed))
    return found


class Vocab(SpecialIds, VocabFile):
    """Token ↔ id mapping with specials at the leading ids.

    Args:
        tokens: the ordinary tokens in id order; they get ids ``len(specials)``, … .
        specials: role → token, in id order (default ``DEFAULT_SPECIALS``:
            ``pad=0, unk=1, sos=2, eos=3``). Roles are from ``SPECIAL_ROLES``; ``pad`` and
            ``unk`` are required.

    Raises:
        SpecialTokenError: a bad special set, or an ordinary token equal to a special token.
        ConfigError: a token listed twice.
        InputTypeError: a token that is not a ``str``.

    >>> vocab = Vocab(["hello", "world"], specials={"pad": "[PAD]", "unk": "[UNK]"})
    >>> len(vocab), vocab["world"], vocab.pad_id, "hello" in vocab
    (4, 3, 0, True)
    >>> vocab.sos_id
    Traceback (most recent call last):
    ...
    seqdata.errors.SpecialTokenError: this vocabulary has no 'sos' special (it has pad, unk); ...
    """

    def __init__(
        self,
        tokens: Iterable[str],
        *,
        specials: Mapping[str, str] | Sequence[tuple[str, str]] = DEFAULT_SPECIALS,
    ) -> None:
        checked = check_specials(specials)
        itos, stoi = _index(tokens, checked)
        self._set(itos, checked, stoi)

    def _set(self, itos: list[str], specials: dict[str, str], stoi: dict[str, int]) -> None:
        self._itos = itos
        self._stoi = stoi
        self._specials = specials
        self._special_ids = {role: i for i, role in enumerate(specials)}
        self._value_sets: dict[str, pa.Array] = {}
        self._lookups: dict[tuple[str, bool], TokenLookup] = {}  # per (suffix, lower)
        self._itos_array: np.ndarray | None = None

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Sequence[str]] | pl.Series,
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Mapping[str, str] | Sequence[tuple[str, str]] = DEFAULT_SPECIALS,
    ) -> Vocab:
        """Count the tokens of a corpus and keep the frequent ones.

        Args:
            token_lists: tokenized examples (a list of token lists, any iterable of them, or a
                polars Series of ``list[str]``); counted in chunks, vectorized.
            min_freq: keep tokens seen at least this often.
            max_size: the most ids in total, specials included (``None`` = no limit).
            specials: role → token, in id order. Corpus tokens equal to a special token are
                not counted (they already have the special's id).

        Returns:
            The vocabulary: specials, then tokens by decreasing count, ties in lexicographic
            (code point) order.

        >>> Vocab.build([["b", "a", "c", "a"], ["c", "d"]], min_freq=2).tokens
        ('<pad>', '<unk>', '<sos>', '<eos>', 'a', 'c')
        >>> len(Vocab.build([["b", "a", "c", "a"]], max_size=5))
        5
        """
        return cls.from_counts(TokenCounts().update(token_lists), min_freq, max_size, specials)

    @classmethod
    def from_counts(
        cls,
        counts: TokenCounts | Mapping[str, int],
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Mapping[str, str] | Sequence[tuple[str, str]] = DEFAULT_SPECIALS,
    ) -> Vocab:
        """Build from precomputed counts: a [`TokenCounts`][seqdata.counts.TokenCounts] (counted
        chunk by chunk), a
        ``collections.Counter`` or any token → count map. Same ranking as `build`, so
        counting a corpus in chunks gives exactly the vocabulary of counting it whole.

        >>> from collections import Counter
        >>> Vocab.from_counts(Counter("abracadabra"), min_freq=2).tokens[4:]
        ('a', 'b', 'r')
        """
        checked = check_specials(specials)
        return cls(rank_tokens(count_frame(counts), min_freq, max_size, checked), specials=checked)

    @classmethod
    def from_sentencepiece(cls, tokenizer: SentencePieceTokenizer) -> Vocab:
        """The vocabulary of a sentencepiece model: its pieces in id order, its pad/unk/bos/eos
        as the ``pad/unk/sos/eos`` specials. Encoding pieces with it gives sentencepiece's ids.

        Raises:
            SpecialTokenError: the model has no pad or unk piece, or its specials are not the
                leading ids (train with `SentencePieceTokenizer.train`, which uses ``pad=0,
                unk=1, bos=2, eos=3``).
        """
        specials = leading_specials(tokenizer)
        return cls(tokenizer.pieces[len(specials) :], specials=specials)

    # -- lookups ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and token in self._stoi

    def __getitem__(self, token: str) -> int:
        """The id of ``token``; UNK's id for a token not in the vocabulary."""
        if not isinstance(token, str):
            raise InputTypeError(
                f"token should be a str, but got {type(token).__name__} ({token!r:.40}); "
                "use lookup_token(id) to go from an id to its token"
            )
        return self._stoi.get(token, self._special_ids["unk"])

    def __iter__(self) -> Any:
        return iter(self._itos)

    def lookup_token(self, index: int) -> str:
        """The token with id ``index``.

        >>> Vocab(["x"]).lookup_token(4)
        'x'
        """
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise InputTypeError(f"index should be an int, but got {type(index).__name__}")
        if not 0 <= index < len(self._itos):
            raise ConfigError(
                f"index should be in [0, len(vocab)={len(self._itos)}), but got index={index}"
            )
        return self._itos[index]

    @property
    def tokens(self) -> tuple[str, ...]:
        """Every token in id order, specials first."""
        return tuple(self._itos)

    # -- encoding ---------------------------------------------------------------------------

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Ids of one token list, shape ``(L,)``; unknown tokens → UNK. Never adds tokens.

        >>> Vocab(["a"]).encode(["a", "b"])
        [4, 1]
        """
        if isinstance(tokens, str):
            raise InputTypeError(
                "tokens should be a list of tokens, but got a str; tokenize it first "
                f"(e.g. text.split()): {tokens!r:.40}"
            )
        unk = self._special_ids["unk"]
        get = self._stoi.get
        ids = [get(token, unk) for token in tokens]
        if unk in ids:
            _check_token_types(tokens)
        return ids

    def encode_flat(
        self, token_lists: Sequence[Sequence[str]] | pl.Series
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ids of a batch as flat arrays: ``values`` int32 ``(T,)`` and ``offsets`` int64
        ``(N + 1,)``; example ``i`` is ``values[offsets[i]:offsets[i + 1]]``.

        The lookup is one native hash-table probe per token
        ([`FormIds`][seqdata.lookup.FormIds]: Arrow's ``index_in`` or a polars mapping), no
        Python per token.

        >>> values, offsets = Vocab(["a", "b"]).encode_flat([["a", "x"], [], ["b"]])
        >>> values.tolist(), offsets.tolist()
        ([4, 1, 5], [0, 2, 2, 3])
        """
        arr = token_lists_to_arrow(token_lists)
        return self.lookup(arr.flatten()), _offsets(arr)

    def encode_batch(self, token_lists: Sequence[Sequence[str]] | pl.Series) -> list[list[int]]:
        """Ids of each token list, ``(N, L_i)``; vectorized like `encode_flat`.

        >>> Vocab(["a"]).encode_batch([["a"], ["b", "a"]])
        [[4], [1, 4]]
        """
        values, offsets = self.encode_flat(token_lists)
        flat, bounds = values.tolist(), offsets.tolist()
        return [flat[a:b] for a, b in itertools.pairwise(bounds)]

    def lookup(self, tokens: pa.Array | pl.Series, suffix: str = "") -> np.ndarray:
        """Ids of a flat array of tokens, int32 ``(T,)`` (UNK for unknown ones).

        Args:
            tokens: Arrow or polars strings.
            suffix: a string every token carries at its end (the whitespace tokenizer's
                zero-copy pieces keep their separator); it is matched, not looked up.
        """
        return _token_lookup(self, suffix, False).lookup(as_large_strings(tokens))

    def lookup_pieces(self, pieces: FlatPieces) -> tuple[np.ndarray, np.ndarray]:
        """Ids of a tokenizer's [`FlatPieces`][seqdata.flat.FlatPieces]: ``(values int32
        (T,), offsets int64 (N + 1,))``, empty pieces dropped."""
        ids = _token_lookup(self, pieces.suffix, pieces.lower).lookup(pieces.pieces)
        return drop_empty(ids, pieces)

    def unknown_rate(self, token_lists: Sequence[Sequence[str]] | pl.Series) -> float:
        """Share of the tokens that fall back to UNK (0.0 for no tokens). A literal UNK token
        in the data counts as unknown too.

        >>> Vocab(["a"]).unknown_rate([["a", "b"], ["c", "a"]])
        0.5
        """
        values, _ = self.encode_flat(token_lists)
        if len(values) == 0:
            return 0.0
        return float(np.count_nonzero(values == self._special_ids["unk"]) / len(values))

    # -- decoding ---------------------------------------------------------------------------

    def decode(self, ids: npt.ArrayLike, strip_specials: bool = True) -> list[str]:
        """Tokens of an id sequence ``(L,)``, stopping at the first EOS.

        Args:
            ids: a list, numpy array or CPU tensor of ids.
            strip_specials: drop the specials (PAD, SOS, EOS, …) but keep UNK, which stands for
                a real word; with ``False`` every token up to and including the first EOS.

        >>> vocab = Vocab(["a"])
        >>> vocab.decode([2, 4, 1, 3, 4]), vocab.decode([2, 4, 3, 0], strip_specials=False)
        (['a', '<unk>'], ['<sos>', 'a', '<eos>'])
        """
        if self._itos_array is None:
            self._itos_array = np.array(self._itos, dtype=object)
        values = _check_ids(ids, len(self._itos))
        return _decode(values, self._itos_array, self._special_ids, strip_specials)

    @classmethod
    def _from_itos(
        cls, itos: list[str], specials: dict[str, str], path: Path | None, first_line: int = 0
    ) -> Self:
        specials, stoi = index_tokens(itos, specials, path, first_line)
        vocab = cls.__new__(cls)
        vocab._set(list(itos), specials, stoi)
        return vocab

    # -- dunder -----------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        # one C-pickled blob: `datasets` hashes map functions with pure-Python dill (slow)
        return {"tokens": pickle.dumps(self._itos, protocol=4), "specials": self._specials}

    def __setstate__(self, state: dict[str, Any]) -> None:
        tokens = state["tokens"]
        itos = list(pickle.loads(tokens) if isinstance(tokens, bytes) else tokens)
        self._set(itos, dict(state["specials"]), {t: i for i, t in enumerate(itos)})

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Vocab)
            and other._itos == self._itos
            and list(other._specials.items()) == list(self._specials.items())
        )

    def __hash__(self) -> int:
        return hash((tuple(self._itos), tuple(self._specials.items())))

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, specials={self._specials})"

    # -- other tools' files (seqdata.vocab_io) ----------------------------------------------

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        format: str = "lines",
        *,
        specials: Mapping[str, str] | None = None,
    ) -> Vocab:
        """Read a ``"lines"``, fairseq ``"fairseq"`` or ``"hf"`` vocabulary file: see
        [`read_vocab_file`][seqdata.vocab_io.read_vocab_file]."""
        from seqdata.vocab_io import read_vocab_file

        return read_vocab_file(path, format, specials=specials)

    def to_file(
        self,
        path: str | os.PathLike[str],
        format: str = "lines",
        *,
        counts: Mapping[str, int] | None = None,
    ) -> None:
        """Write a ``"lines"``, ``"fairseq"`` or ``"hf"`` vocabulary file: see
        [`write_vocab_file`][seqdata.vocab_io.write_vocab_file]."""
        from seqdata.vocab_io import write_vocab_file

        write_vocab_file(self, path, format, counts=counts)
