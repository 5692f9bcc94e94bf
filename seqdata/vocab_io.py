"""Vocabularies other tools write: one token a line, fairseq's ``dict.txt``, HF ``tokenizer.json``.

A corpus prepared elsewhere keeps its ids when its vocabulary is read here, so each format
says exactly where the special tokens go:

- ``"lines"``: one token per line, id = line number - 1. The specials (default
  ``seqdata.specials.DEFAULT_SPECIALS``) must be the file's first lines, in
  their id order; a file without any of them gets them in front (every id moves up by
  ``len(specials)``). Writing puts every token, specials first, one a line.
- ``"fairseq"``: fairseq's ``Dictionary`` text format, ``token count`` a line. fairseq
  reserves ``<s>=0 <pad>=1 </s>=2 <unk>=3`` and does not write them to the file, so the
  vocabulary read has the specials ``{"sos": "<s>", "pad": "<pad>", "eos": "</s>",
  "unk": "<unk>"}`` in that order and the file's first token gets id 4, as in fairseq.
  Writing skips the specials (whatever their tokens) and writes each other token with its
  count (1 when no counts are given). A line that re-assigns a special
  (``#fairseq:overwrite``) or repeats a token (``#fairseq:duplicate``) is refused: seqdata
  keeps one id per token and the specials at the leading ids.
- ``"hf"``: a HuggingFace ``tokenizers`` file with a ``WordLevel`` model. ``model.vocab``
  gives the ids; the special tokens are the ``added_tokens`` marked ``special``, each given
  a role by its name (``[PAD]``/``<pad>`` → ``pad``, ``[UNK]``/``<unk>`` → ``unk``,
  ``[CLS]`` → ``cls``, ``<s>``/``[BOS]`` → ``sos``, ``</s>``/``[EOS]`` → ``eos``, …) or by
  the ``specials`` argument. They must hold the leading ids. Writing gives a ``WordLevel``
  model with a whitespace pre-tokenizer.

Every problem is a [`VocabFormatError`][seqdata.errors.VocabFormatError] naming the file and,
for the text formats, the line.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "dict.txt"
>>> _ = path.write_text("the 120\\ncat 7\\n", encoding="utf-8")
>>> vocab = read_vocab_file(path, "fairseq")
>>> vocab.tokens, vocab.pad_id, vocab["cat"]
(('<s>', '<pad>', '</s>', '<unk>', 'the', 'cat'), 1, 5)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqdata._checks import check_choice
from seqdata.errors import SpecialTokenError, VocabFormatError
from seqdata.specials import DEFAULT_SPECIALS, check_specials

if TYPE_CHECKING:
    from seqdata.vocab import Vocab

__all__ = ["FAIRSEQ_SPECIALS", "VOCAB_FORMATS", "read_vocab_file", "write_vocab_file"]

#: The file formats [`read_vocab_file`][seqdata.vocab_io.read_vocab_file] reads.
VOCAB_FORMATS = ("lines", "fairseq", "hf")
#: fairseq's ``Dictionary`` specials, in its id order (``<s>=0 <pad>=1 </s>=2 <unk>=3``).
FAIRSEQ_SPECIALS: Mapping[str, str] = {"sos": "<s>", "pad": "<pad>", "eos": "</s>", "unk": "<unk>"}
_FAIRSEQ_FLAGS = ("#fairseq:overwrite", "#fairseq:duplicate")
_HF_ROLES = {
    "pad": ("[PAD]", "<pad>", "<PAD>"),
    "unk": ("[UNK]", "<unk>", "<UNK>"),
    "sos": ("<s>", "[BOS]", "<bos>", "<sos>", "[SOS]", "<|startoftext|>"),
    "eos": ("</s>", "[EOS]", "<eos>", "[SEP_EOS]", "<|endoftext|>"),
    "cls": ("[CLS]", "<cls>"),
    "sep": ("[SEP]", "<sep>"),
    "mask": ("[MASK]", "<mask>"),
}


def _vocab(tokens: list[str], specials: Mapping[str, str], path: Path, line: int | None) -> Vocab:
    from seqdata.vocab import Vocab

    try:
        return Vocab(tokens, specials=specials)
    except VocabFormatError:
        raise
    except (SpecialTokenError, ValueError, TypeError) as err:
        raise VocabFormatError(str(err), path=path, line=line) from None


def _read_text(path: Path) -> list[str]:
    """The lines of a UTF-8 text file (a BOM and ``\\r\\n`` line ends are fine)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise VocabFormatError("no such file; check the path", path=path) from None
    except IsADirectoryError:
        raise VocabFormatError("is a folder; give the vocabulary file in it", path=path) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise VocabFormatError(
            "not UTF-8 text; re-encode the file as UTF-8", path=path, line=line
        ) from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    if "\r" in text:
        line = text.count("\n", 0, text.index("\r")) + 1
        raise VocabFormatError(
            "has carriage-return-only line ends; convert them to '\\n'", path=path, line=line
        )
    return text.removesuffix("\n").split("\n") if text else []


