"""Where the readers' rows come from: file checks, line framing, and one `Source` per corpus.

The building blocks of `seqdata.readers`: checking a path, sniffing and decoding bytes
(encodings, byte-order marks, line endings), cutting files into blocks of whole lines,
counting lines, checking that parallel files align, and `Source` — a corpus read two ways
(one polars plan, or bounded blocks) with the checks every reader applies to its rows.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
>>> _ = path.write_bytes(b"one\\ntwo")
>>> count_lines(path)
2
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from seqdata.errors import (
    ConfigError,
    CorpusError,
    EmptyCorpusError,
    EmptyLineError,
    ParallelMismatchError,
    UndecodableInputError,
)

__all__ = [
    "BLOCK_BYTES",
    "COLUMNS",
    "FORMATS",
    "SkippedLinesWarning",
    "Source",
    "count_lines",
    "sniff",
]

PathLike = str | os.PathLike[str]

#: The formats `seqdata.readers.read_pairs` reads, and the file extensions that select each.
FORMATS: dict[str, tuple[str, ...]] = {
    "text": (".txt",),  # "src<TAB>tgt" per line, no header
    "tsv": (".tsv",),  # a header line naming the columns, then tab-separated fields
    "csv": (".csv",),  # a header line, RFC 4180 quoting
    "parquet": (".parquet", ".pq"),
    "jsonl": (".jsonl", ".ndjson"),
}
COLUMNS = ["src", "tgt", "line"]
_BLOCK = 16 << 20  # bytes per block when locating an undecodable byte
BLOCK_BYTES = 8 << 20  # bytes per block read by the chunked readers


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


def check_empty_policy(empty: str) -> None:
    if empty not in ("error", "skip"):
        raise ConfigError(f"empty should be 'error' or 'skip', but got empty={empty!r}")


def check_file(path: PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise CorpusError("no such file; check the path", path=p)
    if not p.is_file():
        raise CorpusError("is not a regular file (a directory?); pass a file", path=p)
    return p


_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_SNIFF = 1 << 16  # bytes looked at for byte-order marks and line endings


def sniff(path: Path, encoding: str) -> None:
    """Refuse, with the file named, what would otherwise read as garbage: a UTF-16/32 file
    read as UTF-8 (its byte-order mark says so), and CR-only (old Mac) line endings."""
    with path.open("rb") as f:
        head = f.read(_SNIFF)
    if is_utf8(encoding):
        for bom, name in _WIDE_BOMS:
            if head.startswith(bom):
                raise UndecodableInputError(
                    f"is {name} text (it starts with a {name} byte-order mark), but "
                    f"encoding={encoding!r}; re-encode it as UTF-8 (iconv -f {name} -t UTF-8) "
                    f"or pass encoding={name.lower()!r}",
                    path=path,
                )
    else:
        try:
            head = head.decode(encoding, errors="ignore").encode("utf-8")
        except LookupError:
            return  # the reader names the unknown encoding
    if b"\r" in head and b"\n" not in head:
        raise CorpusError(
            "uses CR-only line endings (old Mac style: no \\n in the first "
            f"{len(head):,} bytes, but \\r); convert them to \\n (e.g. tr '\\r' '\\n' < in > out)",
            path=path,
        )


def is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "utf-8"


def _first_undecodable(path: Path, encoding: str) -> tuple[int, str] | None:
    """The 1-based line and the reason of the first byte ``encoding`` cannot decode, or None.

    UTF-8 files are read in blocks cut at a newline (a newline byte never occurs inside a
    UTF-8 multi-byte character), so memory stays bounded; other encodings are read whole.
    """
    if not is_utf8(encoding):
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


def undecodable(paths: Sequence[Path], encoding: str, err: Exception) -> Exception:
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


def is_utf8_error(err: Exception) -> bool:
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
        raise undecodable([path], encoding, err) from None
    except LookupError as err:
        raise ConfigError(f"encoding should be a Python codec, but got {encoding!r}") from err


def scan_text_lines(path: Path, encoding: str, name: str) -> pl.LazyFrame:
    source: Path | bytes = path if is_utf8(encoding) else _decoded_utf8(path, encoding)
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


def byte_blocks(path: Path, encoding: str) -> Iterator[bytes]:
    """UTF-8 bytes of whole lines, about ``BLOCK_BYTES`` at a time, byte-order mark dropped.

    The chunked readers parse each block with polars; reading the file ourselves block by block
    (rather than through ``collect_batches``, which reads ahead as fast as it can) keeps their
    memory bounded by the block and chunk sizes whatever the file size.
    """
    f: io.BufferedIOBase | io.BytesIO
    f = path.open("rb") if is_utf8(encoding) else io.BytesIO(_decoded_utf8(path, encoding))
    with f:
        head = f.read(len(codecs.BOM_UTF8))
        rest = b"" if head == codecs.BOM_UTF8 else head
        while True:
            block = f.read(BLOCK_BYTES)
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


def line_frames(path: Path, encoding: str, name: str) -> Iterator[pl.DataFrame]:
    """The file's lines as one-column frames, block by block (bounded memory)."""
    for block in byte_blocks(path, encoding):
        try:
            frame = pl.read_lines(block, name=name)
        except pl.exceptions.ComputeError as err:
            if is_utf8_error(err):
                raise undecodable([path], encoding, err) from None
            raise
        yield frame


