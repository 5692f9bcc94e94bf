"""Read parallel corpora with polars: line-aligned files, TSV, CSV, parquet and JSON lines.

Every reader returns (or yields) a polars frame with the Utf8 columns ``src`` and ``tgt`` and
an ``Int64`` column ``line``: the 1-based line of the example in its file(s) (CSV: the data row
plus one for the header, exact unless a quoted field spans lines; parquet: the 1-based row). It
maps an example back to its file when a later stage names an example index, and its gaps show
the lines that ``empty="skip"`` dropped.

The parsing is polars' own (``scan_lines``/``read_lines``, ``scan_csv``, ``scan_parquet``,
``scan_ndjson``); seqdata only checks what polars cannot know:

- **Line endings**: ``\\n`` and ``\\r\\n``; a missing final newline is fine; a UTF-8 byte-order
  mark at the start of a file is dropped.
- **Alignment**: parallel files with different line counts raise
  [`ParallelMismatchError`][seqdata.errors.ParallelMismatchError] naming both counts and the file
  that ran out
  first.
- **Encoding**: bytes that are not valid in ``encoding`` raise
  [`UndecodableInputError`][seqdata.errors.UndecodableInputError] naming the file and line.
- **TSV**: fields are split on tabs only, quotes are text; a line with a missing or an extra
  tab raises [`CorpusError`][seqdata.errors.CorpusError] naming the line — never silently truncated.
- **Empty examples** (empty, whitespace-only or null ``src`` or ``tgt``): ``empty="error"``
  (default) raises [`EmptyLineError`][seqdata.errors.EmptyLineError] naming the file and line;
  ``empty="skip"`` drops them and reports them, never silently: a
  [`SkippedLinesWarning`][seqdata.readers.SkippedLinesWarning]
  carries every skipped line number (``.lines``) and the ``line`` column has the gaps.
- **Nothing left**: [`EmptyCorpusError`][seqdata.errors.EmptyCorpusError]; a missing file:
  [`CorpusError`][seqdata.errors.CorpusError] naming it.

Corpora larger than memory stream in chunks through
[`iter_pair_chunks`][seqdata.readers.iter_pair_chunks] and
[`iter_parallel_chunks`][seqdata.readers.iter_parallel_chunks]: the file is read in blocks of a few
MB cut at line ends and each
block is parsed by polars (``read_lines``, ``read_ndjson``; Arrow's streaming CSV reader;
parquet row groups), so memory is bounded by the block and chunk sizes, not by the file.
``read_pairs(..., lazy=True)`` returns polars' ``LazyFrame`` (``scan_*``) instead.

>>> import tempfile, pathlib
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> _ = (tmp / "train.en").write_text('I said "hi" .\\r\\nGo .\\r\\n', encoding="utf-8")
>>> _ = (tmp / "train.fr").write_text('J\\'ai dit « salut » .\\r\\nVa .', encoding="utf-8")
>>> read_parallel(tmp / "train.en", tmp / "train.fr").rows()
[('I said "hi" .', "J'ai dit « salut » .", 1), ('Go .', 'Va .', 2)]
"""

from __future__ import annotations

import codecs
import functools
import io
import json
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from seqdata.errors import (
    ConfigError,
    CorpusError,
    EmptyCorpusError,
)
from seqdata.sources import (
    BLOCK_BYTES,
    COLUMNS,
    FORMATS,
    PathLike,
    SkippedLinesWarning,
    Source,
    byte_blocks,
    check_aligned,
    check_empty_policy,
    check_file,
    count_lines,
    exact,
    field_exprs,
    first_bad_csv_record,
    infer_format,
    is_utf8,
    is_utf8_error,
    line_frames,
    numbered,
    pick,
    scan_text_lines,
    sniff,
    tsv_header,
    undecodable,
)

__all__ = [
    "FORMATS",
    "SkippedLinesWarning",
    "count_lines",
    "iter_pair_chunks",
    "iter_parallel_chunks",
    "read_pairs",
    "read_parallel",
]

Format = Literal["text", "tsv", "csv", "parquet", "jsonl"]
_PAIR_ROWS = 1 << 16  # lines per side joined at a time by the chunked parallel reader