# --- one token a line ------------------------------------------------------------------------


def _read_lines(path: Path, specials: Mapping[str, str]) -> Vocab:
    lines = _read_text(path)
    seen: dict[str, int] = {}
    for number, token in enumerate(lines, start=1):
        if not token.strip():
            raise VocabFormatError(
                "a blank token line; a vocabulary file has one token per line", path=path,
                line=number,
            )  # fmt: skip
        if token in seen:
            raise VocabFormatError(
                f"the token {token!r} is also on line {seen[token]}; list each token once",
                path=path,
                line=number,
            )
        seen[token] = number
    special_tokens = list(specials.values())
    present = [t for t in special_tokens if t in seen]
    if not present:
        return _vocab(lines, specials, path, None)
    for k, token in enumerate(special_tokens):
        if k >= len(lines) or lines[k] != token:
            where = seen.get(token)
            found = f"it is on line {where}" if where else "it is missing"
            raise VocabFormatError(
                f"the special {token!r} should be on line {k + 1} (the specials "
                f"{special_tokens} lead the file, in id order), but {found}; pass the "
                "specials= this file uses, in its order",
                path=path,
                line=where or k + 1,
            )
    return _vocab(lines[len(special_tokens) :], specials, path, None)


def _write_lines(vocab: Vocab, path: Path) -> None:
    bad = [t for t in vocab.tokens if not t.strip() or "\n" in t or "\r" in t]
    if bad:
        raise VocabFormatError(
            f"the token {bad[0]!r} cannot be one line of a text file; save it with "
            "Vocab.save (JSON lines) instead",
            path=path,
        )
    path.write_text("".join(t + "\n" for t in vocab.tokens), encoding="utf-8", newline="\n")


# --- fairseq dict.txt ------------------------------------------------------------------------


def _read_fairseq(path: Path, specials: Mapping[str, str]) -> Vocab:
    tokens: list[str] = []
    seen: dict[str, int] = {}
    reserved = set(specials.values())
    for number, raw in enumerate(_read_text(path), start=1):
        line = raw.rstrip()
        token, _, field = line.rpartition(" ")
        for flag in _FAIRSEQ_FLAGS:
            if field == flag:
                raise VocabFormatError(
                    f"{flag} lines are not supported: seqdata keeps one id per token and the "
                    "specials at the leading ids; remove the line",
                    path=path,
                    line=number,
                )
        if not token or not field.isdigit():
            raise VocabFormatError(
                f"a fairseq dictionary line should be 'token count', but got {raw!r}",
                path=path,
                line=number,
            )
        if token in reserved:
            raise VocabFormatError(
                f"the token {token!r} is a special that fairseq adds itself; remove the line",
                path=path,
                line=number,
            )
        if token in seen:
            raise VocabFormatError(
                f"the token {token!r} is also on line {seen[token]}; list each token once",
                path=path,
                line=number,
            )
        seen[token] = number
        tokens.append(token)
    return _vocab(tokens, specials, path, None)


def _write_fairseq(vocab: Vocab, path: Path, counts: Mapping[str, int] | None) -> None:
    specials = set(vocab.specials.values())
    out = []
    for token in vocab.tokens:
        if token in specials:
            continue
        if not token or any(c.isspace() for c in token):
            raise VocabFormatError(
                f"the token {token!r} has whitespace, which a fairseq dictionary line cannot "
                "hold; use format='lines' or Vocab.save",
                path=path,
            )
        count = 1 if counts is None else counts.get(token, 0)
        if not isinstance(count, int) or count < 0:
            raise VocabFormatError(
                f"counts should be integers >= 0, but got counts[{token!r}]={count!r}", path=path
            )
        out.append(f"{token} {count}\n")
    path.write_text("".join(out), encoding="utf-8", newline="\n")


# --- HuggingFace tokenizer.json --------------------------------------------------------------


def _hf_roles(added: list[str], given: Mapping[str, str] | None, path: Path) -> dict[str, str]:
    if given is not None:
        return dict(given)
    roles: dict[str, str] = {}
    for token in added:
        role = next((r for r, names in _HF_ROLES.items() if token in names), None)
        if role is None or role in roles:
            raise VocabFormatError(
                f"cannot tell the role of the special token {token!r}; pass specials= "
                f"(role → token, in id order, roles from {', '.join(_HF_ROLES)})",
                path=path,
            )
        roles[role] = token
    return roles


