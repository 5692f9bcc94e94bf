"""SentencePieceTokenizer: a thin wrapper over a sentencepiece model (BPE or unigram).

Trained in memory, batch-encoded with sentencepiece's own threads, pickled through its
serialized model proto.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqdata._checks import check_int, check_optional_int
from seqdata.errors import ConfigError, InputTypeError, SpecialTokenError, TokenizerError
from seqdata.texts import check_text, check_texts

__all__ = ["SentencePieceTokenizer"]


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


# The trainer settings every model gets: seqdata's specials at ids 0-3, one training thread
# (the same model on every machine), sentencepiece's logging off.
_TRAINER_DEFAULTS: dict[str, Any] = {
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


def _sources(texts_or_files: object) -> Iterable[Any]:
    if isinstance(texts_or_files, os.PathLike):
        return [texts_or_files]
    if isinstance(texts_or_files, str | bytes):
        raise InputTypeError(
            "texts_or_files should be an iterable of sentences or a pathlib.Path, but got "
            "a single string; wrap a sentence in a list, or pass Path(file) for a file"
        )
    return texts_or_files  # type: ignore[return-value]


def _training_error(err: RuntimeError) -> TokenizerError:
    hint = ""
    if "Vocabulary size too high" in str(err):  # fewer distinct pieces than asked
        hint = "; lower vocab_size or pass hard_vocab_limit=False"
    elif "smaller than required_chars" in str(err):  # the alphabet alone needs more
        hint = "; raise vocab_size (every character of the corpus needs an id)"
    return TokenizerError(f"sentencepiece could not train a model ({err}){hint}")


class SentencePieceTokenizer:
    """A thin wrapper over a sentencepiece model (BPE or unigram).

    The special ids are sentencepiece's own: models trained with [`train`][seqdata.train] use
    ``pad_id=0, unk_id=1, bos_id=2, eos_id=3`` with pieces ``<pad>, <unk>, <sos>, <eos>`` —
    seqdata's default specials, so ``Vocab.from_sentencepiece(tok)`` lines up with
    [`Vocab`][seqdata.vocab.Vocab]'s ``pad_id/unk_id/sos_id/eos_id``. A model loaded from
    elsewhere keeps its own ids (``-1`` = none).

    Args:
        model_proto: the serialized model (the bytes of a ``.model`` file).
        num_threads: threads for the batch `encode`/`batch` (``None`` = all
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
        num_threads = check_optional_int("num_threads", num_threads)
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
        check_int("vocab_size", vocab_size, 5)  # 4 specials and at least one piece
        sources = _sources(texts_or_files)
        spm = _import_sentencepiece()
        model = io.BytesIO()
        settings = {**_TRAINER_DEFAULTS, "vocab_size": vocab_size, "model_type": model_type}
        settings.update(character_coverage=character_coverage, **options)
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
            raise _training_error(err) from err
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
        pieces: list[str] = self._sp.encode(check_text(text), out_type=str)
        return pieces

    def batch(self, texts: Sequence[str]) -> list[list[str]]:
        """Pieces of each text, encoded by sentencepiece's threads."""
        texts = check_texts(texts)
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
        texts = check_texts(texts)
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


def leading_specials(tokenizer: SentencePieceTokenizer) -> dict[str, str]:
    """The model's pad/unk/bos/eos pieces as ``pad/unk/sos/eos`` specials, in id order.

    Raises:
        SpecialTokenError: the specials are not the leading ids.
    """
    if not isinstance(tokenizer, SentencePieceTokenizer):
        raise InputTypeError(
            f"tokenizer should be a SentencePieceTokenizer, but got {type(tokenizer).__name__}"
        )
    ids = {
        "pad": tokenizer.pad_id,
        "unk": tokenizer.unk_id,
        "sos": tokenizer.bos_id,
        "eos": tokenizer.eos_id,
    }
    present = sorted((i, role) for role, i in ids.items() if i >= 0)
    if [i for i, _ in present] != list(range(len(present))):
        raise SpecialTokenError(
            "the sentencepiece specials should take the leading ids 0, 1, …, but the model "
            f"has pad_id={ids['pad']}, unk_id={ids['unk']}, bos_id={ids['sos']}, "
            f"eos_id={ids['eos']}; train it with SentencePieceTokenizer.train "
            "(pad=0, unk=1, bos=2, eos=3)"
        )
    specials = {role: tokenizer.pieces[i] for i, role in present}
    return specials
