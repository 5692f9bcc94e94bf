"""Saving and loading a [`PairPipeline`][seqdata.PairPipeline]: one JSON file, plus plain
sentencepiece ``.model`` files beside it.

- ``pipeline.json`` holds ``{"class": "PairPipeline", "state": pipeline.to_dict()}`` — the
  same entry ``seqdata prepare`` writes and a checkpoint's ``config.json`` embeds, so
  [`load_pipeline`][seqdata.pipeline_io.load_pipeline] reads all three (a bare ``to_dict()``
  too).
- When a side's tokenizer is a [`SentencePieceTokenizer`][seqdata.SentencePieceTokenizer], its
  model is also written as ``src.model`` / ``tgt.model``: standard sentencepiece files that
  ``spm_encode --model src.model`` and ``sentencepiece.SentencePieceProcessor`` read
  directly. They are copies for other tools; loading uses the JSON alone.

Every file is written to a temporary name and renamed into place, so a crash never leaves a
half-written pipeline.

>>> import tempfile
>>> from seqdata import PairPipeline
>>> pipe = PairPipeline.build(["ich sah"], ["i saw"])
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = save_pipeline(pipe, tmp)
...     path.name, load_pipeline(tmp) == pipe
('pipeline.json', True)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqdata.errors import ConfigError, SeqdataError
from seqdata.outputs import write_file_atomic
from seqdata.sentencepiece import SentencePieceTokenizer

if TYPE_CHECKING:
    from seqdata.pipeline import PairPipeline

__all__ = ["PIPELINE_FILE", "load_pipeline", "save_pipeline", "write_spm_models"]

PIPELINE_FILE = "pipeline.json"
"""The file name used when a pipeline is saved into (or loaded from) a folder."""

_CHECKPOINT_CONFIG = "config.json"


def _json_path(path: str | os.PathLike[str]) -> Path:
    """``path`` itself when it names a ``.json`` file, else ``path / pipeline.json``."""
    p = Path(path)
    return p if p.suffix == ".json" else p / PIPELINE_FILE


def write_spm_models(pipeline: PairPipeline, folder: str | os.PathLike[str]) -> list[Path]:
    """Write each sentencepiece tokenizer of ``pipeline`` as ``folder/{src,tgt}.model``.

    Sides whose tokenizer is not sentencepiece (whitespace, words, characters) are skipped.
    The files are standard sentencepiece models, usable by ``spm_encode``/``spm_decode``.

    Args:
        pipeline: a [`PairPipeline`][seqdata.PairPipeline] (or anything with
            ``src_tokenizer``/``tgt_tokenizer``).
        folder: where to write; created if missing.

    Returns:
        The paths written (empty when neither side is sentencepiece), source first.
    """
    out = Path(folder)
    written = []
    for side in ("src", "tgt"):
        tokenizer = getattr(pipeline, f"{side}_tokenizer", None)
        if isinstance(tokenizer, SentencePieceTokenizer):
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"{side}.model"
            write_file_atomic(path, tokenizer.model_proto)
            written.append(path)
    return written


def save_pipeline(pipeline: PairPipeline, path: str | os.PathLike[str]) -> Path:
    """Save ``pipeline`` as JSON, plus its sentencepiece ``.model`` files beside it.

    Args:
        pipeline: the [`PairPipeline`][seqdata.PairPipeline] to save.
        path: a folder (created if missing; the JSON is ``path/pipeline.json``) or a file
            name ending in ``.json``. The ``.model`` files go into the JSON's folder.

    Returns:
        The path of the JSON file.
    """
    target = _json_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    entry = {"class": type(pipeline).__name__, "state": pipeline.to_dict()}
    write_file_atomic(target, (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8"))
    write_spm_models(pipeline, target.parent)
    return target


def _state_of(entry: Any, path: Path) -> Mapping[str, Any]:
    """The ``to_dict()`` state inside a pipeline file, a checkpoint config or a bare state."""
    if isinstance(entry, Mapping) and "pipeline" in entry and "src_vocab" not in entry:
        entry = entry["pipeline"]  # a checkpoint's config.json
        if entry is None:
            raise ConfigError("the checkpoint holds no pipeline", path=path)
    if isinstance(entry, Mapping) and "state" in entry and "class" in entry:
        if entry["class"] != "PairPipeline":
            raise ConfigError(
                f"holds a {entry['class']}, but a PairPipeline was expected; load it with "
                f"{entry['class']}.from_dict",
                path=path,
            )
        entry = entry["state"]
    if not isinstance(entry, Mapping):
        raise ConfigError(
            f"should hold a JSON object (a saved pipeline), but holds {type(entry).__name__}",
            path=path,
        )
    return entry


def load_pipeline(path: str | os.PathLike[str]) -> PairPipeline:
    """Load a [`PairPipeline`][seqdata.PairPipeline] saved by
    [`save_pipeline`][seqdata.pipeline_io.save_pipeline].

    Args:
        path: the JSON file, or a folder holding ``pipeline.json`` (a saved pipeline or a
            ``seqdata prepare`` folder) or a checkpoint's ``config.json``.

    Raises:
        ConfigError: the file is missing, is not JSON, or holds no ``PairPipeline`` (names
            the file).
    """
    from seqdata.pipeline import PairPipeline

    target = _json_path(path)
    checkpoint = Path(path) / _CHECKPOINT_CONFIG
    if not target.is_file() and checkpoint.is_file():
        target = checkpoint
    try:
        entry = json.loads(target.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(
            f"cannot read the pipeline ({err.strerror}); pass a file written by "
            "PairPipeline.save, or the folder holding its pipeline.json",
            path=target,
        ) from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"is not a JSON pipeline file ({err})", path=target) from err
    state = _state_of(entry, target)
    try:
        return PairPipeline.from_dict(state)
    except SeqdataError as err:
        raise ConfigError(err.message, path=target) from err
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"is not a valid PairPipeline state ({err!r})", path=target) from err
