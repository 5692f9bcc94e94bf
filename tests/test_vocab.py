"""Vocab: specials, deterministic order, UNK fallback, vectorized batches, the file format."""

from __future__ import annotations

import json
import pickle
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqdata.errors import (
    ConfigError,
    InputTypeError,
    SeqdataError,
    SpecialTokenError,
    VocabFormatError,
)
from seqdata.sentencepiece import SentencePieceTokenizer
from seqdata.vocab import DEFAULT_SPECIALS, Vocab

CORPUS = [["the", "cat", "sat"], ["the", "dog", "sat"], ["a", "cat"], ["the", "end"]]
tokens_st = st.text(min_size=1, max_size=6)


@pytest.fixture
def vocab() -> Vocab:
    return Vocab.build(CORPUS)


# ------------------------------------------------------------------------------- building


def test_specials_lead_then_frequency_then_lexicographic(vocab: Vocab) -> None:
    # the ×3; cat, sat ×2 (c < s); a, dog, end ×1 in code-point order.
    assert vocab.tokens == (
        "<pad>", "<unk>", "<sos>", "<eos>", "the", "cat", "sat", "a", "dog", "end",
    )  # fmt: skip
    assert (vocab.pad_id, vocab.unk_id, vocab.sos_id, vocab.eos_id) == (0, 1, 2, 3)
    assert vocab.specials == dict(DEFAULT_SPECIALS)


def test_build_order_does_not_depend_on_corpus_order(vocab: Vocab) -> None:
    assert Vocab.build(list(reversed(CORPUS))) == vocab
    assert Vocab.build(iter(CORPUS)) == vocab  # any iterable
    assert Vocab.build(pl.Series(CORPUS)) == vocab  # a polars list[str] column
    assert Vocab.from_counts(Counter(t for s in CORPUS for t in s)) == vocab


def test_min_freq_max_size_and_special_tokens_in_the_data() -> None:
    assert Vocab.build(CORPUS, min_freq=2).tokens[4:] == ("the", "cat", "sat")
    assert len(Vocab.build(CORPUS, max_size=6)) == 6  # specials included
    assert Vocab.build(CORPUS, max_size=6).tokens[4:] == ("the", "cat")
    with_special = Vocab.build([["<eos>", "x", "<eos>", "<unk>"]])
    assert with_special.tokens[4:] == ("x",)  # specials are not counted as words
    with pytest.raises(ConfigError, match="min_freq should be a positive integer"):
        Vocab.build(CORPUS, min_freq=0)
    with pytest.raises(ConfigError, match="max_size should be None or an integer >= the 4"):
        Vocab.build(CORPUS, max_size=3)


def test_custom_specials() -> None:
    vocab = Vocab.build(CORPUS, specials={"pad": "[PAD]", "unk": "[UNK]", "mask": "[MASK]"})
    assert vocab.tokens[:3] == ("[PAD]", "[UNK]", "[MASK]")
    assert vocab.special_id("mask") == 2 and vocab["zebra"] == 1
    with pytest.raises(SpecialTokenError, match="no 'sos' special"):
        _ = vocab.sos_id


@pytest.mark.parametrize(
    ("specials", "message"),
    [
        ({"pad": "<pad>", "unk": "<unk>", "start": "<s>"}, "unknown special name 'start'"),
        ({"pad": "<pad>", "unk": "<pad>"}, "share the token '<pad>'"),
        ({"pad": "<pad>"}, "the special 'unk' is missing"),
        ({"unk": "<unk>", "sos": "<s>"}, "the special 'pad' is missing"),
        ([("pad", "<p>"), ("unk", "<u>"), ("pad", "<q>")], "the special 'pad' is given twice"),
        ({"pad": "", "unk": "<unk>"}, "should be a non-empty str"),
        (["<pad>", "<unk>"], "should be a mapping role"),
    ],
)
def test_bad_specials_are_special_token_errors(specials: object, message: str) -> None:
    with pytest.raises(SpecialTokenError, match=message):
        Vocab(["a"], specials=specials)  # type: ignore[arg-type]


def test_unknown_special_name_lookup(vocab: Vocab) -> None:
    with pytest.raises(SpecialTokenError, match="unknown special name 'bos'"):
        vocab.special_id("bos")


def test_constructor_rejects_duplicates_and_special_clashes() -> None:
    with pytest.raises(ConfigError, match="'a' has ids 4 and 5"):
        Vocab(["a", "a"])
    with pytest.raises(SpecialTokenError, match="already the special 'eos'"):
        Vocab(["a", "<eos>"])
    with pytest.raises(InputTypeError, match="tokens should be strings, but got int"):
        Vocab(["a", 3])  # type: ignore[list-item]


# ------------------------------------------------------------------------------- encoding


