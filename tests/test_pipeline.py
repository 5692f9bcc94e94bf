"""Pipelines: the notes' preprocessing listing, the flat fast path, datasets.map, state."""

from __future__ import annotations

import itertools
import json
import pickle
from pathlib import Path

import datasets
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seqdata.encoding as pipeline_module
from seqdata.errors import (
    ConfigError,
    EmptyLineError,
    InputTypeError,
    ParallelMismatchError,
    SpecialTokenError,
)
from seqdata.models import CharLM
from seqdata.pipeline import PairPipeline
from seqdata.sentencepiece import SentencePieceTokenizer
from seqdata.text_pipeline import TextPipeline
from seqdata.tokenizers import CharTokenizer, WhitespaceTokenizer
from seqdata.train import load_checkpoint, save_checkpoint
from seqdata.vocab import Vocab

PAD, UNK, SOS, EOS = 0, 1, 2, 3
SRC_WORDS = ["ich", "sah", "einen", "hund"]  # ids 4, 5, 6, 7
TGT_WORDS = ["i", "saw", "a", "dog"]  # ids 4, 5, 6, 7


def notes_preprocess(
    src_line: str,
    tgt_line: str,
    src_word2idx: dict[str, int],
    tgt_word2idx: dict[str, int],
    max_len: int,
) -> tuple[list[int], list[int]]:
    """The notes' preprocessing listing (list-comprehension variant), transcribed."""
    raw_src_sentence = src_line.lower().split()
    raw_tgt_sentence = tgt_line.lower().split()
    src_sentence = [
        src_word2idx[word] if word in src_word2idx else UNK  # noqa: SIM401
        for word in raw_src_sentence
    ]
    tgt_sentence = [
        tgt_word2idx[word] if word in tgt_word2idx else UNK  # noqa: SIM401
        for word in raw_tgt_sentence
    ]
    src_sentence = src_sentence[:max_len]
    tgt_sentence = [SOS] + tgt_sentence[: max_len - 2] + [EOS]  # noqa: RUF005
    return src_sentence, tgt_sentence


@pytest.fixture
def pipe() -> PairPipeline:
    tok = WhitespaceTokenizer(lower=True)
    return PairPipeline(tok, tok, Vocab(SRC_WORDS), Vocab(TGT_WORDS), max_len=5)


# ------------------------------------------------------------------- the notes' listing


@pytest.mark.parametrize(
    ("src", "tgt", "src_ids", "tgt_ids"),
    [
        ("Ich sah einen Hund", "I saw a dog", [4, 5, 6, 7], [2, 4, 5, 6, 3]),  # tgt truncated
        ("Ich sah eine Katze", "I saw a cat", [4, 5, 1, 1], [2, 4, 5, 6, 3]),  # UNK fallback
        ("ich sah einen hund ich sah", "a dog", [4, 5, 6, 7, 4], [2, 6, 7, 3]),  # src truncated
        ("Hund", "Dog", [7], [2, 7, 3]),
        ("  HUND \t sah\n", "", [7, 5], [2, 3]),  # extra whitespace; empty target → SOS, EOS
    ],
)
def test_reproduces_the_notes_listing_with_exact_ids(
    pipe: PairPipeline, src: str, tgt: str, src_ids: list[int], tgt_ids: list[int]
) -> None:
    src_w2i = {w: i for i, w in enumerate(pipe.src_vocab.tokens)}
    tgt_w2i = {w: i for i, w in enumerate(pipe.tgt_vocab.tokens)}
    assert notes_preprocess(src, tgt, src_w2i, tgt_w2i, max_len=5) == (src_ids, tgt_ids)
    assert pipe.encode_pair(src, tgt) == (src_ids, tgt_ids)
    (sv, so), (tv, to) = pipe.encode_flat([src], [tgt])
    assert (sv.tolist(), tv.tolist()) == (src_ids, tgt_ids)
    assert so.tolist() == [0, len(src_ids)] and to.tolist() == [0, len(tgt_ids)]


def test_decode_target_strips_specials_and_stops_at_eos(pipe: PairPipeline) -> None:
    assert pipe.decode_target([2, 4, 1, 7, 3, 6, 0]) == "i <unk> dog"


