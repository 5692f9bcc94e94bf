"""Saved stores: ``.npy`` arrays plus ``manifest.json``, written whole or chunk by chunk.

A store is a directory of ``<field>.values.npy`` / ``<field>.offsets.npy`` files and a
``manifest.json`` (format version, counts, dtypes, vocabulary checksums).
``ParallelCorpus.load`` memory-maps them, so a corpus of millions of pairs opens in
milliseconds and DataLoader workers share the pages.
[`ParallelCorpusWriter`][seqdata.ParallelCorpusWriter] writes the same files chunk by chunk,
in bounded memory; an interrupted write never looks like a store.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqdata.errors import (
    ConfigError,
    EmptyCorpusError,
    InputTypeError,
    ManifestError,
    ParallelMismatchError,
)
from seqdata.npyfiles import (
    NpyAppender,
    array_digest,
    check_verify,
    file_record,
    verify_file,
    verify_ids,
)
from seqdata.outputs import finish_interrupted_merge
from seqdata.ragged import Ragged, as_ragged

if TYPE_CHECKING:
    from seqdata.pipeline import PairPipeline
    from seqdata.text_pipeline import TextPipeline

__all__ = [
    "FORMAT_VERSION",
    "ParallelCorpusWriter",
    "WriteStats",
    "check_vocabs",
    "load_field",
    "load_labels",
    "read_manifest",
    "save_store",
]

#: Version of the on-disk layout written by ``save``; ``load`` refuses any other.
FORMAT_VERSION = 1
_FORMAT, _MANIFEST = "seqdata-store", "manifest.json"
_UINT16_MAX = np.iinfo(np.uint16).max


def _vocab_digest(vocab: Any) -> dict[str, Any]:
    blob = json.dumps(vocab.to_dict(), sort_keys=True, ensure_ascii=False).encode("utf-8")
    return {"size": len(vocab), "sha256": hashlib.sha256(blob).hexdigest()}


def _pipeline_vocabs(
    pipeline: PairPipeline | TextPipeline | None, names: tuple[str, ...]
) -> dict[str, Any]:
    """``{field: vocab}`` of a PairPipeline (src_vocab, tgt_vocab) or TextPipeline (vocab)."""
    if pipeline is None:
        return {}
    pair = {"src": "src_vocab", "tgt": "tgt_vocab"}
    attrs = pair if len(names) == 2 else {names[0]: "vocab"}
    missing = [a for a in attrs.values() if not hasattr(pipeline, a)]
    if missing:
        raise InputTypeError(
            f"pipeline should have {sorted(attrs.values())} (a PairPipeline for a "
            f"ParallelCorpus, a TextPipeline for a MonoCorpus), but "
            f"{type(pipeline).__name__} lacks {missing}"
        )
    return {name: getattr(pipeline, attr) for name, attr in attrs.items()}


def _compact(values: np.ndarray) -> np.ndarray:
    """uint16 when every id fits (half the disk and page cache), else int32."""
    if values.dtype == np.uint16 or values.size == 0:
        return values.astype(np.uint16, copy=False)
    if int(values.max()) <= np.iinfo(np.uint16).max:
        return values.astype(np.uint16)
    return values


def _new_manifest(kind: str, n: int, vocabs: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": _FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "num_examples": n,
        "fields": {},
        "labels": None,
        "vocab": {name: _vocab_digest(v) for name, v in vocabs.items()} or None,
    }


def _field_spec(
    name: str, dtype: np.dtype, num_tokens: int, files: dict[str, Any]
) -> dict[str, Any]:
    return {
        "values": f"{name}.values.npy",
        "offsets": f"{name}.offsets.npy",
        "dtype": dtype.name,
        "num_tokens": int(num_tokens),
        "files": files,  # per file: size in bytes and BLAKE2b of the array data
    }


def _write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` atomically (a temporary file renamed over it)."""
    tmp = out / f".{_MANIFEST}.part"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out / _MANIFEST)