def test_unknown_tokens_map_to_unk_and_the_vocab_never_grows(vocab: Vocab) -> None:
    size = len(vocab)
    assert vocab["zebra"] == vocab.unk_id == 1
    assert "zebra" not in vocab and "cat" in vocab and 5 not in vocab
    assert vocab.encode(["the", "zebra", "cat"]) == [4, 1, 5]
    assert vocab.encode_batch([["zebra", "okapi"], []]) == [[1, 1], []]
    assert len(vocab) == size and "zebra" not in vocab
    assert vocab.lookup_token(5) == "cat"
    with pytest.raises(ConfigError, match=r"index should be in \[0, len\(vocab\)=10\)"):
        vocab.lookup_token(10)
    with pytest.raises(InputTypeError, match="use lookup_token"):
        vocab[3]  # type: ignore[index]


def test_encode_rejects_a_sentence_and_non_string_tokens(vocab: Vocab) -> None:
    with pytest.raises(InputTypeError, match="tokenize it first"):
        vocab.encode("the cat")
    with pytest.raises(InputTypeError, match=r"tokens\[1\] should be a str, but got int"):
        vocab.encode(["the", 7])  # type: ignore[list-item]
    with pytest.raises(InputTypeError, match=r"token_lists\[1\]\[0\] should be a str") as err:
        vocab.encode_batch([["the"], [None]])  # type: ignore[list-item]
    assert err.value.index == 1
    with pytest.raises(InputTypeError, match=r"token_lists\[0\] should be a list of tokens"):
        vocab.encode_batch(["the cat"])


def test_encode_batch_does_no_python_dict_lookup(vocab: Vocab) -> None:
    class NoLookups(dict):
        def __getitem__(self, key: object) -> int:
            raise AssertionError("per-token dict lookup on the batched path")

        get = __getitem__  # type: ignore[assignment]

    vocab._stoi = NoLookups(vocab._stoi)
    assert vocab.encode_batch([["the", "zebra"], ["end"]]) == [[4, 1], [9]]
    values, offsets = vocab.encode_flat([["the", "zebra"], ["end"]])
    assert values.dtype == np.int32 and offsets.dtype == np.int64
    assert values.tolist() == [4, 1, 9] and offsets.tolist() == [0, 2, 3]


@settings(max_examples=100, deadline=None)
@given(
    known=st.lists(tokens_st, min_size=1, max_size=20, unique=True),
    batch=st.lists(st.lists(tokens_st, max_size=6), max_size=6),
)
def test_encode_batch_equals_encode_and_decode_inverts_encode(
    known: list[str], batch: list[list[str]]
) -> None:
    known = [t for t in known if t not in DEFAULT_SPECIALS.values()]
    vocab = Vocab(known)
    assert vocab.encode_batch(batch) == [vocab.encode(tokens) for tokens in batch]
    in_vocab = [t for tokens in batch for t in tokens if t in known] + known
    assert vocab.decode(vocab.encode(in_vocab)) == in_vocab


# ------------------------------------------------------------------------------- decoding


def test_decode_stops_at_eos_and_strips_specials_but_keeps_unk(vocab: Vocab) -> None:
    ids = [2, 4, 1, 5, 3, 6, 0]
    assert vocab.decode(ids) == ["the", "<unk>", "cat"]
    assert vocab.decode(ids, strip_specials=False) == ["<sos>", "the", "<unk>", "cat", "<eos>"]
    assert vocab.decode(np.array([4, 0, 0])) == ["the"]
    assert vocab.decode(torch.tensor([2, 5, 3])) == ["cat"]
    assert vocab.decode([]) == []
    with pytest.raises(
        ConfigError, match=r"ids should be in \[0, len\(vocab\)=10\), but got id=42"
    ):
        vocab.decode([4, 42])
    with pytest.raises(InputTypeError, match="1-D sequence of integers"):
        vocab.decode([[4, 5]])


def test_unknown_rate(vocab: Vocab) -> None:
    assert vocab.unknown_rate([["the", "zebra"], ["cat", "okapi", "sat", "dog"]]) == 2 / 6
    assert vocab.unknown_rate([]) == 0.0


# ----------------------------------------------------------------------------------- files


