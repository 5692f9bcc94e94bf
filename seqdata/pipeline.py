"""Compose: tokenizer → vocab → framing, for sentence pairs and for single texts.

:class:`PairPipeline` is the notes' NMT preprocessing as one picklable object — per pair
(:meth:`~PairPipeline.encode_pair`), as a ``datasets.Dataset.map(batched=True)`` function
(``pipe(batch)``) and as the vectorized flat path the store uses
(:meth:`~PairPipeline.encode_flat`: Arrow/numpy split → one hash probe per token → numpy
framing, in chunks on a thread pool; no Python per token for the whitespace and char
tokenizers). All three give the same ids.

>>> pipe = PairPipeline.build(["Ich sah einen Hund", "Der Hund lief"],
...                           ["I saw a dog", "The dog ran"], max_len=4)
>>> pipe.encode_pair("Ich sah eine Katze", "I saw a cat")
([6, 9, 1, 1], [2, 5, 9, 3])
>>> pipe.decode_target([2, 5, 9, 3])
'I saw'
>>> (src, src_off), (tgt, tgt_off) = pipe.encode_flat(["Der Hund"], ["The dog"])
>>> src.tolist(), tgt.tolist(), tgt_off.tolist()
([5, 4], [2, 6, 4, 3], [0, 4])

An empty source (no tokens) is an :class:`~seqdata.errors.EmptyLineError` naming the example:
an empty sequence cannot be packed. An empty target frames to ``[SOS, EOS]``.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, TypeVar, cast

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from seqdata.errors import (
    ConfigError,
    EmptyLineError,
    InputTypeError,
    ParallelMismatchError,
)
from seqdata.framing import frame_source, frame_source_flat, frame_target, frame_target_flat
from seqdata.tokenizers import (
    SentencePieceTokenizer,
    Tokenizer,
    WhitespaceTokenizer,
    as_string_series,
    flat_pieces,
    tokenizer_from_dict,
)
from seqdata.vocab import DEFAULT_SPECIALS, TokenCounts, Vocab

__all__ = ["EncodedPairs", "PairPipeline", "TextPipeline"]

Flat = tuple[np.ndarray, np.ndarray]
Counted = tuple[Flat, int]
_T = TypeVar("_T")


class EncodedPairs(NamedTuple):
    """A parallel batch encoded flat (:meth:`PairPipeline.encode_chunk`).

    Attributes:
        src: ``(values int32 (T,), offsets int64 (N + 1,))`` of the framed sources.
        tgt: the same for the framed targets.
        src_truncated: sources longer than ``max_len`` (cut to ``max_len``).
        tgt_truncated: targets with more than ``max_len - 2`` tokens (cut before EOS).
    """

    src: Flat
    tgt: Flat
    src_truncated: int
    tgt_truncated: int


# Texts per chunk: big enough that the per-call cost of the Arrow lookup (hashing the
# vocabulary) is small, small enough that a chunk's arrays (a few MiB) are recycled by the
# allocator instead of being page-faulted in afresh — measured on a 1M-pair corpus, 16k-row
# chunks fault ~3x fewer pages than 128k-row chunks and use ~15% less CPU.
_MIN_CHUNK_ROWS = 1 << 12
_MAX_CHUNK_ROWS = 1 << 14
_PAIR_FORMAT = "seqdata-pair-pipeline"
_TEXT_FORMAT = "seqdata-text-pipeline"
_VERSION = 1


def _default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _check_tokenizer(tokenizer: object, name: str) -> Tokenizer:
    if not isinstance(tokenizer, Tokenizer):
        raise InputTypeError(
            f"{name} should be a tokenizer (__call__, batch, detokenize, to_dict), but got "
            f"{type(tokenizer).__name__}"
        )
    return tokenizer


def _check_vocab(vocab: object, name: str) -> Vocab:
    if not isinstance(vocab, Vocab):
        raise InputTypeError(f"{name} should be a Vocab, but got {type(vocab).__name__}")
    return vocab


def _check_max_len(max_len: object, minimum: int, why: str) -> int | None:
    if max_len is None:
        return None
    if isinstance(max_len, bool) or not isinstance(max_len, int | np.integer):
        raise InputTypeError(
            f"max_len should be None or an int, but got {type(max_len).__name__} ({max_len!r})"
        )
    if max_len < minimum:
        raise ConfigError(
            f"max_len should be None or an integer >= {minimum}{why}, but got max_len={max_len}"
        )
    return int(max_len)


def _spm_direct(tokenizer: Tokenizer, vocab: Vocab) -> bool:
    """True when ``vocab`` is exactly the sentencepiece model's pieces: its ids can be used
    directly (sentencepiece's threaded id encoder, no piece strings)."""
    return (
        isinstance(tokenizer, SentencePieceTokenizer)
        and len(tokenizer) == len(vocab)
        and tokenizer.unk_id == vocab.unk_id
        and tuple(tokenizer.pieces) == vocab.tokens
    )


def _tokenize_index(tokenizer: Tokenizer, vocab: Vocab, texts: pl.Series, direct: bool) -> Flat:
    """Ids of a chunk of texts: (values int32 (T,), offsets int64 (N + 1,))."""
    if direct:
        ids = cast(SentencePieceTokenizer, tokenizer).encode(texts.to_list())
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        values = np.fromiter(
            itertools.chain.from_iterable(ids), dtype=np.int32, count=int(offsets[-1])
        )
        return values, offsets
    return vocab.lookup_pieces(flat_pieces(tokenizer, texts))


def _run(jobs: list[Callable[[], _T]], threads: int) -> list[_T]:
    if threads == 1 or len(jobs) == 1:
        return [job() for job in jobs]
    with ThreadPoolExecutor(min(threads, len(jobs))) as pool:
        return list(pool.map(lambda job: job(), jobs))


def _concat(parts: Sequence[Flat]) -> Flat:
    if len(parts) == 1:
        return parts[0]
    values = np.concatenate([v for v, _ in parts])
    lengths = np.concatenate([np.diff(o) for _, o in parts])
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return values, offsets


def _threads(num_threads: int | None) -> int:
    threads = _default_threads() if num_threads is None else num_threads
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(
            f"num_threads should be None or a positive integer, but got num_threads={threads!r}"
        )
    return threads


def _chunk_rows(n: int, threads: int, most: int | None = None) -> int:
    return min(max(-(-n // threads), _MIN_CHUNK_ROWS), most or _MAX_CHUNK_ROWS)


def _chunk_jobs(
    texts: pl.Series, encode: Callable[[pl.Series], _T], chunk_rows: int
) -> list[Callable[[], _T]]:
    starts = range(0, max(len(texts), 1), chunk_rows)
    return [functools.partial(encode, texts.slice(start, chunk_rows)) for start in starts]


def _check_not_empty(offsets: np.ndarray, first: int, side: str, indices: Any = None) -> None:
    empty = np.flatnonzero(offsets[1:] == offsets[:-1])
    if len(empty):
        i = int(empty[0])
        index = first + i if indices is None else int(indices[i])
        raise EmptyLineError(
            f"the {side} has no tokens; an empty sequence cannot be packed — drop the "
            "example (e.g. read_parallel(..., empty='skip')) or filter empty lines",
            index=index,
        )


def _ragged_series(name: str, values: np.ndarray, offsets: np.ndarray) -> pl.Series:
    """A polars ``List(Int32)`` column from flat (values, offsets), without Python lists."""
    arr = pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values.astype(np.int32)))
    return pl.Series(name, arr)


def _wants_lists(batch: Mapping[str, Any], texts: Any) -> bool:
    """A plain dict of Python lists: ``IterableDataset.map`` (which passes each row of the
    output on as it is) or a direct call. ``Dataset.map`` passes a ``LazyBatch``."""
    return isinstance(batch, dict) and isinstance(texts, list)


def _ids_column(name: str, values: np.ndarray, offsets: np.ndarray, as_lists: bool) -> Any:
    series = _ragged_series(name, values, offsets)
    return series.to_list() if as_lists else series


def _counts(tokenizer: Tokenizer, texts: pl.Series, num_threads: int | None) -> TokenCounts:
    return TokenCounts().update_texts(texts, tokenizer, num_threads=num_threads)


Chunks = Iterable[Any] | Callable[[], Iterable[Any]]


def _iter_chunks(
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


def _as_pair_series(src_texts: object, tgt_texts: object) -> tuple[pl.Series, pl.Series]:
    src = as_string_series(src_texts, "src_texts")
    tgt = as_string_series(tgt_texts, "tgt_texts")
    if len(src) != len(tgt):
        raise ParallelMismatchError(
            f"src_texts and tgt_texts should have the same length, but got {len(src)} source "
            f"and {len(tgt)} target texts"
        )
    return src, tgt


def _column(batch: Mapping[str, Any], key: str) -> Any:
    try:
        return batch[key]
    except KeyError:
        raise ConfigError(
            f"the batch has no column {key!r} (it has {sorted(batch)}); pass the column names, "
            f"e.g. ds.map(pipe, batched=True, fn_kwargs={{...}})"
        ) from None


class PairPipeline:
    """Source/target preprocessing of a translation pair — the notes' listing as one object.

    ``src → tokenize → vocab (UNK fallback) → src[:max_len]`` and
    ``tgt → tokenize → vocab → [SOS] + tgt[:max_len - 2] + [EOS]``.

    Args:
        src_tokenizer: splits source texts.
        tgt_tokenizer: splits target texts.
        src_vocab: source token → id.
        tgt_vocab: target token → id; must have ``sos`` and ``eos`` specials.
        max_len: the most ids per framed sequence, both sides (``None`` = no truncation).

    Raises:
        ConfigError: ``max_len < 2`` (a target needs room for SOS and EOS).
        SpecialTokenError: ``tgt_vocab`` lacks SOS or EOS.
    """

    def __init__(
        self,
        src_tokenizer: Tokenizer,
        tgt_tokenizer: Tokenizer,
        src_vocab: Vocab,
        tgt_vocab: Vocab,
        max_len: int | None = None,
    ) -> None:
        self.src_tokenizer = _check_tokenizer(src_tokenizer, "src_tokenizer")
        self.tgt_tokenizer = _check_tokenizer(tgt_tokenizer, "tgt_tokenizer")
        self.src_vocab = _check_vocab(src_vocab, "src_vocab")
        self.tgt_vocab = _check_vocab(tgt_vocab, "tgt_vocab")
        self.max_len = _check_max_len(max_len, 2, " (a target needs room for SOS and EOS)")
        self.sos_id = tgt_vocab.sos_id
        self.eos_id = tgt_vocab.eos_id
        self._src_direct = _spm_direct(src_tokenizer, src_vocab)
        self._tgt_direct = _spm_direct(tgt_tokenizer, tgt_vocab)

    @classmethod
    def build(
        cls,
        src_texts: Sequence[str] | np.ndarray | pl.Series,
        tgt_texts: Sequence[str] | np.ndarray | pl.Series,
        src_tokenizer: Tokenizer | None = None,
        tgt_tokenizer: Tokenizer | None = None,
        *,
        min_freq: int = 1,
        max_size: int | None = None,
        max_len: int | None = None,
        specials: Mapping[str, str] = DEFAULT_SPECIALS,
        num_threads: int | None = None,
    ) -> PairPipeline:
        """Build both vocabularies from a parallel corpus and return the pipeline.

        Args:
            src_texts: source sentences, ``(N,)``.
            tgt_texts: target sentences, ``(N,)``.
            src_tokenizer: default ``WhitespaceTokenizer()``.
            tgt_tokenizer: default: the source tokenizer.
            min_freq: see :meth:`Vocab.build`.
            max_size: see :meth:`Vocab.build` (per side).
            max_len: see the class.
            specials: both vocabularies' specials (need ``sos``/``eos`` for the target).
            num_threads: threads for counting (``None`` = all cores).
        """
        src_tok = src_tokenizer if src_tokenizer is not None else WhitespaceTokenizer()
        tgt_tok = tgt_tokenizer if tgt_tokenizer is not None else src_tok
        src, tgt = _as_pair_series(src_texts, tgt_texts)
        src_counts = _counts(_check_tokenizer(src_tok, "src_tokenizer"), src, num_threads)
        tgt_counts = _counts(_check_tokenizer(tgt_tok, "tgt_tokenizer"), tgt, num_threads)
        src_vocab = Vocab.from_counts(src_counts, min_freq, max_size, specials)
        tgt_vocab = Vocab.from_counts(tgt_counts, min_freq, max_size, specials)
        return cls(src_tok, tgt_tok, src_vocab, tgt_vocab, max_len=max_len)

    @classmethod
    def build_from_chunks(
        cls,
        chunks: Chunks,
        src_tokenizer: Tokenizer | None = None,
        tgt_tokenizer: Tokenizer | None = None,
        *,
        min_freq: int = 1,
        max_size: int | None = None,
        max_len: int | None = None,
        specials: Mapping[str, str] = DEFAULT_SPECIALS,
        num_threads: int | None = None,
        src_col: str = "src",
        tgt_col: str = "tgt",
    ) -> PairPipeline:
        """:meth:`build` over a corpus read chunk by chunk, in bounded memory: one pass that
        counts each chunk's tokens (:class:`~seqdata.vocab.TokenCounts`) — the same
        vocabularies as :meth:`build` on the whole corpus.

        Args:
            chunks: an iterable of polars DataFrames (or mappings of columns) with text
                columns ``src_col`` and ``tgt_col`` — e.g.
                :func:`seqdata.readers.iter_parallel_chunks` — or a function returning one.
                Read once.
            src_tokenizer: default ``WhitespaceTokenizer()``. A sentencepiece tokenizer must
                be trained first (on a sample); or skip this pass and use
                ``Vocab.from_sentencepiece``.
            tgt_tokenizer: default: the source tokenizer.
            min_freq: see :meth:`Vocab.build`.
            max_size: see :meth:`Vocab.build` (per side).
            max_len: see the class.
            specials: both vocabularies' specials.
            num_threads: threads for counting (``None`` = all cores).
            src_col: the source column of each chunk.
            tgt_col: the target column.

        >>> import polars as pl
        >>> chunks = [pl.DataFrame({"src": ["a b"], "tgt": ["x"]}),
        ...           pl.DataFrame({"src": ["b"], "tgt": ["y x"]})]
        >>> PairPipeline.build_from_chunks(chunks).src_vocab.tokens[4:]
        ('b', 'a')
        """
        src_tok = src_tokenizer if src_tokenizer is not None else WhitespaceTokenizer()
        tgt_tok = tgt_tokenizer if tgt_tokenizer is not None else src_tok
        _check_tokenizer(src_tok, "src_tokenizer")
        _check_tokenizer(tgt_tok, "tgt_tokenizer")
        src_counts, tgt_counts = TokenCounts(), TokenCounts()
        for src, tgt in _iter_chunks(chunks, (src_col, tgt_col)):
            if len(src) != len(tgt):
                raise ParallelMismatchError(
                    f"a chunk has {len(src)} source and {len(tgt)} target texts; both columns "
                    "should have the same length"
                )
            src_counts.update_texts(src, src_tok, num_threads=num_threads)
            tgt_counts.update_texts(tgt, tgt_tok, num_threads=num_threads)
        src_vocab = Vocab.from_counts(src_counts, min_freq, max_size, specials)
        tgt_vocab = Vocab.from_counts(tgt_counts, min_freq, max_size, specials)
        return cls(src_tok, tgt_tok, src_vocab, tgt_vocab, max_len=max_len)

    # -- one example ------------------------------------------------------------------------

    def encode_source(self, text: str) -> list[int]:
        """Framed source ids of one text, ``(L,)`` with ``L <= max_len``.

        Raises:
            EmptyLineError: the text has no tokens.
        """
        ids = self.src_vocab.encode(self.src_tokenizer(text))
        if not ids:
            raise EmptyLineError(
                f"the source text has no tokens ({text!r:.40}); an empty sequence cannot be "
                "packed — drop the example"
            )
        return frame_source(ids, self.max_len)

    def encode_target(self, text: str) -> list[int]:
        """Framed target ids of one text: ``[SOS] + ids[:max_len - 2] + [EOS]``."""
        ids = self.tgt_vocab.encode(self.tgt_tokenizer(text))
        return frame_target(ids, self.max_len, self.sos_id, self.eos_id)

    def encode_pair(self, src_text: str, tgt_text: str) -> tuple[list[int], list[int]]:
        """``(src_ids, tgt_ids)`` of one pair — the notes' listing, line for line."""
        return self.encode_source(src_text), self.encode_target(tgt_text)

    def decode_target(self, ids: npt.ArrayLike) -> str:
        """Text of target ids: specials stripped, stopping at EOS, detokenized.

        >>> pipe = PairPipeline.build(["a"], ["x y"])
        >>> pipe.decode_target([2, 5, 4, 3, 5])
        'y x'
        """
        return self.tgt_tokenizer.detokenize(self.tgt_vocab.decode(ids, strip_specials=True))

    # -- batches ----------------------------------------------------------------------------

    def encode_flat(
        self,
        src_texts: Sequence[str] | np.ndarray | pl.Series,
        tgt_texts: Sequence[str] | np.ndarray | pl.Series,
        *,
        num_threads: int | None = None,
        indices: Sequence[int] | np.ndarray | None = None,
    ) -> tuple[Flat, Flat]:
        """Framed ids of a parallel batch, flat: the fast path.

        Args:
            src_texts: ``N`` source texts (list, numpy array or polars Series of str).
            tgt_texts: ``N`` target texts.
            num_threads: threads over chunks of texts (``None`` = all cores); the result does
                not depend on it.
            indices: the examples' dataset indices, used only in error messages.

        Returns:
            ``((src_values, src_offsets), (tgt_values, tgt_offsets))``: values int32 ``(T,)``,
            offsets int64 ``(N + 1,)`` starting at 0.

        Raises:
            ParallelMismatchError: different numbers of source and target texts.
            InputTypeError: an item is not a string (names its index).
            EmptyLineError: a source text without tokens (names its index).
        """
        encoded = self.encode_chunk(src_texts, tgt_texts, num_threads=num_threads, indices=indices)
        return encoded.src, encoded.tgt

    def encode_chunk(
        self,
        src_texts: Sequence[str] | np.ndarray | pl.Series,
        tgt_texts: Sequence[str] | np.ndarray | pl.Series,
        *,
        num_threads: int | None = None,
        indices: Sequence[int] | np.ndarray | None = None,
    ) -> EncodedPairs:
        """:meth:`encode_flat` plus how many examples ``max_len`` cut, per side — what a
        chunked writer reports (:meth:`seqdata.store.ParallelCorpus.write_chunks`).

        >>> pipe = PairPipeline.build(["a b c"], ["x y"], max_len=3)
        >>> out = pipe.encode_chunk(["a b c", "a"], ["x y", "x"])
        >>> out.src[0].tolist(), out.src_truncated, out.tgt_truncated
        ([4, 5, 6, 4], 0, 1)
        """
        src, tgt = _as_pair_series(src_texts, tgt_texts)
        max_len = self.max_len

        def cut(offsets: np.ndarray, longest: int | None) -> int:
            return 0 if longest is None else int(np.count_nonzero(np.diff(offsets) > longest))

        def encode_src(chunk: pl.Series) -> Counted:
            values, offsets = _tokenize_index(
                self.src_tokenizer, self.src_vocab, chunk, self._src_direct
            )
            return frame_source_flat(values, offsets, max_len), cut(offsets, max_len)

        def encode_tgt(chunk: pl.Series) -> Counted:
            values, offsets = _tokenize_index(
                self.tgt_tokenizer, self.tgt_vocab, chunk, self._tgt_direct
            )
            framed = frame_target_flat(values, offsets, max_len, self.sos_id, self.eos_id)
            return framed, cut(offsets, None if max_len is None else max_len - 2)

        threads = _threads(num_threads)
        rows = _chunk_rows(len(src), threads)
        src_jobs = _chunk_jobs(src, encode_src, rows)
        tgt_jobs = _chunk_jobs(tgt, encode_tgt, rows)
        parts = _run(src_jobs + tgt_jobs, threads)
        src_parts, tgt_parts = parts[: len(src_jobs)], parts[len(src_jobs) :]
        src_flat = _concat([flat for flat, _ in src_parts])
        _check_not_empty(src_flat[1], 0, "source text", indices)
        return EncodedPairs(
            src_flat,
            _concat([flat for flat, _ in tgt_parts]),
            sum(n for _, n in src_parts),
            sum(n for _, n in tgt_parts),
        )

    def __call__(
        self,
        batch: MutableMapping[str, Any],
        indices: Sequence[int] | None = None,
        *,
        src_col: str = "src",
        tgt_col: str = "tgt",
    ) -> dict[str, Any]:
        """The ``datasets`` ``map(batched=True)`` function: the batch plus ``src_ids`` and
        ``tgt_ids``.

        The new columns are polars ``List(Int32)`` Series — stored by ``Dataset.map`` as Arrow
        without a Python list per row — except when the batch is a plain ``dict`` of Python
        lists (``datasets.IterableDataset.map`` without a format, or a direct call): then they
        are lists of lists, because ``IterableDataset`` hands each row of the output columns
        on as it is (a polars Series per row otherwise).

        Pass ``with_indices=True`` to ``map`` so an error names the dataset index rather than
        the position in the batch; other column names go through ``fn_kwargs``.

        >>> pipe = PairPipeline.build(["a b"], ["x"])
        >>> out = pipe({"src": ["a b", "b"], "tgt": ["x", ""]})
        >>> out["src_ids"], out["tgt_ids"]
        ([[4, 5], [5]], [[2, 4, 3], [2, 3]])
        """
        src_texts, tgt_texts = _column(batch, src_col), _column(batch, tgt_col)
        (src, src_off), (tgt, tgt_off) = self.encode_flat(src_texts, tgt_texts, indices=indices)
        out = dict(batch)
        as_lists = _wants_lists(batch, src_texts)
        out["src_ids"] = _ids_column("src_ids", src, src_off, as_lists)
        out["tgt_ids"] = _ids_column("tgt_ids", tgt, tgt_off, as_lists)
        return out

    # -- state ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable state (tokenizers, vocabularies, max_len)."""
        return {
            "format": _PAIR_FORMAT,
            "version": _VERSION,
            "src_tokenizer": self.src_tokenizer.to_dict(),
            "tgt_tokenizer": self.tgt_tokenizer.to_dict(),
            "src_vocab": self.src_vocab.to_dict(),
            "tgt_vocab": self.tgt_vocab.to_dict(),
            "max_len": self.max_len,
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> PairPipeline:
        """Rebuild from :meth:`to_dict`."""
        _check_state(state, _PAIR_FORMAT)
        return cls(
            tokenizer_from_dict(state["src_tokenizer"]),
            tokenizer_from_dict(state["tgt_tokenizer"]),
            Vocab.from_dict(state["src_vocab"]),
            Vocab.from_dict(state["tgt_vocab"]),
            max_len=state.get("max_len"),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PairPipeline) and other.to_dict() == self.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"PairPipeline(src_tokenizer={self.src_tokenizer!r}, "
            f"tgt_tokenizer={self.tgt_tokenizer!r}, src_vocab={self.src_vocab!r}, "
            f"tgt_vocab={self.tgt_vocab!r}, max_len={self.max_len})"
        )


def _check_state(state: object, expected: str) -> None:
    if not isinstance(state, Mapping):
        raise ConfigError(f"a pipeline state should be a dict, but got {type(state).__name__}")
    if state.get("format") != expected or state.get("version") != _VERSION:
        raise ConfigError(
            f"the state should have format={expected!r} and version={_VERSION}, but got "
            f"format={state.get('format')!r}, version={state.get('version')!r}"
        )


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
            self.max_len = _check_max_len(max_len, 2, " (room for SOS and EOS)")
            self.sos_id: int | None = vocab.sos_id
            self.eos_id: int | None = vocab.eos_id
        else:
            self.max_len = _check_max_len(max_len, 1, "")
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
        """Build the vocabulary from ``texts`` (see :meth:`PairPipeline.build`)."""
        tok = tokenizer if tokenizer is not None else WhitespaceTokenizer()
        series = as_string_series(texts, "texts")
        counts = _counts(_check_tokenizer(tok, "tokenizer"), series, num_threads)
        vocab = Vocab.from_counts(counts, min_freq, max_size, specials)
        return cls(tok, vocab, max_len=max_len, add_sos_eos=add_sos_eos)

    def encode(self, text: str) -> list[int]:
        """Ids of one text, ``(L,)``."""
        ids = self.vocab.encode(self.tokenizer(text))
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
            if sos is not None and eos is not None:
                return frame_target_flat(values, offsets, max_len, sos, eos)
            return frame_source_flat(values, offsets, max_len)

        threads = _threads(num_threads)
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

        The column's type follows the rule of :meth:`PairPipeline.__call__` (lists for a
        plain ``dict`` of lists, else a polars ``List(Int32)`` Series).

        >>> pipe = TextPipeline.build(["a b"])
        >>> pipe({"text": ["b a", "c"]})["ids"]
        [[5, 4], [1]]
        """
        texts = _column(batch, text_col)
        values, offsets = self.encode_flat(texts, indices=indices)
        out = dict(batch)
        out[ids_col] = _ids_column(ids_col, values, offsets, _wants_lists(batch, texts))
        return out

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
        """Rebuild from :meth:`to_dict`."""
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