def _text_source(path: Path, fmt: str, src_col: str, tgt_col: str, encoding: str) -> Source:
    if fmt == "text":
        i_src, i_tgt, expected, first = 0, 1, 2, 1
    else:
        header = tsv_header(path, encoding)
        pick(header, src_col, "src", path)
        pick(header, tgt_col, "tgt", path)
        i_src, i_tgt, expected, first = header.index(src_col), header.index(tgt_col), len(header), 2
    exprs = field_exprs(i_src, i_tgt)
    lf = scan_text_lines(path, encoding, "text").filter(pl.col("line") >= first).select(exprs)

    def blocks() -> Iterator[pl.DataFrame]:
        for frame in numbered(line_frames(path, encoding, "text"), 1):
            yield frame.filter(pl.col("line") >= first).select(exprs)

    return Source(lf, blocks, (path, path), encoding, fmt, expected)


def _table_columns(frame: pl.DataFrame, src_col: str, tgt_col: str) -> pl.DataFrame:
    return frame.select(
        pl.col(src_col).cast(pl.String).alias("src"), pl.col(tgt_col).cast(pl.String).alias("tgt")
    )


def _table_source(path: Path, fmt: str, src_col: str, tgt_col: str, encoding: str) -> Source:
    if fmt == "csv":
        if not is_utf8(encoding):
            raise ConfigError(
                f"encoding should be 'utf-8' for CSV (polars reads UTF-8), but got "
                f"encoding={encoding!r}; re-encode the file"
            )
        lf = pl.scan_csv(path, infer_schema=False)
        first = 2  # after the header
    elif fmt == "parquet":
        lf, first = pl.scan_parquet(path), 1
    else:
        lf, first = _scan_jsonl(path, encoding), 1
    try:
        schema = lf.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as err:
        if is_utf8_error(err):
            raise undecodable([path], encoding, err) from None
        if fmt == "jsonl":
            _first_bad_json_line(path, encoding, (src_col, tgt_col))
        if fmt == "csv":
            first_bad_csv_record(path)
        raise CorpusError(f"cannot be read as {fmt} ({err})", path=path) from err
    pick(schema.names(), src_col, "src", path)
    pick(schema.names(), tgt_col, "tgt", path)
    for role, col in (("src", src_col), ("tgt", tgt_col)):
        if schema[col] not in (pl.String, pl.Categorical, pl.Null):
            raise CorpusError(
                f"column {col!r} ({role}) should hold texts, but has dtype {schema[col]}; "
                "pass the column of untokenized strings",
                path=path,
            )
    columns = [src_col, tgt_col]

    def raw_blocks() -> Iterator[pl.DataFrame]:
        if fmt == "parquet":  # one row group's worth of the two columns at a time
            for batch in pq.ParquetFile(path).iter_batches(columns=columns):
                yield pl.DataFrame(pl.from_arrow(batch))
        elif fmt == "csv":  # Arrow's streaming CSV reader, with RFC 4180 quoting
            reader = pa_csv.open_csv(
                path,
                read_options=pa_csv.ReadOptions(block_size=BLOCK_BYTES),
                parse_options=pa_csv.ParseOptions(newlines_in_values=True),
                convert_options=pa_csv.ConvertOptions(
                    include_columns=columns,
                    column_types=dict.fromkeys(columns, pa.large_string()),
                ),
            )
            for batch in reader:
                yield pl.DataFrame(pl.from_arrow(batch))
        else:
            for block in byte_blocks(path, encoding):
                yield pl.read_ndjson(io.BytesIO(block), infer_schema_length=None)

    def blocks() -> Iterator[pl.DataFrame]:
        for frame in numbered(raw_blocks(), first):
            yield frame.select(*_table_columns(frame, src_col, tgt_col), pl.col("line"))

    lf = lf.with_row_index("line", offset=first).select(
        pl.col(src_col).cast(pl.String).alias("src"),
        pl.col(tgt_col).cast(pl.String).alias("tgt"),
        pl.col("line").cast(pl.Int64),
    )
    source = Source(lf, blocks, (path, path), encoding, fmt, None)
    if fmt == "jsonl":
        text_fields = (src_col, tgt_col)
        source.line_map = _check_jsonl(path, encoding, text_fields)
        source.explain = functools.partial(_first_bad_json_line, path, encoding, text_fields)
    elif fmt == "csv":
        source.explain = functools.partial(first_bad_csv_record, path)
    return source