# ---------------------------------------------------------------------- the fast path

WORDS = [
    "Ich",
    "ich",
    "sah",
    "EINEN",
    "hund",
    "Katze",
    "I",
    "saw",
    "a",
    "dog",
    "cat",
    "Straße",
    "İz",
]
SPACES = [" ", "  ", "\t", "\u00a0", "\n", " \u3000 "]


@st.composite
def sentence(draw: st.DrawFn, min_words: int = 0) -> str:
    words = draw(st.lists(st.sampled_from(WORDS), min_size=min_words, max_size=8))
    seps = draw(st.lists(st.sampled_from(SPACES), min_size=len(words) + 1, max_size=len(words) + 1))
    return seps[0] + "".join(w + s for w, s in zip(words, seps[1:], strict=True))


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.lists(st.tuples(sentence(min_words=1), sentence()), min_size=1, max_size=12),
    max_len=st.integers(2, 7) | st.none(),
    num_threads=st.sampled_from([1, 2]),
    chunk=st.sampled_from([1, 3, 1 << 17]),
)
def test_encode_flat_equals_encode_pair(
    pairs: list[tuple[str, str]], max_len: int | None, num_threads: int, chunk: int
) -> None:
    tok = WhitespaceTokenizer(lower=True)
    pipe = PairPipeline(tok, tok, Vocab(SRC_WORDS), Vocab(TGT_WORDS), max_len=max_len)
    with pytest.MonkeyPatch.context() as patch:  # force several chunks on the thread pool
        patch.setattr(pipeline_module, "_MIN_CHUNK_ROWS", chunk)
        patch.setattr(pipeline_module, "_MAX_CHUNK_ROWS", chunk)
        patch.setattr(pipeline_module, "_TWO_THREAD_BYTES", 0)  # one chunk: a thread a side
        patch.setattr(pipeline_module, "_TWO_THREAD_ROWS", 0)
        (sv, so), (tv, to) = pipe.encode_flat(
            [s for s, _ in pairs], [t for _, t in pairs], num_threads=num_threads
        )
    assert (
        sv.dtype == np.int32 and so.dtype == np.int64 and so[0] == 0 and len(so) == len(pairs) + 1
    )
    for i, (src, tgt) in enumerate(pairs):
        src_ids, tgt_ids = pipe.encode_pair(src, tgt)
        assert sv[so[i] : so[i + 1]].tolist() == src_ids
        assert tv[to[i] : to[i + 1]].tolist() == tgt_ids
        if max_len is not None:
            assert len(src_ids) <= max_len and len(tgt_ids) <= max_len
        assert tgt_ids[0] == SOS and tgt_ids[-1] == EOS


def test_a_batchs_two_sides_on_two_threads_keep_their_order_and_the_first_error() -> None:
    # a small batch runs its target side on a helper thread (encoding._run_two)
    from seqdata.encoding import _run

    def fail(message: str) -> int:
        raise ValueError(message)

    assert _run([lambda: "src", lambda: "tgt"], 2) == ["src", "tgt"]
    with pytest.raises(ValueError, match="tgt"):
        _run([lambda: 1, lambda: fail("tgt")], 2)
    with pytest.raises(ValueError, match="src"):
        _run([lambda: fail("src"), lambda: fail("tgt")], 2)


def test_encode_flat_accepts_lists_numpy_and_polars(pipe: PairPipeline) -> None:
    src, tgt = ["ich sah", "hund"], ["a dog", "i"]
    expected = pipe.encode_flat(src, tgt)
    for s, t in ((np.array(src), np.array(tgt)), (pl.Series(src), pl.Series(tgt))):
        got = pipe.encode_flat(s, t)
        for a, b in zip(got, expected, strict=True):
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_build_makes_both_vocabularies() -> None:
    pipe = PairPipeline.build(
        ["ich sah einen hund", "der hund lief"],
        ["i saw a dog", "the dog ran"],
        min_freq=1,
        max_len=6,
    )
    assert pipe.src_vocab.tokens[4] == "hund" and pipe.tgt_vocab.tokens[4] == "dog"
    assert pipe.src_vocab == Vocab.build(
        [s.split() for s in ["ich sah einen hund", "der hund lief"]]
    )
    assert pipe.max_len == 6 and pipe.tgt_tokenizer is pipe.src_tokenizer
    assert PairPipeline.build(["a a b"], ["x"], min_freq=2).src_vocab.tokens[4:] == ("a",)


