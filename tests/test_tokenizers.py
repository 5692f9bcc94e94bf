"""Tokenizers: the shared protocol, exact splits, the vectorized split, sentencepiece."""

from __future__ import annotations

import base64
import itertools
import json
import pickle
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqdata.errors import ConfigError, InputTypeError, TokenizerError
from seqdata.flat import flat_pieces
from seqdata.sentencepiece import SentencePieceTokenizer
from seqdata.texts import Tokenizer, as_string_series
from seqdata.tokenizers import (
    CharTokenizer,
    WhitespaceTokenizer,
    make_tokenizer,
    tokenizer_from_dict,
)

CORPUS = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "a cat and a dog",
    "the mat and the log",
] * 5

# Every character Python's str.split() treats as whitespace, plus look-alikes that are not.
WHITESPACE = (
    " \t\n\v\f\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2005\u200a\u2028\u2029\u202f\u205f\u3000"
)
NOT_WHITESPACE = "\x00\x08\x1b\u200b\u180e\ufeff"


@pytest.fixture(scope="module")
def spm() -> SentencePieceTokenizer:
    return SentencePieceTokenizer.train(CORPUS, vocab_size=30, model_type="bpe")


def pieces_as_lists(tok: Tokenizer, texts: list[str]) -> list[list[str]]:
    """Materialise the vectorized split back into Python lists (test helper)."""
    flat = flat_pieces(tok, as_string_series(texts))
    pieces = flat.pieces.to_pylist()
    keep = np.ones(len(pieces), bool) if flat.keep is None else flat.keep
    bounds = flat.bounds.tolist()
    cut = len(flat.suffix)
    out = []
    for a, b in itertools.pairwise(bounds):
        tokens = [p[: len(p) - cut] for p, k in zip(pieces[a:b], keep[a:b], strict=True) if k]
        out.append([t.lower() for t in tokens] if flat.lower else tokens)
    return out


# ----------------------------------------------------------------------------- whitespace


def test_whitespace_is_str_split_and_lower_is_the_notes_rule() -> None:
    assert WhitespaceTokenizer()("The  Cat\tsat\n") == ["The", "Cat", "sat"]
    assert WhitespaceTokenizer(lower=True)("The  Cat\tsat\n") == ["the", "cat", "sat"]
    line = "Ein Hund\u00a0LIEF   weg"
    assert WhitespaceTokenizer(lower=True)(line) == line.lower().split()


def test_empty_and_whitespace_only_lines_give_no_tokens() -> None:
    tok = WhitespaceTokenizer()
    assert tok("") == []
    assert tok(" \t \u3000 ") == []
    assert tok.batch(["", "  ", "a"]) == [[], [], ["a"]]


def test_batch_names_the_non_string_item() -> None:
    with pytest.raises(InputTypeError, match=r"texts\[2\] should be a str, but got int") as err:
        WhitespaceTokenizer().batch(["a", "b", 7])  # type: ignore[list-item]
    assert err.value.index == 2
    with pytest.raises(InputTypeError, match="single str"):
        WhitespaceTokenizer().batch("a b")
    with pytest.raises(InputTypeError, match="text should be a str"):
        WhitespaceTokenizer()(None)  # type: ignore[arg-type]


def test_as_string_series_accepts_lists_numpy_polars_and_rejects_bad_items() -> None:
    expected = ["a b", "c"]
    for texts in (
        expected,
        np.array(expected),
        pl.Series(expected),
        pl.Series(expected).cast(pl.Categorical),
    ):
        assert as_string_series(texts).to_list() == expected
    with pytest.raises(InputTypeError, match=r"texts\[1\] should be a str, but got None") as err:
        as_string_series(["a", None])
    assert err.value.index == 1
    with pytest.raises(InputTypeError, match=r"texts\[0\] is not valid text"):
        as_string_series(["\ud800"])
    with pytest.raises(InputTypeError, match="dtype Int64"):
        as_string_series(pl.Series([1, 2]))


