"""Checkpoints: a directory that alone is enough to translate, written atomically.

- ``config.json`` — the model's class and config, the pipeline's ``to_dict()`` (tokenizers +
  vocabs), your ``extra`` (JSON), and the SHA-256 of every weight file;
- ``model.pt`` — ``model.state_dict()`` (loads with ``torch.load(weights_only=True)``);
- ``optimizer.pt`` — ``optimizer.state_dict()``, when given.

>>> import tempfile
>>> from seqdata.models import CharLM
>>> lm = CharLM(vocab_size=5, embed_dim=4, hidden_size=8)
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = save_checkpoint(f"{tmp}/ckpt", lm, extra={"epoch": 1})
...     model, pipeline, extra = load_checkpoint(path)
...     sorted(p.name for p in path.iterdir())
['config.json', 'model.pt']
>>> type(model).__name__, model.config == lm.config, pipeline, extra
('CharLM', True, None, {'epoch': 1})
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from seqdata.errors import CheckpointError, ConfigError
from seqdata.models import CharLM, Seq2Seq, SequenceClassifier, SequenceTagger

__all__ = [
    "Checkpoint",
    "load_checkpoint",
    "load_optimizer_state",
    "save_checkpoint",
]

FORMAT = "seqdata.checkpoint"
VERSION = 1
MODEL_CLASSES: dict[str, Any] = {
    cls.__name__: cls for cls in (CharLM, Seq2Seq, SequenceClassifier, SequenceTagger)
}


class Checkpoint(NamedTuple):
    """What :func:`load_checkpoint` returns."""

    model: nn.Module
    pipeline: Any
    extra: Any


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_checkpoint(
    directory: str | os.PathLike[str],
    model: nn.Module,
    *,
    pipeline: Any = None,
    optimizer: torch.optim.Optimizer | None = None,
    extra: Any = None,
) -> Path:
    """Write a checkpoint directory atomically (a temp dir, then a rename).

    Args:
        directory: the checkpoint directory; an existing checkpoint there is replaced, any
            other existing non-empty directory is refused.
        model: one of seqdata's models (it has a ``config`` dataclass).
        pipeline: a ``PairPipeline`` / ``TextPipeline`` (stored via ``to_dict()``), or ``None``.
        optimizer: also save its state, for resuming training.
        extra: anything JSON-serialisable (epoch, metrics …).

    Returns:
        The checkpoint directory.
    """
    path = Path(directory)
    name = type(model).__name__
    if name not in MODEL_CLASSES:
        raise ConfigError(
            f"model should be one of seqdata's models {sorted(MODEL_CLASSES)}, but got {name}"
        )
    if path.exists() and (path.is_file() or (any(path.iterdir()) and not _is_checkpoint(path))):
        raise CheckpointError(
            "exists and is not a seqdata checkpoint; refusing to overwrite it — choose a new "
            "directory",
            path=path,
        )
    config: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "model": {"class": name, "config": asdict(model.config)},  # type: ignore[call-overload]
        "pipeline": None
        if pipeline is None
        else {"class": type(pipeline).__name__, "state": pipeline.to_dict()},
        "extra": extra,
        "files": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        torch.save(model.state_dict(), tmp / "model.pt")
        if optimizer is not None:
            torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        config["files"] = {f.name: _sha256(f) for f in sorted(tmp.glob("*.pt"))}
        try:
            text = json.dumps(config, indent=2, sort_keys=True)
        except TypeError as err:
            raise ConfigError(
                f"the checkpoint config must be JSON-serialisable ({err}); pass plain "
                "numbers/strings/lists/dicts as extra"
            ) from err
        (tmp / "config.json").write_text(text + "\n", encoding="utf-8")
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return path


def _is_checkpoint(path: Path) -> bool:
    return (path / "config.json").is_file()


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_dir():
        raise CheckpointError("no checkpoint directory here; check the path", path=path)
    cfg_path = path / "config.json"
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise CheckpointError(
            "missing; the checkpoint is incomplete (was save_checkpoint interrupted?)",
            path=cfg_path,
        ) from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"corrupted, not valid JSON ({err})", path=cfg_path) from err
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(
            f"not a seqdata checkpoint config (format != {FORMAT!r})", path=cfg_path
        )
    if config.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint format version {config.get('version')!r}, but this seqdata reads "
            f"version {VERSION}; upgrade seqdata",
            path=cfg_path,
        )
    return config


def _load_weights(path: Path, sha: str | None, map_location: Any) -> Any:
    if not path.is_file():
        raise CheckpointError("missing; the checkpoint is incomplete", path=path)
    if sha is None or _sha256(path) != sha:
        raise CheckpointError(
            "corrupted: its SHA-256 does not match the one recorded in config.json", path=path
        )
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for a bad file
        raise CheckpointError(f"cannot be read by torch.load ({err})", path=path) from err


def load_checkpoint(directory: str | os.PathLike[str], map_location: Any = "cpu") -> Checkpoint:
    """Rebuild the model (in eval mode) and the pipeline from a checkpoint directory.

    Args:
        directory: written by :func:`save_checkpoint`.
        map_location: where to load the weights (``torch.load``'s argument).

    Returns:
        ``Checkpoint(model, pipeline, extra)``; ``pipeline`` is ``None`` if none was saved.

    Raises:
        CheckpointError: naming the missing, corrupted or mismatched file.
    """
    path = Path(directory)
    config = _read_config(path)
    cfg_path = path / "config.json"
    try:
        cls = MODEL_CLASSES[config["model"]["class"]]
        model = cls.from_config(config["model"]["config"])
    except Exception as err:
        raise CheckpointError(
            f"the model entry cannot be rebuilt ({err!r})", path=cfg_path
        ) from err
    files = config.get("files") or {}
    state = _load_weights(path / "model.pt", files.get("model.pt"), map_location)
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError) as err:
        raise CheckpointError(
            f"weights do not fit the model described in config.json ({err})",
            path=path / "model.pt",
        ) from err
    model.to(_first_device(state))
    model.eval()
    pipeline = None
    if config.get("pipeline") is not None:
        pipeline = _rebuild_pipeline(config["pipeline"], cfg_path)
    return Checkpoint(model, pipeline, config.get("extra"))


def _first_device(state: Mapping[str, Tensor]) -> torch.device:
    for value in state.values():
        return value.device
    return torch.device("cpu")


def _rebuild_pipeline(entry: Mapping[str, Any], cfg_path: Path) -> Any:
    try:
        cls = getattr(importlib.import_module("seqdata.pipeline"), entry["class"])
        return cls.from_dict(entry["state"])
    except Exception as err:
        raise CheckpointError(
            f"the pipeline entry cannot be rebuilt ({err!r})", path=cfg_path
        ) from err


def load_optimizer_state(
    directory: str | os.PathLike[str],
    optimizer: torch.optim.Optimizer,
    map_location: Any = "cpu",
) -> None:
    """Load ``optimizer.pt`` of a checkpoint into ``optimizer`` (built on the loaded model)."""
    path = Path(directory)
    files = _read_config(path).get("files") or {}
    if "optimizer.pt" not in files:
        raise CheckpointError(
            "has no optimizer state; save it with save_checkpoint(..., optimizer=opt)", path=path
        )
    state = _load_weights(path / "optimizer.pt", files["optimizer.pt"], map_location)
    try:
        optimizer.load_state_dict(state)
    except (ValueError, KeyError) as err:
        raise CheckpointError(
            f"does not fit this optimizer ({err})", path=path / "optimizer.pt"
        ) from err
