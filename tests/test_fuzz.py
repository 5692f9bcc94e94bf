"""Hostile input: random bytes into the readers, random damage to a saved store.

Every outcome must be a result or a `SeqdataError` (which names the file) — never another
exception, never a silently different corpus.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqdata.corpus import ParallelCorpus
from seqdata.errors import SeqdataError
from seqdata.pipeline import PairPipeline
from seqdata.readers import iter_pair_chunks, read_pairs, read_parallel

FUZZ = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# bytes that look like text files often enough to get past the first check
CHUNKS = st.sampled_from(
    [b"a b", b"\t", b"\n", b"\r\n", b"\r", b'"', b",", b"{", b"}", b":", b'"src"', b'"tgt"',
     b"\xef\xbb\xbf", b"\xff\xfe", b"\xc3", b"\xa9", b"5", b"[", b"]", b" ", b"\x00", b"null"]
)  # fmt: skip
TEXT_BYTES = st.one_of(st.binary(max_size=60), st.lists(CHUNKS, max_size=25).map(b"".join))


def _read_or_explain(read) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            frame = read()
        except SeqdataError as err:
            assert str(err)
            return
    rows = frame if isinstance(frame, list) else [frame]
    for part in rows:
        assert part.columns == ["src", "tgt", "line"]
        assert part["line"].is_sorted() and part["src"].null_count() == 0


@FUZZ
@given(src=TEXT_BYTES, tgt=TEXT_BYTES)
def test_random_bytes_into_the_parallel_reader(tmp_path: Path, src: bytes, tgt: bytes) -> None:
    (tmp_path / "a.src").write_bytes(src)
    (tmp_path / "a.tgt").write_bytes(tgt)
    _read_or_explain(lambda: read_parallel(tmp_path / "a.src", tmp_path / "a.tgt"))


@FUZZ
@given(data=TEXT_BYTES, suffix=st.sampled_from([".txt", ".tsv", ".csv", ".jsonl", ".parquet"]))
def test_random_bytes_into_the_pairs_readers(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = tmp_path / f"p{suffix}"
    path.write_bytes(data)
    _read_or_explain(lambda: read_pairs(path, empty="skip"))
    _read_or_explain(lambda: list(iter_pair_chunks(path, 3, empty="skip")))


SRC = ["ich sah einen hund", "der hund lief", "ein kleiner hund", "ich lief schnell"] * 4
TGT = ["i saw a dog", "the dog ran", "a small dog", "i ran fast"] * 4


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ParallelCorpus]:
    folder = tmp_path_factory.mktemp("store") / "store"
    pipe = PairPipeline.build(SRC, TGT)
    corpus = ParallelCorpus.from_texts(SRC, TGT, pipe)
    corpus.save(folder, pipeline=pipe)
    return folder, corpus


FILES = ["src.values.npy", "src.offsets.npy", "tgt.values.npy", "tgt.offsets.npy"]
DAMAGE = st.one_of(
    st.tuples(st.just("flip"), st.sampled_from(FILES), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.sampled_from(FILES), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("manifest"), st.sampled_from(["fields", "num_examples", "vocab", "format",
              "files", "dtype", "values"]), st.integers(0, 5), st.just(0)),
)  # fmt: skip
ODD_VALUES = [None, 0, -1, "x", [], {}, 10**9, True]


def _damage(folder: Path, kind: str, name: str, where: int, xor: int) -> None:
    if kind in ("flip", "cut"):
        data = bytearray((folder / name).read_bytes())
        at = where % max(len(data), 1)
        if kind == "flip" and data:
            data[at] ^= xor
        else:
            del data[at:]
        (folder / name).write_bytes(bytes(data))
        return
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    value = ODD_VALUES[where % len(ODD_VALUES)]
    if name in ("files", "dtype", "values"):
        fields = manifest.get("fields")
        if isinstance(fields, dict) and isinstance(fields.get("src"), dict):
            fields["src"][name] = value
    else:
        manifest[name] = value
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


@FUZZ
@given(damage=st.lists(DAMAGE, min_size=1, max_size=3), verify=st.sampled_from(["fast", "full"]))
def test_random_damage_to_a_store(tmp_path: Path, saved, damage, verify: str) -> None:
    folder, original = saved
    copy = tmp_path / "copy"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(folder, copy)
    for step in damage:
        _damage(copy, *step)
    try:
        loaded = ParallelCorpus.load(copy, verify=verify)
    except SeqdataError as err:
        assert str(err)
        return
    if verify == "full":  # loaded: then it is the corpus that was saved
        for side in ("src", "tgt"):
            ours, theirs = getattr(loaded, side), getattr(original, side)
            assert np.array_equal(ours.offsets, theirs.offsets)
            assert np.array_equal(ours.values, theirs.values)