@settings(max_examples=200, deadline=None)
@given(
    texts=st.lists(
        st.text(alphabet=st.sampled_from("aZé İΣß" + WHITESPACE + NOT_WHITESPACE), max_size=12)
        | st.text(max_size=8),
        max_size=6,
    ),
    lower=st.booleans(),
)
def test_vectorized_whitespace_split_equals_str_split(texts: list[str], lower: bool) -> None:
    tok = WhitespaceTokenizer(lower=lower)
    assert pieces_as_lists(tok, texts) == tok.batch(texts)


@settings(max_examples=100, deadline=None)
@given(texts=st.lists(st.text(max_size=10), max_size=6))
def test_vectorized_char_split_equals_list(texts: list[str]) -> None:
    assert pieces_as_lists(CharTokenizer(), texts) == [list(t) for t in texts]


def test_char_tokenizer_round_trips() -> None:
    tok = CharTokenizer()
    assert tok("hello") == ["h", "e", "l", "l", "o"]  # the notes' char LM
    assert tok.detokenize(tok("héllo wörld")) == "héllo wörld"
    assert tok.batch(["ab", ""]) == [["a", "b"], []]


# -------------------------------------------------------------------------- sentencepiece


def test_spm_trains_with_seqdata_specials_and_exact_ids(spm: SentencePieceTokenizer) -> None:
    assert (spm.pad_id, spm.unk_id, spm.bos_id, spm.eos_id) == (0, 1, 2, 3)
    assert spm.pieces[:4] == ["<pad>", "<unk>", "<sos>", "<eos>"]
    assert len(spm) == 30
    # Golden pieces/ids of this tiny BPE model (sentencepiece is deterministic).
    assert spm("the cat sat") == ["▁the", "▁c", "at", "▁s", "at"]
    assert spm.encode(["the cat sat", "a dog"]) == [[7, 12, 4, 16, 4], [9, 13, 8]]
    assert spm.encode(["zebra"]) == [[17, 1, 20, 1, 19]]  # unseen letters → unk_id


def test_spm_round_trips_and_batches_like_single_calls(spm: SentencePieceTokenizer) -> None:
    texts = ["the cat sat on the mat", "a dog and a log", ""]
    ids = spm.encode(texts)
    assert [spm.decode(x) for x in ids] == texts
    assert spm.batch(texts) == [spm(t) for t in texts]
    assert spm.detokenize(spm("the log")) == "the log"
    assert spm.decode(np.array([2, 7, 3])) == "the"  # sos/eos decode to nothing
    with pytest.raises(ConfigError, match=r"ids should be in \[0, 30\), but got id=99"):
        spm.decode([7, 99])
    with pytest.raises(InputTypeError, match="single str"):
        spm.encode("the cat")


def test_spm_training_is_deterministic_and_files_equal_strings(tmp_path: Path) -> None:
    first = SentencePieceTokenizer.train(CORPUS, vocab_size=30)
    second = SentencePieceTokenizer.train(iter(CORPUS), vocab_size=30)
    assert first.model_proto == second.model_proto
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    assert SentencePieceTokenizer.train(path, vocab_size=30).model_proto == first.model_proto
    assert SentencePieceTokenizer.train([path], vocab_size=30).model_proto == first.model_proto


def test_spm_unigram_trains(spm: SentencePieceTokenizer) -> None:
    uni = SentencePieceTokenizer.train(CORPUS, vocab_size=22, model_type="unigram")
    assert uni.pieces[:4] == spm.pieces[:4]
    assert uni.decode(uni.encode(["the cat"])[0]) == "the cat"


def test_spm_save_load_pickle_and_to_dict(spm: SentencePieceTokenizer, tmp_path: Path) -> None:
    path = tmp_path / "m.model"
    spm.save(path)
    loaded = SentencePieceTokenizer.load(path)
    assert loaded == spm and loaded.encode(["the cat"]) == spm.encode(["the cat"])
    clone = pickle.loads(pickle.dumps(spm))
    assert clone == spm and clone("the dog") == spm("the dog")
    state = json.loads(json.dumps(spm.to_dict()))
    assert base64.b64decode(state["model"]) == spm.model_proto
    rebuilt = tokenizer_from_dict(state)
    assert rebuilt == spm and rebuilt("a log") == spm("a log")