def exact(frames: Iterable[pl.DataFrame], rows: int) -> Iterator[pl.DataFrame]:
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


def numbered(frames: Iterable[pl.DataFrame], first: int) -> Iterator[pl.DataFrame]:
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
    p = check_file(path)
    f = p.open("rb") if is_utf8(encoding) else io.BytesIO(_decoded_utf8(p, encoding))
    count, last = 0, b"\n"
    with f:
        while block := f.read(BLOCK_BYTES):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def check_aligned(src: Path, tgt: Path, encoding: str) -> None:
    n_src, n_tgt = count_lines(src, encoding), count_lines(tgt, encoding)
    if n_src != n_tgt:
        short, n_short = (tgt, n_tgt) if n_tgt < n_src else (src, n_src)
        raise ParallelMismatchError(
            f"the parallel files should have the same number of lines, but {src} has {n_src} "
            f"and {tgt} has {n_tgt}: {short} ran out first, after line {n_short}; "
            "re-align them (every line of one is the translation of the same line of the other)",
            path=short,
        )


def infer_format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise ConfigError(f"format should be one of {sorted(FORMATS)}, but got {fmt!r}")
        return fmt
    suffix = path.suffix.lower()
    for name, suffixes in FORMATS.items():
        if suffix in suffixes:
            return name
    raise ConfigError(
        f"the file ending {suffix!r} of {path} is not one seqdata reads; rename the file to end "
        f"in one of {', '.join(s for v in FORMATS.values() for s in v)} (from Python, "
        f"read_pairs(..., format=...) also takes one of {sorted(FORMATS)})",
    )


def tsv_header(path: Path, encoding: str) -> list[str]:
    try:
        first = scan_text_lines(path, encoding, "text").head(1).collect()
    except pl.exceptions.ComputeError as err:
        if is_utf8_error(err):
            raise undecodable([path], encoding, err) from None
        raise
    if first.height == 0:
        raise EmptyCorpusError("is empty; a TSV file needs a header line", path=path)
    return str(first["text"][0]).split("\t")


def pick(columns: Sequence[str], wanted: str, role: str, path: Path) -> None:
    if wanted not in columns:
        raise CorpusError(
            f"{role}_col should name a column of the file, but got {role}_col={wanted!r}; "
            f"the columns are {list(columns)}",
            path=path,
        )


def field_exprs(i_src: int, i_tgt: int) -> list[pl.Expr]:
    """``src``, ``tgt``, ``line``, ``_nf`` (number of tab-separated fields) of a ``text`` line."""
    fields = pl.col("text").str.split("\t")
    return [
        fields.list.get(i_src, null_on_oob=True).alias("src"),
        fields.list.get(i_tgt, null_on_oob=True).alias("tgt"),
        pl.col("line").cast(pl.Int64),
        (pl.col("text").str.count_matches("\t", literal=True) + 1).alias("_nf"),
    ]


class Source:
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
        self.line_map: np.ndarray | None = None  # JSONL with blank lines: record → file line
        self.explain: Callable[[], None] | None = None  # raises the error of a bad row

    def check(self, df: pl.DataFrame, empty: str) -> tuple[pl.DataFrame, list[int]]:
        if self.line_map is not None and df.height:
            lines = self.line_map[df["line"].to_numpy() - 1]
            df = df.with_columns(pl.Series("line", lines, dtype=pl.Int64))
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
                yield from exact(self.blocks(), chunk_rows)
        except (pl.exceptions.ComputeError, pa.ArrowInvalid) as err:
            if is_utf8_error(err):
                raise undecodable(self.paths, self.encoding, err) from None
            if self.explain is not None:
                self.explain()
            raise CorpusError(f"cannot be read as {self.fmt} ({err})", path=self.paths[0]) from err

    def lazy(self, empty: str) -> pl.LazyFrame:
        """The checks as a polars plan: they run (and raise, or warn) when it is collected."""

        def check(df: pl.DataFrame) -> pl.DataFrame:
            kept, dropped = self.check(df, empty)
            if dropped:
                warnings.warn(SkippedLinesWarning(str(self.paths[0]), dropped), stacklevel=2)
            return kept.select(COLUMNS)

        schema = {"src": pl.String, "tgt": pl.String, "line": pl.Int64}
        return self.lf.map_batches(check, schema=schema, streamable=True)


def first_bad_csv_record(path: Path) -> None:
    """Raise the error of the first record Python's strict ``csv`` reader refuses (an
    unbalanced quote, a stray character after a closing quote), naming the line where that
    record starts."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f, strict=True)
        start = 1
        try:
            for _ in reader:
                start = reader.line_num + 1
        except csv.Error as err:
            raise CorpusError(
                f"is not valid CSV from this record on ({err}); check its quotes: a "
                'field that holds a quote character must be quoted, with the quote doubled ("")',
                path=path,
                line=start,
            ) from None
