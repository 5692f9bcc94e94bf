"""Bounded-memory preparation: vocabularies counted chunk by chunk, pipelines built from
chunks, and stores written chunk by chunk — each equal to its whole-corpus counterpart."""

from __future__ import annotations

import itertools
import json
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

import seqdata.counts as counts_module
from seqdata.collate import PadCollate
from seqdata.corpus import ParallelCorpus
from seqdata.counts import TokenCounts
from seqdata.errors import (
    ConfigError,
    EmptyCorpusError,
    EmptyLineError,
    InputTypeError,
    ManifestError,
    ParallelMismatchError,
)
from seqdata.pipeline import PairPipeline
from seqdata.readers import iter_parallel_chunks, read_parallel
from seqdata.samplers import BucketBatchSampler
from seqdata.storage import ParallelCorpusWriter, WriteStats
from seqdata.tokenizers import CharTokenizer, WhitespaceTokenizer
from seqdata.vocab import Vocab

WORDS = ["a", "b", "c", "dd", "é", "the", "<unk>", "x y"]
token_lists = st.lists(st.lists(st.sampled_from(WORDS), max_size=6), max_size=40)
texts = st.lists(
    st.lists(st.sampled_from(["a", "B", "cc", "é", "Ü", "the"]), min_size=1, max_size=5).map(
        " ".join
    ),
    min_size=1,
    max_size=30,
)


def split(items: list, cuts: list[int]) -> list[list]:
    """``items`` cut at the (sorted, deduplicated) positions ``cuts``."""
    bounds = [0, *sorted({c % (len(items) + 1) for c in cuts}), len(items)]
    return [items[a:b] for a, b in itertools.pairwise(bounds)]


@pytest.fixture
def small_merges(monkeypatch: pytest.MonkeyPatch) -> None:
    """Merge partial counts after every few rows, so the merge path runs on small data."""
    monkeypatch.setattr(counts_module, "_MERGE_ROWS", 3)


# ------------------------------------------------------------------ TokenCounts


@settings(max_examples=60, deadline=None)
@given(
    lists=token_lists,
    cuts=st.lists(st.integers(0, 40), max_size=5),
    min_freq=st.integers(1, 3),
    max_size=st.none() | st.integers(4, 9),
)
def test_counting_in_chunks_gives_exactly_the_whole_corpus_vocab(
    lists: list[list[str]], cuts: list[int], min_freq: int, max_size: int | None
) -> None:
    counts_module._MERGE_ROWS = 3  # exercise the merge path (restored below)
    try:
        counts = TokenCounts()
        for chunk in split(lists, cuts):
            counts.update(chunk)
        whole = Vocab.build(lists, min_freq=min_freq, max_size=max_size)
        assert Vocab.from_counts(counts, min_freq=min_freq, max_size=max_size) == whole
        assert counts.to_dict() == dict(Counter(t for tokens in lists for t in tokens))
        assert counts.examples == len(lists)
        # shards counted apart and merged give the same counts
        left, right = TokenCounts(), TokenCounts()
        for i, chunk in enumerate(split(lists, cuts)):
            (left if i % 2 else right).update(pl.Series(chunk, dtype=pl.List(pl.String)))
        assert left.update(right).to_dict() == counts.to_dict()
    finally:
        counts_module._MERGE_ROWS = 1 << 18


def test_token_counts_reads_like_a_counter(small_merges: None) -> None:
    counts = TokenCounts().update([["b", "a", "c", "a"], ["c"]]).update([["d", "a"]])
    assert (counts["a"], counts["c"], counts["zebra"]) == (3, 2, 0)
    assert "d" in counts and "zebra" not in counts and 5 not in counts
    assert counts.most_common() == [("a", 3), ("c", 2), ("b", 1), ("d", 1)]  # ties: code points
    assert counts.most_common(1) == [("a", 3)]
    assert (len(counts), counts.total, counts.examples) == (4, 7, 3)
    assert counts.to_frame().schema == pl.Schema({"token": pl.String, "count": pl.Int64})
    assert repr(counts) == "TokenCounts(types=4, tokens=7, examples=3)"
    empty = TokenCounts()
    assert (len(empty), empty.total, empty.most_common()) == (0, 0, [])
    assert Vocab.from_counts(empty).tokens == ("<pad>", "<unk>", "<sos>", "<eos>")


