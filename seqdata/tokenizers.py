"""Tokenize: text → tokens, one string or a batch at a time.

Three tokenizers share one small :class:`Tokenizer` protocol — ``tok(text)`` on one string,
``tok.batch(texts)`` on a list, ``tok.detokenize(tokens)`` back to text and a JSON
``tok.to_dict()`` that :func:`tokenizer_from_dict` turns back into the tokenizer:

- :class:`WhitespaceTokenizer` — ``text.split()`` (optionally ``text.lower().split()``, the
  notes' rule), exactly Python's definition of whitespace;
- :class:`CharTokenizer` — one token per Unicode code point (``list(text)``, the notes' char LM);
- :class:`SentencePieceTokenizer` — a thin wrapper over ``sentencepiece`` (BPE or unigram),
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
import io
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
import polars as pl
import pyarrow as pa

from seqdata.errors import ConfigError, InputTypeError, TokenizerError

__all__ = [
    "CharTokenizer",
    "SentencePieceTokenizer",
    "Tokenizer",
    "WhitespaceTokenizer",
    "make_tokenizer",
    "tokenizer_from_dict",
]


@runtime_checkable
class Tokenizer(Protocol):
    """What every tokenizer offers; write your own by providing these four methods."""

    def __call__(self, text: str) -> list[str]:
        """Split one string into tokens."""
        ...

    def batch(self, texts: Sequence[str]) -> list[list[str]]:
        """Split a batch of strings; ``batch(texts)[i] == self(texts[i])``."""
        ...

    def detokenize(self, tokens: Sequence[str]) -> str:
        """Join tokens back into text."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description that :func:`tokenizer_from_dict` rebuilds."""
        ...


# --------------------------------------------------------------------------- input checks


def _check_text(text: object, index: int | None = None) -> str:
    if not isinstance(text, str):
        what = "text" if index is None else f"texts[{index}]"
        raise InputTypeError(
            f"{what} should be a str, but got {type(text).__name__} ({text!r:.60}); "
            "convert or drop the item before tokenizing",
            index=index,
        )
    return text


def _check_texts(texts: object) -> Sequence[str]:
    if isinstance(texts, str | bytes):
        raise InputTypeError(
            f"texts should be a sequence of strings, but got a single {type(texts).__name__}; "
            "wrap it in a list: tok.batch([text])"
        )
    if isinstance(texts, pl.Series | np.ndarray):
        return as_string_series(texts, "texts").to_list()
    items: Sequence[Any] = texts if isinstance(texts, Sequence) else list(texts)  # type: ignore[call-overload]
    for i, text in enumerate(items):
        _check_text(text, i)
    return items


def as_string_series(texts: object, name: str = "texts") -> pl.Series:
    """Turn a batch of texts into a polars String Series, or say which item is not a string.

    Args:
        texts: a list/tuple of ``str``, a numpy array of strings, a polars Series (String,
            Categorical or Enum) or a pyarrow string array.
        name: how the error message calls the batch.

    Returns:
        A ``pl.Series`` of dtype ``String`` with no nulls, shape ``(N,)``.

    Raises:
        InputTypeError: a bare string, or an item that is not a string (the message and the
            ``index`` attribute name the first such item).

    >>> as_string_series(["a b", "c"]).to_list()
    ['a b', 'c']
    >>> as_string_series(["a", 3])
    Traceback (most recent call last):
    ...
    seqdata.errors.InputTypeError: example 1: texts[1] should be a str, but got int (3); ...
    """
    if isinstance(texts, str | bytes):
        raise InputTypeError(
            f"{name} should be a sequence of strings, but got a single "
            f"{type(texts).__name__}; wrap it in a list"
        )
    if isinstance(texts, pa.ChunkedArray | pa.Array):
        texts = pl.Series(pl.from_arrow(texts))
    if isinstance(texts, pl.Series):
        series = texts
        if series.dtype in (pl.Categorical,) or isinstance(series.dtype, pl.Enum):
            series = series.cast(pl.String)
        if series.dtype == pl.Null and len(series) == 0:
            series = series.cast(pl.String)
        if series.dtype != pl.String:
            raise InputTypeError(
                f"{name} should hold strings, but got a polars Series of dtype {series.dtype}; "
                f"cast it with .cast(pl.String) if that is what you mean"
            )
    else:
        if isinstance(texts, np.ndarray):
            if texts.ndim != 1:
                raise InputTypeError(
                    f"{name} should be one-dimensional, but got an array of shape {texts.shape}"
                )
            values: Sequence[Any] = texts.tolist()
        elif isinstance(texts, Sequence):
            values = texts
        elif isinstance(texts, Iterable):
            values = list(texts)
        else:
            raise InputTypeError(
                f"{name} should be a sequence of strings, but got {type(texts).__name__}"
            )
        try:
            series = pl.Series(name, values, dtype=pl.String, strict=True)
        except (TypeError, ValueError, pl.exceptions.PolarsError):
            for i, item in enumerate(values):
                if not isinstance(item, str):
                    raise InputTypeError(
                        f"{name}[{i}] should be a str, but got {type(item).__name__} "
                        f"({item!r:.60}); convert or drop the item",
                        index=i,
                    ) from None
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError as err:
                    raise InputTypeError(
                        f"{name}[{i}] is not valid text ({err.reason} at position {err.start}); "
                        "fix or drop the item",
                        index=i,
                    ) from None
            raise
    if series.null_count():
        i = int(series.is_null().arg_max() or 0)
        raise InputTypeError(
            f"{name}[{i}] should be a str, but got None (a missing value); drop or fill it",
            index=i,
        )
    return series


