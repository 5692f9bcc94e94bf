"""The bounded-memory ``prepare`` loop with its stages overlapped: read, count, encode, write.

Two passes over a corpus read chunk by chunk (the vocabularies need every count before the
first id): pass 1 counts each side's tokens, pass 2 encodes each chunk and appends it to a
store. In both passes a reader thread reads the next chunk (polars releases the GIL) while the
current one is counted or encoded; the two sides are counted on two threads; in pass 2 a
writer thread appends chunk ``k`` while chunk ``k + 1`` is encoded. At most two chunks are in
flight, so memory stays about two chunks plus the counts.

>>> import tempfile, polars as pl
>>> chunks = [pl.DataFrame({"src": ["a b", "b"], "tgt": ["x", "y x"]}),
...           pl.DataFrame({"src": ["a"], "tgt": ["z"]})]
>>> pipe, stats = prepare_corpus(tempfile.mkdtemp(), chunks, min_freq=2)
>>> stats.examples, stats.tgt_unk, pipe.src_vocab.tokens[4:]
(3, 2, ('a', 'b'))
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Generator, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from seqdata.chunks import Chunks, text_columns
from seqdata.counts import TokenCounts
from seqdata.errors import ParallelMismatchError
from seqdata.pipeline import EncodedPairs, PairPipeline
from seqdata.storage import ParallelCorpusWriter, WriteStats
from seqdata.texts import Tokenizer
from seqdata.tokenizers import WhitespaceTokenizer
from seqdata.vocab import DEFAULT_SPECIALS, Vocab

__all__ = ["count_corpus", "prefetch", "prepare_corpus", "write_corpus"]

_T = TypeVar("_T")
Progress = Callable[[int], Any]
_DONE = object()


def prefetch(items: Iterable[_T], depth: int = 1) -> Generator[_T, None, None]:
    """``items`` produced on a background thread, up to ``depth`` ahead of the consumer; an
    exception raised while producing is raised again here, in order.

    >>> list(prefetch(range(3)))
    [0, 1, 2]
    """
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                slots.put((item, None))
            slots.put((_DONE, None))
        except BaseException as err:  # handed to the consumer
            slots.put((_DONE, err))

    thread = threading.Thread(target=produce, name="seqdata-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, err = slots.get()
            if err is not None:
                raise err
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                slots.get(timeout=0.05)
        thread.join()


def _pairs(chunks: Chunks, cols: tuple[str, str]) -> Generator[tuple[Any, Any], None, None]:
    for src, tgt in text_columns(chunks, cols):
        if len(src) != len(tgt):
            raise ParallelMismatchError(
                f"a chunk has {len(src)} source and {len(tgt)} target texts; both columns "
                "should have the same length"
            )
        yield src, tgt


def count_corpus(
    chunks: Chunks,
    tokenizers: tuple[Tokenizer, Tokenizer],
    *,
    cols: tuple[str, str] = ("src", "tgt"),
    progress: Progress | None = None,
) -> tuple[TokenCounts, TokenCounts]:
    """Pass 1: source and target token counts, the next chunk read while this one is counted
    and the two sides counted on two threads.

    Args:
        chunks: frames (or mappings of columns) with the text columns ``cols``, or a
            function returning them (see `seqdata.chunks.text_columns`).
        tokenizers: ``(source, target)`` tokenizers.
        cols: the ``(source, target)`` column names.
        progress: called with the number of pairs of each chunk counted.
    """
    counts = (TokenCounts(), TokenCounts())
    with (
        ThreadPoolExecutor(2, thread_name_prefix="seqdata-count") as pool,
        contextlib.closing(prefetch(_pairs(chunks, cols))) as pairs,
    ):
        for src, tgt in pairs:
            jobs = [
                pool.submit(counts[side].update_texts, texts, tokenizers[side], num_threads=1)
                for side, texts in enumerate((src, tgt))
            ]
            for job in jobs:
                job.result()
            if progress is not None:
                progress(len(src))
    return counts


def write_corpus(
    directory: str | os.PathLike[str],
    chunks: Chunks,
    pipeline: PairPipeline,
    *,
    cols: tuple[str, str] = ("src", "tgt"),
    num_threads: int | None = None,
    progress: Progress | None = None,
) -> WriteStats:
    """Pass 2: encode each chunk (``pipeline.encode_chunk``) and append it to a store, the
    next chunk read and the previous one written while this one is encoded. The store equals
    `seqdata.corpus.ParallelCorpus.write_chunks`'s.

    Args:
        directory: the store folder.
        chunks: as in `count_corpus`.
        pipeline: the pipeline with its vocabularies.
        cols: the ``(source, target)`` column names.
        num_threads: encoding threads (``None`` = all cores).
        progress: called with the number of pairs of each chunk written.

    Raises:
        EmptyLineError: a source without tokens (names its index in the whole stream).
        EmptyCorpusError: the chunks held no examples.
    """
    keys = ("src_unk", "tgt_unk", "src_truncated", "tgt_truncated", "specials_in_text")
    totals = dict.fromkeys(keys, 0)
    unk = (pipeline.src_vocab.unk_id, pipeline.tgt_vocab.unk_id)
    chunk_count, start = 0, 0
    with (
        ParallelCorpusWriter(directory, pipeline=pipeline) as writer,
        ThreadPoolExecutor(1, thread_name_prefix="seqdata-write") as pool,
    ):
        pending: Future[None] | None = None

        def append(encoded: EncodedPairs, rows: int) -> None:
            writer.append(encoded.src, encoded.tgt)
            if progress is not None:
                progress(rows)

        with contextlib.closing(prefetch(_pairs(chunks, cols))) as pairs:
            for src, tgt in pairs:
                encoded = pipeline.encode_chunk(
                    src, tgt, num_threads=num_threads, indices=np.arange(start, start + len(src))
                )
                totals["src_unk"] += int(np.count_nonzero(encoded.src[0] == unk[0]))
                totals["tgt_unk"] += int(np.count_nonzero(encoded.tgt[0] == unk[1]))
                totals["src_truncated"] += encoded.src_truncated
                totals["tgt_truncated"] += encoded.tgt_truncated
                totals["specials_in_text"] += encoded.specials_in_text
                if pending is not None:
                    pending.result()  # one chunk being written at a time, in order
                pending = pool.submit(append, encoded, len(src))
                start += len(src)
                chunk_count += 1
        if pending is not None:
            pending.result()
        examples = writer.num_examples
        tokens = (writer.num_tokens("src"), writer.num_tokens("tgt"))
    return WriteStats(
        examples=examples,
        src_tokens=tokens[0],
        tgt_tokens=tokens[1],
        chunks=chunk_count,
        **totals,
    )


def prepare_corpus(
    directory: str | os.PathLike[str],
    chunks: Chunks,
    src_tokenizer: Tokenizer | None = None,
    tgt_tokenizer: Tokenizer | None = None,
    *,
    min_freq: int = 1,
    max_size: int | None = None,
    max_len: int | None = None,
    specials: Mapping[str, str] = DEFAULT_SPECIALS,
    cols: tuple[str, str] = ("src", "tgt"),
    num_threads: int | None = None,
    progress: Progress | None = None,
) -> tuple[PairPipeline, WriteStats]:
    """Both passes: count (`count_corpus`), build the vocabularies, encode and write
    (`write_corpus`). The pipeline equals `PairPipeline.build_from_chunks`'s and the store
    `ParallelCorpus.write_chunks`'s.

    Args:
        directory: the store folder.
        chunks: a function returning the chunks (read twice), or a re-iterable collection.
        src_tokenizer: default ``WhitespaceTokenizer()``.
        tgt_tokenizer: default: the source tokenizer.
        min_freq: see `Vocab.build`.
        max_size: see `Vocab.build` (per side).
        max_len: see `PairPipeline`.
        specials: both vocabularies' specials.
        cols: the ``(source, target)`` column names.
        num_threads: encoding threads (``None`` = all cores).
        progress: called with the pairs of each chunk, in both passes (a progress bar's
            ``update`` shows pairs/s).
    """
    src_tok = src_tokenizer if src_tokenizer is not None else WhitespaceTokenizer()
    tgt_tok = tgt_tokenizer if tgt_tokenizer is not None else src_tok
    src_counts, tgt_counts = count_corpus(chunks, (src_tok, tgt_tok), cols=cols, progress=progress)
    pipeline = PairPipeline(
        src_tok,
        tgt_tok,
        Vocab.from_counts(src_counts, min_freq, max_size, specials),
        Vocab.from_counts(tgt_counts, min_freq, max_size, specials),
        max_len=max_len,
    )
    stats = write_corpus(
        directory, chunks, pipeline, cols=cols, num_threads=num_threads, progress=progress
    )
    return pipeline, stats
