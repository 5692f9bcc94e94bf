"""A store's ``.npy`` files: written block by block with checksums, verified on load.

Every ``.npy`` file of a store is recorded in its manifest with its size in bytes and a
BLAKE2b digest of its array data (the bytes after the ``.npy`` header), computed while the
file is written. Loading checks them at one of three levels:

* ``"none"``: only what opening the files needs (shapes, dtypes, offsets that fit);
* ``"fast"`` (the default): also every file's size, offsets non-decreasing and in range,
  every id below the vocabulary size (one vectorized pass over the memory-mapped ids) and
  the manifest naming each field's own files — milliseconds per million pairs;
* ``"full"``: also the digests (reads every byte once: about a second per GB).

>>> d = Digest()
>>> d.update(np.arange(3, dtype=np.int64))
>>> d.hexdigest() == array_digest(np.arange(3, dtype=np.int64))
True
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from seqdata.errors import ConfigError, ManifestError

__all__ = [
    "VERIFY_LEVELS",
    "Digest",
    "NpyAppender",
    "array_digest",
    "check_verify",
    "file_record",
    "verify_file",
    "verify_ids",
]

VERIFY_LEVELS = ("none", "fast", "full")
_BLOCK = 1 << 24  # bytes hashed at a time
_COPY_BLOCK = 1 << 24  # elements per block when a written values file changes dtype


class Digest:
    """An incremental BLAKE2b (16 bytes) of array data, fed block by block."""

    def __init__(self) -> None:
        self._hash = hashlib.blake2b(digest_size=16)

    def update(self, array: np.ndarray) -> None:
        flat = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
        for start in range(0, len(flat), _BLOCK):
            self._hash.update(flat[start : start + _BLOCK].tobytes())

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def array_digest(array: np.ndarray) -> str:
    """The digest of an array's data, in blocks (a memory map is read once, not copied)."""
    digest = Digest()
    digest.update(array)
    return digest.hexdigest()


def file_record(path: Path, digest: str) -> dict[str, Any]:
    """What the manifest records for one array file: its size in bytes and data digest."""
    return {"bytes": path.stat().st_size, "blake2b": digest}


def check_verify(verify: Any) -> str:
    """``verify`` if it is one of ``"none"``, ``"fast"``, ``"full"``."""
    if verify not in VERIFY_LEVELS:
        raise ConfigError(
            f"verify should be one of {', '.join(map(repr, VERIFY_LEVELS))}, but got "
            f"verify={verify!r}"
        )
    return str(verify)


def verify_file(path: Path, array: np.ndarray, record: Any, level: str) -> None:
    """Compare a loaded file with its manifest record (see the module's levels)."""
    if level == "none":
        return
    if not isinstance(record, dict):  # every store of this format version records its files
        raise ManifestError(
            f"the manifest should record {path.name}'s size and checksum, but its record is "
            f"{record!r}: the manifest was edited or damaged; save the corpus again",
            path=path,
        )
    size = path.stat().st_size
    if size != record.get("bytes"):
        raise ManifestError(
            f"should be {record.get('bytes')} bytes as the manifest says, but is {size}: the "
            "file was changed or damaged after it was written; prepare the corpus again",
            path=path,
        )
    if level == "full" and array_digest(array) != record.get("blake2b"):
        raise ManifestError(
            "its contents do not match the checksum in the manifest: the file was changed or "
            "damaged after it was written; prepare the corpus again",
            path=path,
        )


def verify_ids(path: Path, values: np.ndarray, vocab_size: Any, level: str) -> None:
    """Every id in ``[0, vocab_size)`` (``"fast"`` and ``"full"``; one vectorized pass)."""
    if level == "none" or not isinstance(vocab_size, int) or values.size == 0:
        return
    top = int(values.max())
    low = int(values.min())
    if top >= vocab_size or low < 0:
        bad = top if top >= vocab_size else low
        where = int(np.argmax(values == bad))
        raise ManifestError(
            f"ids should be in [0, {vocab_size}) (the vocabulary size), but values[{where}]="
            f"{bad}: the file is damaged or belongs to another corpus; prepare it again",
            path=path,
        )


def _npy_header(dtype: np.dtype, n: int) -> bytes:
    """The ``.npy`` header ``np.save`` writes for a 1-D array of ``n`` items of ``dtype``
    (numpy pads it so that the shape can grow without changing its length)."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer,
        {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (n,)},
    )
    return buffer.getvalue()


class NpyAppender:
    """A 1-D ``.npy`` file written block by block into ``<name>.part``: room for the header
    first, the header itself (with the final length) at `close`, then renamed into
    place — byte for byte what ``np.save`` writes for the whole array."""

    def __init__(self, path: Path, dtype: Any) -> None:
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self.dtype = np.dtype(dtype)
        self.count = 0
        self._start = len(_npy_header(self.dtype, 0))
        self._file: BinaryIO = self.part.open("wb")
        self._file.write(b"\0" * self._start)
        self._digest = Digest()

    def append(self, array: np.ndarray) -> None:
        block = np.ascontiguousarray(array, dtype=self.dtype)
        block.tofile(self._file)
        self._digest.update(block)
        self.count += len(block)

    def retype(self, dtype: Any) -> None:
        """Rewrite what was written so far in a wider ``dtype`` (one pass, in blocks)."""
        self._file.close()
        old = (
            np.memmap(
                self.part, dtype=self.dtype, mode="r", offset=self._start, shape=(self.count,)
            )
            if self.count
            else np.zeros(0, self.dtype)
        )
        self.dtype = np.dtype(dtype)
        self._start = len(_npy_header(self.dtype, 0))
        fresh = self.part.with_name(self.part.name + "2")
        self._digest = Digest()
        with fresh.open("wb") as out:
            out.write(b"\0" * self._start)
            for i in range(0, self.count, _COPY_BLOCK):
                block = np.ascontiguousarray(old[i : i + _COPY_BLOCK], dtype=self.dtype)
                block.tofile(out)
                self._digest.update(block)
        del old
        os.replace(fresh, self.part)
        self._file = self.part.open("r+b")
        self._file.seek(0, os.SEEK_END)

    def close(self) -> dict[str, Any]:
        """Write the header, rename into place; returns the file's manifest record."""
        header = _npy_header(self.dtype, self.count)
        if len(header) != self._start:  # pragma: no cover - numpy reserves room for growth
            self._file.close()
            data = np.fromfile(self.part, dtype=self.dtype, offset=self._start)
            np.save(self.part.with_suffix(""), data)
            os.replace(self.part.with_suffix(""), self.path)
            self.part.unlink(missing_ok=True)
            return file_record(self.path, self._digest.hexdigest())
        self._file.seek(0)
        self._file.write(header)
        self._file.close()
        os.replace(self.part, self.path)
        return file_record(self.path, self._digest.hexdigest())

    def abort(self) -> None:
        self._file.close()
        self.part.unlink(missing_ok=True)
        self.part.with_name(self.part.name + "2").unlink(missing_ok=True)