# ------------------------------------------------------------------------- bad input


def test_empty_or_whitespace_source_names_the_example(pipe: PairPipeline) -> None:
    for bad in ["", " \t "]:
        with pytest.raises(EmptyLineError, match="the source text has no tokens") as err:
            pipe.encode_flat(["hund", "sah", bad], ["dog", "saw", "a"])
        assert err.value.index == 2 and "example 2" in str(err.value)
        with pytest.raises(EmptyLineError, match="cannot be packed"):
            pipe.encode_pair(bad, "dog")


def test_non_string_items_mismatch_and_bad_config(pipe: PairPipeline) -> None:
    with pytest.raises(InputTypeError, match=r"tgt_texts\[1\] should be a str, but got int") as err:
        pipe.encode_flat(["a", "b"], ["x", 5])  # type: ignore[list-item]
    assert err.value.index == 1
    with pytest.raises(InputTypeError, match=r"src_texts\[0\] should be a str, but got None"):
        pipe.encode_flat([None], ["x"])  # type: ignore[list-item]
    with pytest.raises(InputTypeError, match="text should be a str"):
        pipe.encode_pair(3, "x")  # type: ignore[arg-type]
    with pytest.raises(ParallelMismatchError, match="got 2 source and 1 target texts"):
        pipe.encode_flat(["a", "b"], ["x"])
    tok = WhitespaceTokenizer()
    for max_len in (1, 0, -2):
        with pytest.raises(ConfigError, match=f"integer >= 2 .*but got max_len={max_len}"):
            PairPipeline(tok, tok, Vocab(SRC_WORDS), Vocab(TGT_WORDS), max_len=max_len)
    no_sos = Vocab(TGT_WORDS, specials={"pad": "<pad>", "unk": "<unk>"})
    with pytest.raises(SpecialTokenError, match="no 'sos' special"):
        PairPipeline(tok, tok, Vocab(SRC_WORDS), no_sos)
    with pytest.raises(InputTypeError, match="src_tokenizer should be a tokenizer"):
        PairPipeline(str.split, tok, Vocab(SRC_WORDS), Vocab(TGT_WORDS))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="the batch has no column 'src'"):
        pipe({"source": ["a"], "tgt": ["b"]})
    with pytest.raises(ConfigError, match="num_threads should be None or a positive integer"):
        pipe.encode_flat(["a"], ["b"], num_threads=0)


# ------------------------------------------------------------------ HF datasets.map


def test_datasets_map_with_two_processes_equals_encode_pair(pipe: PairPipeline) -> None:
    src = ["Ich sah einen Hund", "Hund", "ich sah eine Katze", "einen hund", "sah"] * 3
    tgt = ["I saw a dog", "dog", "", "a cat", "I saw"] * 3
    ds = datasets.Dataset.from_dict({"src": src, "tgt": tgt})
    out = ds.map(pipe, batched=True, batch_size=4, num_proc=2)
    assert out.column_names == ["src", "tgt", "src_ids", "tgt_ids"]
    assert out.num_rows == len(src)
    for row, s, t in zip(out, src, tgt, strict=True):
        assert (row["src_ids"], row["tgt_ids"]) == pipe.encode_pair(s, t)
        assert row["src"] == s


def test_datasets_map_error_names_the_dataset_index(pipe: PairPipeline) -> None:
    ds = datasets.Dataset.from_dict({"src": ["hund", "sah", "ich", "", "hund"], "tgt": ["a"] * 5})
    with pytest.raises(EmptyLineError) as err:
        ds.map(pipe, batched=True, batch_size=2, with_indices=True)
    assert err.value.index == 3