def test_token_counts_errors_name_the_example_across_updates() -> None:
    counts = TokenCounts().update([["a"], ["b"], ["c"]])
    with pytest.raises(InputTypeError) as err:
        counts.update([["a"], "not tokenized"])
    assert err.value.index == 4  # the second example of the second chunk
    with pytest.raises(InputTypeError):
        counts.update("a b")
    with pytest.raises(InputTypeError):
        Vocab.from_counts([("a", 1)])  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(corpus=texts, cuts=st.lists(st.integers(0, 30), max_size=4), lower=st.booleans())
def test_update_texts_counts_what_the_tokenizer_splits(
    corpus: list[str], cuts: list[int], lower: bool
) -> None:
    for tokenizer in (WhitespaceTokenizer(lower=lower), CharTokenizer()):
        counts = TokenCounts()
        for chunk in split(corpus, cuts):
            counts.update_texts(chunk, tokenizer, num_threads=2)
        expected = Counter(t for text in corpus for t in tokenizer(text))
        assert counts.to_dict() == dict(expected)
        assert counts.examples == len(corpus)


def test_update_texts_rejects_bad_threads() -> None:
    with pytest.raises(ConfigError, match="num_threads"):
        TokenCounts().update_texts(["a"], WhitespaceTokenizer(), num_threads=0)


# ------------------------------------------------------------------ PairPipeline.build_from_chunks


def frames(src: list[str], tgt: list[str], cuts: list[int]) -> list[pl.DataFrame]:
    pairs = list(zip(src, tgt, strict=True))
    return [
        pl.DataFrame({"src": [s for s, _ in part], "tgt": [t for _, t in part]})
        for part in split(pairs, cuts)
        if part
    ]


@settings(max_examples=40, deadline=None)
@given(
    src=texts,
    data=st.data(),
    cuts=st.lists(st.integers(0, 30), max_size=4),
    min_freq=st.integers(1, 2),
)
def test_build_from_chunks_equals_build_on_the_whole_corpus(
    src: list[str], data: st.DataObject, cuts: list[int], min_freq: int
) -> None:
    tgt = data.draw(st.lists(texts.map(lambda t: t[0]), min_size=len(src), max_size=len(src)))
    whole = PairPipeline.build(
        src, tgt, WhitespaceTokenizer(lower=True), CharTokenizer(), min_freq=min_freq, max_len=5
    )
    chunks = frames(src, tgt, cuts)
    built = PairPipeline.build_from_chunks(
        chunks, WhitespaceTokenizer(lower=True), CharTokenizer(), min_freq=min_freq, max_len=5
    )
    assert built == whole
    # a function returning the chunks works too (e.g. lambda: iter_parallel_chunks(...))
    again = PairPipeline.build_from_chunks(
        lambda: iter(chunks), WhitespaceTokenizer(lower=True), CharTokenizer(),
        min_freq=min_freq, max_len=5,
    )  # fmt: skip
    assert again == whole


def test_build_from_chunks_checks_its_chunks() -> None:
    with pytest.raises(ConfigError, match="no column 'tgt'"):
        PairPipeline.build_from_chunks([pl.DataFrame({"src": ["a"], "en": ["b"]})])
    renamed = PairPipeline.build_from_chunks(
        [{"de": ["a b"], "en": ["x"]}], src_col="de", tgt_col="en"
    )
    assert renamed.src_vocab.tokens[4:] == ("a", "b")
    with pytest.raises(ParallelMismatchError):
        PairPipeline.build_from_chunks([{"src": ["a", "b"], "tgt": ["x"]}])
    with pytest.raises(InputTypeError, match="chunk 0"):
        PairPipeline.build_from_chunks([["a", "b"]])
    with pytest.raises(InputTypeError, match="iterable of frames"):
        PairPipeline.build_from_chunks(pl.DataFrame({"src": ["a"], "tgt": ["b"]}))


