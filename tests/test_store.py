"""Flat storage: Ragged, ParallelCorpus/MonoCorpus, their constructors, save/load, HF."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import datasets
import numpy as np
import polars as pl
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqdata.corpus import MonoCorpus, ParallelCorpus
from seqdata.errors import (
    ConfigError,
    CorpusError,
    EmptyCorpusError,
    EmptyLineError,
    InputTypeError,
    ManifestError,
    ParallelMismatchError,
)
from seqdata.hf import hf_lengths
from seqdata.pipeline import PairPipeline
from seqdata.ragged import Ragged, RaggedBatch, padded_length
from seqdata.text_pipeline import TextPipeline

seqs_st = st.lists(st.lists(st.integers(0, 70_000), max_size=12), min_size=1, max_size=30)

SRC = ["ein kleiner hund", "zwei katzen", "der hund schläft", "hallo"]
TGT = ["a small dog", "two cats", "the dog sleeps", "hello there"]


@pytest.fixture(scope="module")
def pipeline() -> PairPipeline:
    return PairPipeline.build(SRC, TGT)


def manual_pad(seqs, pad=0, width=None):
    width = max(map(len, seqs)) if width is None else width
    return [list(s) + [pad] * (width - len(s)) for s in seqs]


# ------------------------------------------------------------------ Ragged


@settings(max_examples=60, deadline=None)
@given(seqs=seqs_st, data=st.data())
def test_take_and_gather_equal_the_plain_python_result(seqs, data):
    ragged = Ragged.from_sequences(seqs)
    assert ragged.lengths.tolist() == [len(s) for s in seqs]
    assert all(ragged[i].tolist() == s for i, s in enumerate(seqs))
    idx = data.draw(st.lists(st.integers(-len(seqs), len(seqs) - 1), min_size=1, max_size=20))
    picked = [seqs[i] for i in idx]
    multiple = data.draw(st.sampled_from([None, 1, 3, 8]))
    padded = ragged.take(idx, pad_id=9, pad_to_multiple_of=multiple)
    width = padded_length(max(map(len, picked)), multiple)
    assert padded.dtype == torch.int64
    assert padded.tolist() == manual_pad(picked, 9, width)
    assert (
        ragged.take(idx, batch_first=False).tolist()
        == np.array(manual_pad(picked), dtype=np.int64).reshape(len(idx), -1).T.tolist()
    )
    gathered = ragged.gather(idx)
    assert [gathered[i].tolist() for i in range(len(idx))] == picked


@settings(max_examples=100, deadline=None)
@given(longest=st.integers(0, 500), multiple=st.integers(1, 64))
def test_padded_length_is_the_smallest_aligned_length(longest, multiple):
    length = padded_length(longest, multiple)
    assert length % multiple == 0 and length >= longest and length - multiple < longest


def test_ids_are_stored_as_int32_and_validated():
    assert Ragged.from_sequences([[1, 2], [3]]).values.dtype == np.int32
    assert Ragged(np.array([1, 2], np.uint16), [0, 2]).values.dtype == np.uint16
    assert Ragged.from_sequences([np.array([1, 2], np.int64)]).values.dtype == np.int32
    assert Ragged.from_sequences([torch.tensor([5, 6])])[0].tolist() == [5, 6]
    with pytest.raises(InputTypeError, match="integer ids"):
        Ragged.from_sequences([[1.5, 2]])
    with pytest.raises(ConfigError, match=r"token ids should be in \[0, "):
        Ragged.from_sequences([[1, -3]])
    with pytest.raises(ConfigError, match=r"offsets should start at 0 and end at len\(values\)=3"):
        Ragged([1, 2, 3], [0, 2])
    with pytest.raises(ConfigError, match=r"non-decreasing, but offsets\[2\]=1 < offsets\[1\]=3"):
        Ragged([1, 2, 3], [0, 3, 1, 3])
    ragged = Ragged.from_sequences([[1], [2, 3]])
    with pytest.raises(IndexError, match="index 2 is out of range for 2 sequences"):
        ragged[2]
    with pytest.raises(IndexError, match="index -3"):
        ragged.take([0, -3])
    with pytest.raises(InputTypeError, match="indexed by an int"):
        ragged[0.5]  # type: ignore[index]


# ------------------------------------------------------------------ corpora


def test_parallel_corpus_items_and_batches():
    corpus = ParallelCorpus.from_sequences([[4, 5, 6], [7], [8, 9]], [[2, 3], [2, 10, 3], [2, 3]])
    src, tgt = corpus[0]
    assert src.tolist() == [4, 5, 6] and tgt.tolist() == [2, 3]
    assert corpus.src_lengths.dtype == np.int64 and corpus.tgt_lengths.tolist() == [2, 3, 2]
    batch = corpus.__getitems__([2, 0])
    assert isinstance(batch, RaggedBatch) and len(batch) == 2
    assert [x.tolist() for x in batch[0]] == [[8, 9], [2, 3]]
    assert batch.src.lengths.tolist() == [2, 3]
    with pytest.raises(ParallelMismatchError, match="3 source and 2 target sequences"):
        ParallelCorpus(Ragged.from_sequences([[1], [2], [3]]), Ragged.from_sequences([[1], [2]]))
    with pytest.raises(EmptyCorpusError):
        ParallelCorpus.from_sequences([], [])
    with pytest.raises(InputTypeError, match="src should be a Ragged"):
        ParallelCorpus([[1]], Ragged.from_sequences([[1]]))  # type: ignore[arg-type]


def test_mono_corpus_with_and_without_labels():
    corpus = MonoCorpus.from_sequences([[4, 5], [6], [7, 8, 9]], labels=[1, 0, 2])
    ids, label = corpus[2]
    assert ids.tolist() == [7, 8, 9] and label == 2
    assert corpus.src_lengths.tolist() == [2, 1, 3] and corpus.tgt_lengths is None
    batch = corpus.__getitems__([2, 1])
    assert batch.tgt is None and batch.labels.tolist() == [2, 0]
    plain = MonoCorpus.from_sequences([[1], [2, 3]])
    assert plain[1].tolist() == [2, 3] and plain.__getitems__([0]).labels is None
    with pytest.raises(ParallelMismatchError, match=r"labels should have shape \(N,\) = \(2,\)"):
        MonoCorpus.from_sequences([[1], [2]], labels=[1, 2, 3])


def test_from_texts_pairs_frame_and_files_agree(pipeline, tmp_path):
    a = ParallelCorpus.from_texts(SRC, TGT, pipeline)
    b = ParallelCorpus.from_pairs(list(zip(SRC, TGT, strict=True)), pipeline)
    c = ParallelCorpus.from_frame(pl.DataFrame({"de": SRC, "en": TGT}), pipeline, "de", "en")
    (tmp_path / "x.de").write_text("\n".join(SRC) + "\n", encoding="utf-8")
    (tmp_path / "x.en").write_text("\n".join(TGT) + "\n", encoding="utf-8")
    d = ParallelCorpus.from_files(tmp_path / "x.de", tmp_path / "x.en", pipeline)
    for other in (b, c, d):
        assert np.array_equal(a.src.values, other.src.values)
        assert np.array_equal(a.tgt.offsets, other.tgt.offsets)
    src, tgt = a[1]
    assert src.tolist() == pipeline.encode_pair(SRC[1], TGT[1])[0]
    assert tgt.tolist() == pipeline.encode_pair(SRC[1], TGT[1])[1]
    assert tgt[0] == pipeline.tgt_vocab.sos_id and tgt[-1] == pipeline.tgt_vocab.eos_id


def test_bad_text_inputs(pipeline, tmp_path):
    with pytest.raises(ParallelMismatchError, match="4 source and 3 target texts"):
        ParallelCorpus.from_texts(SRC, TGT[:3], pipeline)
    with pytest.raises(EmptyCorpusError):
        ParallelCorpus.from_texts([], [], pipeline)
    with pytest.raises(CorpusError, match=r"no column 'src'; its columns are \['a', 'tgt'\]"):
        ParallelCorpus.from_frame(pl.DataFrame({"a": SRC, "tgt": TGT}), pipeline)
    with pytest.raises(CorpusError, match="1 null values") as err:
        ParallelCorpus.from_frame(pl.DataFrame({"src": ["a", None], "tgt": ["b", "c"]}), pipeline)
    assert err.value.index == 1
    with pytest.raises(InputTypeError, match=r"should be a \(source, target\) tuple"):
        ParallelCorpus.from_pairs([("a", "b"), ("c",)], pipeline)
    (tmp_path / "a.txt").write_text("x\ny\nz\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("x\ny\n", encoding="utf-8")
    with pytest.raises(ParallelMismatchError):
        ParallelCorpus.from_files(tmp_path / "a.txt", tmp_path / "b.txt", pipeline)
    (tmp_path / "c.txt").write_text("x\n\nz\n", encoding="utf-8")
    with pytest.raises(EmptyLineError):
        ParallelCorpus.from_files(tmp_path / "c.txt", tmp_path / "a.txt", pipeline)


def test_mono_from_texts_with_a_text_pipeline():
    texts = ["good movie", "bad movie", "good good"]
    pipe = TextPipeline.build(texts)
    corpus = MonoCorpus.from_texts(texts, pipe, labels=np.array([1, 0, 1]))
    assert corpus[0][0].tolist() == pipe.encode(texts[0])
    assert corpus.labels.tolist() == [1, 0, 1]


# ------------------------------------------------------------------ save / load


def test_save_load_round_trip_memory_maps(tmp_path, pipeline):
    corpus = ParallelCorpus.from_texts(SRC, TGT, pipeline)
    corpus.save(tmp_path / "store", pipeline=pipeline)
    manifest = json.loads((tmp_path / "store" / "manifest.json").read_text())
    assert manifest["format_version"] == 1 and manifest["num_examples"] == 4
    assert manifest["fields"]["src"]["dtype"] == "uint16"  # small vocab: half the bytes
    assert manifest["vocab"]["src"]["size"] == len(pipeline.src_vocab)
    loaded = ParallelCorpus.load(tmp_path / "store", pipeline=pipeline)
    assert isinstance(loaded.src.values, np.memmap)
    for i in range(len(corpus)):
        assert [x.tolist() for x in loaded[i]] == [x.tolist() for x in corpus[i]]
    eager = ParallelCorpus.load(tmp_path / "store", mmap=False)
    assert not isinstance(eager.src.values, np.memmap)
    assert np.array_equal(eager.tgt.values, corpus.tgt.values)
    # pickling a mapped corpus sends the file names, not the data
    blob = pickle.dumps(loaded)
    again = pickle.loads(blob)
    assert isinstance(again.src.values, np.memmap) and again[3][0].tolist() == corpus[3][0].tolist()


def test_large_ids_stay_int32_and_labels_round_trip(tmp_path):
    mono = MonoCorpus.from_sequences([[70_000, 1], [2]], labels=[3, 4])
    mono.save(tmp_path)
    loaded = MonoCorpus.load(tmp_path)
    assert loaded.ids.values.dtype == np.int32 and loaded[0][0].tolist() == [70_000, 1]
    assert loaded.labels.tolist() == [3, 4]
    with pytest.raises(ManifestError, match=r"kind should be 'parallel'.*MonoCorpus\.load"):
        ParallelCorpus.load(tmp_path)


def python_calls_to_load(directory: Path) -> tuple[int, ParallelCorpus]:
    """How many function calls (Python and builtin) ``ParallelCorpus.load`` makes."""
    calls = 0

    def count(frame: object, event: str, arg: object) -> None:
        nonlocal calls
        calls += event in ("call", "c_call")

    sys.setprofile(count)
    try:
        corpus = ParallelCorpus.load(directory)
    finally:
        sys.setprofile(None)
    return calls, corpus


def test_loading_five_million_pairs_does_no_python_work_per_pair(tmp_path):
    counts = {}
    for n in (1_000, 5_000_000):
        lengths = (np.arange(n) % 3 + 1).astype(np.int64)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        ragged = Ragged(np.ones(int(offsets[-1]), dtype=np.uint16), offsets)
        ParallelCorpus(ragged, ragged).save(tmp_path / str(n))
        counts[n], corpus = python_calls_to_load(tmp_path / str(n))
        assert len(corpus) == n and corpus.src_lengths[-1] == lengths[-1]
    # about the same calls for 5M pairs as for 1,000: the per-pair work is all numpy
    assert counts[5_000_000] <= counts[1_000] + 200, counts  # per chunk of ids, not per pair


@pytest.mark.parametrize(
    ("damage", "file", "match"),
    [
        ("no_manifest", "manifest.json", "no manifest.json here"),
        ("bad_json", "manifest.json", "not valid JSON"),
        ("version", "manifest.json", "format_version should be 1, but got format_version=99"),
        ("missing_array", "tgt.values.npy", "lists this array file, but it is missing"),
        ("count", "src.offsets.npy", r"num_examples \+ 1 = 4 offsets"),
        (
            "tokens",
            "src.values.npy",
            "should hold num_tokens=7 ids as the manifest says, but holds 6",
        ),
        ("dtype", "src.values.npy", "1-D uint16 array as the manifest says, but got shape"),
        ("offsets", "tgt.offsets.npy", "offsets do not fit the values"),
        ("not_npy", "src.values.npy", "not a readable .npy file"),
    ],
)
def test_a_manifest_that_does_not_match_its_arrays_names_the_file(tmp_path, damage, file, match):
    corpus = ParallelCorpus.from_sequences([[4, 5, 6], [7, 8], [9, 10]], [[2, 3], [2, 3], [2, 3]])
    root = tmp_path / "store"
    corpus.save(root)
    manifest_path = root / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if damage == "no_manifest":
        manifest_path.unlink()
    elif damage == "bad_json":
        manifest_path.write_text("{oops")
    elif damage == "version":
        manifest_path.write_text(json.dumps({**manifest, "format_version": 99}))
    elif damage == "missing_array":
        (root / file).unlink()
    elif damage == "count":
        manifest_path.write_text(json.dumps({**manifest, "num_examples": 3 + 0}))
        np.save(root / file, np.array([0, 3, 5], dtype=np.int64))
    elif damage == "tokens":
        np.save(root / file, np.array([4, 5, 6, 7, 8, 9], dtype=np.uint16))
    elif damage == "dtype":
        np.save(root / file, np.array([4, 5, 6, 7, 8, 9, 10], dtype=np.int32))
    elif damage == "offsets":
        np.save(root / file, np.array([0, 4, 2, 6], dtype=np.int64))
    elif damage == "not_npy":
        (root / file).write_bytes(b"garbage")
    with pytest.raises(ManifestError, match=match) as err:
        ParallelCorpus.load(root)
    assert err.value.path is not None and err.value.path.endswith(file)


def test_load_checks_the_vocabularies(tmp_path, pipeline):
    corpus = ParallelCorpus.from_texts(SRC, TGT, pipeline)
    corpus.save(tmp_path, pipeline=pipeline)
    other = PairPipeline.build(SRC[:2], TGT[:2])
    with pytest.raises(ManifestError, match="src ids were encoded with another vocabulary"):
        ParallelCorpus.load(tmp_path, pipeline=other)


# ------------------------------------------------------------------ HuggingFace


def test_from_hf_reads_arrow_buffers_and_respects_indices(pipeline):
    ds = datasets.Dataset.from_dict({"src": SRC, "tgt": TGT}).map(pipeline, batched=True)
    corpus = ParallelCorpus.from_hf(ds)
    direct = ParallelCorpus.from_texts(SRC, TGT, pipeline)
    assert np.array_equal(corpus.src.values, direct.src.values)
    assert np.array_equal(corpus.tgt.offsets, direct.tgt.offsets)
    assert hf_lengths(ds, "tgt_ids").tolist() == direct.tgt_lengths.tolist()
    picked = ds.select([3, 1])  # an indices mapping over the same table
    sub = ParallelCorpus.from_hf(picked)
    assert [x.tolist() for x in sub[0]] == [x.tolist() for x in direct[3]]
    assert hf_lengths(picked, "src_ids").tolist() == direct.src_lengths[[3, 1]].tolist()
    sliced = ParallelCorpus.from_hf(ds.select(range(1, 3)).flatten_indices())
    assert [x.tolist() for x in sliced[1]] == [x.tolist() for x in direct[2]]


def test_from_hf_errors_and_mono():
    ds = datasets.Dataset.from_dict({"ids": [[4, 5], [6]], "label": [1, 0], "text": ["a", "b"]})
    mono = MonoCorpus.from_hf(ds, "ids", label_col="label")
    assert mono[0][0].tolist() == [4, 5] and mono.labels.tolist() == [1, 0]
    with pytest.raises(CorpusError, match=r"no column 'src_ids'; its columns are"):
        ParallelCorpus.from_hf(ds)
    with pytest.raises(CorpusError, match="should be a list of integer ids, but has Arrow type"):
        MonoCorpus.from_hf(ds, "text")
    with pytest.raises(InputTypeError, match=r"expected a datasets\.Dataset"):
        MonoCorpus.from_hf({"ids": [[1]]})
    nulls = datasets.Dataset.from_dict({"ids": [[1], None]})
    with pytest.raises(CorpusError, match="1 null rows") as err:
        MonoCorpus.from_hf(nulls)
    assert err.value.index == 1


def test_corpora_pickle():
    corpus = ParallelCorpus.from_sequences([[1, 2], [3]], [[2, 3], [2, 4, 3]])
    clone = pickle.loads(pickle.dumps(corpus))
    assert [x.tolist() for x in clone[1]] == [[3], [2, 4, 3]]
    mono = pickle.loads(pickle.dumps(MonoCorpus.from_sequences([[1]], labels=[5])))
    assert mono[0][1] == 5
