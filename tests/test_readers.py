"""Readers: line-aligned files, TSV/CSV/parquet/JSON lines, lazy and chunked, and bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqdata import readers, sources
from seqdata.errors import (
    ConfigError,
    CorpusError,
    EmptyCorpusError,
    EmptyLineError,
    ParallelMismatchError,
    UndecodableInputError,
)
from seqdata.readers import (
    SkippedLinesWarning,
    count_lines,
    iter_pair_chunks,
    iter_parallel_chunks,
    read_pairs,
    read_parallel,
)

# Texts without line breaks; include quotes, commas, non-ASCII and inner spaces.
TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\ufeff\x85"
    ),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() != "")
HYPO = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def write(path: Path, data: str | bytes) -> Path:
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def joined(lines: list[str], eol: str, final: bool) -> str:
    return eol.join(lines) + (eol if final else "")


# --------------------------------------------------------------------------- read_parallel


@HYPO
@given(
    pairs=st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=30),
    eols=st.tuples(st.sampled_from(["\n", "\r\n"]), st.sampled_from(["\n", "\r\n"])),
    finals=st.tuples(st.booleans(), st.booleans()),
)
def test_read_parallel_round_trips_any_text(tmp_path, pairs, eols, finals):
    src = write(tmp_path / "s.txt", joined([s for s, _ in pairs], eols[0], finals[0]))
    tgt = write(tmp_path / "t.txt", joined([t for _, t in pairs], eols[1], finals[1]))
    df = read_parallel(src, tgt)
    assert df.columns == ["src", "tgt", "line"]
    assert df.schema == {"src": pl.String, "tgt": pl.String, "line": pl.Int64}
    assert df.select("src", "tgt").rows() == pairs
    assert df["line"].to_list() == list(range(1, len(pairs) + 1))


def test_read_parallel_keeps_quotes_tabs_and_drops_a_bom(tmp_path):
    src = write(tmp_path / "s", '\ufeff"quoted, with comma"\r\ntab\there\r\n')
    tgt = write(tmp_path / "t", "« guillemets »\n'single'")
    assert read_parallel(src, tgt).select("src", "tgt").rows() == [
        ('"quoted, with comma"', "« guillemets »"),
        ("tab\there", "'single'"),
    ]


@pytest.mark.parametrize("short", ["src", "tgt"])
def test_parallel_mismatch_names_both_counts_and_the_shorter_file(tmp_path, short):
    long_, short_ = "a\nb\nc\n", "a\nb"
    src = write(tmp_path / "s.txt", short_ if short == "src" else long_)
    tgt = write(tmp_path / "t.txt", short_ if short == "tgt" else long_)
    with pytest.raises(ParallelMismatchError) as info:
        read_parallel(src, tgt)
    msg = str(info.value)
    counts = (2, 3) if short == "src" else (3, 2)
    assert f"{src} has {counts[0]} and {tgt} has {counts[1]}" in msg
    ran_out = src if short == "src" else tgt
    assert f"{ran_out} ran out first, after line 2" in msg
    assert info.value.path == str(ran_out)
    with pytest.raises(ParallelMismatchError):  # before any chunk is yielded
        next(iter_parallel_chunks(src, tgt, 1))


@pytest.mark.parametrize("side", [0, 1])
def test_undecodable_byte_names_file_and_line(tmp_path, side):
    good = b"one\ntwo\nthree\nfour\n"
    bad = b"one\ntwo\nth\xffree\nfour\n"
    src = write(tmp_path / "s.txt", bad if side == 0 else good)
    tgt = write(tmp_path / "t.txt", bad if side == 1 else good)
    with pytest.raises(UndecodableInputError) as info:
        read_parallel(src, tgt)
    assert info.value.line == 3
    assert info.value.path == str((src, tgt)[side])
    assert "encoding=" in str(info.value)
    with pytest.raises(UndecodableInputError) as info:
        list(iter_parallel_chunks(src, tgt, 2))
    assert info.value.line == 3


@HYPO
@given(
    lines=st.lists(TEXT, min_size=1, max_size=40),
    where=st.integers(0, 39),
    block=st.integers(1, 64),
    bad=st.sampled_from([b"\xff", b"\xc3(", b"\xe2\x82", b"\xed\xa0\x80"]),
)
def test_undecodable_line_is_exact_across_block_boundaries(
    tmp_path, monkeypatch, lines, where, block, bad
):
    monkeypatch.setattr(sources, "_BLOCK", block)
    where = min(where, len(lines) - 1)
    data = [ln.encode("utf-8") for ln in lines]
    data[where] = data[where] + bad
    path = write(tmp_path / "bad.txt", b"\n".join(data) + b"\n")
    with pytest.raises(UndecodableInputError) as info:
        read_parallel(path, path)
    assert info.value.line == where + 1


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"\x00\n\x80", 2),  # found by test_fuzz: not JSON, and then not UTF-8 either
        (b'{"src": "a", "tgt": "b"}\n{"src": "\xff", "tgt": "c"}\n', 2),
    ],
)
def test_a_jsonl_file_that_is_not_utf8_names_its_line(tmp_path, data, line):
    path = write(tmp_path / "p.jsonl", data)
    with pytest.raises(UndecodableInputError) as info:
        read_pairs(path, empty="skip")
    assert (info.value.path, info.value.line) == (str(path), line)


def test_other_encodings_are_decoded_by_python(tmp_path):
    src = write(tmp_path / "s", "café\nnaïve\n".encode("latin-1"))
    tgt = write(tmp_path / "t", "Kaffee\nnaiv\n".encode("utf-16"))
    assert read_parallel(src, src, encoding="latin-1")["src"].to_list() == ["café", "naïve"]
    assert read_parallel(tgt, tgt, encoding="utf-16")["tgt"].to_list() == ["Kaffee", "naiv"]
    with pytest.raises(UndecodableInputError) as info:
        read_parallel(src, src, encoding="ascii")
    assert info.value.line == 1


@pytest.mark.parametrize("blank", ["", "   ", "\t", "\u3000", " \r"])
@pytest.mark.parametrize("side", [0, 1])
def test_empty_line_error_names_file_and_line(tmp_path, blank, side):
    lines = ["a", "b", blank, "d"]
    other = ["A", "B", "C", "D"]
    src = write(tmp_path / "s.txt", "\n".join(lines if side == 0 else other) + "\n")
    tgt = write(tmp_path / "t.txt", "\n".join(other if side == 0 else lines) + "\n")
    with pytest.raises(EmptyLineError) as info:
        read_parallel(src, tgt)
    assert info.value.line == 3
    assert info.value.path == str((src, tgt)[side])
    assert ("source", "target")[side] in str(info.value)
    assert "empty='skip'" in str(info.value)


@HYPO
@given(
    pairs=st.lists(
        st.tuples(st.one_of(TEXT, st.sampled_from(["", "  "])), st.one_of(TEXT, st.just(""))),
        min_size=1,
        max_size=30,
    )
)
def test_skip_drops_exactly_the_empty_pairs_and_reports_every_line(tmp_path, pairs):
    src = write(tmp_path / "s.txt", "\n".join(s for s, _ in pairs) + "\n")
    tgt = write(tmp_path / "t.txt", "\n".join(t for _, t in pairs) + "\n")
    empty = [i + 1 for i, (s, t) in enumerate(pairs) if not s.strip() or not t.strip()]
    kept = [(s, t, i + 1) for i, (s, t) in enumerate(pairs) if i + 1 not in empty]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if not kept:
            with pytest.raises(EmptyCorpusError, match="after skipping"):
                read_parallel(src, tgt, empty="skip")
            return
        df = read_parallel(src, tgt, empty="skip")
    assert df.rows() == kept
    skipped = [w.message for w in caught if isinstance(w.message, SkippedLinesWarning)]
    if empty:
        assert len(skipped) == 1
        assert skipped[0].lines == empty
        assert f"skipped {len(empty)} " in str(skipped[0])
    else:
        assert skipped == []


def test_empty_corpus_and_missing_or_non_files(tmp_path):
    empty = write(tmp_path / "empty.txt", b"")
    with pytest.raises(EmptyCorpusError, match="has no examples"):
        read_parallel(empty, empty)
    with pytest.raises(CorpusError, match="no such file") as info:
        read_parallel(empty, tmp_path / "missing.txt")
    assert info.value.path == str(tmp_path / "missing.txt")
    with pytest.raises(CorpusError, match="not a regular file"):
        read_pairs(tmp_path, format="text")
    with pytest.raises(ConfigError, match="empty should be"):
        read_parallel(empty, empty, empty="drop")  # type: ignore[arg-type]


def test_count_lines_counts_a_last_line_without_newline(tmp_path):
    assert count_lines(write(tmp_path / "a", b"x\r\ny\n\nz")) == 4
    assert count_lines(write(tmp_path / "b", b"x\n")) == 1
    assert count_lines(write(tmp_path / "c", b"")) == 0


# --------------------------------------------------------------------------- read_pairs


def test_text_pairs_read_quotes_as_text(tmp_path):
    path = write(tmp_path / "p.txt", 'He said "hi\tIl a dit "salut"\r\n"\t"\n')
    assert read_pairs(path).rows() == [('He said "hi', 'Il a dit "salut"', 1), ('"', '"', 2)]


@pytest.mark.parametrize(
    ("line", "found", "what"), [("a\tb\tc", 3, "an extra tab"), ("a b", 1, "a missing tab")]
)
def test_text_pairs_with_a_wrong_number_of_tabs_name_the_line(tmp_path, line, found, what):
    path = write(tmp_path / "p.txt", f"x\ty\nu\tv\n{line}\nw\tz\n")
    for read in (
        lambda: read_pairs(path),
        lambda: read_pairs(path, lazy=True).collect(),
        lambda: list(iter_pair_chunks(path, 1)),
    ):
        with pytest.raises(CorpusError) as info:
            read()
        assert info.value.line == 3
        assert f"should have 2 tab-separated fields, but got {found} ({what})" in str(info.value)


def test_tsv_header_selects_columns_and_checks_every_line(tmp_path):
    path = write(tmp_path / "p.tsv", 'id\ten\tfr\n1\t"Hi\tSalut"\n2\tBye\tAu revoir\n')
    df = read_pairs(path, src_col="en", tgt_col="fr")
    assert df.rows() == [('"Hi', 'Salut"', 2), ("Bye", "Au revoir", 3)]
    with pytest.raises(CorpusError, match=r"the columns are \['id', 'en', 'fr'\]"):
        read_pairs(path, src_col="de", tgt_col="fr")
    write(path, "id\ten\tfr\n1\tHi\tSalut\n2\tBye\tAu\trevoir\n")
    with pytest.raises(CorpusError, match="got 4 \\(an extra tab\\)") as info:
        read_pairs(path, src_col="en", tgt_col="fr")
    assert info.value.line == 3
    with pytest.raises(EmptyCorpusError, match="header"):
        read_pairs(write(tmp_path / "e.tsv", b""))


def test_csv_uses_standard_quoting(tmp_path):
    path = tmp_path / "p.csv"
    frame = pl.DataFrame({"en": ['a, "b"', "multi\nline"], "fr": ["c", "d"], "n": [1, 2]})
    frame.write_csv(path)
    df = read_pairs(path, src_col="en", tgt_col="fr")
    assert df.select("src", "tgt").rows() == [('a, "b"', "c"), ("multi\nline", "d")]
    assert df["line"][0] == 2  # after the header


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_parquet_and_json_lines_with_nulls(tmp_path, fmt):
    frame = pl.DataFrame({"src": ["a", None, "c"], "tgt": ["A", "B", " "], "k": [1, 2, 3]})
    path = tmp_path / f"p.{fmt}"
    frame.write_parquet(path) if fmt == "parquet" else frame.write_ndjson(path)
    with pytest.raises(EmptyLineError) as info:
        read_pairs(path)
    assert info.value.line == 2
    with pytest.warns(SkippedLinesWarning) as caught:
        df = read_pairs(path, empty="skip")
    assert df.rows() == [("a", "A", 1)]
    assert caught[0].message.lines == [2, 3]  # type: ignore[union-attr]
    with pytest.raises(CorpusError, match="should hold texts, but has dtype Int64"):
        read_pairs(path, src_col="k")


def test_broken_json_is_a_corpus_error(tmp_path):
    path = write(tmp_path / "p.jsonl", '{"src": "a", "tgt": "b"}\nnot json\n')
    with pytest.raises(CorpusError, match=r"p.jsonl, line 2: is not valid JSON") as info:
        read_pairs(path)
    assert info.value.line == 2


def test_format_is_inferred_or_explained(tmp_path):
    path = write(tmp_path / "p.dat", "a\tb\n")
    with pytest.raises(ConfigError, match=r"ending '.dat' .* rename the file to end in one of"):
        read_pairs(path)
    with pytest.raises(ConfigError, match="format should be one of"):
        read_pairs(path, format="xml")  # type: ignore[arg-type]
    assert read_pairs(path, format="text").rows() == [("a", "b", 1)]


# --------------------------------------------------------------------------- lazy and chunked


@pytest.mark.parametrize("fmt", ["text", "tsv", "csv", "parquet", "jsonl"])
def test_lazy_chunked_and_eager_agree(tmp_path, fmt):
    n = 257
    frame = pl.DataFrame(
        {"src": [f"s {i} ," for i in range(n)], "tgt": [f't "{i}"' for i in range(n)]}
    ).with_columns(
        pl.when(pl.int_range(n) % 50 == 7).then(pl.lit("  ")).otherwise("tgt").alias("tgt")
    )
    path = tmp_path / f"p.{ {'text': 'txt'}.get(fmt, fmt) }"
    if fmt == "text":
        write(path, "".join(f"{s}\t{t}\n" for s, t in frame.rows()))
    elif fmt == "tsv":
        write(path, "src\ttgt\n" + "".join(f"{s}\t{t}\n" for s, t in frame.rows()))
    elif fmt == "csv":
        frame.write_csv(path)
    elif fmt == "parquet":
        frame.write_parquet(path)
    else:
        frame.write_ndjson(path)
    with pytest.warns(SkippedLinesWarning):
        eager = read_pairs(path, empty="skip")
    assert eager.height == n - len(range(7, n, 50))
    lazy = read_pairs(path, lazy=True, empty="skip")
    assert isinstance(lazy, pl.LazyFrame)
    with pytest.warns(SkippedLinesWarning):
        assert lazy.collect().equals(eager)
    with pytest.warns(SkippedLinesWarning) as caught:
        chunks = list(iter_pair_chunks(path, 40, empty="skip"))
    assert all(0 < c.height <= 40 for c in chunks)
    assert pl.concat(chunks).equals(eager)
    offset = {"csv": 1, "tsv": 1}.get(fmt, 0)
    assert caught[0].message.lines == [i + 1 + offset for i in range(7, n, 50)]  # type: ignore[union-attr]
    with pytest.raises(EmptyLineError):
        read_pairs(path, lazy=True).collect()


def test_parallel_chunks_match_the_eager_read(tmp_path):
    src = write(tmp_path / "s", "".join(f"s{i}\n" for i in range(1000)))
    tgt = write(tmp_path / "t", "".join(f"t{i}\r\n" for i in range(1000)))
    chunks = list(iter_parallel_chunks(src, tgt, 300))
    assert [c.height for c in chunks] == [300, 300, 300, 100]
    assert pl.concat(chunks).equals(read_parallel(src, tgt))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_chunk_rows_must_be_positive(tmp_path, bad):
    path = write(tmp_path / "p.txt", "a\tb\n")
    with pytest.raises(ConfigError, match="chunk_rows should be a positive integer"):
        next(iter_pair_chunks(path, bad))


@HYPO
@given(
    pairs=st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=40),
    eol=st.sampled_from(["\n", "\r\n"]),
    final=st.booleans(),
    bom=st.booleans(),
    block=st.integers(1, 50),
    pair_rows=st.integers(1, 7),
    chunk_rows=st.integers(1, 9),
)
def test_block_reader_is_exact_at_every_block_boundary(
    tmp_path, monkeypatch, pairs, eol, final, bom, block, pair_rows, chunk_rows
):
    monkeypatch.setattr(sources, "BLOCK_BYTES", block)
    monkeypatch.setattr(readers, "BLOCK_BYTES", block)
    monkeypatch.setattr(readers, "_PAIR_ROWS", pair_rows)
    prefix = "\ufeff" if bom else ""
    src = write(tmp_path / "s.txt", prefix + joined([s for s, _ in pairs], eol, final))
    tgt = write(tmp_path / "t.txt", joined([t for _, t in pairs], eol, final))
    chunks = list(iter_parallel_chunks(src, tgt, chunk_rows))
    assert [c.height for c in chunks[:-1]] == [chunk_rows] * (len(chunks) - 1)
    assert pl.concat(chunks).equals(read_parallel(src, tgt))
    assert pl.concat(chunks).select("src", "tgt").rows() == pairs
    text = write(tmp_path / "p.txt", prefix + joined([f"{s}\t{t}" for s, t in pairs], eol, final))
    assert pl.concat(list(iter_pair_chunks(text, chunk_rows))).equals(read_pairs(text))


def test_chunked_csv_and_jsonl_read_in_small_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "BLOCK_BYTES", 64)
    monkeypatch.setattr(readers, "BLOCK_BYTES", 64)
    frame = pl.DataFrame(
        {"src": [f'a "{i}",\nx' for i in range(50)], "tgt": [f"b{i}" for i in range(50)]}
    )
    frame.write_csv(tmp_path / "p.csv")
    frame.write_ndjson(tmp_path / "p.jsonl")
    for name in ("p.csv", "p.jsonl"):
        chunks = list(iter_pair_chunks(tmp_path / name, 7))
        assert [c.height for c in chunks] == [7] * 7 + [1]
        assert pl.concat(chunks).equals(read_pairs(tmp_path / name))


def test_count_lines_of_other_encodings(tmp_path):
    path = write(tmp_path / "u16", "a\nb\nc".encode("utf-16"))
    assert count_lines(path, encoding="utf-16") == 3
