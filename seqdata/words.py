"""A punctuation-aware word tokenizer: ``"a fence." → ["a", "fence", "."]``, and back.

The rules (one regular expression, `TOKEN_PATTERN`, tried left to right at each position):

1. **Whitespace** separates tokens and is dropped; it is exactly what `str.split()` splits
   on (the `str.isspace` characters), as for the whitespace tokenizer.
2. **Numbers** with inner separators stay whole: ``3.5``, ``1,000``, ``12.30.4`` (ASCII
   digits joined by ``.`` or ``,``). A number followed by a full stop keeps it apart:
   ``"costs 3.5."`` → ``costs``, ``3.5``, ``.``.
3. **Words** are runs of any other characters (letters of every script, digits, marks,
   emoji …) that may hold an apostrophe (``'`` or ``’``) or a hyphen between two word
   characters, so contractions and compounds stay one token: ``don't``, ``l'homme``,
   ``well-known``. A leading or trailing apostrophe or hyphen is split off:
   ``'tis`` → ``'``, ``tis``.
4. **Punctuation and symbols** (ASCII punctuation, the common Unicode quotes, dashes,
   brackets, CJK punctuation and currency/degree signs; see `PUNCTUATION`) are one token per
   character: ``"..."`` → ``.``, ``.``, ``.``; ``U.S.`` → ``U``, ``.``, ``S``, ``.``.

Only explicit character sets are used, so Python's `re` (the single-text path) and polars'
Rust regex engine (the batched path, `str.extract_all`) split every Unicode text the same way;
``tests/test_words.py`` checks that on generated text.

`detokenize` writes normal text with the Moses detokenizer (`sacremoses`), which attaches
punctuation (``"a fence ."`` → ``"a fence."``), pairs straight quotes and knows per-language
rules (French ``« »`` spacing …).

>>> tok = WordTokenizer()
>>> tok("A fence, 3.5 m high — isn't it?")
['A', 'fence', ',', '3.5', 'm', 'high', '—', "isn't", 'it', '?']
>>> tok.detokenize(["a", "fence", "."])
'a fence.'
>>> tok.batch(["a fence.", "Hi!"])
[['a', 'fence', '.'], ['Hi', '!']]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from seqdata.errors import InputTypeError, TokenizerError
from seqdata.flat import FlatPieces
from seqdata.texts import check_text as _check_text
from seqdata.texts import check_texts as _check_texts

__all__ = ["PUNCTUATION", "TOKEN_PATTERN", "WHITESPACE", "WordTokenizer"]

#: The characters `str.split()` splits on.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)

#: Characters that are always a token of their own (rule 4).
PUNCTUATION = (
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"  # ASCII
    "¡¢£¤¥¦§¨©«¬®¯°±´¶·¸»¿×÷"  # Latin-1
    "‐‑‒–—―‖‘’‚‛“”„‟†‡•…‰′″‹›€₩₹™"  # general punctuation, currency
    "、。〃〈〉《》「」『』【】〔〕〜・"  # CJK
    "！＂＃＄％＆＇（）＊＋，－．／：；＜＝＞？＠［＼］＾＿｀｛｜｝～"  # fullwidth
)


def _char_class(chars: str, negate: bool = False) -> str:
    body = "".join(f"\\u{ord(c):04x}" for c in sorted(set(chars)))  # \u escapes: Python and Rust
    return f"[{'^' if negate else ''}{body}]"


_WORD_CHAR = _char_class(WHITESPACE + PUNCTUATION, negate=True)
_JOINERS = _char_class("'’-")

#: The token regex (rules 2, 3, 4 in order), valid in Python's `re` and in Rust's `regex`.
TOKEN_PATTERN = (
    f"[0-9]+(?:[.,][0-9]+)+|{_WORD_CHAR}+(?:{_JOINERS}{_WORD_CHAR}+)*|{_char_class(PUNCTUATION)}"
)
_TOKEN_RE = re.compile(TOKEN_PATTERN)


class WordTokenizer:
    """Split words from punctuation (module docstring); `detokenize` writes normal text.

    Args:
        lower: lower-case the text first (`str.lower`).
        lang: the language code the Moses detokenizer uses (``"en"``, ``"fr"``, ``"de"`` …).

    Empty and whitespace-only strings give no tokens (``[]``). ``batch(texts)[i] ==
    self(texts[i])`` always; `batch` runs one polars regex over the whole batch.

    >>> WordTokenizer(lower=True)("Hello, World.")
    ['hello', ',', 'world', '.']
    >>> WordTokenizer().to_dict()
    {'type': 'words', 'lower': False, 'lang': 'en'}
    """

    def __init__(self, lower: bool = False, lang: str = "en") -> None:
        if not isinstance(lower, bool):
            raise InputTypeError(f"lower should be a bool, but got lower={lower!r}")
        if not isinstance(lang, str) or not lang:
            raise InputTypeError(f"lang should be a language code like 'en', but got {lang!r}")
        self.lower = lower
        self.lang = lang

    def __call__(self, text: str) -> list[str]:
        text = _check_text(text)
        return _TOKEN_RE.findall(text.lower() if self.lower else text)

    def batch(self, texts: Sequence[str]) -> list[list[str]]:
        """Tokenize each string; raises `InputTypeError` naming a non-string item."""
        items = _check_texts(texts)
        if not items:
            return []
        tokens: list[list[str]] = self._extract(pl.Series(list(items), dtype=pl.String)).to_list()
        return tokens

    def detokenize(self, tokens: Sequence[str]) -> str:
        """Join tokens into normal text (Moses rules): ``["a", "fence", "."]`` → ``"a fence."``."""
        return str(self._moses.detokenize(list(tokens), return_str=True, unescape=False))

    def to_dict(self) -> dict[str, Any]:
        return {"type": "words", "lower": self.lower, "lang": self.lang}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> WordTokenizer:
        """Inverse of `to_dict`."""
        return cls(lower=state.get("lower", False), lang=state.get("lang", "en"))

    def _extract(self, texts: pl.Series) -> pl.Series:
        """``(N,)`` String → ``(N,)`` List[String] of tokens, in one regex pass."""
        if self.lower:
            # str.lower on the texts (polars' Unicode case tables differ from Python's).
            texts = pl.Series(texts.name, [t.lower() for t in texts.to_list()], dtype=pl.String)
        return texts.str.extract_all(TOKEN_PATTERN)

    def _flat_pieces(self, texts: pl.Series) -> FlatPieces:
        """The vectorized split the pipelines use (see `seqdata.tokenizers.flat_pieces`)."""
        arr = self._extract(texts).to_arrow()
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        arr = arr.cast(pa.large_list(pa.large_string()))
        bounds = np.asarray(arr.offsets, dtype=np.int64)
        return FlatPieces(arr.flatten(), bounds - bounds[0], "", None)

    @cached_property
    def _moses(self) -> Any:
        try:
            from sacremoses import MosesDetokenizer
        except ImportError as err:  # pragma: no cover - sacremoses is a dependency
            raise TokenizerError(
                "WordTokenizer.detokenize needs the sacremoses package; pip install sacremoses"
            ) from err
        return MosesDetokenizer(lang=self.lang)

    def __getstate__(self) -> dict[str, Any]:
        return {"lower": self.lower, "lang": self.lang}  # the Moses object is rebuilt lazily

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.lower, self.lang = state["lower"], state["lang"]

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, WordTokenizer)
            and other.lower == self.lower
            and other.lang == self.lang
        )

    def __hash__(self) -> int:
        return hash(("words", self.lower, self.lang))

    def __repr__(self) -> str:
        return f"WordTokenizer(lower={self.lower}, lang={self.lang!r})"