def _json_field_error(text: str, columns: Sequence[str], path: Path, line: int) -> None:
    """Raise for a JSON line that does not parse or holds a non-string text field."""
    try:
        record = json.loads(text)
    except ValueError as err:
        raise CorpusError(f"is not valid JSON ({err})", path=path, line=line) from None
    if not isinstance(record, dict):
        raise CorpusError(
            f"should be a JSON object with text fields {list(columns)}, but got "
            f"{type(record).__name__}",
            path=path,
            line=line,
        )
    for col in columns:
        value = record.get(col)
        if value is not None and not isinstance(value, str):
            raise CorpusError(
                f"field {col!r} should be a string of text, but got {type(value).__name__} "
                f"{json.dumps(value)[:40]}; quote it in the file",
                path=path,
                line=line,
            )


def _check_jsonl(path: Path, encoding: str, columns: Sequence[str]) -> np.ndarray | None:
    """Check a JSON-lines file's text fields in one vectorized pass over its lines.

    A number, list or object where ``columns`` expect text is an error naming the line
    (polars would turn ``5`` into ``"5"``). Returns the file line of every record when the
    file has blank lines (which polars skips), so line numbers stay the file's; else None.
    """
    keys = "|".join(re.escape(json.dumps(c)) for c in columns)
    suspect = pl.col("text").str.contains(rf"(?:{keys})\s*:\s*[^\s\"n]")
    blank = pl.col("text").str.strip_chars() == ""
    first, blanks = 1, []
    for frame in line_frames(path, encoding, "text"):
        flags = frame.select(suspect.alias("s"), blank.alias("b"))
        for i in np.flatnonzero(flags["s"].to_numpy()):
            _json_field_error(frame["text"][int(i)], columns, path, first + int(i))
        blanks.append(np.flatnonzero(flags["b"].to_numpy()) + first)
        first += frame.height
    gaps = np.concatenate(blanks) if blanks else np.zeros(0, np.int64)
    if not len(gaps):
        return None
    return np.setdiff1d(np.arange(1, first, dtype=np.int64), gaps)


def _first_bad_json_line(path: Path, encoding: str, columns: Sequence[str]) -> None:
    """Raise the error of the first line that is not a JSON object with text fields."""
    first = 1
    for frame in line_frames(path, encoding, "text"):
        for i, text in enumerate(frame["text"].to_list()):
            if text.strip():
                _json_field_error(text, columns, path, first + i)
        first += frame.height


def _scan_jsonl(path: Path, encoding: str) -> pl.LazyFrame:
    """polars' JSON-lines scan; a file with a byte-order mark (or not UTF-8) is read whole."""
    with path.open("rb") as f:
        bom = f.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8
    if not bom and is_utf8(encoding):
        return pl.scan_ndjson(path, infer_schema_length=1000)
    data = b"".join(byte_blocks(path, encoding))  # the mark dropped, re-encoded as UTF-8
    if not data.strip():
        raise EmptyCorpusError("has no examples; check that this is the right file", path=path)
    try:
        return pl.read_ndjson(io.BytesIO(data), infer_schema_length=1000).lazy()
    except pl.exceptions.PolarsError as err:
        raise CorpusError(f"cannot be read as jsonl ({err})", path=path) from None


def _pairs_source(
    path: PathLike, fmt: str | None, src_col: str, tgt_col: str, encoding: str
) -> Source:
    p = check_file(path)
    name = infer_format(p, fmt)
    if name != "parquet":
        sniff(p, encoding)
    if name in ("text", "tsv"):
        return _text_source(p, name, src_col, tgt_col, encoding)
    return _table_source(p, name, src_col, tgt_col, encoding)


def _parallel_source(src_path: PathLike, tgt_path: PathLike, encoding: str) -> Source:
    src, tgt = check_file(src_path), check_file(tgt_path)
    sniff(src, encoding)
    sniff(tgt, encoding)
    check_aligned(src, tgt, encoding)
    lf = pl.concat(
        [
            scan_text_lines(src, encoding, "src"),
            scan_text_lines(tgt, encoding, "tgt").drop("line"),
        ],
        how="horizontal",
    ).select(pl.col("src"), pl.col("tgt"), pl.col("line").cast(pl.Int64))

    def blocks() -> Iterator[pl.DataFrame]:
        # both sides re-cut to the same number of rows per frame, then side by side
        sides = (
            exact(line_frames(src, encoding, "src"), _PAIR_ROWS),
            exact(line_frames(tgt, encoding, "tgt"), _PAIR_ROWS),
        )
        pairs = (pl.concat([a, b], how="horizontal") for a, b in zip(*sides, strict=True))
        yield from numbered(pairs, 1)

    return Source(lf, blocks, (src, tgt), encoding, "text", None)


