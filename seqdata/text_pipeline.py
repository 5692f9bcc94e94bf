"""Single-text preprocessing (classification, tagging, language modelling): TextPipeline.

>>> pipe = TextPipeline.build(["a good film", "a bad film"])
>>> pipe.encode("a bad plot")
[4, 6, 1]
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from seqdata._checks import check_threads
from seqdata.encoding import (
    _TEXT_FORMAT,
    _VERSION,
    Flat,
    _batch_column,
    _check_not_empty,
    _check_state,
    _check_tokenizer,
    _check_vocab,
    _chunk_jobs,
    _chunk_rows,
    _concat,
    _counts,
    _run,
    _spm_direct,
    _tokenize_index,
    _with_ids,
)
from seqdata.errors import EmptyLineError, InputTypeError
from seqdata.framing import (
    check_max_len,
    frame_source,
    frame_source_flat,
    frame_target,
    frame_target_flat,
)
from seqdata.texts import Tokenizer, as_string_series
from seqdata.tokenizers import WhitespaceTokenizer, tokenizer_from_dict
from seqdata.vocab import DEFAULT_SPECIALS, Vocab

__all__ = ["TextPipeline"]


class TextPipeline:
    """Single-sequence preprocessing (classification, tagging, language modelling):
    ``text → tokenize → vocab → ids[:max_len]`` or, with ``add_sos_eos``,
    ``[SOS] + ids[:max_len - 2] + [EOS]``.

    Args:
        tokenizer: splits the texts.
        vocab: token → id (needs ``sos``/``eos`` when ``add_sos_eos``).
        max_len: the most ids per sequence (``None`` = no truncation).
        add_sos_eos: wrap every sequence in SOS … EOS.

    Without ``add_sos_eos`` a text with no tokens is an ``EmptyLineError``.

    >>> pipe = TextPipeline.build(["a good film", "a bad film"], max_len=2)
    >>> pipe.encode("a good plot")
    [4, 7]
    >>> values, offsets = pipe.encode_flat(["bad film", "plot"])
    >>> values.tolist(), offsets.tolist()
    ([6, 5, 1], [0, 2, 3])
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        vocab: Vocab,
        max_len: int | None = None,
        add_sos_eos: bool = False,
    ) -> None:
        if not isinstance(add_sos_eos, bool):
            raise InputTypeError(f"add_sos_eos should be a bool, but got {add_sos_eos!r}")
        self.tokenizer = _check_tokenizer(tokenizer, "tokenizer")
        self.vocab = _check_vocab(vocab, "vocab")
        self.add_sos_eos = add_sos_eos
        if add_sos_eos:
            self.max_len = check_max_len(max_len, 2, " (room for SOS and EOS)")
            self.sos_id: int | None = vocab.sos_id
            self.eos_id: int | None = vocab.eos_id
        else:
            self.max_len = check_max_len(max_len, 1, "")
            self.sos_id = self.eos_id = None
        self._direct = _spm_direct(tokenizer, vocab)

    @classmethod
    def build(
        cls,
        texts: Sequence[str] | np.ndarray | pl.Series,
        tokenizer: Tokenizer | None = None,
        *,
        min_freq: int = 1,
        max_size: int | None = None,
        max_len: int | None = None,
        add_sos_eos: bool = False,
        specials: Mapping[str, str] = DEFAULT_SPECIALS,
        num_threads: int | None = None,
    ) -> TextPipeline:
        """Build the vocabulary from ``texts`` (see
        [`PairPipeline.build`][seqdata.pipeline.PairPipeline.build])."""
        tok = tokenizer if tokenizer is not None else WhitespaceTokenizer()
        series = as_string_series(texts, "texts")
        counts = _counts(_check_tokenizer(tok, "tokenizer"), series, num_threads)
        vocab = Vocab.from_counts(counts, min_freq, max_size, specials)
        return cls(tok, vocab, max_len=max_len, add_sos_eos=add_sos_eos)

    def encode(self, text: str) -> list[int]:
        """Ids of one text, ``(L,)``."""
        ids = no_specials(self.vocab.encode(self.tokenizer(text)), self.vocab)
        if self.sos_id is not None and self.eos_id is not None:
            return frame_target(ids, self.max_len, self.sos_id, self.eos_id)
        if not ids:
            raise EmptyLineError(
                f"the text has no tokens ({text!r:.40}); an empty sequence cannot be packed — "
                "drop the example or use add_sos_eos=True"
            )
        return frame_source(ids, self.max_len)

    def decode(self, ids: npt.ArrayLike) -> str:
        """Text of ids: specials stripped, stopping at EOS, detokenized."""
        return self.tokenizer.detokenize(self.vocab.decode(ids, strip_specials=True))

    def encode_flat(
        self,
        texts: Sequence[str] | np.ndarray | pl.Series,
        *,
        num_threads: int | None = None,
        indices: Sequence[int] | np.ndarray | None = None,
    ) -> Flat:
        """Ids of a batch, flat: values int32 ``(T,)``, offsets int64 ``(N + 1,)``."""
        series = as_string_series(texts, "texts")
        max_len = self.max_len
        sos, eos = self.sos_id, self.eos_id

        def encode(chunk: pl.Series) -> Flat:
            values, offsets = _tokenize_index(self.tokenizer, self.vocab, chunk, self._direct)
            values, _ = mask_specials(values, self.vocab)
            if sos is not None and eos is not None:
                return frame_target_flat(values, offsets, max_len, sos, eos)
            return frame_source_flat(values, offsets, max_len)

        threads = check_threads(num_threads)
        jobs = _chunk_jobs(series, encode, _chunk_rows(len(series), threads))
        flat = _concat(_run(jobs, threads))
        if sos is None:
            _check_not_empty(flat[1], 0, "text", indices)
        return flat

    def __call__(
        self,
        batch: MutableMapping[str, Any],
        indices: Sequence[int] | None = None,
        *,
        text_col: str = "text",
        ids_col: str = "ids",
    ) -> dict[str, Any]:
        """The ``datasets.Dataset.map(batched=True)`` function: the batch plus ``ids``.

        The column's type follows the rule of `PairPipeline.__call__` (a polars
        ``List(Int32)`` Series for every batch type ``map`` hands over, lists for a plain
        ``dict`` of lists).

        >>> pipe = TextPipeline.build(["a b"])
        >>> pipe({"text": ["b a", "c"]})["ids"]
        [[5, 4], [1]]
        """
        texts = _batch_column(batch, text_col)
        flat = self.encode_flat(texts, indices=indices)
        return _with_ids(batch, texts, {ids_col: flat})

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable state."""
        return {
            "format": _TEXT_FORMAT,
            "version": _VERSION,
            "tokenizer": self.tokenizer.to_dict(),
            "vocab": self.vocab.to_dict(),
            "max_len": self.max_len,
            "add_sos_eos": self.add_sos_eos,
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> TextPipeline:
        """Rebuild from `to_dict`."""
        _check_state(state, _TEXT_FORMAT)
        return cls(
            tokenizer_from_dict(state["tokenizer"]),
            Vocab.from_dict(state["vocab"]),
            max_len=state.get("max_len"),
            add_sos_eos=bool(state.get("add_sos_eos", False)),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TextPipeline) and other.to_dict() == self.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"TextPipeline(tokenizer={self.tokenizer!r}, vocab={self.vocab!r}, "
            f"max_len={self.max_len}, add_sos_eos={self.add_sos_eos})"
        )


def _special_ids(vocab: Vocab) -> np.ndarray:
    """The ids no text may produce: every special but UNK (PAD, SOS, EOS, …)."""
    unk = vocab.unk_id
    return np.array(sorted(i for i in vocab.special_ids.values() if i != unk), dtype=np.int32)


def mask_specials(values: np.ndarray, vocab: Vocab) -> tuple[np.ndarray, int]:
    """``values`` with literal special tokens mapped to UNK, and how many there were."""
    hit = np.isin(values, _special_ids(vocab))
    count = int(np.count_nonzero(hit))
    if count:
        values = np.where(hit, np.int32(vocab.unk_id), values).astype(values.dtype, copy=False)
    return values, count


def no_specials(ids: list[int], vocab: Vocab) -> list[int]:
    """`mask_specials` for one sequence of ids."""
    banned = set(_special_ids(vocab).tolist())
    return [vocab.unk_id if i in banned else i for i in ids]
