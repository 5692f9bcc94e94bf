"""Checkpoints: a directory that alone is enough to translate, written atomically.

- ``config.json`` — the model's class and config, the pipeline's ``to_dict()`` (tokenizers +
  vocabs), your ``extra`` (JSON), and the SHA-256 of every weight file;
- ``model.pt`` — ``model.state_dict()`` (loads with ``torch.load(weights_only=True)``);
- ``optimizer.pt`` — ``optimizer.state_dict()``, when given;
- ``train_state.pt`` — the rest of a resumable run, when given (scheduler, epoch, step,
  sampler position, RNG states: see [`load_train_state`][seqdata.checkpoint.load_train_state]).

``config.json`` also records the pipeline's vocabulary fingerprint, so a model never meets a
pipeline with other vocabularies silently: ``load_checkpoint(path, pipeline=p)`` refuses one.

Replacing a checkpoint keeps the last good one: the new one is written beside it, the old
one is renamed to ``.NAME.prev`` and the new one into place, and only then is the old one
deleted; a run killed in between leaves ``.NAME.prev``, which ``load_checkpoint`` reads and
[`finish_interrupted_save`][seqdata.checkpoint.finish_interrupted_save] renames back.
A run folder of ``seqdata train`` (with ``best/`` and ``last/`` checkpoints) loads its best.

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

import errno
import glob
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
from seqdata.outputs import describe_folder, usual_permissions

__all__ = [
    "Checkpoint",
    "check_pipeline",
    "checkpoint_path",
    "finish_interrupted_save",
    "load_checkpoint",
    "load_optimizer_state",
    "load_train_state",
    "pipeline_fingerprint",
    "save_checkpoint",
]

FORMAT = "seqdata.checkpoint"
VERSION = 1
MODEL_CLASSES: dict[str, Any] = {
    cls.__name__: cls for cls in (CharLM, Seq2Seq, SequenceClassifier, SequenceTagger)
}


class Checkpoint(NamedTuple):
    """What [`load_checkpoint`][seqdata.checkpoint.load_checkpoint] returns."""

    model: nn.Module
    pipeline: Any
    extra: Any


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pipeline_fingerprint(pipeline: Any) -> str | None:
    """SHA-256 of a pipeline's tokenizers and vocabularies (``None`` for no pipeline).

    Uses ``pipeline.fingerprint()`` when the pipeline has one, else hashes the tokenizer and
    vocabulary parts of ``to_dict()`` (canonical JSON), so two pipelines with the same tokens
    in another order differ.
    """
    if pipeline is None:
        return None
    own = getattr(pipeline, "fingerprint", None)
    if callable(own):
        return str(own())
    state = pipeline.to_dict()
    parts = {k: v for k, v in state.items() if "vocab" in k or "tokenizer" in k}
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _prev(path: Path) -> Path:
    return path.parent / f".{path.name}.prev"


def _write_files(
    tmp: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    train_state: Mapping[str, Any] | None,
    config: dict[str, Any],
) -> None:
    torch.save(model.state_dict(), tmp / "model.pt")
    if optimizer is not None:
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    if train_state is not None:
        torch.save(dict(train_state), tmp / "train_state.pt")
    config["files"] = {f.name: _sha256(f) for f in sorted(tmp.glob("*.pt"))}
    try:
        text = json.dumps(config, indent=2, sort_keys=True)
    except TypeError as err:
        raise ConfigError(
            f"the checkpoint config must be JSON-serialisable ({err}); pass plain "
            "numbers/strings/lists/dicts as extra"
        ) from err
    with (tmp / "config.json").open("w", encoding="utf-8") as f:
        f.write(text + "\n")
        f.flush()
        os.fsync(f.fileno())


def _swap_in(tmp: Path, path: Path) -> None:
    """Move ``tmp`` to ``path``; an old ``path`` survives as ``.NAME.prev`` until then."""
    prev = _prev(path)
    if path.exists():
        if prev.exists():
            shutil.rmtree(prev)
        os.replace(path, prev)
    os.replace(tmp, path)
    if prev.exists():
        shutil.rmtree(prev, ignore_errors=True)


def finish_interrupted_save(directory: str | os.PathLike[str]) -> Path | None:
    """Finish a replacement of checkpoint ``directory`` that a kill interrupted.

    A kill between [`save_checkpoint`][seqdata.checkpoint.save_checkpoint]'s two renames
    leaves only ``.NAME.prev`` (the last good checkpoint): it is renamed back to ``NAME``.
    A kill just after them leaves both: the new ``NAME`` stays and ``.NAME.prev`` goes.
    Temporary ``.NAME.*.tmp`` directories of unfinished writes are removed. Nothing else
    is touched.

    Returns:
        The complete checkpoint at ``directory`` afterwards, or ``None`` if there is none.

    Raises:
        CheckpointError: the disk refused the rename.
    """
    path = Path(directory)
    prev = _prev(path)
    try:
        for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
            if tmp.is_dir() and tmp != prev:
                shutil.rmtree(tmp, ignore_errors=True)
        if _is_checkpoint(prev) and not path.exists():
            os.replace(prev, path)
        elif _is_checkpoint(prev) and _is_checkpoint(path):
            shutil.rmtree(prev)
    except OSError as err:
        raise CheckpointError(
            f"could not restore the interrupted save from {prev.name} ({err}); rename "
            f"{prev.name} to {path.name} yourself",
            path=path,
        ) from err
    return path if _is_checkpoint(path) else None


def save_checkpoint(
    directory: str | os.PathLike[str],
    model: nn.Module,
    *,
    pipeline: Any = None,
    optimizer: torch.optim.Optimizer | None = None,
    extra: Any = None,
    train_state: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint directory atomically (a temp dir, then a rename).

    Args:
        directory: the checkpoint directory; an existing checkpoint there is replaced (kept
            as ``.NAME.prev`` until the new one is in place), any other existing non-empty
            directory is refused.
        model: one of seqdata's models (it has a ``config`` dataclass).
        pipeline: a ``PairPipeline`` / ``TextPipeline`` (stored via ``to_dict()``, with its
            [`pipeline_fingerprint`][seqdata.checkpoint.pipeline_fingerprint]), or ``None``.
        optimizer: also save its state, for resuming training.
        extra: anything JSON-serialisable (epoch, metrics, hyperparameters …).
        train_state: the rest of a resumable run (tensors, numbers, lists, dicts), saved as
            ``train_state.pt`` and read back by
            [`load_train_state`][seqdata.checkpoint.load_train_state].

    Returns:
        The checkpoint directory.

    Raises:
        CheckpointError: the directory holds something else, or the disk refused the write
            (full, read-only); the message names the last good checkpoint, which is intact.
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
        "pipeline_fingerprint": pipeline_fingerprint(pipeline),
        "extra": extra,
        "files": {},
    }
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        usual_permissions(tmp)  # not mkdtemp's 0700: a checkpoint is shared like any file
        _write_files(tmp, model, optimizer, train_state, config)
        _swap_in(tmp, path)
    except OSError as err:
        raise _save_error(path, err) from err
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def _save_error(path: Path, err: OSError) -> CheckpointError:
    why = "the disk is full" if err.errno == errno.ENOSPC else f"the write failed ({err})"
    good = [p for p in (path, _prev(path)) if _is_checkpoint(p)]
    where = (
        f"the last good checkpoint is {good[0]}" if good else "there is no earlier checkpoint here"
    )
    return CheckpointError(
        f"could not be saved: {why}; {where} — free some space (or choose another --out) "
        "and resume from it",
        path=path,
    )


def _is_checkpoint(path: Path) -> bool:
    return (path / "config.json").is_file()


def checkpoint_path(directory: str | os.PathLike[str], *, prefer: str = "best") -> Path:
    """The checkpoint directory ``directory`` names, resolving a run folder and leftovers.

    - a checkpoint directory (it has ``config.json``): itself;
    - a run folder of ``seqdata train``: its ``best/`` (``prefer="best"``) or ``last/``
      checkpoint, falling back to the other;
    - a checkpoint whose replacement was interrupted: the ``.NAME.prev`` left beside it.

    Anything else is returned unchanged (loading it then names what is missing).
    """
    path = Path(directory)
    if _is_checkpoint(path):
        return path
    names = ("best", "last") if prefer == "best" else ("last", "best")
    for name in names:
        found = checkpoint_path(path / name) if (path / name).exists() else None
        if found is not None and _is_checkpoint(found):
            return found
        if _is_checkpoint(_prev(path / name)):
            return _prev(path / name)
    if _is_checkpoint(_prev(path)):
        return _prev(path)
    return path


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_dir():
        raise CheckpointError("no checkpoint directory here; check the path", path=path)
    cfg_path = path / "config.json"
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        kind = describe_folder(path)
        if kind is not None:
            raise CheckpointError(
                f"is {kind}, not a checkpoint; pass the folder `seqdata train --out` wrote",
                path=path,
            ) from err
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


def load_checkpoint(
    directory: str | os.PathLike[str], map_location: Any = "cpu", *, pipeline: Any = None
) -> Checkpoint:
    """Rebuild the model (in eval mode) and the pipeline from a checkpoint directory.

    Args:
        directory: written by [`save_checkpoint`][seqdata.checkpoint.save_checkpoint], or a
            run folder of ``seqdata train`` (its best checkpoint is loaded).
        map_location: where to load the weights (``torch.load``'s argument).
        pipeline: the pipeline you mean to use the model with; refused when its
            vocabularies differ from the ones the model was trained with.

    Returns:
        ``Checkpoint(model, pipeline, extra)``; ``pipeline`` is ``None`` if none was saved.

    Raises:
        CheckpointError: naming the missing, corrupted or mismatched file, or a ``pipeline``
            with other vocabularies.
    """
    path = checkpoint_path(directory)
    config = _read_config(path)
    check_pipeline(config, pipeline, path)
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


def check_pipeline(config: Mapping[str, Any], pipeline: Any, path: Path) -> None:
    """Refuse ``pipeline`` when its fingerprint differs from the one in ``config``."""
    if pipeline is None:
        return
    saved = config.get("pipeline_fingerprint")
    if saved is None and config.get("pipeline") is not None:
        entry = config["pipeline"]
        saved = pipeline_fingerprint(_rebuild_pipeline(entry, path / "config.json"))
    given = pipeline_fingerprint(pipeline)
    if saved is not None and saved != given:
        raise CheckpointError(
            "was trained with other vocabularies than the pipeline given (fingerprint "
            f"{saved[:12]} vs {given[:12] if given else None}); use the checkpoint's own "
            "pipeline, or prepare the data with it",
            path=path,
        )


def load_train_state(
    directory: str | os.PathLike[str], map_location: Any = "cpu"
) -> dict[str, Any]:
    """``train_state.pt`` of a checkpoint: what a run needs to resume exactly.

    Raises:
        CheckpointError: the checkpoint has none (it was saved without ``train_state``), or
            the file is missing or corrupted.
    """
    path = checkpoint_path(directory, prefer="last")
    files = _read_config(path).get("files") or {}
    if "train_state.pt" not in files:
        raise CheckpointError(
            "has no training state to resume from (it was not written by a resumable run); "
            "start a new run, or load only its weights",
            path=path,
        )
    state = _load_weights(path / "train_state.pt", files["train_state.pt"], map_location)
    if not isinstance(state, dict):
        raise CheckpointError("is not a training state", path=path / "train_state.pt")
    return state


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
    path = checkpoint_path(directory, prefer="last")
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
