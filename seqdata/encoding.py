"""The encoding machinery shared by the pipelines: tokenize + index in chunks on threads.

Texts are split into chunks (a few thousand rows), each chunk is tokenized and looked up
in one vectorized pass (Arrow/numpy split → one hash probe per token), and the chunks run
on a thread pool; the helpers here also shape the ``datasets.map`` output columns.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

import numpy as np
import polars as pl
import pyarrow as pa

from seqdata.chunks import Chunks, text_columns
from seqdata.counts import TokenCounts
from seqdata.errors import (
    ConfigError,
    EmptyLineError,
    InputTypeError,
    ParallelMismatchError,
)
from seqdata.flat import flat_pieces
from seqdata.sentencepiece import SentencePieceTokenizer
from seqdata.texts import Tokenizer, as_string_series
from seqdata.vocab import Vocab

Flat = tuple[np.ndarray, np.ndarray]
Counted = tuple[Flat, int]
_T = TypeVar("_T")


# Texts per chunk: big enough that the fixed cost of a call (a few Arrow/polars calls per
# stage) is small, small enough that a chunk's arrays (a few MiB) are recycled by the
# allocator instead of being page-faulted in afresh — measured on a 1M-pair corpus, 16k-row
# chunks fault ~3x fewer pages than 128k-row chunks and use ~15% less CPU.
_MIN_CHUNK_ROWS = 1 << 12
_MAX_CHUNK_ROWS = 1 << 14
_TWO_THREAD_BYTES = 1 << 18  # a small pair batch's text for one thread a side (_threads_for)
_TWO_THREAD_ROWS = 1 << 8  # ... and its rows
_PAIR_FORMAT = "seqdata-pair-pipeline"
_TEXT_FORMAT = "seqdata-text-pipeline"
_VERSION = 1


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
    """Each job's result, in order; an error is raised as the first failing job's."""
    if threads == 1 or len(jobs) == 1:
        return [job() for job in jobs]
    if len(jobs) == 2:  # a map batch's two sides: one helper thread, no pool to start
        return _run_two(jobs[0], jobs[1])
    with ThreadPoolExecutor(min(threads, len(jobs))) as pool:
        return list(pool.map(lambda job: job(), jobs))


def _run_two(first: Callable[[], _T], second: Callable[[], _T]) -> list[_T]:
    """``[first(), second()]``, ``second`` on a new thread (a tenth of a pool's start-up)."""
    done: list[_T] = []
    failed: list[BaseException] = []

    def run_second() -> None:
        try:
            done.append(second())
        except BaseException as err:  # re-raised in the caller's thread below
            failed.append(err)

    helper = threading.Thread(target=run_second, name="seqdata-encode", daemon=True)
    helper.start()
    try:
        result = first()
    finally:
        helper.join()
    if failed:
        raise failed[0]
    return [result, done[0]]


def _concat(parts: Sequence[Flat]) -> Flat:
    if len(parts) == 1:
        return parts[0]
    values = np.concatenate([v for v, _ in parts])
    lengths = np.concatenate([np.diff(o) for _, o in parts])
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return values, offsets


def _threads_for(src: pl.Series, tgt: pl.Series, threads: int) -> int:
    """Threads for a batch: all of ``threads`` from ``_MIN_CHUNK_ROWS`` texts on. Below
    that (a ``map`` batch: one chunk a side), one thread a side when the pair has at least
    ``_TWO_THREAD_ROWS`` rows and ``_TWO_THREAD_BYTES`` of text, else one. Measured on 2
    cores: two threads save 20–30 % on 1,000-row batches of verses (260 KB), nothing on
    1,000 dates (100 KB), and cost about 1 ms a call on small batches, where the two sides
    contend for the GIL."""
    if len(src) >= _MIN_CHUNK_ROWS:
        return threads
    if threads == 1 or len(src) < _TWO_THREAD_ROWS:  # not worth measuring the text
        return 1
    size = src.estimated_size() + tgt.estimated_size()  # O(1); str.len_bytes costs 50 µs
    return 2 if size >= _TWO_THREAD_BYTES else 1


def _chunk_rows(n: int, threads: int, most: int | None = None) -> int:
    return min(max(-(-n // threads), _MIN_CHUNK_ROWS), most or _MAX_CHUNK_ROWS)


def _chunk_jobs(
    texts: pl.Series, encode: Callable[[pl.Series], _T], chunk_rows: int
) -> list[Callable[[], _T]]:
    starts = range(0, max(len(texts), 1), chunk_rows)
    return [functools.partial(encode, texts.slice(start, chunk_rows)) for start in starts]


def _cut(offsets: np.ndarray, longest: int | None) -> int:
    """How many sequences are longer than ``longest`` (``None``: no limit)."""
    return 0 if longest is None else int(np.count_nonzero(np.diff(offsets) > longest))


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


def _batch_column(batch: Any, key: str) -> Any:
    """A text column of a ``map`` batch. For the ``LazyBatch`` that ``Dataset.map`` hands over
    (no format), the Arrow column itself: no Python string per row."""
    table = getattr(batch, "pa_table", None)
    if isinstance(table, pa.Table) and key in getattr(batch, "keys_to_format", ()):
        return table.column(key)
    return _column(batch, key)


def _with_ids(batch: Any, texts: Any, columns: dict[str, Flat]) -> Any:
    """The ``map`` output: ``batch`` plus the id columns, in the type each batch wants.

    - a ``LazyBatch`` (``Dataset.map``, no format): the batch itself with the new columns
      set as polars ``List(Int32)`` Series; ``map`` then writes only those (the others stay
      the Arrow columns they were);
    - a table (``pa.Table``, polars or pandas ``DataFrame``: ``map`` with a format): the
      table with the new Arrow ``list<int32>`` columns appended (no Python lists);
    - a plain ``dict`` of Python lists (``IterableDataset.map`` without a format, or a direct
      call): a new dict, the batch plus lists of lists (``IterableDataset`` hands each row of
      the output on as it is, so a Series would reach the user row by row);
    - any other mapping: a new dict, the batch plus polars Series.
    """
    if hasattr(batch, "pa_table") and hasattr(batch, "keys_to_format"):
        for name, (values, offsets) in columns.items():
            batch[name] = _ragged_series(name, values, offsets)
        return batch
    if not isinstance(batch, Mapping):
        return _with_table_ids(batch, columns)
    out = dict(batch)
    as_lists = isinstance(batch, dict) and isinstance(texts, list)
    for name, (values, offsets) in columns.items():
        series = _ragged_series(name, values, offsets)
        out[name] = series.to_list() if as_lists else series
    return out


def _list_array(values: np.ndarray, offsets: np.ndarray) -> pa.Array:
    if len(offsets) and offsets[-1] >= np.iinfo(np.int32).max:
        return pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values))
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values))