# --------------------------------------------------------------------------- public readers


def _iter_checked(source: Source, chunk_rows: int | None, empty: str) -> Iterator[pl.DataFrame]:
    total, skipped = 0, []
    for chunk in source.chunks(chunk_rows):
        kept, dropped = source.check(chunk, empty)
        skipped.extend(dropped)
        total += kept.height
        if kept.height:
            yield kept.select(COLUMNS)
    if skipped:
        warnings.warn(SkippedLinesWarning(str(source.paths[0]), skipped), stacklevel=3)
    if total == 0:
        why = f" after skipping {len(skipped)} empty line(s)" if skipped else ""
        raise EmptyCorpusError(
            f"has no examples{why}; check that this is the right file", path=source.paths[0]
        )


def _collect(source: Source, empty: str) -> pl.DataFrame:
    chunks = list(_iter_checked(source, None, empty))
    return chunks[0] if len(chunks) == 1 else pl.concat(chunks)


def read_parallel(
    src_path: PathLike,
    tgt_path: PathLike,
    *,
    empty: str = "error",
    encoding: str = "utf-8",
) -> pl.DataFrame:
    """Read two line-aligned files (line ``i`` of one translates line ``i`` of the other).

    Args:
        src_path: the source-language file, one example per line.
        tgt_path: the target-language file, as many lines.
        empty: ``"error"`` raises on the first empty or whitespace-only line of either file;
            ``"skip"`` drops those pairs and warns with a
            [`SkippedLinesWarning`][seqdata.readers.SkippedLinesWarning] listing
            every skipped line (the ``line`` column also has the gaps).
        encoding: the files' text encoding (UTF-8 is read by polars directly; any other is
            decoded by Python first).

    Returns:
        A DataFrame with ``src``, ``tgt`` (Utf8) and ``line`` (Int64, 1-based), in file order.

    Raises:
        CorpusError: a file is missing.
        ParallelMismatchError: different line counts (both named, and which ran out first).
        UndecodableInputError: bytes invalid in ``encoding`` (file and line named).
        EmptyLineError: an empty line with ``empty="error"`` (file and line named).
        EmptyCorpusError: no examples (left).

    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (tmp / "a.de").write_text("Hallo\\n\\nDanke\\n", encoding="utf-8")
    >>> _ = (tmp / "a.en").write_text("Hello\\n  \\nThanks\\n", encoding="utf-8")
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     df = read_parallel(tmp / "a.de", tmp / "a.en", empty="skip")
    >>> df.rows(), caught[0].message.lines
    ([('Hallo', 'Hello', 1), ('Danke', 'Thanks', 3)], [2])
    """
    check_empty_policy(empty)
    return _collect(_parallel_source(src_path, tgt_path, encoding), empty)