# ------------------------------------------------------------------ write_chunks


SRC = ["ich sah einen hund", "der hund lief", "ein sehr langer satz mit vielen worten", "ja"]
TGT = ["i saw a dog", "the dog ran", "a very long sentence with many words", "yes"]


@pytest.fixture
def corpus_frame() -> pl.DataFrame:
    rng = np.random.default_rng(0)
    pick, rare = rng.integers(0, 4, (2, 50)), rng.integers(0, 60, (2, 50))
    src = [SRC[i] + f" w{j}" for i, j in zip(pick[0], rare[0], strict=True)]
    tgt = [TGT[i] + f" v{j}" for i, j in zip(pick[1], rare[1], strict=True)]
    return pl.DataFrame({"src": src, "tgt": tgt})


def store_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("chunk_rows", [1, 7, 50, 1000])
def test_write_chunks_equals_save_of_the_whole_corpus(
    tmp_path: Path, corpus_frame: pl.DataFrame, chunk_rows: int
) -> None:
    pipe = PairPipeline.build(corpus_frame["src"], corpus_frame["tgt"], min_freq=2, max_len=6)
    whole = ParallelCorpus.from_frame(corpus_frame, pipe)
    whole.save(tmp_path / "whole", pipeline=pipe)
    chunks = [corpus_frame.slice(i, chunk_rows) for i in range(0, 50, chunk_rows)]
    stats = ParallelCorpus.write_chunks(tmp_path / "chunked", chunks, pipe, num_threads=2)
    # byte for byte the same .npy files and manifest as save()
    assert store_files(tmp_path / "chunked") == store_files(tmp_path / "whole")
    loaded = ParallelCorpus.load(tmp_path / "chunked", mmap=True, pipeline=pipe)
    assert isinstance(loaded.src.values, np.memmap)
    assert loaded.src.values.dtype == np.uint16
    assert np.array_equal(loaded.src.offsets, whole.src.offsets)
    assert np.array_equal(loaded.tgt.values, whole.tgt.values)
    # the report: what the CLI's prepare computes from the whole corpus
    unbounded = PairPipeline(
        pipe.src_tokenizer, pipe.tgt_tokenizer, pipe.src_vocab, pipe.tgt_vocab, max_len=None
    )
    full = ParallelCorpus.from_frame(corpus_frame, unbounded)
    src_values, tgt_values = np.asarray(whole.src.values), np.asarray(whole.tgt.values)
    assert stats == WriteStats(
        examples=50,
        src_tokens=whole.src.num_tokens,
        tgt_tokens=whole.tgt.num_tokens,
        src_unk=int((src_values == pipe.src_vocab.unk_id).sum()),
        tgt_unk=int((tgt_values == pipe.tgt_vocab.unk_id).sum()),
        src_truncated=int((full.src_lengths > whole.src_lengths).sum()),
        tgt_truncated=int((full.tgt_lengths > whole.tgt_lengths).sum()),
        chunks=len(chunks),
    )
    assert stats.src_truncated > 0 and stats.tgt_truncated > 0 and stats.tgt_unk > 0
    assert stats.src_unk_rate == pytest.approx(float(np.mean(src_values == 1)))
    assert json.loads(json.dumps(stats.to_dict()))["tgt_unk_rate"] == stats.tgt_unk_rate


