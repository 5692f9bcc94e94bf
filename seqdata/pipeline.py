"""Compose: tokenizer → vocab → framing, for sentence pairs and for single texts.

[`PairPipeline`][seqdata.pipeline.PairPipeline] is the classic NMT preprocessing as one picklable
object — per pair
([`encode_pair`][seqdata.pipeline.PairPipeline.encode_pair]), as a
``datasets.Dataset.map(batched=True)`` function
(``pipe(batch)``) and as the vectorized flat path the store uses
([`encode_flat`][seqdata.pipeline.PairPipeline.encode_flat]: Arrow/numpy split → one hash probe per
token → numpy
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

An empty source (no tokens) is an [`EmptyLineError`][seqdata.errors.EmptyLineError] naming the
example:
an empty sequence cannot be packed. An empty target frames to ``[SOS, EOS]``.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import polars as pl

from seqdata._checks import check_threads
from seqdata.chunks import Chunks
from seqdata.encoding import (
    _PAIR_FORMAT,
    _VERSION,
    Flat,
    _as_pair_series,
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
    _threads_for,
    _tokenize_index,
    _with_ids,
    count_pair_chunks,
)
from seqdata.errors import ConfigError, EmptyLineError
from seqdata.framing import (
    check_max_len,
    frame_source,
    frame_source_flat,
    frame_target,
    frame_target_flat,
)
from seqdata.sentencepiece import SentencePieceTokenizer

# TextPipeline lives in seqdata.text_pipeline; saved checkpoints name their pipeline class
# and rebuild it from this module (seqdata.train), so it stays reachable here.
from seqdata.text_pipeline import TextPipeline, mask_specials, no_specials
from seqdata.texts import Tokenizer
from seqdata.tokenizers import WhitespaceTokenizer, tokenizer_from_dict
from seqdata.vocab import DEFAULT_SPECIALS, Vocab

__all__ = ["EncodedPairs", "PairPipeline"]
_SAVED_CLASSES = (TextPipeline,)


class EncodedPairs(NamedTuple):
    """A parallel batch encoded flat
    ([`PairPipeline.encode_chunk`][seqdata.pipeline.PairPipeline.encode_chunk]).

    Attributes:
        src: ``(values int32 (T,), offsets int64 (N + 1,))`` of the framed sources.
        tgt: the same for the framed targets.
        src_truncated: sources longer than ``max_len`` (cut to ``max_len``).
        tgt_truncated: targets with more than ``max_len - 2`` tokens (cut before EOS).
        specials_in_text: literal special tokens (``<pad>``, ``<s>``, ``</s>``, …) found in
            the texts and encoded as UNK (both sides).
    """

    src: Flat
    tgt: Flat
    src_truncated: int
    tgt_truncated: int
    specials_in_text: int = 0


_REPR_FIELDS = ("src_tokenizer", "tgt_tokenizer", "src_vocab", "tgt_vocab", "max_len")


def _unshared_state(pipeline: Any) -> dict[str, Any]:
    """A pipeline's attributes to pickle; a target tokenizer that is the source's object goes
    as a copy, so a pipeline pickles (and ``datasets`` fingerprints it) alike whether its
    sides share one tokenizer (`build`) or hold two equal ones (`from_dict`, a saved one)."""
    state = dict(pipeline.__dict__)
    if state["tgt_tokenizer"] is state["src_tokenizer"]:
        state["tgt_tokenizer"] = pickle.loads(pickle.dumps(state["tgt_tokenizer"]))
    return state


class PairPipeline:
    """Source/target preprocessing of a translation pair — tokenize, index, frame as one object:
    ``src → tokenize → vocab (UNK fallback) → src[:max_len]`` and
    ``tgt → tokenize → vocab → [SOS] + tgt[:max_len - 2] + [EOS]``.

    Args:
        src_tokenizer, tgt_tokenizer: split the source / target texts.
        src_vocab, tgt_vocab: token → id; ``tgt_vocab`` must have ``sos`` and ``eos``.
        max_len: the most ids per framed sequence, both sides (``None`` = no truncation).

    Raises:
        ConfigError: ``max_len < 2``; SpecialTokenError: ``tgt_vocab`` lacks SOS or EOS.
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
        self.max_len = check_max_len(max_len, 2, " (a target needs room for SOS and EOS)")
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
            tgt_tokenizer: default: the source tokenizer when it is language-independent
                (whitespace, char); a trained (sentencepiece) source tokenizer is not reused:
                pass ``tgt_tokenizer`` too.
            min_freq: see [`Vocab.build`][seqdata.vocab.Vocab.build].
            max_size: see [`Vocab.build`][seqdata.vocab.Vocab.build] (per side).
            max_len: see the class.
            specials: both vocabularies' specials (need ``sos``/``eos`` for the target).
            num_threads: threads for counting (``None`` = all cores).
        """
        src_tok, tgt_tok = _pair_tokenizers(src_tokenizer, tgt_tokenizer)
        src, tgt = _as_pair_series(src_texts, tgt_texts)
        src_counts = _counts(src_tok, src, num_threads)
        tgt_counts = _counts(tgt_tok, tgt, num_threads)
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
        """`build` over a corpus read chunk by chunk, in bounded memory (one counting
        pass, [`TokenCounts`][seqdata.counts.TokenCounts]): the same vocabularies as `build`.

        Args:
            chunks: an iterable of polars DataFrames (or mappings of columns) with text
                columns ``src_col`` and ``tgt_col`` — e.g.
                [`iter_parallel_chunks`][seqdata.readers.iter_parallel_chunks] — or a function
                returning one.
                Read once.
            src_tokenizer: default ``WhitespaceTokenizer()``. A sentencepiece tokenizer must
                be trained first (on a sample); or skip this pass and use
                ``Vocab.from_sentencepiece``.
            tgt_tokenizer: default: the source tokenizer.
            min_freq: see [`Vocab.build`][seqdata.vocab.Vocab.build].
            max_size: see [`Vocab.build`][seqdata.vocab.Vocab.build] (per side).
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
        src_tok, tgt_tok = toks = _pair_tokenizers(src_tokenizer, tgt_tokenizer)
        src_counts, tgt_counts = count_pair_chunks(chunks, toks, (src_col, tgt_col), num_threads)
        src_vocab = Vocab.from_counts(src_counts, min_freq, max_size, specials)
        tgt_vocab = Vocab.from_counts(tgt_counts, min_freq, max_size, specials)
        return cls(src_tok, tgt_tok, src_vocab, tgt_vocab, max_len=max_len)

    # -- one example ------------------------------------------------------------------------

    def encode_source(self, text: str) -> list[int]:
        """Framed source ids of one text, ``(L,)`` with ``L <= max_len``.

        Raises:
            EmptyLineError: the text has no tokens.
        """
        ids = no_specials(self.src_vocab.encode(self.src_tokenizer(text)), self.src_vocab)
        if not ids:
            raise EmptyLineError(
                f"the source text has no tokens ({text!r:.40}); an empty sequence cannot be "
                "packed — drop the example"
            )
        return frame_source(ids, self.max_len)

    def encode_target(self, text: str) -> list[int]:
        """Framed target ids of one text: ``[SOS] + ids[:max_len - 2] + [EOS]``."""
        ids = no_specials(self.tgt_vocab.encode(self.tgt_tokenizer(text)), self.tgt_vocab)
        return frame_target(ids, self.max_len, self.sos_id, self.eos_id)

    def encode_pair(self, src_text: str, tgt_text: str) -> tuple[list[int], list[int]]:
        """``(src_ids, tgt_ids)`` of one pair — tokenize, index, frame, one pair at a time."""
        return self.encode_source(src_text), self.encode_target(tgt_text)

    def decode_target(self, ids: npt.ArrayLike) -> str:
        """Text of target ids: specials stripped, stopping at EOS, detokenized.

        >>> pipe = PairPipeline.build(["a"], ["x y"])
        >>> pipe.decode_target([2, 5, 4, 3, 5])
        'y x'
        """
        return self.tgt_tokenizer.detokenize(self.tgt_vocab.decode(ids, strip_specials=True))

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
        """`encode_flat` plus how many examples ``max_len`` cut, per side — what a
        chunked writer reports
        ([`ParallelCorpus.write_chunks`][seqdata.corpus.ParallelCorpus.write_chunks]).

        >>> pipe = PairPipeline.build(["a b c"], ["x y"], max_len=3)
        >>> out = pipe.encode_chunk(["a b c", "a"], ["x y", "x"])
        >>> out.src[0].tolist(), out.src_truncated, out.tgt_truncated
        ([4, 5, 6, 4], 0, 1)
        """
        src, tgt = _as_pair_series(src_texts, tgt_texts)
        threads = _threads_for(src, tgt, check_threads(num_threads))
        rows = _chunk_rows(len(src), threads)
        src_side = _Side(self.src_tokenizer, self.src_vocab, self._src_direct, self.max_len)
        tgt_side = _Side(self.tgt_tokenizer, self.tgt_vocab, self._tgt_direct, self.max_len, True)
        src_jobs = _chunk_jobs(src, src_side, rows)
        tgt_jobs = _chunk_jobs(tgt, tgt_side, rows)
        parts = _run(src_jobs + tgt_jobs, threads)
        src_parts, tgt_parts = parts[: len(src_jobs)], parts[len(src_jobs) :]
        src_flat = _concat([flat for flat, _ in src_parts])
        _check_not_empty(src_flat[1], 0, "source text", indices)
        return EncodedPairs(
            src_flat,
            _concat([flat for flat, _ in tgt_parts]),
            sum(n[0] for _, n in src_parts),
            sum(n[0] for _, n in tgt_parts),
            sum(n[1] for _, n in parts),
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
        ``tgt_ids``, as polars ``List(Int32)`` Series (stored as Arrow, no Python list per row)
        for every batch type ``map`` hands over: an unformatted ``Dataset``'s ``LazyBatch`` is
        read as Arrow and returned with only the new columns set; a table (``arrow``,
        ``polars``, ``pandas`` format) gets them appended. A plain ``dict`` of Python lists
        (``IterableDataset.map``, a direct call) gets lists of lists: ``IterableDataset``
        hands each output row on as it is. Pass ``with_indices=True`` so an error names the
        dataset index; other column names go through ``fn_kwargs``.

        >>> pipe = PairPipeline.build(["a b"], ["x"])
        >>> out = pipe({"src": ["a b", "b"], "tgt": ["x", ""]})
        >>> out["src_ids"], out["tgt_ids"]
        ([[4, 5], [5]], [[2, 4, 3], [2, 3]])
        """
        src_texts, tgt_texts = _batch_column(batch, src_col), _batch_column(batch, tgt_col)
        src, tgt = self.encode_flat(src_texts, tgt_texts, indices=indices)
        return _with_ids(batch, src_texts, {"src_ids": src, "tgt_ids": tgt})

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
        """Rebuild from `to_dict`."""
        _check_state(state, _PAIR_FORMAT)
        return cls(
            tokenizer_from_dict(state["src_tokenizer"]),
            tokenizer_from_dict(state["tgt_tokenizer"]),
            Vocab.from_dict(state["src_vocab"]),
            Vocab.from_dict(state["tgt_vocab"]),
            max_len=state.get("max_len"),
        )

    def fingerprint(self) -> str:
        """A hash of what ties ids to tokens: both vocabularies and tokenizers (not max_len).

        >>> PairPipeline.build(["a b b"], ["x"]).fingerprint()[:8] == PairPipeline.build(
        ...     ["a a b"], ["x"]).fingerprint()[:8]
        False
        """
        state = {k: v for k, v in self.to_dict().items() if k != "max_len"}
        text = json.dumps(state, sort_keys=True, default=str).encode("utf-8")
        return hashlib.blake2b(text, digest_size=16).hexdigest()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PairPipeline) and other.to_dict() == self.to_dict()

    __hash__ = None  # type: ignore[assignment]
    __getstate__ = _unshared_state

    def __repr__(self) -> str:
        return f"PairPipeline({', '.join(f'{f}={getattr(self, f)!r}' for f in _REPR_FIELDS)})"

    def save(self, path: Any) -> Any:
        """JSON plus ``.model`` files: [`save_pipeline`][seqdata.pipeline_io.save_pipeline]."""
        from seqdata.pipeline_io import save_pipeline

        return save_pipeline(self, path)

    @classmethod
    def load(cls, path: Any) -> PairPipeline:
        """A file or its folder: [`load_pipeline`][seqdata.pipeline_io.load_pipeline]."""
        from seqdata.pipeline_io import load_pipeline

        return load_pipeline(path)


def _pair_tokenizers(src: Tokenizer | None, tgt: Tokenizer | None) -> tuple[Tokenizer, Tokenizer]:
    """The two sides' tokenizers: defaults filled in, checked, a trained one never shared."""
    src_tok = _check_tokenizer(src if src is not None else WhitespaceTokenizer(), "src_tokenizer")
    if tgt is not None:
        return src_tok, _check_tokenizer(tgt, "tgt_tokenizer")
    if isinstance(src_tok, SentencePieceTokenizer):
        raise ConfigError(
            "tgt_tokenizer should be given when src_tokenizer is a trained sentencepiece model, "
            "but got tgt_tokenizer=None: a model trained on the source language would split the "
            "target into the source's pieces. Train one per side (SentencePieceTokenizer.train "
            "on the target texts), or pass the same model as tgt_tokenizer too if it was "
            "trained on both languages"
        )
    return src_tok, src_tok


class _Side:
    """Encode one side's chunk of texts: ``((values, offsets), (truncated, specials_seen))``."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        vocab: Vocab,
        direct: bool,
        max_len: int | None,
        tgt: bool = False,
    ) -> None:
        self.tokenizer, self.vocab, self.direct = tokenizer, vocab, direct
        self.max_len, self.tgt = max_len, tgt

    def __call__(self, chunk: pl.Series) -> tuple[Flat, tuple[int, int]]:
        values, offsets = _tokenize_index(self.tokenizer, self.vocab, chunk, self.direct)
        values, seen = mask_specials(values, self.vocab)
        longest = self.max_len
        if self.tgt:
            framed = frame_target_flat(
                values, offsets, longest, self.vocab.sos_id, self.vocab.eos_id
            )
            longest = None if longest is None else longest - 2
        else:
            framed = frame_source_flat(values, offsets, longest)
        cut = 0 if longest is None else int(np.count_nonzero(np.diff(offsets) > longest))
        return framed, (cut, seen)
