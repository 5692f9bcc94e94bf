"""The one exception hierarchy of seqdata.

Every stage raises a subclass of [`SeqdataError`][seqdata.errors.SeqdataError], so a caller can
catch all of
seqdata's complaints with one ``except`` clause, and a message always says *where* (file,
line, index) and *what to do*. Errors about a bad argument value also derive from
`ValueError` (and bad argument types from `TypeError`), so code written against
the standard library's conventions keeps working.

>>> try:
...     raise VocabFormatError("bad header", path="vocab.json", line=1)
... except SeqdataError as err:
...     print(err)
vocab.json, line 1: bad header
"""

from __future__ import annotations

from os import PathLike
from typing import Any

__all__ = [
    "CheckpointError",
    "ConfigError",
    "CorpusError",
    "EmptyCorpusError",
    "EmptyLineError",
    "InputTypeError",
    "ManifestError",
    "OutputError",
    "ParallelMismatchError",
    "SeqdataError",
    "SequenceTooLongError",
    "ShapeError",
    "SpecialTokenError",
    "StateDictError",
    "TokenizerError",
    "UndecodableInputError",
    "VocabFormatError",
]


class SeqdataError(Exception):
    """Base class of every error seqdata raises.

    Args:
        message: what went wrong and what to do about it.
        path: the file concerned, if any; prefixed to the message.
        line: the 1-based line number in ``path``, if any.
        index: the 0-based example index concerned, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | PathLike[str] | None = None,
        line: int | None = None,
        index: int | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.index = index
        where = []
        if self.path is not None:
            where.append(self.path)
        if line is not None:
            where.append(f"line {line}")
        if index is not None:
            where.append(f"example {index}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep path/line/index when the error is pickled out of a DataLoader worker.
        return (_rebuild, (type(self), self.message, self.path, self.line, self.index))


def _rebuild(
    cls: type[SeqdataError], message: str, path: str | None, line: int | None, index: int | None
) -> SeqdataError:
    return cls(message, path=path, line=line, index=index)


class ConfigError(SeqdataError, ValueError):
    """An argument has a value seqdata cannot work with (``max_len=0``, ``batch_size=-1`` …)."""


class InputTypeError(SeqdataError, TypeError):
    """An input has the wrong type (a non-string sentence, a float id …)."""


class SpecialTokenError(SeqdataError, ValueError):
    """A special token is unknown, duplicated or missing from a vocabulary."""


class VocabFormatError(SeqdataError):
    """A saved vocabulary file is corrupted, truncated or of an unknown format version."""


class TokenizerError(SeqdataError):
    """A tokenizer could not be trained, loaded or applied."""


class CorpusError(SeqdataError):
    """A corpus (files, DataFrame, HF dataset) cannot be read as given."""


class ParallelMismatchError(CorpusError):
    """Parallel source and target inputs have different numbers of examples."""


class EmptyLineError(CorpusError):
    """An empty (or whitespace-only) example where the chosen policy forbids one."""


class UndecodableInputError(CorpusError):
    """Bytes in a text file that are not valid in its declared encoding."""


class EmptyCorpusError(CorpusError):
    """A corpus with no examples at all (after the empty-line policy, if any)."""


class ManifestError(CorpusError):
    """A saved store whose manifest does not match its arrays (or is missing/corrupted)."""


class OutputError(SeqdataError, OSError):
    """An output folder cannot be written (permissions, a full disk) or would clobber files."""


class SequenceTooLongError(SeqdataError, ValueError):
    """An example is longer than any batch or bucket can hold."""


class StateDictError(SeqdataError, ValueError):
    """``load_state_dict`` got keys or values that do not fit this object."""


class ShapeError(SeqdataError, ValueError):
    """A tensor has the wrong shape, dtype or device for the model or helper it was given to."""


class CheckpointError(SeqdataError):
    """A checkpoint is missing, corrupted, or does not match the data or vocab it is used with."""