def test_prepare_from_files_in_chunks_then_one_epoch_of_batches(tmp_path: Path) -> None:
    """The bounded-memory prepare end to end: files → chunks → vocab → store → mmap →
    buckets → padded batches; every pair comes out once, as the in-memory path encodes it."""
    src_path, tgt_path = tmp_path / "train.de", tmp_path / "train.en"
    rng = np.random.default_rng(1)
    src = [" ".join(f"s{k}" for k in rng.integers(0, 30, rng.integers(1, 12))) for _ in range(300)]
    tgt = [" ".join(f"t{k}" for k in rng.integers(0, 30, rng.integers(1, 12))) for _ in range(300)]
    src_path.write_text("\n".join(src) + "\n", encoding="utf-8")
    tgt_path.write_text("\n".join(tgt) + "\n", encoding="utf-8")

    def chunks():
        return iter_parallel_chunks(src_path, tgt_path, chunk_rows=64)

    pipe = PairPipeline.build_from_chunks(chunks, min_freq=2, max_len=10)
    whole = read_parallel(src_path, tgt_path)
    assert pipe == PairPipeline.build(whole["src"], whole["tgt"], min_freq=2, max_len=10)
    stats = ParallelCorpus.write_chunks(tmp_path / "store", chunks, pipe)
    assert (stats.examples, stats.chunks) == (300, 5)
    corpus = ParallelCorpus.load(tmp_path / "store", mmap=True, pipeline=pipe)
    batches = list(BucketBatchSampler(corpus.src_lengths, corpus.tgt_lengths, batch_size=16))
    loader = DataLoader(corpus, batch_sampler=batches, collate_fn=PadCollate(pad_id=0))
    seen: list[int] = []
    for indices, batch in zip(batches, loader, strict=True):
        seen += indices
        for row, i in zip(batch.src[batch.order], indices, strict=True):  # sampler's order
            expected = pipe.encode_source(src[i])
            assert row.tolist() == expected + [0] * (len(row) - len(expected))
    assert sorted(seen) == list(range(300))


def test_writer_widens_to_int32_when_an_id_does_not_fit_uint16(tmp_path: Path) -> None:
    small = [np.array([5, 6, 7]), np.array([8])]
    big = [np.array([70_000, 9])]
    with ParallelCorpusWriter(tmp_path / "w") as writer:
        for seqs in ([small[0]], [small[1]], big):
            flat = (np.concatenate(seqs), np.cumsum([0, *map(len, seqs)]))
            writer.append(flat, flat)
    everything = small + big
    ParallelCorpus.from_sequences(everything, everything).save(tmp_path / "s")
    assert store_files(tmp_path / "w") == store_files(tmp_path / "s")
    assert ParallelCorpus.load(tmp_path / "w").src.values.dtype == np.int32


def test_a_failed_write_leaves_nothing_that_looks_like_a_store(
    tmp_path: Path, corpus_frame: pl.DataFrame
) -> None:
    pipe = PairPipeline.build(corpus_frame["src"], corpus_frame["tgt"])
    ParallelCorpus.from_frame(corpus_frame, pipe).save(tmp_path / "out")  # an old store

    def chunks():
        yield corpus_frame.head(10)
        raise OSError("disk unplugged")

    with pytest.raises(OSError, match="unplugged"):
        ParallelCorpus.write_chunks(tmp_path / "out", chunks(), pipe)
    assert not list((tmp_path / "out").glob("*.part*"))
    with pytest.raises(ManifestError, match="no manifest"):
        ParallelCorpus.load(tmp_path / "out")
    with pytest.raises(EmptyCorpusError):
        ParallelCorpus.write_chunks(tmp_path / "empty", [], pipe)
    assert list((tmp_path / "empty").iterdir()) == []


def test_write_chunks_names_an_empty_source_by_its_index_in_the_stream(
    tmp_path: Path,
) -> None:
    pipe = PairPipeline.build(["a b"], ["x"])
    chunks = [pl.DataFrame({"src": ["a", "b"], "tgt": ["x", "x"]}),
              pl.DataFrame({"src": ["a", "   "], "tgt": ["x", "x"]})]  # fmt: skip
    with pytest.raises(EmptyLineError) as err:
        ParallelCorpus.write_chunks(tmp_path / "s", chunks, pipe)
    assert err.value.index == 3
    assert not (tmp_path / "s" / "manifest.json").exists()