def test_call_returns_the_batch_plus_id_columns(pipe: PairPipeline) -> None:
    batch = {"src": ["ich sah", "hund"], "tgt": ["a dog", ""], "n": [1, 2]}
    out = pipe(batch)
    assert out["n"] == [1, 2] and out["src"] is batch["src"]
    # a plain dict of lists (IterableDataset.map, direct calls) gets lists back
    assert out["src_ids"] == [[4, 5], [7]]
    assert out["tgt_ids"] == [[2, 6, 7, 3], [2, 3]]
    renamed = pipe({"de": ["hund"], "en": ["dog"]}, src_col="de", tgt_col="en")
    assert renamed["src_ids"] == [[7]]
    # columnar input (polars, numpy: Dataset.map's formats) gets polars List(Int32) columns
    for texts in (pl.Series(batch["src"]), np.array(batch["src"])):
        columnar = pipe({"src": texts, "tgt": batch["tgt"]})
        assert columnar["src_ids"].dtype == pl.List(pl.Int32)
        assert columnar["src_ids"].to_list() == [[4, 5], [7]]


def test_iterable_dataset_map_yields_rows_of_int_lists(pipe: PairPipeline) -> None:
    src = ["Ich sah einen Hund", "Hund", "ich sah eine Katze", "einen hund", "sah"]
    tgt = ["I saw a dog", "dog", "", "a cat", "I saw"]
    ds = datasets.Dataset.from_dict({"src": src, "tgt": tgt})
    rows = list(ds.to_iterable_dataset().map(pipe, batched=True, batch_size=2))
    assert [(row["src_ids"], row["tgt_ids"]) for row in rows] == [
        pipe.encode_pair(s, t) for s, t in zip(src, tgt, strict=True)
    ]
    assert all(type(row["src_ids"]) is list for row in rows)
    # Dataset.map keeps the Arrow fast path: its batches are LazyBatch, not dict
    stored = ds.map(pipe, batched=True, batch_size=2)
    assert stored.features["src_ids"].feature.dtype == "int32"
    assert stored["src_ids"] == [pipe.encode_source(s) for s in src]


# ------------------------------------------------------------------ sentencepiece


@pytest.fixture(scope="module")
def spm() -> SentencePieceTokenizer:
    corpus = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog"] * 5
    return SentencePieceTokenizer.train(corpus, vocab_size=30)


def test_sentencepiece_pipeline_direct_and_generic_paths_agree(spm: SentencePieceTokenizer) -> None:
    vocab = Vocab.from_sentencepiece(spm)
    direct = PairPipeline(spm, spm, vocab, vocab, max_len=6)
    assert direct._src_direct and direct._tgt_direct
    src, tgt = ["the cat sat on the mat", "a zebra"], ["the dog", ""]
    (sv, so), (tv, to) = direct.encode_flat(src, tgt)
    assert sv.tolist() == spm.encode(src[:1])[0][:6] + spm.encode(src[1:])[0][:6]
    for i, (s, t) in enumerate(zip(src, tgt, strict=True)):
        assert (
            sv[so[i] : so[i + 1]].tolist(),
            tv[to[i] : to[i + 1]].tolist(),
        ) == direct.encode_pair(s, t)
    other = Vocab(list(reversed(vocab.tokens[4:])))  # same pieces, other ids: generic path
    generic = PairPipeline(spm, spm, other, other, max_len=6)
    assert not generic._src_direct
    (gv, _), _ = generic.encode_flat(src, tgt)
    assert gv.tolist() == [other[p] for s in src for p in spm(s)[:6]]
    assert generic.decode_target(generic.encode_target("the dog sat")) == "the dog sat"


# ----------------------------------------------------------------------- TextPipeline


def test_text_pipeline_char_lm_hello() -> None:
    pipe = TextPipeline.build(["hello"], CharTokenizer())
    assert pipe.vocab.tokens[4:] == ("l", "e", "h", "o")  # the notes' [h, e, l, o], by count
    assert pipe.encode("hello") == [6, 5, 4, 4, 7]
    framed = TextPipeline(CharTokenizer(), pipe.vocab, max_len=4, add_sos_eos=True)
    assert framed.encode("hello") == [2, 6, 5, 3] and framed.encode("") == [2, 3]
    values, offsets = framed.encode_flat(["hello", ""])
    assert values.tolist() == [2, 6, 5, 3, 2, 3] and offsets.tolist() == [0, 4, 6]
    assert pipe.decode([6, 5, 4, 4, 7, 3, 4]) == "hello"


