"""Corpora as ``torch.utils.data.Dataset``s: ParallelCorpus (source, target) and MonoCorpus.

[`ParallelCorpus`][seqdata.ParallelCorpus] pairs two [`Ragged`][seqdata.Ragged] arrays
(source, target); [`MonoCorpus`][seqdata.MonoCorpus] holds one (plus optional labels) for
classification, tagging and language modelling. ``__getitems__`` returns a ``RaggedBatch``
that [`PadCollate`][seqdata.PadCollate] pads in one gather per side.

>>> corpus = ParallelCorpus.from_sequences([[5, 6, 7], [8]], [[2, 9, 3], [2, 3]])
>>> corpus.src_lengths.tolist(), corpus.tgt_lengths.tolist()
([3, 1], [3, 2])
>>> src, tgt = corpus[1]
>>> src.tolist(), tgt.tolist()
([8], [2, 3])
>>> corpus.src.take([1, 0]).tolist()                   # (B, L) int64, padded with 0
[[8, 0, 0], [5, 6, 7]]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch.utils.data import Dataset

from seqdata.chunks import text_columns
from seqdata.errors import (
    CorpusError,
    EmptyCorpusError,
    InputTypeError,
    ParallelMismatchError,
)
from seqdata.hf import ragged_from_hf
from seqdata.ragged import Ragged, RaggedBatch, _as_index_array, check_ragged
from seqdata.storage import (
    ParallelCorpusWriter,
    WriteStats,
    check_vocabs,
    load_field,
    load_labels,
    read_manifest,
    save_store,
)

if TYPE_CHECKING:
    from seqdata.pipeline import PairPipeline
    from seqdata.text_pipeline import TextPipeline

__all__ = ["MonoCorpus", "ParallelCorpus"]


def _frame_column(df: Any, col: str) -> Any:
    if col not in getattr(df, "columns", ()):
        raise CorpusError(f"the frame has no column {col!r}; its columns are {list(df.columns)}")
    series = df[col]
    nulls = int(series.null_count())
    if nulls:
        first = int(np.flatnonzero(series.is_null().to_numpy())[0])
        raise CorpusError(f"column {col!r} has {nulls} null values", index=first)
    return series


class ParallelCorpus(Dataset[tuple[np.ndarray, np.ndarray]]):
    """Sentence pairs as two [`Ragged`][seqdata.ragged.Ragged] fields; a
    ``torch.utils.data.Dataset``.

    ``corpus[i]`` is ``(src_ids, tgt_ids)`` (numpy views); ``corpus.__getitems__(indices)``
    (which ``DataLoader`` calls once per batch) gathers the whole batch at once into a
    [`RaggedBatch`][seqdata.ragged.RaggedBatch] for [`PadCollate`][seqdata.collate.PadCollate].

    Args:
        src: the ``N`` source sequences.
        tgt: the ``N`` target sequences.

    Raises:
        ParallelMismatchError: ``len(src) != len(tgt)``.
        EmptyCorpusError: ``N == 0``.

    >>> corpus = ParallelCorpus.from_sequences([[5, 6], [7]], [[2, 8, 3], [2, 3]])
    >>> batch = corpus.__getitems__([1, 0])
    >>> len(batch), batch.src.lengths.tolist(), batch.tgt.lengths.tolist()
    (2, [1, 2], [2, 3])
    """

    def __init__(self, src: Ragged, tgt: Ragged) -> None:
        self.src = check_ragged("src", src)
        self.tgt = check_ragged("tgt", tgt)
        if len(src) != len(tgt):
            raise ParallelMismatchError(
                f"source and target should have the same number of sequences, but got "
                f"{len(src)} source and {len(tgt)} target sequences"
            )
        if len(src) == 0:
            raise EmptyCorpusError("the corpus has no examples")

    @property
    def src_lengths(self) -> np.ndarray:
        """``(N,)`` int64 source lengths."""
        return self.src.lengths

    @property
    def tgt_lengths(self) -> np.ndarray:
        """``(N,)`` int64 target lengths."""
        return self.tgt.lengths

    def __len__(self) -> int:
        return len(self.src)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.src[i], self.tgt[i]

    def __getitems__(self, indices: Sequence[int]) -> RaggedBatch:
        return RaggedBatch._of(self.src, self.tgt, None, _as_index_array(indices, len(self)))

    def __repr__(self) -> str:
        return (
            f"ParallelCorpus(n={len(self)}, src_tokens={self.src.num_tokens}, "
            f"tgt_tokens={self.tgt.num_tokens})"
        )

    # -- constructors --------------------------------------------------------------------

    @classmethod
    def from_sequences(cls, src: Iterable[Any], tgt: Iterable[Any]) -> ParallelCorpus:
        """From already encoded id sequences (lists, arrays or tensors)."""
        return cls(Ragged.from_sequences(src), Ragged.from_sequences(tgt))

    @classmethod
    def from_texts(cls, src_texts: Any, tgt_texts: Any, pipeline: PairPipeline) -> ParallelCorpus:
        """Encode parallel texts (lists, numpy arrays or polars Series) with
        ``pipeline.encode_flat`` (a [`PairPipeline`][seqdata.pipeline.PairPipeline])."""
        (sv, so), (tv, to) = pipeline.encode_flat(src_texts, tgt_texts)  # checks the counts
        if len(so) == 1:
            raise EmptyCorpusError("there are no texts to encode")
        return cls(Ragged(sv, so), Ragged(tv, to))

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]], pipeline: PairPipeline) -> ParallelCorpus:
        """From ``(source_text, target_text)`` pairs."""
        pairs = list(pairs)
        for i, pair in enumerate(pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise InputTypeError(
                    f"every pair should be a (source, target) tuple, but got {pair!r}", index=i
                )
        return cls.from_texts([p[0] for p in pairs], [p[1] for p in pairs], pipeline)

    @classmethod
    def from_frame(
        cls, df: Any, pipeline: PairPipeline, src_col: str = "src", tgt_col: str = "tgt"
    ) -> ParallelCorpus:
        """From a polars ``DataFrame`` with text columns ``src_col`` and ``tgt_col``."""
        src, tgt = _frame_column(df, src_col), _frame_column(df, tgt_col)
        return cls.from_texts(src, tgt, pipeline)

    @classmethod
    def from_files(
        cls,
        src_path: str | os.PathLike[str],
        tgt_path: str | os.PathLike[str],
        pipeline: PairPipeline,
        *,
        empty: str = "error",
    ) -> ParallelCorpus:
        """Read two line-aligned text files ([`read_parallel`][seqdata.readers.read_parallel]) and
        encode.

        ``empty`` is the readers' policy for empty lines: ``"error"`` (raise
        [`EmptyLineError`][seqdata.errors.EmptyLineError] naming file and line) or ``"skip"`` (drop
        the pair and report
        the skipped line numbers). Mismatched line counts raise
        [`ParallelMismatchError`][seqdata.errors.ParallelMismatchError], bad bytes
        [`UndecodableInputError`][seqdata.errors.UndecodableInputError].
        """
        from seqdata.readers import read_parallel

        result = read_parallel(src_path, tgt_path, empty=empty)
        frame = getattr(result, "frame", result)
        return cls.from_frame(frame, pipeline)

    @classmethod
    def from_hf(cls, ds: Any, src_col: str = "src_ids", tgt_col: str = "tgt_ids") -> ParallelCorpus:
        """From a HuggingFace ``Dataset`` with list-of-int id columns, straight from Arrow.

        The list columns' offsets and values buffers become the [`Ragged`][seqdata.ragged.Ragged]
        arrays (no
        Python loop per row; a dataset with an indices mapping, e.g. after ``select``, is
        gathered by Arrow first).
        """
        src = ragged_from_hf(ds, src_col)
        tgt = ragged_from_hf(ds, tgt_col)
        return cls(src, tgt)

    # -- persistence ---------------------------------------------------------------------

    def save(
        self, directory: str | os.PathLike[str], *, pipeline: PairPipeline | None = None
    ) -> Path:
        """Write ``src``/``tgt`` ``.values.npy`` + ``.offsets.npy`` and ``manifest.json``.

        Ids are stored as ``uint16`` when they all fit, else ``int32``. With ``pipeline`` the
        manifest records each vocabulary's size and SHA-256, and `load` can check it.
        """
        return save_store(directory, "parallel", {"src": self.src, "tgt": self.tgt}, None, pipeline)

    @classmethod
    def write_chunks(
        cls,
        directory: str | os.PathLike[str],
        chunks: Iterable[Any] | Callable[[], Iterable[Any]],
        pipeline: PairPipeline,
        *,
        src_col: str = "src",
        tgt_col: str = "tgt",
        num_threads: int | None = None,
    ) -> WriteStats:
        """Encode a corpus chunk by chunk and write it as a store, in bounded memory.

        Each chunk is encoded with ``pipeline.encode_chunk`` (the vectorized
        ``encode_flat`` path) and appended to the files by a
        [`ParallelCorpusWriter`][seqdata.storage.ParallelCorpusWriter];
        the store equals ``ParallelCorpus.from_frame(whole_frame, pipeline).save(directory,
        pipeline=pipeline)``. Open it with `load` (``mmap=True``).

        Args:
            directory: the store folder.
            chunks: an iterable of polars DataFrames (or mappings of columns) with text
                columns ``src_col``/``tgt_col`` — e.g.
                [`iter_parallel_chunks`][seqdata.readers.iter_parallel_chunks] — or a function
                returning one.
            pipeline: a [`PairPipeline`][seqdata.pipeline.PairPipeline] (build its vocabularies
                first,
                e.g. with [`build_from_chunks`][seqdata.pipeline.PairPipeline.build_from_chunks]).
            src_col: the source column.
            tgt_col: the target column.
            num_threads: encoding threads (``None`` = all cores).

        Returns:
            [`WriteStats`][seqdata.storage.WriteStats]: examples, stored tokens, UNK ids and
            truncated examples.

        Raises:
            EmptyLineError: a source without tokens (names its index in the whole stream).
            EmptyCorpusError: the chunks held no examples.
            ManifestError, …: nothing is left that looks like a store on any error.

        >>> import tempfile, polars as pl
        >>> from seqdata.pipeline import PairPipeline
        >>> chunks = [pl.DataFrame({"src": ["a b", "b"], "tgt": ["x", "y x"]}),
        ...           pl.DataFrame({"src": ["a"], "tgt": ["z"]})]
        >>> pipe = PairPipeline.build_from_chunks(chunks, min_freq=2)   # "y", "z" → UNK
        >>> folder = tempfile.mkdtemp()
        >>> stats = ParallelCorpus.write_chunks(folder, chunks, pipe)
        >>> stats.examples, stats.tgt_unk, stats.tgt_tokens
        (3, 2, 10)
        >>> ParallelCorpus.load(folder, pipeline=pipe).src_lengths.tolist()
        [2, 1, 1]
        """
        keys = ("src_unk", "tgt_unk", "src_truncated", "tgt_truncated", "specials_in_text")
        totals = dict.fromkeys(keys, 0)
        src_unk, tgt_unk = pipeline.src_vocab.unk_id, pipeline.tgt_vocab.unk_id
        chunk_count = 0
        with ParallelCorpusWriter(directory, pipeline=pipeline) as writer:
            for src_texts, tgt_texts in text_columns(chunks, (src_col, tgt_col)):
                start = writer.num_examples
                indices = np.arange(start, start + len(src_texts))
                encoded = pipeline.encode_chunk(
                    src_texts, tgt_texts, num_threads=num_threads, indices=indices
                )
                writer.append(encoded.src, encoded.tgt)
                totals["src_unk"] += int(np.count_nonzero(encoded.src[0] == src_unk))
                totals["tgt_unk"] += int(np.count_nonzero(encoded.tgt[0] == tgt_unk))
                totals["src_truncated"] += encoded.src_truncated
                totals["tgt_truncated"] += encoded.tgt_truncated
                totals["specials_in_text"] += encoded.specials_in_text
                chunk_count += 1
            examples = writer.num_examples
            src_tokens, tgt_tokens = writer.num_tokens("src"), writer.num_tokens("tgt")
        return WriteStats(
            examples=examples,
            src_tokens=src_tokens,
            tgt_tokens=tgt_tokens,
            chunks=chunk_count,
            **totals,
        )

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike[str],
        mmap: bool = True,
        *,
        pipeline: PairPipeline | None = None,
        verify: str = "fast",
    ) -> ParallelCorpus:
        """Open a store written by `save`; ``mmap=True`` maps the files (no read).

        Args:
            directory: the store folder (a prepared folder, or its ``valid/``, ``test/``).
            mmap: memory-map the arrays instead of reading them.
            pipeline: if given, its vocabularies must be the ones the ids were encoded with.
            verify: ``"fast"`` (default: file sizes, offsets, ids below the vocabulary size,
                each field's own files), ``"full"`` (also the checksums: reads every byte)
                or ``"none"`` — see `seqdata.npyfiles`.

        Raises:
            ManifestError: missing/corrupt manifest, a missing, damaged or changed array file,
                or arrays whose shape/dtype/count disagree with it (the error names the
                file); a ``pipeline`` whose vocabularies differ from the recorded ones.
        """
        root = Path(directory)
        manifest = read_manifest(root, "parallel")
        check_vocabs(root, manifest, pipeline, ("src", "tgt"))
        src = load_field(root, manifest, "src", mmap, verify)
        return cls(src, load_field(root, manifest, "tgt", mmap, verify))


class MonoCorpus(Dataset[Any]):
    """Single sequences (classification, tagging, language modelling), optional labels.

    ``corpus[i]`` is the ids of example ``i``, or ``(ids, label)`` with labels.
    ``src_lengths`` (alias ``lengths``) and ``tgt_lengths = None`` let samplers and
    [`padding_stats`][seqdata.stats.padding_stats] treat both corpus kinds alike.

    Args:
        ids: the ``N`` sequences.
        labels: ``(N,)`` per-example labels (class ids), or ``None``.

    >>> corpus = MonoCorpus(Ragged.from_sequences([[4, 5], [6]]), labels=[1, 0])
    >>> ids, label = corpus[0]
    >>> ids.tolist(), int(label), corpus.lengths.tolist()
    ([4, 5], 1, [2, 1])
    """

    tgt_lengths = None

    def __init__(self, ids: Ragged, labels: Any = None) -> None:
        self.ids = check_ragged("ids", ids)
        if len(ids) == 0:
            raise EmptyCorpusError("the corpus has no examples")
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (len(ids),):
                raise ParallelMismatchError(
                    f"labels should have shape (N,) = ({len(ids)},), one per sequence, but got "
                    f"shape {labels.shape}"
                )
            if labels.dtype.kind in "iub":
                labels = labels.astype(np.int64, copy=False)
            elif labels.dtype.kind != "f":
                raise InputTypeError(f"labels should be numbers, but got dtype={labels.dtype}")
        self.labels: np.ndarray | None = labels

    @property
    def lengths(self) -> np.ndarray:
        """``(N,)`` int64 sequence lengths."""
        return self.ids.lengths

    @property
    def src_lengths(self) -> np.ndarray:
        """Alias of `lengths`, so code written for [`ParallelCorpus`][seqdata.corpus.ParallelCorpus]
        works."""
        return self.ids.lengths

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> Any:
        if self.labels is None:
            return self.ids[i]
        return self.ids[i], self.labels[i]

    def __getitems__(self, indices: Sequence[int]) -> RaggedBatch:
        idx = _as_index_array(indices, len(self))
        labels = None if self.labels is None else np.asarray(self.labels[idx])
        return RaggedBatch._of(self.ids, None, labels, idx)

    def __repr__(self) -> str:
        labelled = self.labels is not None
        return f"MonoCorpus(n={len(self)}, tokens={self.ids.num_tokens}, labels={labelled})"

    @classmethod
    def from_sequences(cls, sequences: Iterable[Any], labels: Any = None) -> MonoCorpus:
        """From already encoded id sequences."""
        return cls(Ragged.from_sequences(sequences), labels)

    @classmethod
    def from_texts(cls, texts: Any, pipeline: TextPipeline, labels: Any = None) -> MonoCorpus:
        """Encode texts with ``pipeline.encode_flat`` (a
        [`TextPipeline`][seqdata.text_pipeline.TextPipeline])."""
        if len(texts) == 0:
            raise EmptyCorpusError("there are no texts to encode")
        values, offsets = pipeline.encode_flat(texts)
        return cls(Ragged(values, offsets), labels)

    @classmethod
    def from_hf(cls, ds: Any, col: str = "ids", label_col: str | None = None) -> MonoCorpus:
        """From a HuggingFace ``Dataset`` list column (and a label column), via Arrow."""
        ids = ragged_from_hf(ds, col)
        labels = None
        if label_col is not None:
            if label_col not in ds.column_names:
                raise CorpusError(
                    f"the dataset has no column {label_col!r}; its columns are {ds.column_names}"
                )
            labels = np.asarray(ds.with_format("arrow")[label_col])
        return cls(ids, labels)

    def save(
        self, directory: str | os.PathLike[str], *, pipeline: TextPipeline | None = None
    ) -> Path:
        """Like [`ParallelCorpus.save`][seqdata.corpus.ParallelCorpus.save]: ``ids`` arrays,
        ``labels.npy``, manifest."""
        return save_store(directory, "mono", {"ids": self.ids}, self.labels, pipeline)

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike[str],
        mmap: bool = True,
        *,
        pipeline: TextPipeline | None = None,
        verify: str = "fast",
    ) -> MonoCorpus:
        """Open a store written by `save` (see
        [`ParallelCorpus.load`][seqdata.corpus.ParallelCorpus.load])."""
        root = Path(directory)
        manifest = read_manifest(root, "mono")
        check_vocabs(root, manifest, pipeline, ("ids",))
        ids = load_field(root, manifest, "ids", mmap, verify)
        return cls(ids, load_labels(root, manifest, mmap))