# ------------------------------------------------------------------ flat (vectorized) split


class FlatPieces(NamedTuple):
    """Tokens of a batch of texts as one flat Arrow string array (the vectorized split).

    ``pieces[bounds[i]:bounds[i + 1]]`` are the pieces of text ``i``. Each piece is a token
    followed by ``suffix`` (the whitespace tokenizer keeps the separator so the pieces can
    share the text's buffer without a copy); pieces where ``keep`` is False are empty tokens
    (runs of separators) and are dropped after the lookup.
    """

    pieces: pa.Array  # large_string, (P,)
    bounds: np.ndarray  # int64, (N + 1,)
    suffix: str
    keep: np.ndarray | None  # bool, (P,) or None when every piece is a token


# Python's str.split() separators: str.isspace() characters, as UTF-8.
_ASCII_WS = np.zeros(256, dtype=bool)
_ASCII_WS[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True


def _string_buffers(series: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 bytes, int64 offsets of length N+1 starting at 0) of a String Series."""
    arr = series.to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    if buffers[2] is None:
        data = np.zeros(0, dtype=np.uint8)
    else:
        data = np.frombuffer(buffers[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data, offsets - offsets[0]


def _multibyte_whitespace(data: np.ndarray) -> np.ndarray:
    """Byte positions (sorted) of the non-ASCII str.isspace() characters in UTF-8 ``data``."""
    n = len(data)
    lead = np.flatnonzero((data == 0xC2) | ((data >= 0xE1) & (data <= 0xE3)))
    if len(lead) == 0:
        return lead
    b0 = data[lead]
    b1 = data[np.minimum(lead + 1, n - 1)]
    b2 = data[np.minimum(lead + 2, n - 1)]
    two = (b0 == 0xC2) & ((b1 == 0x85) | (b1 == 0xA0))
    e2_80 = (b0 == 0xE2) & (b1 == 0x80)
    three = (
        ((b0 == 0xE1) & (b1 == 0x9A) & (b2 == 0x80))
        | (e2_80 & ((b2 <= 0x8A) | (b2 == 0xA8) | (b2 == 0xA9) | (b2 == 0xAF)))
        | ((b0 == 0xE2) & (b1 == 0x81) & (b2 == 0x9F))
        | ((b0 == 0xE3) & (b1 == 0x80) & (b2 == 0x80))
    )
    starts2, starts3 = lead[two], lead[three]
    return np.sort(np.concatenate([starts2, starts2 + 1, starts3, starts3 + 1, starts3 + 2]))


def _whitespace_pieces(series: pl.Series, lower: bool) -> FlatPieces:
    """Vectorized ``[t.split() for t in texts]`` (``t.lower().split()`` with ``lower``)."""
    data, offsets = _string_buffers(series + " ")  # every text ends with a separator
    has_high = bool(len(data)) and int(data.max()) >= 0x80
    if lower and has_high:
        # Exactly str.lower() on the texts with non-ASCII characters (polars' Unicode tables
        # are newer than Python's); the rest is lowered as ASCII below.
        rows = np.unique(np.searchsorted(offsets, np.flatnonzero(data >= 0x80), "right") - 1)
        lowered = [text.lower() for text in series.gather(rows).to_list()]
        data, offsets = _string_buffers(series.clone().scatter(rows, lowered) + " ")
    if lower:
        data = data.copy()
        upper = (data - np.uint8(65)) < np.uint8(26)  # A-Z
        data |= upper.view(np.uint8) << np.uint8(5)  # → a-z
    seps = np.flatnonzero(data <= 32)
    found = data[seps]
    other = found != 32
    if other.any():  # ASCII whitespace other than " ", and control bytes that are not spaces
        if not data.flags.writeable:
            data = data.copy()
        ws = _ASCII_WS[found]
        data[seps[other & ws]] = 32
        seps = seps[ws]
    if has_high:
        multi = _multibyte_whitespace(data)
        if len(multi):
            if not data.flags.writeable:
                data = data.copy()
            data[multi] = 32
            seps = np.union1d(seps, multi)
    piece_offsets = np.empty(len(seps) + 1, dtype=np.int64)
    piece_offsets[0] = 0
    np.add(seps, 1, out=piece_offsets[1:])
    pieces = pa.LargeStringArray.from_buffers(
        len(seps), pa.py_buffer(piece_offsets), pa.py_buffer(data)
    )
    keep = piece_offsets[1:] - piece_offsets[:-1] > 1
    bounds = np.searchsorted(seps, offsets, "left")
    return FlatPieces(pieces, bounds, " ", None if keep.all() else keep)


def _char_pieces(series: pl.Series) -> FlatPieces:
    """Vectorized ``[list(t) for t in texts]``: one piece per code point."""
    data, offsets = _string_buffers(series)
    starts = np.flatnonzero((data & 0xC0) != 0x80)  # first byte of each UTF-8 character
    piece_offsets = np.append(starts, len(data)).astype(np.int64)
    pieces = pa.LargeStringArray.from_buffers(
        len(starts), pa.py_buffer(piece_offsets), pa.py_buffer(data.copy())
    )
    bounds = np.searchsorted(starts, offsets, "left").astype(np.int64)
    return FlatPieces(pieces, bounds, "", None)


def flat_pieces(tokenizer: Tokenizer, texts: pl.Series) -> FlatPieces:
    """The tokens of ``texts`` as :class:`FlatPieces`: vectorized for the built-in
    whitespace and char tokenizers, through ``tokenizer.batch`` for any other."""
    split = getattr(tokenizer, "_flat_pieces", None)
    if split is not None:
        result: FlatPieces = split(texts)
        return result
    token_lists = tokenizer.batch(texts.to_list())
    arr = pa.array(token_lists, type=pa.large_list(pa.large_string()))
    bounds = np.asarray(arr.offsets, dtype=np.int64)
    return FlatPieces(arr.flatten(), bounds - bounds[0], "", None)


# ------------------------------------------------------------------------------ tokenizers


class WhitespaceTokenizer:
    """Split on runs of whitespace, exactly ``str.split()``; ``lower=True`` is the notes'
    ``line.lower().split()``.

    Args:
        lower: lower-case the text first (``str.lower``).

    Empty and whitespace-only strings give no tokens (``[]``); deciding whether such an
    example is allowed is the pipeline's job. The pipelines' vectorized split gives exactly
    these tokens: it splits the UTF-8 bytes with numpy on every ``str.isspace()`` character
    and lowers ASCII with numpy, falling back to ``str.lower`` for texts with non-ASCII
    characters (whose Unicode tables differ between Python and Rust).

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
        text = _check_text(text)
        return (text.lower() if self.lower else text).split()

    def batch(self, texts: Sequence[str]) -> list[list[str]]:
        """Tokenize each string; raises :class:`InputTypeError` naming a non-string item."""
        texts = _check_texts(texts)
        if self.lower:
            return [text.lower().split() for text in texts]
        return [text.split() for text in texts]

    def detokenize(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "whitespace", "lower": self.lower}

    def _flat_pieces(self, texts: pl.Series) -> FlatPieces:
        return _whitespace_pieces(texts, self.lower)

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
        return list(_check_text(text))

    def batch(self, texts: Sequence[str]) -> list[list[str]]:
        """Tokenize each string; raises :class:`InputTypeError` naming a non-string item."""
        return [list(text) for text in _check_texts(texts)]

    def detokenize(self, tokens: Sequence[str]) -> str:
        return "".join(tokens)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "char"}

    def _flat_pieces(self, texts: pl.Series) -> FlatPieces:
        return _char_pieces(texts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharTokenizer)

    def __hash__(self) -> int:
        return hash("char")

    def __repr__(self) -> str:
        return "CharTokenizer()"


