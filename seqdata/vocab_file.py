"""The vocabulary file format (version 1): one JSON header line, then one JSON string a token.

    {"format": "seqdata-vocab", "version": 1, "size": 8, "specials": {"pad": "<pad>", ...}}
    "<pad>"
    "<unk>"
    ...

Everything read is checked; a problem is a ``VocabFormatError`` naming the file and line.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from seqdata.errors import VocabFormatError
from seqdata.specials import check_specials

__all__ = [
    "FORMAT",
    "VERSION",
    "VocabFile",
    "check_header",
    "index_tokens",
    "read_vocab",
    "tokens_from_state",
    "write_vocab",
]

FORMAT = "seqdata-vocab"
VERSION = 1
_FORMAT, _VERSION = FORMAT, VERSION


def check_header(header: object, path: Path | None) -> None:
    line = None if path is None else 1
    if not isinstance(header, Mapping) or header.get("format") != _FORMAT:
        raise VocabFormatError(
            f'the header should be a JSON object with "format": "{_FORMAT}"; '
            "is this a seqdata vocabulary?",
            path=path,
            line=line,
        )
    version = header.get("version")
    if version != _VERSION:
        raise VocabFormatError(
            f"unsupported vocabulary format version {version!r}; this seqdata reads version "
            f"{_VERSION} (upgrade seqdata or re-save the vocabulary)",
            path=path,
            line=line,
        )
    if "specials" not in header:
        raise VocabFormatError("the header has no 'specials'", path=path, line=line)


def write_vocab(path: str | os.PathLike[str], itos: list[str], specials: Mapping[str, str]) -> None:
    """Write tokens ``itos`` (id order) and their ``specials`` in the versioned format."""
    header = {"format": FORMAT, "version": VERSION, "size": len(itos), "specials": dict(specials)}
    lines = [json.dumps(header, ensure_ascii=False)]
    lines.extend(json.dumps(token, ensure_ascii=False) for token in itos)
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")


def read_vocab(path: str | os.PathLike[str]) -> tuple[list[str], dict[str, str], Path]:
    """The tokens (id order), the specials and the path of a file written by ``write_vocab``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise VocabFormatError(f"cannot read the vocabulary ({err.strerror})", path=path) from err
    lines = raw.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    if not lines:
        raise VocabFormatError("the file is empty; expected a JSON header line", path=path, line=1)
    try:
        header = json.loads(lines[0].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise VocabFormatError(
            f"the header should be a JSON object ({err}); is this a seqdata vocabulary?",
            path=path,
            line=1,
        ) from err
    check_header(header, path)
    size = header.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise VocabFormatError(
            f"the header's size should be a non-negative integer, but got size={size!r}",
            path=path,
            line=1,
        )
    specials = check_specials(header["specials"], path=path, line=1)
    tokens: list[str] = []
    for number, line in enumerate(lines[1:], start=2):
        if len(tokens) == size:
            raise VocabFormatError(
                f"the header promises {size} tokens, but the file goes on; "
                "extra line or wrong header size",
                path=path,
                line=number,
            )
        try:
            token = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            token = None
        if not isinstance(token, str):
            raise VocabFormatError(
                f'the line should be one JSON string such as "word", but got {line!r:.60} '
                "(a garbled or missing line)",
                path=path,
                line=number,
            )
        tokens.append(token)
    if len(tokens) < size:
        raise VocabFormatError(
            f"the header promises {size} tokens, but the file ends after {len(tokens)}; "
            "the file is truncated",
            path=path,
            line=len(lines) + 1,
        )
    return tokens, specials, path


def index_tokens(
    itos: list[str], specials: dict[str, str], path: Path | None, first_line: int = 0
) -> tuple[dict[str, str], dict[str, int]]:
    """Check that the specials lead ``itos`` and no token repeats; ``(specials in id order,
    token → id)``."""

    def where(k: int) -> int | None:
        return None if path is None else first_line + k

    # The specials take the leading ids; their order comes from the tokens (a JSON writer
    # may have sorted the specials mapping).
    owner = {token: role for role, token in specials.items()}
    for k in range(len(specials)):
        if k >= len(itos) or itos[k] not in owner:
            got = repr(itos[k]) if k < len(itos) else "missing"
            raise VocabFormatError(
                f"id {k} should be one of the specials {sorted(owner)} (they take the "
                f"leading ids), but is {got}",
                path=path,
                line=where(k),
            )
    specials = {owner[token]: token for token in itos[: len(specials)]}
    stoi: dict[str, int] = {}
    for k, token in enumerate(itos):
        if token in stoi:
            line = "" if path is None else f" (line {first_line + stoi[token]})"
            raise VocabFormatError(
                f"the token {token!r} appears twice: ids {stoi[token]}{line} and {k}",
                path=path,
                line=where(k),
            )
        stoi[token] = k
    return specials, stoi


def tokens_from_state(state: object) -> tuple[list[str], dict[str, str]]:
    """``(tokens, specials)`` of a vocabulary's ``to_dict()``; a ``VocabFormatError`` if
    malformed."""
    if not isinstance(state, Mapping):
        raise VocabFormatError(
            f"a vocabulary state should be a dict, but got {type(state).__name__}"
        )
    check_header(state, None)
    tokens = state.get("tokens")
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise VocabFormatError("the vocabulary state should have a list of str 'tokens'")
    return tokens, check_specials(state["specials"])


class VocabFile(ABC):
    """Saving and loading of a vocabulary (`seqdata.Vocab` inherits these methods)."""

    _itos: list[str]
    _specials: dict[str, str]

    @classmethod
    @abstractmethod
    def _from_itos(
        cls, itos: list[str], specials: dict[str, str], path: Path | None, first_line: int = 0
    ) -> Self:
        """Build the vocabulary from its id → token list (the concrete class knows how)."""

    def to_dict(self) -> dict[str, Any]:
        """``{"format", "version", "specials", "tokens"}``, JSON-serialisable."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "specials": dict(self._specials),
            "tokens": list(self._itos),
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> Self:
        """Rebuild from `to_dict`; a malformed state is a ``VocabFormatError``."""
        tokens, specials = tokens_from_state(state)
        return cls._from_itos(tokens, specials, None)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the vocabulary in the versioned text format described in the module doc."""
        write_vocab(path, self._itos, self._specials)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """Read a file written by `save`.

        Raises:
            VocabFormatError: the file is missing, not UTF-8, has a bad header or an unknown
                version, a garbled/blank token line, fewer or more tokens than the header
                says, a duplicate token, or a special out of place — naming file and line.
            SpecialTokenError: the header's specials are invalid (unknown name, duplicate…).
        """
        tokens, specials, where = read_vocab(path)
        return cls._from_itos(tokens, specials, where, first_line=2)