def save_store(
    directory: str | os.PathLike[str],
    kind: str,
    fields: dict[str, Ragged],
    labels: np.ndarray | None,
    pipeline: PairPipeline | TextPipeline | None,
) -> Path:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    vocabs = _pipeline_vocabs(pipeline, tuple(fields))
    manifest = _new_manifest(kind, len(next(iter(fields.values()))), vocabs)
    (out / _MANIFEST).unlink(missing_ok=True)  # a half-written store must not look valid
    for name, ragged in fields.items():
        values = _compact(np.asarray(ragged.values))
        offsets = np.asarray(ragged.offsets, dtype=np.int64)
        files = {"values": values, "offsets": offsets}
        records = {}
        for role, array in files.items():
            np.save(out / f"{name}.{role}.npy", array)
            records[role] = file_record(out / f"{name}.{role}.npy", array_digest(array))
        manifest["fields"][name] = _field_spec(name, values.dtype, values.size, records)
    if labels is not None:
        np.save(out / "labels.npy", labels)
        manifest["labels"] = {"file": "labels.npy", "dtype": labels.dtype.name}
    _write_manifest(out, manifest)
    return out


def read_manifest(directory: Path, kind: str) -> dict[str, Any]:
    """The manifest of the store at ``directory`` (of ``kind``), checked; a replacement of the
    folder that a killed run left halfway is finished first."""
    finish_interrupted_merge(directory)
    path = directory / _MANIFEST
    if not path.is_file():
        raise ManifestError(
            "no manifest.json here: not a saved seqdata store (or an interrupted save); "
            "save the corpus again",
            path=path,
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ManifestError(f"the manifest is not valid JSON ({err})", path=path) from None
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise ManifestError(
            f"format should be {_FORMAT!r}, but the manifest says otherwise", path=path
        )
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ManifestError(
            f"format_version should be {FORMAT_VERSION}, but got format_version={version!r}; "
            "re-save the corpus with this seqdata version",
            path=path,
        )
    if manifest.get("kind") != kind:
        other = "MonoCorpus" if manifest.get("kind") == "mono" else "ParallelCorpus"
        raise ManifestError(
            f"kind should be {kind!r}, but got kind={manifest.get('kind')!r}; load it with "
            f"{other}.load",
            path=path,
        )
    if not isinstance(manifest.get("fields"), dict):
        raise ManifestError(
            f"fields should be an object naming each field's files, but got "
            f"fields={manifest.get('fields')!r}; the manifest is damaged — save the corpus again",
            path=path,
        )
    n = manifest.get("num_examples")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ManifestError(f"num_examples should be a positive int, but got {n!r}", path=path)
    return manifest


def _load_array(directory: Path, name: Any, mmap: bool) -> tuple[np.ndarray, Path]:
    if not isinstance(name, str) or "/" in name or "\\" in name:
        raise ManifestError(f"bad array file name {name!r}", path=directory / _MANIFEST)
    path = directory / name
    if not path.is_file():
        raise ManifestError("the manifest lists this array file, but it is missing", path=path)
    try:
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except Exception as err:  # numpy raises EOFError, ValueError, TokenError, SyntaxError…
        why = "it is empty" if path.stat().st_size == 0 else f"{type(err).__name__}: {err}"
        raise ManifestError(
            f"not a readable .npy file ({why}); the store is damaged — prepare it again",
            path=path,
        ) from None
    return array, path


def load_field(
    directory: Path, manifest: dict[str, Any], name: str, mmap: bool, verify: str = "fast"
) -> Ragged:
    """One field's ids, checked at level ``verify`` (see `seqdata.npyfiles`)."""
    level = check_verify(verify)
    spec = manifest["fields"].get(name)
    if not isinstance(spec, dict):
        raise ManifestError(f"the manifest has no field {name!r}", path=directory / _MANIFEST)
    n = manifest["num_examples"]
    for role in ("values", "offsets"):
        if level != "none" and spec.get(role) != f"{name}.{role}.npy":
            raise ManifestError(
                f"field {name!r} should keep its {role} in {name}.{role}.npy, but the manifest "
                f"names {spec.get(role)!r}; the manifest was edited — save the corpus again",
                path=directory / _MANIFEST,
            )
    values, vpath = _load_array(directory, spec.get("values"), mmap)
    offsets, opath = _load_array(directory, spec.get("offsets"), mmap)
    if values.ndim != 1 or values.dtype.name != spec.get("dtype"):
        raise ManifestError(
            f"should be a 1-D {spec.get('dtype')} array as the manifest says, but got shape "
            f"{values.shape} and dtype {values.dtype}",
            path=vpath,
        )
    if len(values) != spec.get("num_tokens"):
        raise ManifestError(
            f"should hold num_tokens={spec.get('num_tokens')} ids as the manifest says, but "
            f"holds {len(values)}",
            path=vpath,
        )
    if offsets.ndim != 1 or offsets.dtype != np.int64 or len(offsets) != n + 1:
        raise ManifestError(
            f"should be a 1-D int64 array of num_examples + 1 = {n + 1} offsets, but got shape "
            f"{offsets.shape} and dtype {offsets.dtype}",
            path=opath,
        )
    try:
        ragged = Ragged(values, offsets)
    except ConfigError as err:
        raise ManifestError(f"offsets do not fit the values: {err}", path=opath) from None
    files = spec.get("files")
    files = files if isinstance(files, dict) else {}
    verify_file(vpath, values, files.get("values"), level)
    verify_file(opath, offsets, files.get("offsets"), level)
    vocabs = manifest.get("vocab")
    vocab = vocabs.get(name) if isinstance(vocabs, dict) else None
    verify_ids(vpath, values, vocab.get("size") if isinstance(vocab, dict) else None, level)
    if mmap:
        ragged._files = (str(vpath), str(opath))
    return ragged


def check_vocabs(
    directory: Path,
    manifest: dict[str, Any],
    pipeline: PairPipeline | TextPipeline | None,
    names: tuple[str, ...],
) -> None:
    saved = manifest.get("vocab") or {}
    for name, vocab in _pipeline_vocabs(pipeline, names).items():
        if name not in saved:
            continue  # saved without a pipeline: nothing to compare against
        now = _vocab_digest(vocab)
        if now != saved[name]:
            raise ManifestError(
                f"the {name} ids were encoded with another vocabulary (size "
                f"{saved[name].get('size')}, sha256 {str(saved[name].get('sha256'))[:12]}…), "
                "but the pipeline's has size "
                f"{now['size']}, sha256 {now['sha256'][:12]}…; re-encode the corpus or load the "
                "pipeline it was saved with",
                path=directory / _MANIFEST,
            )


def load_labels(directory: Path, manifest: dict[str, Any], mmap: bool) -> np.ndarray | None:
    spec = manifest.get("labels")
    if spec is None:
        return None
    labels, path = _load_array(directory, spec.get("file"), mmap)
    if labels.shape != (manifest["num_examples"],) or labels.dtype.name != spec.get("dtype"):
        raise ManifestError(
            f"should be a ({manifest['num_examples']},) {spec.get('dtype')} array as the "
            f"manifest says, but got shape {labels.shape} and dtype {labels.dtype}",
            path=path,
        )
    return labels


# --------------------------------------------------------------------------- chunked writing


@dataclass(frozen=True)
class WriteStats:
    """What [`ParallelCorpus.write_chunks`][seqdata.corpus.ParallelCorpus.write_chunks] wrote.

    Attributes:
        examples: pairs written.
        src_tokens: source ids stored (after truncation).
        tgt_tokens: target ids stored, SOS and EOS included.
        src_unk: stored source ids that are UNK.
        tgt_unk: stored target ids that are UNK.
        src_truncated: sources cut to ``max_len``.
        tgt_truncated: targets cut to ``max_len - 2`` tokens.
        chunks: chunks read.
        specials_in_text: literal special tokens (``<pad>``, ``</s>``, …) in the texts,
            stored as UNK.
    """

    examples: int
    src_tokens: int
    tgt_tokens: int
    src_unk: int
    tgt_unk: int
    src_truncated: int
    tgt_truncated: int
    chunks: int
    specials_in_text: int = 0

    @property
    def src_unk_rate(self) -> float:
        """Share of the stored source ids that are UNK."""
        return self.src_unk / self.src_tokens if self.src_tokens else 0.0

    @property
    def tgt_unk_rate(self) -> float:
        """Share of the stored target ids that are UNK (SOS/EOS count as ids)."""
        return self.tgt_unk / self.tgt_tokens if self.tgt_tokens else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The fields plus the two UNK rates, JSON-serialisable."""
        return {
            **asdict(self),
            "src_unk_rate": self.src_unk_rate,
            "tgt_unk_rate": self.tgt_unk_rate,
        }


class ParallelCorpusWriter:
    """Write a [`ParallelCorpus`][seqdata.corpus.ParallelCorpus] store chunk by chunk, in bounded
    memory.

    Each `append` adds encoded pairs to the ``.npy`` files on disk; `close`
    writes the header of each file and then ``manifest.json`` — the same files and manifest as
    [`ParallelCorpus.save`][seqdata.corpus.ParallelCorpus.save], so
    [`ParallelCorpus.load`][seqdata.corpus.ParallelCorpus.load] (``mmap=True``) opens the
    result. Ids are stored as ``uint16`` while they all fit and ``int32`` after (the file
    written so far is widened once), as ``save`` does.

    Until `close` the arrays are ``*.part`` files and there is no manifest (an existing
    one is removed at once), so an interrupted write never looks like a store; on an error
    inside ``with`` the part files are deleted.

    Args:
        directory: the store folder (created if needed).
        pipeline: the [`PairPipeline`][seqdata.pipeline.PairPipeline] that encoded the ids; its
            vocabularies' checksums go into the manifest (see ``ParallelCorpus.load``).

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with ParallelCorpusWriter(folder) as writer:
    ...     writer.append(([5, 6, 7], [0, 2, 3]), ([2, 8, 3, 2, 3], [0, 3, 5]))
    ...     writer.append(([9], [0, 1]), ([2, 3], [0, 2]))
    >>> from seqdata.corpus import ParallelCorpus
    >>> corpus = ParallelCorpus.load(folder)
    >>> len(corpus), corpus[2][0].tolist(), corpus.tgt_lengths.tolist()
    (3, [9], [3, 2, 2])
    """

    def __init__(
        self, directory: str | os.PathLike[str], *, pipeline: PairPipeline | None = None
    ) -> None:
        self.directory = Path(directory)
        self._vocabs = _pipeline_vocabs(pipeline, ("src", "tgt"))
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / _MANIFEST).unlink(missing_ok=True)
        self._values: dict[str, NpyAppender] = {}
        self._offsets: dict[str, NpyAppender] = {}
        try:
            for name in ("src", "tgt"):
                self._values[name] = NpyAppender(self.directory / f"{name}.values.npy", np.uint16)
                self._offsets[name] = NpyAppender(self.directory / f"{name}.offsets.npy", np.int64)
                self._offsets[name].append(np.zeros(1, dtype=np.int64))
        except BaseException:
            self.abort()
            raise
        self._n = 0
        self._open = True

    @property
    def num_examples(self) -> int:
        """Pairs appended so far."""
        return self._n

    def num_tokens(self, side: str) -> int:
        """Ids appended so far to ``side`` (``"src"`` or ``"tgt"``)."""
        return self._values[side].count

    def append(self, src: Ragged | tuple[Any, Any], tgt: Ragged | tuple[Any, Any]) -> None:
        """Add a chunk of encoded pairs.

        Args:
            src: the chunk's source ids: a [`Ragged`][seqdata.ragged.Ragged] or ``(values (T,),
                offsets
                (B + 1,))`` as
                [`PairPipeline.encode_flat`][seqdata.pipeline.PairPipeline.encode_flat] returns.
            tgt: the target ids, as many sequences.

        Raises:
            ParallelMismatchError: different numbers of source and target sequences.
            ConfigError: bad offsets, or the writer is closed.
        """
        if not self._open:
            raise ConfigError("this writer is closed; open a new ParallelCorpusWriter")
        sides = {"src": as_ragged(src, "src"), "tgt": as_ragged(tgt, "tgt")}
        if len(sides["src"]) != len(sides["tgt"]):
            raise ParallelMismatchError(
                f"source and target should have the same number of sequences, but got "
                f"{len(sides['src'])} source and {len(sides['tgt'])} target sequences"
            )
        for name, ragged in sides.items():
            values = self._values[name]
            if (
                values.dtype == np.uint16
                and ragged.values.size
                and int(ragged.values.max()) > _UINT16_MAX
            ):
                values.retype(np.int32)
            start = values.count
            values.append(ragged.values)
            self._offsets[name].append(ragged.offsets[1:] + start)
        self._n += len(sides["src"])

    def close(self) -> Path:
        """Finish the files and write the manifest; returns the folder.

        Raises:
            EmptyCorpusError: nothing was appended (the part files are removed).
        """
        if not self._open:
            return self.directory
        if self._n == 0:
            self.abort()
            raise EmptyCorpusError("nothing was written: the chunks held no examples")
        manifest = _new_manifest("parallel", self._n, self._vocabs)
        for name in ("src", "tgt"):
            values = self._values[name]
            files = {"values": values.close(), "offsets": self._offsets[name].close()}
            manifest["fields"][name] = _field_spec(name, values.dtype, values.count, files)
        _write_manifest(self.directory, manifest)
        self._open = False
        return self.directory

    def abort(self) -> None:
        """Delete the part files; nothing of this write is left."""
        for appender in [*self._values.values(), *self._offsets.values()]:
            appender.abort()
        self._open = False

    def __enter__(self) -> ParallelCorpusWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