def test_spm_errors(tmp_path: Path) -> None:
    with pytest.raises(TokenizerError, match=r"Vocabulary size too high.*lower vocab_size"):
        SentencePieceTokenizer.train(CORPUS, vocab_size=200)
    with pytest.raises(ConfigError, match='model_type should be "bpe" or "unigram"'):
        SentencePieceTokenizer.train(CORPUS, vocab_size=30, model_type="word")
    with pytest.raises(ConfigError, match="vocab_size should be an integer >= 5"):
        SentencePieceTokenizer.train(CORPUS, vocab_size=4)
    with pytest.raises(InputTypeError, match="single string"):
        SentencePieceTokenizer.train("the cat sat", vocab_size=30)
    with pytest.raises(InputTypeError, match=r"texts_or_files\[1\] should be a str"):
        SentencePieceTokenizer.train(["the cat", 3], vocab_size=30)  # type: ignore[list-item]
    with pytest.raises(TokenizerError, match="cannot read the training file") as err:
        SentencePieceTokenizer.train([tmp_path / "missing.txt"], vocab_size=30)
    assert err.value.path == str(tmp_path / "missing.txt")
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"this is not a model")
    with pytest.raises(TokenizerError, match="not a valid sentencepiece model") as err:
        SentencePieceTokenizer.load(bad)
    assert err.value.path == str(bad)
    with pytest.raises(TokenizerError, match="cannot read the model"):
        SentencePieceTokenizer.load(tmp_path / "nope.model")


# ------------------------------------------------------------------------ shared protocol


@pytest.mark.parametrize(
    "tok",
    [WhitespaceTokenizer(), WhitespaceTokenizer(lower=True), CharTokenizer()],
    ids=["whitespace", "whitespace-lower", "char"],
)
def test_every_tokenizer_pickles_and_rebuilds_from_dict(tok: Tokenizer) -> None:
    assert isinstance(tok, Tokenizer)
    text = "Der Hund  lief"
    for clone in (
        pickle.loads(pickle.dumps(tok)),
        tokenizer_from_dict(json.loads(json.dumps(tok.to_dict()))),
    ):
        assert clone == tok
        assert clone(text) == tok(text)
        assert clone.batch([text, ""]) == tok.batch([text, ""])


def test_spm_satisfies_the_protocol(spm: SentencePieceTokenizer) -> None:
    assert isinstance(spm, Tokenizer)


def test_make_tokenizer_and_from_dict_errors(spm: SentencePieceTokenizer, tmp_path: Path) -> None:
    assert make_tokenizer("whitespace", lower=True) == WhitespaceTokenizer(lower=True)
    assert make_tokenizer("char") == CharTokenizer()
    spm.save(tmp_path / "m.model")
    assert make_tokenizer("spm", path=tmp_path / "m.model") == spm
    trained = make_tokenizer("spm", texts_or_files=CORPUS, vocab_size=30)
    assert trained == spm
    with pytest.raises(
        ConfigError, match="name should be one of 'whitespace', 'words', 'char', 'spm'"
    ):
        make_tokenizer("bpe")
    with pytest.raises(TokenizerError, match="the tokenizer type should be one of"):
        tokenizer_from_dict({"type": "wordpiece"})
    with pytest.raises(TokenizerError, match="malformed"):
        tokenizer_from_dict({"type": "spm", "model": "%%% not base64"})
    with pytest.raises(InputTypeError, match="lower should be a bool"):
        WhitespaceTokenizer(lower="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("vocab_size", "hint"),
    [(12, "raise vocab_size"), (5000, "lower vocab_size or pass hard_vocab_limit=False")],
)
def test_a_vocab_size_sentencepiece_cannot_reach_gets_the_right_hint(vocab_size, hint):
    texts = [f"the quick brown fox jumps over the lazy dog {i}" for i in range(200)]
    with pytest.raises(TokenizerError, match=hint):
        SentencePieceTokenizer.train(texts, vocab_size=vocab_size)