def _import_sentencepiece() -> Any:
    try:
        import sentencepiece as spm
    except ImportError as err:  # pragma: no cover - sentencepiece is a dependency
        raise TokenizerError(
            "SentencePieceTokenizer needs the sentencepiece package; pip install sentencepiece"
        ) from err
    return spm


def _iter_sentences(sources: Iterable[Any]) -> Iterator[str]:
    for i, item in enumerate(sources):
        if isinstance(item, os.PathLike):
            path = Path(item)
            try:
                with path.open(encoding="utf-8") as handle:
                    for line in handle:
                        yield line.rstrip("\r\n")
            except OSError as err:
                raise TokenizerError(f"cannot read the training file ({err})", path=path) from err
            except UnicodeDecodeError as err:
                raise TokenizerError(
                    f"the training file is not valid UTF-8 ({err.reason} at byte {err.start})",
                    path=path,
                ) from err
        elif isinstance(item, str):
            yield item
        else:
            raise InputTypeError(
                f"texts_or_files[{i}] should be a str (a sentence) or a pathlib.Path (a file), "
                f"but got {type(item).__name__}",
                index=i,
            )


class SentencePieceTokenizer:
    """A thin wrapper over a sentencepiece model (BPE or unigram).

    The special ids are sentencepiece's own: models trained with :meth:`train` use
    ``pad_id=0, unk_id=1, bos_id=2, eos_id=3`` with pieces ``<pad>, <unk>, <sos>, <eos>`` —
    seqdata's default specials, so ``Vocab.from_sentencepiece(tok)`` lines up with
    :class:`~seqdata.vocab.Vocab`'s ``pad_id/unk_id/sos_id/eos_id``. A model loaded from
    elsewhere keeps its own ids (``-1`` = none).

    Args:
        model_proto: the serialized model (the bytes of a ``.model`` file).
        num_threads: threads for the batch :meth:`encode`/:meth:`batch` (``None`` = all
            cores); the output does not depend on it.

    >>> tok = SentencePieceTokenizer.train(["the cat sat", "the dog sat"] * 20,
    ...                                    vocab_size=20, model_type="bpe")
    >>> tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id, len(tok)
    (0, 1, 2, 3, 20)
    >>> tok.decode(tok.encode(["the cat sat"])[0])
    'the cat sat'
    """

    def __init__(self, model_proto: bytes, *, num_threads: int | None = None) -> None:
        if not isinstance(model_proto, bytes | bytearray):
            raise InputTypeError(
                f"model_proto should be bytes (a serialized sentencepiece model), but got "
                f"{type(model_proto).__name__}; use SentencePieceTokenizer.load(path) for a file"
            )
        if num_threads is not None and (not isinstance(num_threads, int) or num_threads < 1):
            raise ConfigError(
                f"num_threads should be None or a positive integer, but got "
                f"num_threads={num_threads!r}"
            )
        spm = _import_sentencepiece()
        self._proto = bytes(model_proto)
        self.num_threads = num_threads
        self._sp = spm.SentencePieceProcessor()
        try:
            self._sp.LoadFromSerializedProto(self._proto)
        except (RuntimeError, OSError) as err:
            raise TokenizerError(f"not a valid sentencepiece model ({err})") from err

    # -- training and files ---------------------------------------------------------------

    @classmethod
    def train(
        cls,
        texts_or_files: Iterable[str | os.PathLike[str]] | os.PathLike[str],
        vocab_size: int = 8000,
        model_type: str = "bpe",
        *,
        character_coverage: float = 1.0,
        num_threads: int | None = None,
        **options: Any,
    ) -> SentencePieceTokenizer:
        """Train a model in memory from sentences or text files.

        Args:
            texts_or_files: an iterable of sentences (``str``), of files (``pathlib.Path``,
                one sentence per line, UTF-8), a mix, or a single ``Path``. A plain ``str`` is
                always a sentence, never a file name.
            vocab_size: number of pieces, the 4 specials included.
            model_type: ``"bpe"`` or ``"unigram"``.
            character_coverage: share of characters the model must cover (1.0 for small
                alphabets, 0.9995 for CJK).
            num_threads: threads for later batch encoding (training uses one thread, so the
                model is the same on every machine).
            **options: any other ``sentencepiece`` trainer option (``user_defined_symbols``,
                ``max_sentence_length``, …).

        Returns:
            The trained tokenizer (``pad_id=0, unk_id=1, bos_id=2, eos_id=3``).

        Raises:
            ConfigError: a bad ``vocab_size`` or ``model_type``.
            TokenizerError: sentencepiece refused the data (e.g. ``vocab_size`` too large for
                the corpus — the message says so) or a file cannot be read.
        """
        if model_type not in ("bpe", "unigram"):
            raise ConfigError(
                f'model_type should be "bpe" or "unigram", but got model_type={model_type!r}'
            )
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 5:
            raise ConfigError(
                f"vocab_size should be an integer >= 5 (4 specials and at least one piece), "
                f"but got vocab_size={vocab_size!r}"
            )
        sources: Iterable[Any]
        if isinstance(texts_or_files, os.PathLike):
            sources = [texts_or_files]
        elif isinstance(texts_or_files, str | bytes):
            raise InputTypeError(
                "texts_or_files should be an iterable of sentences or a pathlib.Path, but got "
                "a single string; wrap a sentence in a list, or pass Path(file) for a file"
            )
        else:
            sources = texts_or_files
        spm = _import_sentencepiece()
        model = io.BytesIO()
        settings: dict[str, Any] = {
            "vocab_size": vocab_size,
            "model_type": model_type,
            "character_coverage": character_coverage,
            "pad_id": 0,
            "unk_id": 1,
            "bos_id": 2,
            "eos_id": 3,
            "pad_piece": "<pad>",
            "unk_piece": "<unk>",
            "bos_piece": "<sos>",
            "eos_piece": "<eos>",
            "num_threads": 1,
            "minloglevel": 2,
        }
        settings.update(options)
        failures: list[Exception] = []

        def sentences() -> Iterator[str]:
            try:
                yield from _iter_sentences(sources)
            except Exception as err:  # sentencepiece would turn it into a RuntimeError
                failures.append(err)
                raise

        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=sentences(), model_writer=model, **settings
            )
        except RuntimeError as err:
            if failures:
                raise failures[0] from None
            hint = ""
            if "Vocabulary size too high" in str(err):  # fewer distinct pieces than asked
                hint = "; lower vocab_size or pass hard_vocab_limit=False"
            elif "smaller than required_chars" in str(err):  # the alphabet alone needs more
                hint = "; raise vocab_size (every character of the corpus needs an id)"
            raise TokenizerError(f"sentencepiece could not train a model ({err}){hint}") from err
        return cls(model.getvalue(), num_threads=num_threads)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model as a standard sentencepiece ``.model`` file."""
        Path(path).write_bytes(self._proto)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, num_threads: int | None = None
    ) -> SentencePieceTokenizer:
        """Read a ``.model`` file (ours or any sentencepiece model).

        Raises:
            TokenizerError: the file is missing or is not a sentencepiece model (names it).
        """
        try:
            proto = Path(path).read_bytes()
        except OSError as err:
            raise TokenizerError(f"cannot read the model ({err.strerror})", path=path) from err
        try:
            return cls(proto, num_threads=num_threads)
        except TokenizerError as err:
            raise TokenizerError(err.message, path=path) from err

    # -- the protocol -----------------------------------------------------------------------

    def __call__(self, text: str) -> list[str]:
        pieces: list[str] = self._sp.encode(_check_text(text), out_type=str)
        return pieces

    def batch(self, texts: Sequence[str]) -> list[list[str]]:
        """Pieces of each text, encoded by sentencepiece's threads."""
        texts = _check_texts(texts)
        out: list[list[str]] = self._sp.encode(
            list(texts), out_type=str, num_threads=self._threads()
        )
        return out

    def detokenize(self, tokens: Sequence[str]) -> str:
        text: str = self._sp.decode_pieces(list(tokens))
        return text

    def to_dict(self) -> dict[str, Any]:
        """``{"type": "spm", "model": <base64 of the model proto>, ...}``: a checkpoint alone
        rebuilds the tokenizer."""
        return {
            "type": "spm",
            "model": base64.b64encode(self._proto).decode("ascii"),
            "num_threads": self.num_threads,
        }

    # -- ids --------------------------------------------------------------------------------

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Ids of each text, shape ``(N, L_i)``, with sentencepiece's multithreaded encoder.

        >>> tok = SentencePieceTokenizer.train(["ab ab ba"] * 10, vocab_size=8)
        >>> tok.encode(["ab", "ab ba"]) == [tok.encode(["ab"])[0], tok.encode(["ab ba"])[0]]
        True
        """
        texts = _check_texts(texts)
        ids: list[list[int]] = self._sp.encode(
            list(texts), out_type=int, num_threads=self._threads()
        )
        return ids

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """Text of one id sequence; pad/sos/eos pieces decode to nothing."""
        values = np.asarray(ids)
        if values.ndim != 1 or (values.size and not np.issubdtype(values.dtype, np.integer)):
            raise InputTypeError(
                f"ids should be a 1-D sequence of integers, but got {type(ids).__name__} "
                f"of shape {values.shape}"
            )
        size = len(self)
        if values.size and (values.min() < 0 or values.max() >= size):
            bad = values[(values < 0) | (values >= size)][0]
            raise ConfigError(f"ids should be in [0, {size}), but got id={int(bad)}")
        text: str = self._sp.decode(values.tolist())
        return text

    @property
    def pieces(self) -> list[str]:
        """Every piece, in id order (``pieces[i]`` has id ``i``)."""
        return [self._sp.id_to_piece(i) for i in range(len(self))]

    @property
    def pad_id(self) -> int:
        return int(self._sp.pad_id())

    @property
    def unk_id(self) -> int:
        return int(self._sp.unk_id())

    @property
    def bos_id(self) -> int:
        return int(self._sp.bos_id())

    @property
    def eos_id(self) -> int:
        return int(self._sp.eos_id())

    @property
    def model_proto(self) -> bytes:
        """The serialized model."""
        return self._proto

    def __len__(self) -> int:
        return int(self._sp.get_piece_size())

    def _threads(self) -> int:
        return self.num_threads or os.cpu_count() or 1

    def __getstate__(self) -> dict[str, Any]:
        return {"model_proto": self._proto, "num_threads": self.num_threads}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["model_proto"], num_threads=state["num_threads"])  # type: ignore[misc]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SentencePieceTokenizer) and other._proto == self._proto

    def __hash__(self) -> int:
        return hash(self._proto)

    def __repr__(self) -> str:
        return f"SentencePieceTokenizer(pieces={len(self)})"


# --------------------------------------------------------------------------------- helpers

_NAMES = ("whitespace", "char", "spm")


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
    """Build a tokenizer by name: ``"whitespace"`` (``lower=``), ``"char"``, or ``"spm"``
    (``path=`` a ``.model`` file to load, otherwise the arguments of
    :meth:`SentencePieceTokenizer.train`).

    >>> make_tokenizer("whitespace", lower=True)
    WhitespaceTokenizer(lower=True)
    >>> make_tokenizer("words")
    Traceback (most recent call last):
    ...
    seqdata.errors.ConfigError: name should be one of 'whitespace', 'char', 'spm', but got ...
    """
    if name == "whitespace":
        return WhitespaceTokenizer(**kwargs)
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