def _read_hf(path: Path, specials: Mapping[str, str] | None) -> Vocab:
    try:
        data = json.loads("\n".join(_read_text(path)))
    except json.JSONDecodeError as err:
        raise VocabFormatError(f"not valid JSON: {err.msg}", path=path, line=err.lineno) from None
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict) or not isinstance(model.get("vocab"), dict):
        raise VocabFormatError(
            "not a tokenizers file: it should have a 'model' with a 'vocab' mapping", path=path
        )
    if model.get("type", "WordLevel") != "WordLevel":
        raise VocabFormatError(
            f"the model is {model.get('type')!r}; only a WordLevel vocabulary (one id per "
            "word) can become a seqdata Vocab",
            path=path,
        )
    vocab_map: dict[str, Any] = model["vocab"]
    ids = sorted(vocab_map.values()) if all(type(i) is int for i in vocab_map.values()) else None
    if ids != list(range(len(vocab_map))):
        raise VocabFormatError(
            "model.vocab's ids should be the integers 0..N-1, each once", path=path
        )
    itos = sorted(vocab_map, key=vocab_map.__getitem__)
    added: list[str] = [
        t["content"]
        for t in data.get("added_tokens") or []
        if isinstance(t, dict)
        and t.get("special")
        and isinstance(t.get("content"), str)
        and t["content"] in vocab_map
    ]
    added.sort(key=vocab_map.__getitem__)
    unk = model.get("unk_token")
    if specials is None and isinstance(unk, str) and unk in vocab_map and unk not in added:
        added = sorted([*added, unk], key=vocab_map.__getitem__)
    roles = _hf_roles(added, specials, path)
    try:
        roles = check_specials(roles, path=path)
    except SpecialTokenError as err:
        raise VocabFormatError(err.message, path=path) from None
    for k, (role, token) in enumerate(roles.items()):
        if vocab_map.get(token) != k:
            raise VocabFormatError(
                f"the special {role}={token!r} should have id {k} (the specials hold the "
                f"leading ids, in order), but it has id {vocab_map.get(token)}",
                path=path,
            )
    return _vocab(itos[len(roles) :], roles, path, None)


def _write_hf(vocab: Vocab, path: Path) -> None:
    specials = vocab.specials
    data = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": i,
                "content": token,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
            for i, token in enumerate(specials.values())
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": None,
        "decoder": None,
        "model": {
            "type": "WordLevel",
            "vocab": {token: i for i, token in enumerate(vocab.tokens)},
            "unk_token": specials["unk"],
        },
    }
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


# --- the two entry points --------------------------------------------------------------------


def read_vocab_file(
    path: str | os.PathLike[str],
    format: str = "lines",
    *,
    specials: Mapping[str, str] | None = None,
) -> Vocab:
    """Read a vocabulary another tool wrote (the module doc gives each format's rules).

    Args:
        path: the file.
        format: ``"lines"`` (one token a line), ``"fairseq"`` (``dict.txt``) or ``"hf"``
            (a ``tokenizer.json`` with a WordLevel model).
        specials: role → token in id order; default ``DEFAULT_SPECIALS`` for ``"lines"``,
            fairseq's four for ``"fairseq"``, and the file's special ``added_tokens`` for
            ``"hf"``.

    Raises:
        VocabFormatError: the file is missing or malformed (naming file and line), or its
            specials are not where the format says.
        ConfigError: an unknown ``format``.
    """
    format = check_choice("format", format, VOCAB_FORMATS)
    where = Path(path)
    if format == "hf":
        return _read_hf(where, specials)
    default = DEFAULT_SPECIALS if format == "lines" else FAIRSEQ_SPECIALS
    try:
        checked = check_specials(default if specials is None else specials)
    except SpecialTokenError as err:
        raise VocabFormatError(err.message, path=where) from None
    if format == "lines":
        return _read_lines(where, checked)
    return _read_fairseq(where, checked)


def write_vocab_file(
    vocab: Vocab,
    path: str | os.PathLike[str],
    format: str = "lines",
    *,
    counts: Mapping[str, int] | None = None,
) -> None:
    """Write ``vocab`` as another tool reads it; ``counts`` fill fairseq's count column.

    Raises:
        VocabFormatError: a token the format cannot hold (whitespace in a fairseq token, a
            newline in a ``"lines"`` token).
        ConfigError: an unknown ``format``.
    """
    format = check_choice("format", format, VOCAB_FORMATS)
    where = Path(path)
    if format == "lines":
        _write_lines(vocab, where)
    elif format == "fairseq":
        _write_fairseq(vocab, where, counts)
    else:
        _write_hf(vocab, where)
