"""The options of ``seqdata train``, a ``--config`` file under them, and the run folder rule.

Every option can also come from a YAML or JSON file (``--config run.yaml``), keyed by the
option's name (``batch-size`` or ``batch_size``); an option given on the command line
overrides the file, and the file overrides the defaults.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from seqdata.cli import UsageError

__all__ = [
    "OWN_FILES",
    "RECIPES",
    "apply_config",
    "apply_recipe",
    "check_run_folder",
    "track_given",
]


class _Given(argparse.Action):
    """Mixed into an option's action: records that the command line gave it."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None) -> None:
        given = set(getattr(namespace, "_given", set()))
        namespace._given = given | {self.dest}
        super().__call__(parser, namespace, values, option_string)


OWN_FILES = (
    "last",
    "best",
    ".last.prev",
    ".best.prev",
    "metrics.jsonl",
    "curves.png",
    "seqdata-output.json",
    # a checkpoint written by earlier versions straight into --out
    "config.json",
    "model.pt",
    "optimizer.pt",
)
"""What ``seqdata train`` writes into its run folder (and ``--overwrite`` may remove)."""


def track_given(p: argparse.ArgumentParser) -> dict[str, Any]:
    """Make ``p`` record which options the command line gave; returns their defaults by dest.

    The defaults stay in the parser (``parse_args`` shows them as usual); a ``--config``
    file or a resumed run's settings replace only the options that were not given.
    """
    defaults: dict[str, Any] = {}
    for action in p._actions:
        if action.option_strings and action.dest not in ("help", "config"):
            defaults[action.dest] = action.default
            base = type(action)
            action.__class__ = type(f"Given{base.__name__}", (_Given, base), {})
    return defaults


RECIPES: dict[str, dict[str, Any]] = {
    "rnn-attention": {
        "cell": "gru",
        "embed_dim": 256,
        "hidden_size": 512,
        "attention": "additive",
        "input_feed": False,
        "dropout": 0.3,
        "label_smoothing": 0.1,
        "lr": 2e-3,
        "lr_schedule": "plateau",
        "epochs": 15,
        "patience": 3,
        "select": "bleu",
        "max_tokens": "auto",
    },
}
"""Named presets of ``seqdata train --recipe``: option dest → value.

``rnn-attention`` is what standard RNN attention translation systems use (a bidirectional GRU
encoder, as every seqdata encoder is; Bahdanau attention; no input feeding, so training runs
without a per-step loop): embed 256, hidden 512, dropout 0.3 on embeddings and outputs,
label smoothing 0.1, Adam 2e-3 halved when the validation loss stalls, up to 15 epochs with
patience 3, ``best/`` by BLEU, token-budget batches sized for about 256 updates an epoch
(``--max-tokens auto``: 1,024 tokens for a corpus of a few thousand pairs, ~2,048 for
~30,000, at most 4,096). Decode with ``--beam 5``. The learning rate and the batch size were
measured (``benchmarks/bench_recipe.py``): with Adam 1e-3 and 4,096-token batches a corpus
of a few thousand pairs gets too few updates to learn.
"""


def apply_recipe(args: argparse.Namespace, defaults: dict[str, Any]) -> dict[str, Any]:
    """``defaults`` with the values of the recipe ``--recipe`` names (on the command line or
    in the ``--config`` file) laid over them; unchanged when no recipe is named.

    The recipe sits under everything else: the flags, the ``--config`` file and a resumed
    run's saved values all override it.

    >>> ns = argparse.Namespace(recipe="rnn-attention", config=None, _given={"recipe"})
    >>> apply_recipe(ns, {"lr": 1e-2, "recipe": None})["lr"]
    0.002
    """
    given: set[str] = getattr(args, "_given", set())
    name = getattr(args, "recipe", None) if "recipe" in given else None
    file = getattr(args, "config", None)
    if name is None and file:
        name = _read_config(file).get("recipe")
    if name is None:
        return dict(defaults)
    if name not in RECIPES:
        raise UsageError(f"--recipe should be one of {sorted(RECIPES)}, but got --recipe {name}")
    return {**defaults, **RECIPES[name], "recipe": name}


def _read_config(path: str) -> dict[str, Any]:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"--config {file} cannot be read ({err.strerror or err})") from err
    try:
        if file.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as err:  # yaml and json raise their own types
        raise UsageError(f"--config {file} is not valid YAML/JSON ({err})") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"--config {file} should hold a mapping of option: value")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def _convert(action: argparse.Action, value: Any, file: str) -> Any:
    name = action.option_strings[-1]
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if not isinstance(value, bool):
            raise UsageError(f"--config {file}: {name} should be true or false, got {value!r}")
        return value
    if value is None:
        return None
    if action.type is not None:
        try:
            value = action.type(str(value))  # type: ignore[operator]
        except (argparse.ArgumentTypeError, ValueError) as err:
            raise UsageError(f"--config {file}: {name} {err}") from err
    if action.choices is not None and value not in action.choices:
        raise UsageError(
            f"--config {file}: {name} should be one of {sorted(action.choices)}, got {value!r}"
        )
    return value


def apply_config(
    args: argparse.Namespace, p: argparse.ArgumentParser, defaults: dict[str, Any]
) -> argparse.Namespace:
    """Every option the command line did not give: from ``--config`` if it names it, else
    from ``defaults`` (the parser's, or a resumed run's)."""
    file = getattr(args, "config", None)
    config = _read_config(file) if file else {}
    actions = {a.dest: a for a in p._actions if a.dest in defaults}
    unknown = sorted(set(config) - set(actions))
    if unknown:
        raise UsageError(
            f"--config {file} has unknown options {unknown}; use the names of "
            "`seqdata train --help` (e.g. batch_size: 64)"
        )
    given: set[str] = getattr(args, "_given", set())
    for dest, default in defaults.items():
        if dest not in given:
            value = _convert(actions[dest], config[dest], str(file)) if dest in config else default
            setattr(args, dest, value)
    return args


def check_run_folder(out: Path, *, overwrite: bool, resume: bool) -> None:
    """Refuse a non-empty ``--out`` unless ``--resume`` or ``--overwrite``; clear our own files.

    ``--overwrite`` removes only what ``seqdata train`` writes (``OWN_FILES``); anything else
    in the folder stays where it is.
    """
    import shutil

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; choose a folder")
    if not out.exists() or not any(out.iterdir()) or resume:
        return
    if not overwrite:
        raise UsageError(
            f"--out {out} exists and is not empty; pass --resume to continue the run in it, "
            "--overwrite to start a new run there (only the files seqdata train writes are "
            "replaced), or choose a new folder"
        )
    temporary = [p.name for p in out.glob(".*.tmp") if p.name.startswith((".last.", ".best."))]
    for name in (*OWN_FILES, *temporary):  # and the temporary folders of a killed save
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
