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
  :class:`~seqdata.errors.ParallelMismatchError` naming both counts and the file that ran out
  first.
- **Encoding**: bytes that are not valid in ``encoding`` raise
  :class:`~seqdata.errors.UndecodableInputError` naming the file and line.
- **TSV**: fields are split on tabs only, quotes are text; a line with a missing or an extra
  tab raises :class:`~seqdata.errors.CorpusError` naming the line — never silently truncated.
- **Empty examples** (empty, whitespace-only or null ``src`` or ``tgt``): ``empty="error"``
  (default) raises :class:`~seqdata.errors.EmptyLineError` naming the file and line;
  ``empty="skip"`` drops them and reports them, never silently: a :class:`SkippedLinesWarning`
  carries every skipped line number (``.lines``) and the ``line`` column has the gaps.
- **Nothing left**: :class:`~seqdata.errors.EmptyCorpusError`; a missing file:
  :class:`~seqdata.errors.CorpusError` naming it.

Corpora larger than memory stream in chunks through :func:`iter_pair_chunks` and
:func:`iter_parallel_chunks`: the file is read in blocks of a few MB cut at line ends and each
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
import io
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Literal

import polars as pl
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from seqdata.errors import (
    ConfigError,
    CorpusError,
    EmptyCorpusError,
    EmptyLineError,
    ParallelMismatchError,
    UndecodableInputError,
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

PathLike = str | os.PathLike[str]
Format = Literal["text", "tsv", "csv", "parquet", "jsonl"]

#: The formats :func:`read_pairs` reads, and the file extensions that select each.
FORMATS: dict[str, tuple[str, ...]] = {
    "text": (".txt",),  # "src<TAB>tgt" per line, no header
    "tsv": (".tsv",),  # a header line naming the columns, then tab-separated fields
    "csv": (".csv",),  # a header line, RFC 4180 quoting
    "parquet": (".parquet", ".pq"),
    "jsonl": (".jsonl", ".ndjson"),
}
_COLUMNS = ["src", "tgt", "line"]
_BLOCK = 16 << 20  # bytes per block when locating an undecodable byte
_BLOCK_BYTES = 8 << 20  # bytes per block read by the chunked readers
_PAIR_ROWS = 1 << 16  # lines per side joined at a time by the chunked parallel reader


class SkippedLinesWarning(UserWarning):
    """``empty="skip"`` dropped examples; ``.lines`` holds every skipped 1-based line number.

    Attributes:
        path: the file (for parallel files: the source file) the lines are in.
        lines: the skipped line numbers, ascending.
    """

    def __init__(self, path: str, lines: Sequence[int]) -> None:
        self.path = path
        self.lines = list(lines)
        shown = ", ".join(map(str, self.lines[:10])) + (", …" if len(self.lines) > 10 else "")
        super().__init__(
            f"{path}: skipped {len(self.lines)} empty or whitespace-only example(s) "
            f"(empty='skip'), at line(s) {shown}"
        )


# --------------------------------------------------------------------------- checks


def _check_empty_policy(empty: str) -> None:
    if empty not in ("error", "skip"):
        raise ConfigError(f"empty should be 'error' or 'skip', but got empty={empty!r}")


def _check_file(path: PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise CorpusError("no such file; check the path", path=p)
    if not p.is_file():
        raise CorpusError("is not a regular file (a directory?); pass a file", path=p)
    return p


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "utf-8"


def _first_undecodable(path: Path, encoding: str) -> tuple[int, str] | None:
    """The 1-based line and the reason of the first byte ``encoding`` cannot decode, or None.

    UTF-8 files are read in blocks cut at a newline (a newline byte never occurs inside a
    UTF-8 multi-byte character), so memory stays bounded; other encodings are read whole.
    """
    if not _is_utf8(encoding):
        data = path.read_bytes()
        try:
            data.decode(encoding)
        except UnicodeDecodeError as err:
            before = data[: err.start].decode(encoding, errors="replace")
            return before.count("\n") + 1, str(err.reason)
        return None
    lines_before = 0
    rest = b""
    with path.open("rb") as f:
        while True:
            block = f.read(_BLOCK)
            data = rest + block
            cut = data.rfind(b"\n") + 1 if block else len(data)
            whole, rest = data[:cut], data[cut:]
            try:
                whole.decode("utf-8")
            except UnicodeDecodeError as err:
                return lines_before + whole.count(b"\n", 0, err.start) + 1, str(err.reason)
            lines_before += whole.count(b"\n")
            if not block:
                return None


def _undecodable(paths: Sequence[Path], encoding: str, err: Exception) -> Exception:
    """Turn polars' "invalid utf8" into an error naming the file and line, if one is found."""
    for path in paths:
        found = _first_undecodable(path, encoding)
        if found is not None:
            line, reason = found
            return UndecodableInputError(
                f"bytes that are not valid {encoding} ({reason}); re-encode the file "
                f"(e.g. iconv -f <its encoding> -t utf-8) or pass encoding=<its encoding>",
                path=path,
                line=line,
            )
    return err


def _is_utf8_error(err: Exception) -> bool:
    text = str(err).lower()
    return "utf8" in text or "utf-8" in text


def _fields_error(path: Path, fmt: str, expected: int, line: int, found: int, bad: int) -> str:
    what = "an extra tab" if found > expected else "a missing tab"
    fix = (
        "each line must be 'source<TAB>target'"
        if fmt == "text"
        else f"each line must have the header's {expected} tab-separated fields"
    )
    more = f" ({bad} such lines in all)" if bad > 1 else ""
    return (
        f"should have {expected} tab-separated fields, but got {found} ({what}){more}; {fix} "
        "— tabs inside a text cannot be told from separators, so remove or replace them"
    )


def _check_fields(df: pl.DataFrame, path: Path, fmt: str, expected: int) -> None:
    bad = df.filter(pl.col("_nf") != expected)
    if bad.height:
        line, found = int(bad["line"][0]), int(bad["_nf"][0])
        raise CorpusError(
            _fields_error(path, fmt, expected, line, found, bad.height), path=path, line=line
        )


def _empty_mask() -> pl.Expr:
    return pl.any_horizontal(
        pl.col(c).is_null() | ~pl.col(c).str.contains(r"\S") for c in ("src", "tgt")
    )


def _apply_empty_policy(
    df: pl.DataFrame, paths: tuple[Path, Path], empty: str
) -> tuple[pl.DataFrame, list[int]]:
    """Raise on (``"error"``) or drop (``"skip"``) empty examples; returns the skipped lines."""
    mask = df.select(_empty_mask()).to_series()
    if not mask.any():
        return df, []
    if empty == "error":
        first = df.filter(mask).row(0, named=True)
        side = 0 if first["src"] is None or not first["src"].strip() else 1
        count = int(mask.sum())
        raise EmptyLineError(
            f"the {('source', 'target')[side]} is empty or whitespace-only"
            + (f" ({count} empty examples in all)" if count > 1 else "")
            + "; remove such lines from both files, or pass empty='skip' (`seqdata prepare "
            "--skip-empty`) to drop them (they are then reported in a SkippedLinesWarning)",
            path=paths[side],
            line=int(first["line"]),
        )
    return df.filter(~mask), df.filter(mask)["line"].to_list()


# --------------------------------------------------------------------------- sources


def _decoded_utf8(path: Path, encoding: str) -> bytes:
    """The file re-encoded as UTF-8 (for encodings polars does not read): whole, in memory."""
    try:
        return path.read_bytes().decode(encoding).encode("utf-8")
    except UnicodeDecodeError as err:
        raise _undecodable([path], encoding, err) from None
    except LookupError as err:
        raise ConfigError(f"encoding should be a Python codec, but got {encoding!r}") from err


def _scan_text_lines(path: Path, encoding: str, name: str) -> pl.LazyFrame:
    source: Path | bytes = path if _is_utf8(encoding) else _decoded_utf8(path, encoding)
    # A UTF-8 byte-order mark is part of the encoding, not of the first example.
    return (
        pl.scan_lines(source, name=name)
        .with_row_index("line", offset=1)
        .with_columns(
            pl.when(pl.col("line") == 1)
            .then(pl.col(name).str.strip_prefix("\ufeff"))
            .otherwise(pl.col(name))
            .alias(name)
        )
    )


def _byte_blocks(path: Path, encoding: str) -> Iterator[bytes]:
    """UTF-8 bytes of whole lines, about ``_BLOCK_BYTES`` at a time, byte-order mark dropped.

    The chunked readers parse each block with polars; reading the file ourselves block by block
    (rather than through ``collect_batches``, which reads ahead as fast as it can) keeps their
    memory bounded by the block and chunk sizes whatever the file size.
    """
    f: io.BufferedIOBase | io.BytesIO
    f = path.open("rb") if _is_utf8(encoding) else io.BytesIO(_decoded_utf8(path, encoding))
    with f:
        head = f.read(len(codecs.BOM_UTF8))
        rest = b"" if head == codecs.BOM_UTF8 else head
        while True:
            block = f.read(_BLOCK_BYTES)
            if not block:
                if rest:
                    yield rest  # a last line without a newline
                return
            data = rest + block
            cut = data.rfind(b"\n") + 1
            if cut == 0:  # no line ends in this block yet
                rest = data
                continue
            yield data[:cut]
            rest = data[cut:]


def _line_frames(path: Path, encoding: str, name: str) -> Iterator[pl.DataFrame]:
    """The file's lines as one-column frames, block by block (bounded memory)."""
    for block in _byte_blocks(path, encoding):
        yield pl.read_lines(block, name=name)


def _exact(frames: Iterable[pl.DataFrame], rows: int) -> Iterator[pl.DataFrame]:
    """Re-cut a stream of frames into frames of exactly ``rows`` rows (the last may be short)."""
    pending: list[pl.DataFrame] = []
    have = 0
    for frame in frames:
        if frame.height == 0:
            continue
        pending.append(frame)
        have += frame.height
        if have >= rows:
            whole = pl.concat(pending, rechunk=False)
            full = have - have % rows
            for start in range(0, full, rows):
                yield whole.slice(start, rows)
            rest = whole.slice(full)
            pending, have = ([rest] if rest.height else []), rest.height
    if have:
        yield pl.concat(pending, rechunk=False)


def _numbered(frames: Iterable[pl.DataFrame], first: int) -> Iterator[pl.DataFrame]:
    """Add the ``line`` column (Int64), counting on from ``first`` across frames."""
    line = first
    for frame in frames:
        yield frame.with_columns(
            pl.int_range(line, line + frame.height, dtype=pl.Int64).alias("line")
        )
        line += frame.height


def count_lines(path: PathLike, encoding: str = "utf-8") -> int:
    """Lines in a text file as the readers count them (a last line without newline counts).

    UTF-8 files are read in blocks of bytes (bounded memory, about a GB/s); other encodings are
    decoded whole first.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = p.write_bytes(b"one\\r\\ntwo\\n\\nfour")
    >>> count_lines(p)
    4
    """
    p = _check_file(path)
    f = p.open("rb") if _is_utf8(encoding) else io.BytesIO(_decoded_utf8(p, encoding))
    count, last = 0, b"\n"
    with f:
        while block := f.read(_BLOCK_BYTES):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def _check_aligned(src: Path, tgt: Path, encoding: str) -> None:
    n_src, n_tgt = count_lines(src, encoding), count_lines(tgt, encoding)
    if n_src != n_tgt:
        short, n_short = (tgt, n_tgt) if n_tgt < n_src else (src, n_src)
        raise ParallelMismatchError(
            f"the parallel files should have the same number of lines, but {src} has {n_src} "
            f"and {tgt} has {n_tgt}: {short} ran out first, after line {n_short}; "
            "re-align them (every line of one is the translation of the same line of the other)",
            path=short,
        )


def _infer_format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise ConfigError(f"format should be one of {sorted(FORMATS)}, but got {fmt!r}")
        return fmt
    suffix = path.suffix.lower()
    for name, suffixes in FORMATS.items():
        if suffix in suffixes:
            return name
    raise ConfigError(
        f"format should be given for a file ending in {suffix!r} (known endings: "
        f"{', '.join(s for v in FORMATS.values() for s in v)}); pass format=one of "
        f"{sorted(FORMATS)}",
    )


def _tsv_header(path: Path, encoding: str) -> list[str]:
    try:
        first = _scan_text_lines(path, encoding, "text").head(1).collect()
    except pl.exceptions.ComputeError as err:
        if _is_utf8_error(err):
            raise _undecodable([path], encoding, err) from None
        raise
    if first.height == 0:
        raise EmptyCorpusError("is empty; a TSV file needs a header line", path=path)
    return str(first["text"][0]).split("\t")


def _pick(columns: Sequence[str], wanted: str, role: str, path: Path) -> None:
    if wanted not in columns:
        raise CorpusError(
            f"{role}_col should name a column of the file, but got {role}_col={wanted!r}; "
            f"the columns are {list(columns)}",
            path=path,
        )


def _field_exprs(i_src: int, i_tgt: int) -> list[pl.Expr]:
    """``src``, ``tgt``, ``line``, ``_nf`` (number of tab-separated fields) of a ``text`` line."""
    fields = pl.col("text").str.split("\t")
    return [
        fields.list.get(i_src, null_on_oob=True).alias("src"),
        fields.list.get(i_tgt, null_on_oob=True).alias("tgt"),
        pl.col("line").cast(pl.Int64),
        (pl.col("text").str.count_matches("\t", literal=True) + 1).alias("_nf"),
    ]


class _Source:
    """One corpus, two ways to read it, and what is needed to check and explain it.

    ``lf`` is the polars plan (the eager and ``lazy=True`` readers: multi-threaded, whole);
    ``blocks()`` yields the same rows as frames of bounded size (the chunked readers).
    Both have the columns ``src``, ``tgt``, ``line`` (and ``_nf`` for text/TSV).
    """

    def __init__(
        self,
        lf: pl.LazyFrame,
        blocks: Callable[[], Iterator[pl.DataFrame]],
        paths: tuple[Path, Path],
        encoding: str,
        fmt: str,
        expected_fields: int | None,
    ) -> None:
        self.lf = lf
        self.blocks = blocks
        self.paths = paths
        self.encoding = encoding
        self.fmt = fmt
        self.expected_fields = expected_fields

    def check(self, df: pl.DataFrame, empty: str) -> tuple[pl.DataFrame, list[int]]:
        if self.expected_fields is not None:
            _check_fields(df, self.paths[0], self.fmt, self.expected_fields)
            df = df.drop("_nf")
        return _apply_empty_policy(df, self.paths, empty)

    def chunks(self, chunk_rows: int | None) -> Iterator[pl.DataFrame]:
        """Read chunks (all of it at once for ``None``), with polars' errors explained."""
        try:
            if chunk_rows is None:
                yield self.lf.collect()
            else:
                yield from _exact(self.blocks(), chunk_rows)
        except (pl.exceptions.ComputeError, pa.ArrowInvalid) as err:
            if _is_utf8_error(err):
                raise _undecodable(self.paths, self.encoding, err) from None
            raise CorpusError(f"cannot be read as {self.fmt} ({err})", path=self.paths[0]) from err

    def lazy(self, empty: str) -> pl.LazyFrame:
        """The checks as a polars plan: they run (and raise, or warn) when it is collected."""

        def check(df: pl.DataFrame) -> pl.DataFrame:
            kept, dropped = self.check(df, empty)
            if dropped:
                warnings.warn(SkippedLinesWarning(str(self.paths[0]), dropped), stacklevel=2)
            return kept.select(_COLUMNS)

        schema = {"src": pl.String, "tgt": pl.String, "line": pl.Int64}
        return self.lf.map_batches(check, schema=schema, streamable=True)


def _text_source(path: Path, fmt: str, src_col: str, tgt_col: str, encoding: str) -> _Source:
    if fmt == "text":
        i_src, i_tgt, expected, first = 0, 1, 2, 1
    else:
        header = _tsv_header(path, encoding)
        _pick(header, src_col, "src", path)
        _pick(header, tgt_col, "tgt", path)
        i_src, i_tgt, expected, first = header.index(src_col), header.index(tgt_col), len(header), 2
    exprs = _field_exprs(i_src, i_tgt)
    lf = _scan_text_lines(path, encoding, "text").filter(pl.col("line") >= first).select(exprs)

    def blocks() -> Iterator[pl.DataFrame]:
        for frame in _numbered(_line_frames(path, encoding, "text"), 1):
            yield frame.filter(pl.col("line") >= first).select(exprs)

    return _Source(lf, blocks, (path, path), encoding, fmt, expected)


def _table_columns(frame: pl.DataFrame, src_col: str, tgt_col: str) -> pl.DataFrame:
    return frame.select(
        pl.col(src_col).cast(pl.String).alias("src"), pl.col(tgt_col).cast(pl.String).alias("tgt")
    )


def _table_source(path: Path, fmt: str, src_col: str, tgt_col: str, encoding: str) -> _Source:
    if fmt == "csv":
        if not _is_utf8(encoding):
            raise ConfigError(
                f"encoding should be 'utf-8' for CSV (polars reads UTF-8), but got "
                f"encoding={encoding!r}; re-encode the file"
            )
        lf = pl.scan_csv(path, infer_schema=False)
        first = 2  # after the header
    elif fmt == "parquet":
        lf, first = pl.scan_parquet(path), 1
    else:
        lf, first = pl.scan_ndjson(path, infer_schema_length=1000), 1
    try:
        schema = lf.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as err:
        if _is_utf8_error(err):
            raise _undecodable([path], encoding, err) from None
        raise CorpusError(f"cannot be read as {fmt} ({err})", path=path) from err
    _pick(schema.names(), src_col, "src", path)
    _pick(schema.names(), tgt_col, "tgt", path)
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
                read_options=pa_csv.ReadOptions(block_size=_BLOCK_BYTES),
                parse_options=pa_csv.ParseOptions(newlines_in_values=True),
                convert_options=pa_csv.ConvertOptions(
                    include_columns=columns,
                    column_types=dict.fromkeys(columns, pa.large_string()),
                ),
            )
            for batch in reader:
                yield pl.DataFrame(pl.from_arrow(batch))
        else:
            for block in _byte_blocks(path, encoding):
                yield pl.read_ndjson(io.BytesIO(block), infer_schema_length=None)

    def blocks() -> Iterator[pl.DataFrame]:
        for frame in _numbered(raw_blocks(), first):
            yield frame.select(*_table_columns(frame, src_col, tgt_col), pl.col("line"))

    lf = lf.with_row_index("line", offset=first).select(
        pl.col(src_col).cast(pl.String).alias("src"),
        pl.col(tgt_col).cast(pl.String).alias("tgt"),
        pl.col("line").cast(pl.Int64),
    )
    return _Source(lf, blocks, (path, path), encoding, fmt, None)


def _pairs_source(
    path: PathLike, fmt: str | None, src_col: str, tgt_col: str, encoding: str
) -> _Source:
    p = _check_file(path)
    name = _infer_format(p, fmt)
    if name in ("text", "tsv"):
        return _text_source(p, name, src_col, tgt_col, encoding)
    return _table_source(p, name, src_col, tgt_col, encoding)


def _parallel_source(src_path: PathLike, tgt_path: PathLike, encoding: str) -> _Source:
    src, tgt = _check_file(src_path), _check_file(tgt_path)
    _check_aligned(src, tgt, encoding)
    lf = pl.concat(
        [
            _scan_text_lines(src, encoding, "src"),
            _scan_text_lines(tgt, encoding, "tgt").drop("line"),
        ],
        how="horizontal",
    ).select(pl.col("src"), pl.col("tgt"), pl.col("line").cast(pl.Int64))

    def blocks() -> Iterator[pl.DataFrame]:
        # both sides re-cut to the same number of rows per frame, then side by side
        sides = (
            _exact(_line_frames(src, encoding, "src"), _PAIR_ROWS),
            _exact(_line_frames(tgt, encoding, "tgt"), _PAIR_ROWS),
        )
        pairs = (pl.concat([a, b], how="horizontal") for a, b in zip(*sides, strict=True))
        yield from _numbered(pairs, 1)

    return _Source(lf, blocks, (src, tgt), encoding, "text", None)


# --------------------------------------------------------------------------- public readers


def _iter_checked(source: _Source, chunk_rows: int | None, empty: str) -> Iterator[pl.DataFrame]:
    total, skipped = 0, []
    for chunk in source.chunks(chunk_rows):
        kept, dropped = source.check(chunk, empty)
        skipped.extend(dropped)
        total += kept.height
        if kept.height:
            yield kept.select(_COLUMNS)
    if skipped:
        warnings.warn(SkippedLinesWarning(str(source.paths[0]), skipped), stacklevel=3)
    if total == 0:
        why = f" after skipping {len(skipped)} empty line(s)" if skipped else ""
        raise EmptyCorpusError(
            f"has no examples{why}; check that this is the right file", path=source.paths[0]
        )


def _collect(source: _Source, empty: str) -> pl.DataFrame:
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
            ``"skip"`` drops those pairs and warns with a :class:`SkippedLinesWarning` listing
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
    _check_empty_policy(empty)
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

    Formats (chosen from the extension unless ``format`` is given; see :data:`FORMATS`):

    - ``"text"`` (``.txt``): ``source<TAB>target`` per line, no header, no quoting.
    - ``"tsv"`` (``.tsv``): a header line naming the columns, then as many tab-separated
      fields per line; quotes are text. A line with a missing or extra tab is a
      :class:`~seqdata.errors.CorpusError` naming the line.
    - ``"csv"`` (``.csv``): a header line, standard CSV quoting (polars ``scan_csv``).
    - ``"parquet"`` (``.parquet``, ``.pq``) and ``"jsonl"`` (``.jsonl``, ``.ndjson``).

    Args:
        path: the file.
        format: one of the names above, or ``None`` to infer it from the extension.
        src_col: the source column (TSV, CSV, parquet, JSON lines).
        tgt_col: the target column.
        lazy: return a ``pl.LazyFrame`` (polars ``scan_*``) instead of reading the file; the
            same checks run batch by batch, and raise, when it is collected (a bad UTF-8 byte
            then surfaces as polars' ``ComputeError``: :func:`iter_pair_chunks` names its
            line); with ``empty="skip"`` each batch warns about the lines it dropped.
        empty: ``"error"`` or ``"skip"``, as in :func:`read_parallel`.
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
    _check_empty_policy(empty)
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
    the checks and errors are those of :func:`read_pairs`, the
    :class:`SkippedLinesWarning` comes after the last chunk. Chunks can be shorter than
    ``chunk_rows`` where ``empty="skip"`` dropped lines.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "pairs.txt"
    >>> _ = p.write_text("".join(f"s{i}\\tt{i}\\n" for i in range(5)), encoding="utf-8")
    >>> [chunk["line"].to_list() for chunk in iter_pair_chunks(p, chunk_rows=2)]
    [[1, 2], [3, 4], [5]]
    """
    _check_empty_policy(empty)
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
    :func:`read_parallel`.

    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (tmp / "s").write_text("a\\nb\\nc\\n", encoding="utf-8")
    >>> _ = (tmp / "t").write_text("A\\nB\\nC\\n", encoding="utf-8")
    >>> [chunk["tgt"].to_list() for chunk in iter_parallel_chunks(tmp / "s", tmp / "t", 2)]
    [['A', 'B'], ['C']]
    """
    _check_empty_policy(empty)
    _check_chunk_rows(chunk_rows)
    yield from _iter_checked(_parallel_source(src_path, tgt_path, encoding), chunk_rows, empty)