def read_pairs(
    path: PathLike,
    format: Format | None = None,
    *,
    src_col: str = "src",
    tgt_col: str = "tgt",
    lazy: bool = False,
    empty: str = "error",
    encoding: str = "utf-8",
) -> pl.DataFrame | pl.LazyFrame:
    """Read a file of (source, target) pairs into a polars frame with ``src``, ``tgt``, ``line``.

    Formats (chosen from the extension unless ``format`` is given; see `FORMATS`):

    - ``"text"`` (``.txt``): ``source<TAB>target`` per line, no header, no quoting.
    - ``"tsv"`` (``.tsv``): a header line naming the columns, then as many tab-separated
      fields per line; quotes are text. A line with a missing or extra tab is a
      [`CorpusError`][seqdata.errors.CorpusError] naming the line.
    - ``"csv"`` (``.csv``): a header line, standard CSV quoting (polars ``scan_csv``).
    - ``"parquet"`` (``.parquet``, ``.pq``) and ``"jsonl"`` (``.jsonl``, ``.ndjson``).

    Args:
        path: the file.
        format: one of the names above, or ``None`` to infer it from the extension.
        src_col: the source column (TSV, CSV, parquet, JSON lines).
        tgt_col: the target column.
        lazy: return a ``pl.LazyFrame`` (polars ``scan_*``) instead of reading the file; the
            same checks run batch by batch, and raise, when it is collected (a bad UTF-8 byte
            then surfaces as polars' ``ComputeError``:
            [`iter_pair_chunks`][seqdata.readers.iter_pair_chunks] names its
            line); with ``empty="skip"`` each batch warns about the lines it dropped.
        empty: ``"error"`` or ``"skip"``, as in [`read_parallel`][seqdata.readers.read_parallel].
        encoding: the text encoding (``"text"``/``"tsv"``; CSV must be UTF-8).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "pairs.tsv"
    >>> _ = p.write_text('id\\ten\\tfr\\n7\\t"Hi"\\t"Salut"\\n', encoding="utf-8")
    >>> read_pairs(p, src_col="en", tgt_col="fr").rows()
    [('"Hi"', '"Salut"', 2)]
    >>> _ = p.write_text('id\\ten\\tfr\\n7\\tHi\\tSalut\\tx\\n', encoding="utf-8")
    >>> read_pairs(p, src_col="en", tgt_col="fr")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    seqdata.errors.CorpusError: ...tsv, line 2: should have 3 tab-separated fields, but got 4...
    """
    check_empty_policy(empty)
    source = _pairs_source(path, format, src_col, tgt_col, encoding)
    if lazy:
        return source.lazy(empty)
    return _collect(source, empty)


def _check_chunk_rows(chunk_rows: int) -> None:
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ConfigError(
            f"chunk_rows should be a positive integer, but got chunk_rows={chunk_rows!r}"
        )


def iter_pair_chunks(
    path: PathLike,
    chunk_rows: int = 100_000,
    *,
    format: Format | None = None,
    src_col: str = "src",
    tgt_col: str = "tgt",
    empty: str = "error",
    encoding: str = "utf-8",
) -> Iterator[pl.DataFrame]:
    """Stream a pairs file as checked DataFrames of at most ``chunk_rows`` rows.

    Memory stays bounded by the chunk size whatever the file size (polars' streaming engine);
    the checks and errors are those of [`read_pairs`][seqdata.readers.read_pairs], the
    [`SkippedLinesWarning`][seqdata.readers.SkippedLinesWarning] comes after the last chunk. Chunks
    can be shorter than
    ``chunk_rows`` where ``empty="skip"`` dropped lines.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "pairs.txt"
    >>> _ = p.write_text("".join(f"s{i}\\tt{i}\\n" for i in range(5)), encoding="utf-8")
    >>> [chunk["line"].to_list() for chunk in iter_pair_chunks(p, chunk_rows=2)]
    [[1, 2], [3, 4], [5]]
    """
    check_empty_policy(empty)
    _check_chunk_rows(chunk_rows)
    source = _pairs_source(path, format, src_col, tgt_col, encoding)
    yield from _iter_checked(source, chunk_rows, empty)


def iter_parallel_chunks(
    src_path: PathLike,
    tgt_path: PathLike,
    chunk_rows: int = 100_000,
    *,
    empty: str = "error",
    encoding: str = "utf-8",
) -> Iterator[pl.DataFrame]:
    """Stream two line-aligned files as checked DataFrames of at most ``chunk_rows`` rows.

    The line counts are compared before the first chunk (one fast pass over each file), so a
    mismatch raises before anything is yielded; the other checks are those of
    [`read_parallel`][seqdata.readers.read_parallel].

    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (tmp / "s").write_text("a\\nb\\nc\\n", encoding="utf-8")
    >>> _ = (tmp / "t").write_text("A\\nB\\nC\\n", encoding="utf-8")
    >>> [chunk["tgt"].to_list() for chunk in iter_parallel_chunks(tmp / "s", tmp / "t", 2)]
    [['A', 'B'], ['C']]
    """
    check_empty_policy(empty)
    _check_chunk_rows(chunk_rows)
    yield from _iter_checked(_parallel_source(src_path, tgt_path, encoding), chunk_rows, empty)