def test_text_pipeline_flat_equals_encode_and_rejects_empty() -> None:
    texts = ["a good film", "A BAD film", "plot"]
    pipe = TextPipeline.build(texts, WhitespaceTokenizer(lower=True), max_len=2)
    values, offsets = pipe.encode_flat(texts)
    assert [values[a:b].tolist() for a, b in itertools.pairwise(offsets)] == [
        pipe.encode(t) for t in texts
    ]
    with pytest.raises(EmptyLineError) as err:
        pipe.encode_flat(["plot", "   "])
    assert err.value.index == 1
    with pytest.raises(EmptyLineError):
        pipe.encode("")
    assert pipe({"text": ["plot"]})["ids"] == [pipe.encode("plot")]
    with pytest.raises(ConfigError, match="integer >= 1"):
        TextPipeline(WhitespaceTokenizer(), pipe.vocab, max_len=0)
    with pytest.raises(ConfigError, match="integer >= 2"):
        TextPipeline(WhitespaceTokenizer(), pipe.vocab, max_len=1, add_sos_eos=True)


# ------------------------------------------------------------------------------ state


def pipelines(spm: SentencePieceTokenizer) -> list[PairPipeline | TextPipeline]:
    tok = WhitespaceTokenizer(lower=True)
    return [
        PairPipeline(tok, tok, Vocab(SRC_WORDS), Vocab(TGT_WORDS), max_len=5),
        PairPipeline(spm, CharTokenizer(), Vocab.from_sentencepiece(spm), Vocab(list("abc"))),
        TextPipeline(CharTokenizer(), Vocab(list("helo")), max_len=3, add_sos_eos=True),
    ]


def encode_all(pipe: PairPipeline | TextPipeline) -> object:
    texts = ["Ich sah the cat", "a dog hund"]
    if isinstance(pipe, PairPipeline):
        return [pipe.encode_pair(t, t) for t in texts]
    return [pipe.encode(t) for t in texts]


def test_every_pipeline_pickles_and_round_trips_through_json(spm: SentencePieceTokenizer) -> None:
    for pipe in pipelines(spm):
        clone = pickle.loads(pickle.dumps(pipe))
        assert clone == pipe and encode_all(clone) == encode_all(pipe)
        rebuilt = type(pipe).from_dict(json.loads(json.dumps(pipe.to_dict())))
        assert rebuilt == pipe and encode_all(rebuilt) == encode_all(pipe)
    with pytest.raises(ConfigError, match="format='seqdata-pair-pipeline'"):
        PairPipeline.from_dict({"format": "other", "version": 1})


def test_checkpoint_stores_and_rebuilds_the_pipeline(
    spm: SentencePieceTokenizer, tmp_path: Path
) -> None:
    for k, pipe in enumerate(pipelines(spm)):
        model = CharLM(vocab_size=8, embed_dim=4, hidden_size=8)
        save_checkpoint(tmp_path / f"ckpt{k}", model, pipeline=pipe)
        _, loaded, _ = load_checkpoint(tmp_path / f"ckpt{k}")
        assert loaded == pipe and encode_all(loaded) == encode_all(pipe)


def test_empty_batches(pipe: PairPipeline) -> None:
    (sv, so), (tv, to) = pipe.encode_flat([], [])
    assert sv.tolist() == [] and so.tolist() == [0] and tv.tolist() == [] and to.tolist() == [0]
    assert PairPipeline.build([], []).src_vocab.tokens == ("<pad>", "<unk>", "<sos>", "<eos>")
    values, offsets = TextPipeline.build(["a"]).encode_flat(pl.Series([], dtype=pl.String))
    assert values.tolist() == [] and offsets.tolist() == [0]