def test_writer_checks_what_it_is_given(tmp_path: Path) -> None:
    writer = ParallelCorpusWriter(tmp_path / "w")
    with pytest.raises(ParallelMismatchError):
        writer.append(([4], [0, 1]), ([2, 3, 2, 3], [0, 2, 4]))
    with pytest.raises(ConfigError, match="offsets"):
        writer.append(([4], [0, 2]), ([2, 3], [0, 2]))
    with pytest.raises(InputTypeError):
        writer.append([4, 5], ([2, 3], [0, 2]))  # type: ignore[arg-type]
    writer.append(([4], [0, 1]), ([2, 3], [0, 2]))
    assert writer.num_examples == 1
    writer.close()
    with pytest.raises(ConfigError, match="closed"):
        writer.append(([4], [0, 1]), ([2, 3], [0, 2]))
    assert len(ParallelCorpus.load(tmp_path / "w")) == 1


def test_skipped_lines_in_chunks_are_reported_not_written(tmp_path: Path) -> None:
    (tmp_path / "s").write_text("a b\n\nc\n", encoding="utf-8")
    (tmp_path / "t").write_text("x\ny\nz\n", encoding="utf-8")
    pipe = PairPipeline.build(["a b c"], ["x y z"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stats = ParallelCorpus.write_chunks(
            tmp_path / "out",
            iter_parallel_chunks(tmp_path / "s", tmp_path / "t", 1, empty="skip"),
            pipe,
        )
    assert stats.examples == 2
    assert [w.message.lines for w in caught] == [[2]]  # type: ignore[union-attr]


# ------------------------------------------------------------------ the overlapped prepare loop


@pytest.mark.parametrize("chunk_rows", [1, 7, 1000])
def test_prepare_corpus_equals_build_from_chunks_and_write_chunks(
    tmp_path: Path, corpus_frame: pl.DataFrame, chunk_rows: int
) -> None:
    from seqdata.prepare import prepare_corpus

    chunks = [corpus_frame.slice(i, chunk_rows) for i in range(0, 50, chunk_rows)]
    seen: list[int] = []
    pipe, stats = prepare_corpus(
        tmp_path / "new", chunks, min_freq=2, max_len=6, progress=seen.append
    )
    reference = PairPipeline.build_from_chunks(chunks, min_freq=2, max_len=6)
    assert pipe == reference
    expected = ParallelCorpus.write_chunks(tmp_path / "old", chunks, reference)
    assert stats == expected
    assert store_files(tmp_path / "new") == store_files(tmp_path / "old")
    assert seen == [len(c) for c in chunks] * 2  # both passes report their pairs


def test_prepare_corpus_names_an_empty_source_and_leaves_no_store(tmp_path: Path) -> None:
    from seqdata.prepare import prepare_corpus

    chunks = [pl.DataFrame({"src": ["a", "b"], "tgt": ["x", "x"]}),
              pl.DataFrame({"src": ["a", "   "], "tgt": ["x", "x"]})]  # fmt: skip
    with pytest.raises(EmptyLineError) as err:
        prepare_corpus(tmp_path / "s", chunks)
    assert err.value.index == 3
    assert not (tmp_path / "s" / "manifest.json").exists()
    with pytest.raises(EmptyCorpusError):
        prepare_corpus(tmp_path / "e", [])


def test_prefetch_keeps_order_and_reraises_the_producers_error() -> None:
    from seqdata.prepare import prefetch

    def items():
        yield from range(5)
        raise ValueError("broken chunk 5")

    got = []
    with pytest.raises(ValueError, match="broken chunk 5"):
        for item in prefetch(items(), depth=2):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]
    stream = prefetch(iter(range(100)))
    assert next(stream) == 0
    stream.close()  # a consumer that stops early does not leave the producer blocked