def _with_table_ids(table: Any, columns: dict[str, Flat]) -> Any:
    """A ``pa.Table``, polars or pandas ``DataFrame`` with the id columns appended."""
    arrays = {name: _list_array(values, offsets) for name, (values, offsets) in columns.items()}
    if isinstance(table, pa.Table):
        for name, arr in arrays.items():
            table = table.append_column(name, arr)
        return table
    if isinstance(table, pl.DataFrame):
        return table.with_columns(pl.Series(name, arr) for name, arr in arrays.items())
    if hasattr(table, "assign"):  # pandas: Arrow-backed columns
        import pandas as pd

        return table.assign(
            **{name: pd.arrays.ArrowExtensionArray(arr) for name, arr in arrays.items()}
        )
    raise InputTypeError(
        f"a map batch should be a mapping of columns or a table, but got {type(table).__name__}"
    )


def _counts(tokenizer: Tokenizer, texts: pl.Series, num_threads: int | None) -> TokenCounts:
    return TokenCounts().update_texts(texts, tokenizer, num_threads=num_threads)


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


def _check_state(state: object, expected: str) -> None:
    if not isinstance(state, Mapping):
        raise ConfigError(f"a pipeline state should be a dict, but got {type(state).__name__}")
    if state.get("format") != expected or state.get("version") != _VERSION:
        raise ConfigError(
            f"the state should have format={expected!r} and version={_VERSION}, but got "
            f"format={state.get('format')!r}, version={state.get('version')!r}"
        )


def count_pair_chunks(
    chunks: Chunks,
    tokenizers: tuple[Tokenizer, Tokenizer],
    cols: tuple[str, str],
    num_threads: int | None,
) -> tuple[TokenCounts, TokenCounts]:
    """Source and target token counts of a corpus read chunk by chunk (one pass)."""
    src_counts, tgt_counts = TokenCounts(), TokenCounts()
    for src, tgt in text_columns(chunks, cols):
        if len(src) != len(tgt):
            raise ParallelMismatchError(
                f"a chunk has {len(src)} source and {len(tgt)} target texts; both columns "
                "should have the same length"
            )
        src_counts.update_texts(src, tokenizers[0], num_threads=num_threads)
        tgt_counts.update_texts(tgt, tokenizers[1], num_threads=num_threads)
    return src_counts, tgt_counts
