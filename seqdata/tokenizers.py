"""Tokenize: text → tokens, one string or a batch at a time.

Three tokenizers share one small [`Tokenizer`][seqdata.texts.Tokenizer] protocol — ``tok(text)`` on
one string,
``tok.batch(texts)`` on a list, ``tok.detokenize(tokens)`` back to text and a JSON
``tok.to_dict()`` that [`tokenizer_from_dict`][seqdata.tokenizers.tokenizer_from_dict] turns back
into the tokenizer:

- [`WhitespaceTokenizer`][seqdata.tokenizers.WhitespaceTokenizer] — ``text.split()`` (optionally
  ``text.lower().split()``), exactly Python's definition of whitespace;
- [`CharTokenizer`][seqdata.tokenizers.CharTokenizer] — one token per Unicode code point
  (``list(text)``, as a character LM wants);
- [`SentencePieceTokenizer`][seqdata.sentencepiece.SentencePieceTokenizer] — a thin wrapper over
  ``sentencepiece`` (BPE or unigram),
  trained in memory, batch-encoded with sentencepiece's own threads, pickled through its
  serialized model proto.

All are deterministic and picklable, so they run inside DataLoader workers and
``datasets.map(num_proc=N)``.

>>> tok = WhitespaceTokenizer(lower=True)
>>> tok("The cat  sat.")
['the', 'cat', 'sat.']
>>> tok.batch(["A b", ""])
[['a', 'b'], []]
>>> tokenizer_from_dict(tok.to_dict()) == tok
True
>>> CharTokenizer()("héllo")
['h', 'é', 'l', 'l', 'o']
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

import polars as pl

from seqdata.errors import ConfigError, InputTypeError, TokenizerError
from seqdata.flat import FlatPieces, char_pieces, whitespace_pieces
from seqdata.sentencepiece import SentencePieceTokenizer
from seqdata.texts import Tokenizer, check_text, check_texts
from seqdata.words import WordTokenizer

__all__ = [
    "CharTokenizer",
    "Tokenizer",
    "WhitespaceTokenizer",
    "make_tokenizer",
    "tokenizer_from_dict",
]


class WhitespaceTokenizer:
    """Split on runs of whitespace, exactly ``str.split()``; ``lower=True`` is
    ``line.lower().split()``.

    Args:
        lower: lower-case the text first (``str.lower``).

    Empty and whitespace-only strings give no tokens (``[]``); deciding whether such an
    example is allowed is the pipeline's job. Lowercasing is Python's ``str.lower`` on every
    path. The pipelines' vectorized split gives exactly these tokens: it lowers with polars
    (re-lowering with ``str.lower`` only the rare texts holding a character whose lowercase
    differs between polars' and Python's Unicode tables, see
    [`lower_texts`][seqdata.flat.lower_texts]) and splits the UTF-8 bytes with numpy on every
    ``str.isspace()`` character.

    >>> WhitespaceTokenizer()("I saw  a\\tdog")
    ['I', 'saw', 'a', 'dog']
    >>> WhitespaceTokenizer(lower=True).detokenize(["i", "saw"])
    'i saw'
    """

    def __init__(self, lower: bool = False) -> None:
        if not isinstance(lower, bool):
            raise InputTypeError(f"lower should be a bool, but got lower={lower!r}")
        self.lower = lower

    def __call__(self, text: str) -> list[str]:
        text = check_text(text)
        return (text.lower() if self.lower else text).split()

    def batch(self, texts: Sequence[str]) -> list[list[str]]:
        """Tokenize each string; raises [`InputTypeError`][seqdata.errors.InputTypeError] naming a
        non-string item."""
        texts = check_texts(texts)
        if self.lower:
            return [text.lower().split() for text in texts]
        return [text.split() for text in texts]

    def detokenize(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "whitespace", "lower": self.lower}

    def _flat_pieces(self, texts: pl.Series) -> FlatPieces:
        return whitespace_pieces(texts, self.lower)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WhitespaceTokenizer) and other.lower == self.lower

    def __hash__(self) -> int:
        return hash(("whitespace", self.lower))

    def __repr__(self) -> str:
        return f"WhitespaceTokenizer(lower={self.lower})"


class CharTokenizer:
    """One token per Unicode code point (``list(text)``); spaces are tokens too.

    >>> tok = CharTokenizer()
    >>> tok("hi there")
    ['h', 'i', ' ', 't', 'h', 'e', 'r', 'e']
    >>> tok.detokenize(tok("hi there"))
    'hi there'
    """

    def __call__(self, text: str) -> list[str]:
        return list(check_text(text))

    def batch(self, texts: Sequence[str]) -> list[list[str]]:
        """Tokenize each string; raises [`InputTypeError`][seqdata.errors.InputTypeError] naming a
        non-string item."""
        return [list(text) for text in check_texts(texts)]

    def detokenize(self, tokens: Sequence[str]) -> str:
        return "".join(tokens)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "char"}

    def _flat_pieces(self, texts: pl.Series) -> FlatPieces:
        return char_pieces(texts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharTokenizer)

    def __hash__(self) -> int:
        return hash("char")

    def __repr__(self) -> str:
        return "CharTokenizer()"


# --------------------------------------------------------------------------------- helpers

_NAMES = ("whitespace", "words", "char", "spm")


def tokenizer_from_dict(state: dict[str, Any]) -> Tokenizer:
    """Rebuild a tokenizer from its ``to_dict()``.

    >>> tokenizer_from_dict({"type": "char"})
    CharTokenizer()
    >>> tokenizer_from_dict({"type": "bpe"})
    Traceback (most recent call last):
    ...
    seqdata.errors.TokenizerError: the tokenizer type should be one of ...
    """
    if not isinstance(state, dict):
        raise TokenizerError(f"a tokenizer state should be a dict, but got {type(state).__name__}")
    kind = state.get("type")
    try:
        if kind == "whitespace":
            return WhitespaceTokenizer(lower=state.get("lower", False))
        if kind == "words":
            return WordTokenizer.from_dict(state)
        if kind == "char":
            return CharTokenizer()
        if kind == "spm":
            proto = base64.b64decode(state["model"], validate=True)
            return SentencePieceTokenizer(proto, num_threads=state.get("num_threads"))
    except (KeyError, binascii.Error, TypeError, ValueError) as err:
        raise TokenizerError(f"the {kind!r} tokenizer state is malformed ({err!r})") from err
    raise TokenizerError(
        f"the tokenizer type should be one of {', '.join(map(repr, _NAMES))}, but got type={kind!r}"
    )


def make_tokenizer(name: str, **kwargs: Any) -> Tokenizer:
    """Build a tokenizer by name: ``"whitespace"`` (``lower=``), ``"words"`` (punctuation
    split off, ``lower=``), ``"char"``, or ``"spm"`` (``path=`` a ``.model`` file to load,
    otherwise the arguments of ``SentencePieceTokenizer.train``).

    >>> make_tokenizer("whitespace", lower=True)
    WhitespaceTokenizer(lower=True)
    >>> make_tokenizer("words")("a fence.")
    ['a', 'fence', '.']
    >>> make_tokenizer("bpe")
    Traceback (most recent call last):
    ...
    seqdata.errors.ConfigError: name should be one of 'whitespace', 'words', 'char', 'spm', ...
    """
    if name == "whitespace":
        return WhitespaceTokenizer(**kwargs)
    if name == "words":
        return WordTokenizer(**kwargs)
    if name == "char":
        return CharTokenizer(**kwargs)
    if name == "spm":
        if "path" in kwargs:
            path = kwargs.pop("path")
            return SentencePieceTokenizer.load(path, **kwargs)
        return SentencePieceTokenizer.train(**kwargs)
    raise ConfigError(
        f"name should be one of {', '.join(map(repr, _NAMES))}, but got name={name!r}"
    )
