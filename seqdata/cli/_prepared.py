"""Folders written by ``seqdata prepare``: their file names, and loading one back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seqdata.cli import UsageError
from seqdata.errors import SeqdataError

__all__ = ["PIPELINE_FILE", "PREPARED", "SUMMARY_FILE", "load_prepared", "pipeline_from_file"]

PREPARED = "prepare"
PIPELINE_FILE = "pipeline.json"
SUMMARY_FILE = "summary.json"


def load_prepared(directory: str, pipeline: Any = None) -> tuple[Any, Any, dict[str, Any]]:
    """``(corpus, pipeline, summary)`` of a ``seqdata prepare`` folder."""
    from seqdata import ParallelCorpus
    from seqdata.outputs import finish_interrupted_merge

    root = Path(directory)
    finish_interrupted_merge(root)  # a killed `prepare --overwrite` left it halfway
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder; run `seqdata prepare ... --out {root}` first")
    path = root / PIPELINE_FILE
    if not path.is_file():
        raise UsageError(
            f"{root} is not a folder written by `seqdata prepare` (no {PIPELINE_FILE}); run "
            "seqdata prepare first"
        )
    if pipeline is None:
        pipeline = pipeline_from_file(path)
    corpus = ParallelCorpus.load(root, pipeline=pipeline)
    try:
        summary = json.loads((root / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        summary = {}
    return corpus, pipeline, summary


def pipeline_from_file(path: Path) -> Any:
    """The pipeline saved in ``pipeline.json`` (its class name and its ``to_dict()``)."""
    from seqdata import PairPipeline, TextPipeline

    classes: dict[str, Any] = {"PairPipeline": PairPipeline, "TextPipeline": TextPipeline}
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        cls = classes[entry["class"]]
        return cls.from_dict(entry["state"])
    except SeqdataError as err:
        if err.path is not None:
            raise
        raise type(err)(err.message, path=path) from None
    except Exception as err:
        raise UsageError(f"{path} cannot be read as a seqdata pipeline ({err!r})") from err