def test_save_writes_the_documented_format(vocab: Vocab, tmp_path: Path) -> None:
    path = tmp_path / "vocab.txt"
    vocab.save(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    header = json.loads(lines[0])
    assert header == {
        "format": "seqdata-vocab",
        "version": 1,
        "size": 10,
        "specials": {"pad": "<pad>", "unk": "<unk>", "sos": "<sos>", "eos": "<eos>"},
    }
    assert lines[1:6] == ['"<pad>"', '"<unk>"', '"<sos>"', '"<eos>"', '"the"']
    assert lines[-1] == "" and len(lines) == 12
    assert Vocab.load(path) == vocab


@settings(max_examples=50, deadline=None)
@given(tokens=st.lists(st.text(min_size=1, max_size=5), max_size=15, unique=True))
def test_save_load_is_the_identity(tokens: list[str]) -> None:
    import tempfile

    tokens = [t for t in tokens if t not in DEFAULT_SPECIALS.values()]
    vocab = Vocab(tokens)  # any text: spaces, newlines, quotes, emoji
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "v.txt"
        vocab.save(path)
        loaded = Vocab.load(path)
    assert loaded == vocab and loaded.tokens == vocab.tokens
    assert Vocab.from_dict(json.loads(json.dumps(vocab.to_dict()))) == vocab
    assert pickle.loads(pickle.dumps(vocab)) == vocab


def corrupt(vocab: Vocab, tmp_path: Path, edit: object) -> Path:
    path = tmp_path / "vocab.txt"
    vocab.save(path)
    lines = path.read_bytes().split(b"\n")[:-1]
    lines = edit(lines)  # type: ignore[operator]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize(
    ("edit", "line", "message"),
    [
        (lambda ls: ls[:6], 7, "promises 10 tokens, but the file ends after 5; .*truncated"),
        (lambda ls: ls[:5] + ls[6:], 11, "promises 10 tokens, but the file ends after 9"),
        (lambda ls: [*ls[:5], b"", *ls[6:]], 6, "garbled or missing line"),
        (lambda ls: [*ls[:5], b'"the', *ls[6:]], 6, "one JSON string"),
        (lambda ls: [*ls[:5], b"42", *ls[6:]], 6, "one JSON string"),
        (lambda ls: [*ls[:5], b"\xff\xfe", *ls[6:]], 6, "one JSON string"),
        (lambda ls: [*ls, b'"extra"'], 12, "the file goes on"),
        (
            lambda ls: [*ls[:6], b'"the"', *ls[7:]],
            7,
            r"'the' appears twice: ids 4 \(line 6\) and 5",
        ),
        (lambda ls: [ls[0], b'"cat"', *ls[2:]], 2, "id 0 should be one of the specials"),
        (lambda ls: [b"<pad>", *ls[1:]], 1, "header should be a JSON object"),
        (lambda ls: [ls[0].replace(b'"version": 1', b'"version": 7'), *ls[1:]], 1, "version 7"),
        (lambda ls: [ls[0].replace(b'"size": 10', b'"size": "x"'), *ls[1:]], 1, "size should be"),
    ],
)
def test_corrupted_files_name_file_and_line(
    vocab: Vocab, tmp_path: Path, edit: object, line: int, message: str
) -> None:
    path = corrupt(vocab, tmp_path, edit)
    with pytest.raises(VocabFormatError, match=message) as err:
        Vocab.load(path)
    assert err.value.path == str(path) and err.value.line == line
    assert str(err.value).startswith(f"{path}, line {line}: ")


def test_specials_order_comes_from_the_token_lines(vocab: Vocab, tmp_path: Path) -> None:
    state = json.loads(json.dumps(vocab.to_dict(), sort_keys=True))  # as a checkpoint stores it
    assert list(state["specials"]) == ["eos", "pad", "sos", "unk"]
    assert Vocab.from_dict(state) == vocab and Vocab.from_dict(state).pad_id == 0
    swapped = corrupt(vocab, tmp_path, lambda ls: [ls[0], ls[2], ls[1], *ls[3:]])
    loaded = Vocab.load(swapped)  # the file's token lines define the ids
    assert (loaded.unk_id, loaded.pad_id) == (0, 1)


def test_bad_specials_in_the_header_and_missing_file(vocab: Vocab, tmp_path: Path) -> None:
    path = corrupt(vocab, tmp_path, lambda ls: [ls[0].replace(b'"sos"', b'"start"'), *ls[1:]])
    with pytest.raises(SpecialTokenError, match="unknown special name 'start'") as err:
        Vocab.load(path)
    assert err.value.line == 1
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(VocabFormatError, match="the file is empty") as err_empty:
        Vocab.load(tmp_path / "empty.txt")
    assert err_empty.value.line == 1
    with pytest.raises(VocabFormatError, match="cannot read the vocabulary"):
        Vocab.load(tmp_path / "missing.txt")
    with pytest.raises(VocabFormatError, match="format"):
        Vocab.from_dict({"tokens": []})
    assert issubclass(VocabFormatError, SeqdataError)


# --------------------------------------------------------------------------- sentencepiece


def test_from_sentencepiece_lines_up_with_the_model() -> None:
    corpus = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog"] * 5
    spm = SentencePieceTokenizer.train(corpus, vocab_size=30)
    vocab = Vocab.from_sentencepiece(spm)
    assert len(vocab) == len(spm) and vocab.tokens == tuple(spm.pieces)
    assert (vocab.pad_id, vocab.unk_id, vocab.sos_id, vocab.eos_id) == (0, 1, 2, 3)
    assert vocab.specials == dict(DEFAULT_SPECIALS)
    for text in ["the cat sat", "a zebra dog", ""]:
        assert vocab.encode(spm(text)) == spm.encode([text])[0]
    no_pad = SentencePieceTokenizer.train(
        corpus, vocab_size=30, pad_id=-1, unk_id=0, bos_id=1, eos_id=2
    )
    with pytest.raises(SpecialTokenError, match="the special 'pad' is missing"):
        Vocab.from_sentencepiece(no_pad)
    late = SentencePieceTokenizer.train(corpus, vocab_size=30, eos_id=5)
    with pytest.raises(SpecialTokenError, match="leading ids"):
        Vocab.from_sentencepiece(late)
