"""WordTokenizer: documented splits, batch == single on any Unicode text, Moses detokenizer."""

from __future__ import annotations

import pickle

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqdata.errors import InputTypeError
from seqdata.flat import flat_pieces
from seqdata.words import PUNCTUATION, WHITESPACE, WordTokenizer

CASES = [
    ("a fence.", ["a", "fence", "."]),
    ("A white fence, isn't it?", ["A", "white", "fence", ",", "isn't", "it", "?"]),
    ("It costs 3.5 or 1,000.", ["It", "costs", "3.5", "or", "1,000", "."]),
    ("'tis well-known...", ["'", "tis", "well-known", ".", ".", "."]),
    ("“Quoted” (text) — end", ["“", "Quoted", "”", "(", "text", ")", "—", "end"]),
    ("l'homme d’accord", ["l'homme", "d’accord"]),
    ("Ein Zaun. Straße!", ["Ein", "Zaun", ".", "Straße", "!"]),
    ("東京、日本。", ["東京", "、", "日本", "。"]),
    ("  \t\u3000 ", []),
    ("", []),
    ("x-", ["x", "-"]),
    ("U.S. 50%", ["U", ".", "S", ".", "50", "%"]),
]


@pytest.mark.parametrize(("text", "tokens"), CASES)
def test_documented_splits(text, tokens):
    tok = WordTokenizer()
    assert tok(text) == tokens
    assert tok.batch([text]) == [tokens]


def test_every_text_character_survives_except_whitespace():
    tok = WordTokenizer()
    text = "Hi, it's 3.5° — «ok»!"
    assert "".join(tok(text)) == "".join(ch for ch in text if not ch.isspace())


# Text mixing the characters the rules care about with arbitrary Unicode.
_special = st.sampled_from(list(WHITESPACE + PUNCTUATION + "0123456789.,'’-"))
_any = st.characters(codec="utf-8")
TEXTS = st.lists(st.one_of(_special, _any, st.sampled_from(["ab", "3.5", "x'y"])), max_size=25)


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXTS.map("".join), min_size=1, max_size=6), st.booleans())
def test_batch_path_equals_single_path_on_unicode_text(texts, lower):
    tok = WordTokenizer(lower=lower)
    singles = [tok(t) for t in texts]
    assert tok.batch(texts) == singles
    pieces = flat_pieces(tok, pl.Series(texts, dtype=pl.String))
    flat = pieces.pieces.to_pylist()
    assert [flat[pieces.bounds[i] : pieces.bounds[i + 1]] for i in range(len(texts))] == singles
    for tokens in singles:
        assert all(t and not any(ch in WHITESPACE for ch in t) for t in tokens)


@pytest.mark.parametrize(
    ("tokens", "text"),
    [
        (["a", "fence", "."], "a fence."),
        (["Hello", ",", "world", "!"], "Hello, world!"),
        (["(", "a", ")", "b", "?"], "(a) b?"),
        (["he", "said", '"', "hi", '"', "."], 'he said "hi".'),
        (["AT", "&", "T", "&amp;"], "AT & T &amp;"),  # no HTML unescaping
        ([], ""),
    ],
)
def test_detokenize_writes_normal_text(tokens, text):
    assert WordTokenizer().detokenize(tokens) == text


def test_round_trip_of_plain_sentences():
    tok = WordTokenizer()
    for text in ["A man rides a horse.", "Is it 3.5 km, or more?", "She said: no!"]:
        assert tok.detokenize(tok(text)) == text


def test_lower_to_dict_pickle_and_equality():
    tok = WordTokenizer(lower=True, lang="de")
    assert tok("Ein ZAUN.") == ["ein", "zaun", "."]
    assert tok.to_dict() == {"type": "words", "lower": True, "lang": "de"}
    assert WordTokenizer.from_dict(tok.to_dict()) == tok
    tok.detokenize(["a"])  # builds the Moses object; pickling must still work
    clone = pickle.loads(pickle.dumps(tok))
    assert clone == tok and hash(clone) == hash(tok)
    assert clone.detokenize(["ein", "zaun", "."]) == "ein zaun."
    assert tok != WordTokenizer(lower=True)


def test_bad_inputs_are_typed_errors():
    with pytest.raises(InputTypeError, match="lower should be a bool"):
        WordTokenizer(lower="yes")  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match=r"texts\[1\] should be a str"):
        WordTokenizer().batch(["ok", None])  # type: ignore[list-item]
    with pytest.raises(InputTypeError, match="wrap it in a list"):
        WordTokenizer().batch("a fence.")
    assert WordTokenizer().batch([]) == []


def test_prepare_with_the_words_tokenizer_round_trips_through_a_checkpoint(tmp_path) -> None:
    """`prepare --tokenizer words` → the pipeline rebuilds from its dict, and translations
    are detokenized back to normal text."""
    from seqdata.cli import main
    from seqdata.cli._prepared import pipeline_from_file
    from seqdata.tokenizers import tokenizer_from_dict

    (tmp_path / "s.txt").write_text("a fence.\nthe dog, the cat!\n", encoding="utf-8")
    (tmp_path / "t.txt").write_text("ein zaun.\nder hund, die katze!\n", encoding="utf-8")
    argv = ["prepare", "--src", str(tmp_path / "s.txt"), "--tgt", str(tmp_path / "t.txt")]
    assert main([*argv, "--tokenizer", "words", "--lower", "--out", str(tmp_path / "d")]) == 0
    pipe = pipeline_from_file(tmp_path / "d" / "pipeline.json")
    assert isinstance(pipe.src_tokenizer, WordTokenizer) and pipe.src_tokenizer.lower
    assert tokenizer_from_dict(pipe.tgt_tokenizer.to_dict()) == pipe.tgt_tokenizer
    assert "." in pipe.src_vocab and "fence" in pipe.src_vocab
    ids = pipe.encode_target("der hund, die katze!")
    assert pipe.decode_target(ids[1:]) == "der hund, die katze!"
