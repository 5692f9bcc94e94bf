"""A training loop that fits on a screen, evaluation, exact match, and checkpoints.

Any model with ``loss(batch) -> Tensor`` (mean over its targets) trains here; a
``num_targets(batch) -> int`` method, when present, weights the per-batch means into exact
per-target averages. All of seqdata's reference models have both.

A checkpoint is a directory that alone is enough to translate:

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
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from seqdata.collate import Batch
from seqdata.errors import CheckpointError, ConfigError
from seqdata.models import CharLM, Seq2Seq, SequenceClassifier, SequenceTagger
from seqdata.models._cells import check_positive

__all__ = [
    "Checkpoint",
    "EpochStats",
    "evaluate",
    "exact_match",
    "fit",
    "load_checkpoint",
    "load_optimizer_state",
    "save_checkpoint",
    "train_epoch",
]

FORMAT = "seqdata.checkpoint"
VERSION = 1
MODEL_CLASSES: dict[str, Any] = {
    cls.__name__: cls for cls in (CharLM, Seq2Seq, SequenceClassifier, SequenceTagger)
}


@dataclass(frozen=True)
class EpochStats:
    """What :func:`fit` records per epoch (``valid_loss`` is ``None`` without a valid loader)."""

    epoch: int
    train_loss: float
    valid_loss: float | None
    seconds: float
    samples_per_s: float
    tokens_per_s: float


def _device_of(model: nn.Module, device: torch.device | str | None) -> torch.device:
    return torch.device(device) if device is not None else next(model.parameters()).device


def _targets(model: nn.Module, batch: Batch) -> int:
    count = getattr(model, "num_targets", None)
    return int(count(batch)) if callable(count) else len(batch)


def _tokens(batch: Batch) -> int:
    tgt = 0 if batch.tgt_lengths is None else int(batch.tgt_lengths.sum())
    return int(batch.src_lengths.sum()) + tgt


def _num_samples(loader: Iterable[Batch]) -> int | None:
    try:
        return len(loader.dataset)  # type: ignore[attr-defined]
    except (AttributeError, TypeError):
        return None


def train_epoch(
    model: nn.Module,
    loader: Iterable[Batch],
    optimizer: torch.optim.Optimizer,
    *,
    device: torch.device | str | None = None,
    clip_norm: float | None = 1.0,
    progress: bool = False,
    epoch: int = 0,
) -> EpochStats:
    """One pass over ``loader``: loss, backward, clip the gradient norm, step.

    Returns the epoch's stats (``valid_loss=None``); the loss is the mean over all targets.
    """
    model.train()
    dev = _device_of(model, device)
    total, targets, samples, tokens = 0.0, 0, 0, 0
    start = time.perf_counter()
    bar = tqdm(
        total=_num_samples(loader),
        unit="sample",
        desc=f"epoch {epoch}",
        disable=not progress,
        dynamic_ncols=True,
    )
    with bar:
        for step, batch in enumerate(loader):
            batch = batch.to(dev, non_blocking=True)
            loss = model.loss(batch)  # type: ignore[operator]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
            optimizer.step()
            n = _targets(model, batch)
            total += float(loss.detach()) * n
            targets += n
            samples += len(batch)
            tokens += _tokens(batch)
            bar.update(len(batch))
            if progress and step % 10 == 0:
                bar.set_postfix(loss=f"{total / max(targets, 1):.3f}")
    seconds = time.perf_counter() - start
    return EpochStats(
        epoch=epoch,
        train_loss=total / max(targets, 1),
        valid_loss=None,
        seconds=seconds,
        samples_per_s=samples / seconds,
        tokens_per_s=tokens / seconds,
    )


@torch.no_grad()
def evaluate(
    model: nn.Module, loader: Iterable[Batch], *, device: torch.device | str | None = None
) -> float:
    """Mean loss over every target of ``loader``, in eval mode (teacher forcing for Seq2Seq)."""
    was_training = model.training
    model.eval()
    dev = _device_of(model, device)
    total, targets = 0.0, 0
    for batch in loader:
        batch = batch.to(dev)
        n = _targets(model, batch)
        total += float(model.loss(batch)) * n  # type: ignore[operator]
        targets += n
    model.train(was_training)
    return total / max(targets, 1)


@torch.no_grad()
def exact_match(
    model: Seq2Seq,
    loader: Iterable[Batch],
    max_len: int | None = None,
    *,
    device: torch.device | str | None = None,
) -> float:
    """Fraction of sequences whose greedy decode equals the reference target.

    The reference is ``tgt[1 : tgt_length]`` (the tokens after SOS, EOS included); a decode
    matches when it has the same length and the same ids up to and including its EOS.

    Args:
        model: a :class:`~seqdata.models.Seq2Seq`.
        loader: batches with targets.
        max_len: decoding budget; default: each batch's ``Lt - 1`` (enough for its references).
        device: where to decode (default: the model's device).
    """
    was_training = model.training
    model.eval()
    dev = _device_of(model, device)
    pad = model.config.decoder.pad_id
    hits, count = 0, 0
    for batch in loader:
        tgt, tgt_lengths = model._check_target(batch)
        ref = tgt[:, 1:].cpu()  # (B, Lt-1)
        ref_len = tgt_lengths - 1  # (B,) EOS included
        budget = max_len if max_len is not None else ref.shape[1]
        ids, lengths = model.greedy_decode(batch.src.to(dev), batch.src_lengths, budget)
        ids = ids.cpu()  # (B, T)
        width = max(ids.shape[1], ref.shape[1])
        ids = nn.functional.pad(ids, (0, width - ids.shape[1]), value=pad)  # (B, W)
        ref = nn.functional.pad(ref, (0, width - ref.shape[1]), value=pad)  # (B, W)
        real = torch.arange(width)[None, :] < ref_len[:, None]  # (B, W)
        same = ((ids == ref) | ~real).all(dim=1) & (lengths == ref_len)  # (B,)
        hits += int(same.sum())
        count += len(same)
    model.train(was_training)
    return hits / max(count, 1)


def fit(
    model: nn.Module,
    train_loader: Iterable[Batch],
    *,
    epochs: int,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    device: torch.device | str | None = None,
    clip_norm: float | None = 1.0,
    valid_loader: Iterable[Batch] | None = None,
    progress: bool = False,
    on_epoch_end: Callable[[EpochStats], bool | None] | None = None,
) -> list[EpochStats]:
    """Train for ``epochs`` epochs; returns one :class:`EpochStats` per epoch run.

    Args:
        model: a model with ``loss(batch)``; moved to ``device``.
        train_loader: an iterable of :class:`~seqdata.collate.Batch` (e.g. a ``DataLoader``
            with a seqdata batch sampler and ``PadCollate``); re-iterated every epoch, and its
            ``batch_sampler.set_epoch(e)`` is called when it has one.
        epochs: number of passes.
        optimizer: default ``Adam(model.parameters(), lr=lr)``.
        lr: learning rate of the default optimizer.
        device: where to train (default: where the model is).
        clip_norm: max global gradient norm (``None``: no clipping).
        valid_loader: evaluated after every epoch into ``valid_loss``.
        progress: show a tqdm bar with samples/s and the running loss.
        on_epoch_end: called with each epoch's stats; returning ``True`` stops training.
    """
    check_positive("epochs", epochs)
    if clip_norm is not None and not clip_norm > 0:
        raise ConfigError(f"clip_norm should be > 0 or None, but got clip_norm={clip_norm!r}")
    dev = _device_of(model, device)
    model.to(dev)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history: list[EpochStats] = []
    for epoch in range(epochs):
        sampler = getattr(train_loader, "batch_sampler", None)
        if callable(getattr(sampler, "set_epoch", None)):
            sampler.set_epoch(epoch)  # type: ignore[union-attr]
        stats = train_epoch(
            model,
            train_loader,
            optimizer,
            device=dev,
            clip_norm=clip_norm,
            progress=progress,
            epoch=epoch,
        )
        if valid_loader is not None:
            stats = EpochStats(**{**asdict(stats), "valid_loss": evaluate(model, valid_loader)})
        history.append(stats)
        if on_epoch_end is not None and on_epoch_end(stats):
            break
    return history


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
