"""Vocabulary interop: one-token-a-line files, fairseq ``dict.txt``, HF ``tokenizer.json``."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqdata import Vocab
from seqdata.errors import ConfigError, VocabFormatError
from seqdata.vocab_io import FAIRSEQ_SPECIALS, read_vocab_file

# Tokens a whitespace tokenizer can produce: no whitespace, not a special of either layout.
_RESERVED = {"<pad>", "<unk>", "<sos>", "<eos>", "<s>", "</s>"}
tokens = st.lists(
    st.text(
        st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=1, max_size=8
    ).filter(lambda t: t not in _RESERVED and t.strip() == t),
    unique=True,
    max_size=30,
)


@settings(max_examples=40, deadline=None)
@given(tokens)
@pytest.mark.parametrize("format", ["lines", "fairseq", "hf"])
def test_round_trip_keeps_every_id(format: str, words: list[str]) -> None:
    vocab = Vocab(words)
    if format == "fairseq":  # fairseq's own specials lead; the ordinary ids are the same
        vocab = Vocab(words, specials=FAIRSEQ_SPECIALS)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"vocab.{format}"
        vocab.to_file(path, format)
        back = Vocab.from_file(path, format)
    assert back == vocab
    assert [back[w] for w in words] == [vocab[w] for w in words]


def test_lines_file_with_the_specials_in_front_keeps_the_file_ids(tmp_path: Path) -> None:
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\n[UNK]\nthe\ncat\n", encoding="utf-8")
    vocab = Vocab.from_file(path, specials={"pad": "[PAD]", "unk": "[UNK]"})
    assert vocab.tokens == ("[PAD]", "[UNK]", "the", "cat")
    assert (vocab.pad_id, vocab.unk_id, vocab["cat"], vocab["dog"]) == (0, 1, 3, 1)


def test_lines_file_without_specials_gets_them_in_front(tmp_path: Path) -> None:
    path = tmp_path / "vocab.txt"
    path.write_text("the\ncat\n", encoding="utf-8")
    vocab = Vocab.from_file(path)
    assert vocab.tokens == ("<pad>", "<unk>", "<sos>", "<eos>", "the", "cat")


def test_fairseq_ids_match_fairseq(tmp_path: Path) -> None:
    # fairseq: <s>=0 <pad>=1 </s>=2 <unk>=3, then the file's tokens in order.
    path = tmp_path / "dict.txt"
    path.write_text("the 120\n, 80\ncat 7\n", encoding="utf-8")
    vocab = Vocab.from_file(path, "fairseq")
    assert (vocab.sos_id, vocab.pad_id, vocab.eos_id, vocab.unk_id) == (0, 1, 2, 3)
    assert [vocab[t] for t in ("the", ",", "cat", "dog")] == [4, 5, 6, 3]


def test_fairseq_writes_counts_and_skips_the_specials(tmp_path: Path) -> None:
    vocab = Vocab(["the", "cat"])  # seqdata's own specials are not written
    path = tmp_path / "dict.txt"
    vocab.to_file(path, "fairseq", counts={"the": 9, "cat": 2})
    assert path.read_text(encoding="utf-8") == "the 9\ncat 2\n"


def _hf(tmp_path: Path, vocab: dict[str, int], added: list[str], **model: object) -> Path:
    data = {
        "added_tokens": [{"id": vocab[t], "content": t, "special": True} for t in added],
        "model": {"type": "WordLevel", "vocab": vocab, **model},
    }
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_hf_word_level_vocab_maps_specials_by_name(tmp_path: Path) -> None:
    path = _hf(
        tmp_path,
        {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "hello": 5, "world": 4},
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]"],
        unk_token="[UNK]",
    )
    vocab = Vocab.from_file(path, "hf")
    assert vocab.specials == {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]"}
    assert (vocab["world"], vocab["hello"], vocab["nope"]) == (4, 5, 1)


@pytest.mark.parametrize(
    ("text", "format", "line", "match"),
    [
        ("the 3\ncat\n", "fairseq", 2, "should be 'token count'"),
        ("the 3\ncat x\n", "fairseq", 2, "should be 'token count'"),
        ("the 3\nthe 2\n", "fairseq", 2, "also on line 1"),
        ("<unk> 3 #fairseq:overwrite\n", "fairseq", 1, "#fairseq:overwrite"),
        ("the 3\n<pad> 3\n", "fairseq", 2, "fairseq adds itself"),
        ("a\n\nb\n", "lines", 2, "blank token line"),
        ("a\nb\na\n", "lines", 3, "also on line 1"),
        ("<pad>\n<unk>\n<sos>\na\n<eos>\n", "lines", 5, "should be on line 4"),
        ("a\r b\r", "lines", 1, "carriage-return"),
    ],
)
def test_bad_text_files_name_file_and_line(
    tmp_path: Path, text: str, format: str, line: int, match: str
) -> None:
    path = tmp_path / "vocab.txt"
    path.write_text(text, encoding="utf-8", newline="")
    with pytest.raises(VocabFormatError, match=match) as info:
        read_vocab_file(path, format)
    assert info.value.path == str(path) and info.value.line == line


def test_non_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "vocab.txt"
    path.write_bytes(b"a\nb\n\xff\n")
    with pytest.raises(VocabFormatError, match="not UTF-8") as info:
        Vocab.from_file(path)
    assert info.value.line == 3


@pytest.mark.parametrize(
    ("vocab", "added", "model", "match"),
    [
        ({"a": 0, "[UNK]": 1, "[PAD]": 2}, ["[PAD]", "[UNK]"], {}, "should have id 0"),
        ({"[PAD]": 0, "[UNK]": 1, "[FOO]": 2}, ["[PAD]", "[UNK]", "[FOO]"], {}, "role"),
        ({"[PAD]": 0, "[UNK]": 2}, ["[PAD]", "[UNK]"], {}, "0..N-1"),
        ({"[PAD]": 0, "[UNK]": 1}, ["[PAD]", "[UNK]"], {"type": "BPE"}, "only a WordLevel"),
        ({"[UNK]": 0, "a": 1}, ["[UNK]"], {}, "'pad' is missing"),
    ],
)
def test_bad_hf_files_are_refused(
    tmp_path: Path, vocab: dict[str, int], added: list[str], model: dict[str, str], match: str
) -> None:
    path = _hf(tmp_path, vocab, added, **model)
    with pytest.raises(VocabFormatError, match=match) as info:
        Vocab.from_file(path, "hf")
    assert info.value.path == str(path)


def test_hf_bad_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_text('{\n  "model": {\n  oops\n}', encoding="utf-8")
    with pytest.raises(VocabFormatError, match="not valid JSON") as info:
        Vocab.from_file(path, "hf")
    assert info.value.line == 3


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(VocabFormatError, match="no such file"):
        Vocab.from_file(tmp_path / "nope.txt")
    with pytest.raises(ConfigError, match="format should be one of"):
        Vocab.from_file(tmp_path / "nope.txt", "spm")


def test_tokens_a_format_cannot_hold_are_refused(tmp_path: Path) -> None:
    with pytest.raises(VocabFormatError, match="whitespace"):
        Vocab(["new york"]).to_file(tmp_path / "dict.txt", "fairseq")
    with pytest.raises(VocabFormatError, match="one line"):
        Vocab(["a\nb"]).to_file(tmp_path / "vocab.txt", "lines")
