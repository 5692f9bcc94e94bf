"""Output folders that appear only once they are complete.

Every folder the ``seqdata`` command writes (a prepared corpus, a demo report) is built in a
temporary folder next to its destination and renamed into place at the end, with a small
``seqdata-output.json`` marker; an existing folder is replaced only when that marker says
the same command wrote it.

>>> with tempfile.TemporaryDirectory() as tmp:
...     with output_dir(f"{tmp}/out", marker="example") as work:
...         _ = (work / "a.txt").write_text("done")
...     sorted(p.name for p in Path(tmp, "out").iterdir())
['a.txt', 'seqdata-output.json']
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from seqdata.errors import ConfigError

__all__ = ["MARKER_FILE", "check_output_dir", "output_dir"]

MARKER_FILE = "seqdata-output.json"
"""Written last into every folder the CLI produces; a folder with it may be replaced."""


def _is_replaceable(path: Path, marker: str) -> bool:
    if not path.exists():
        return True
    if not path.is_dir():
        return False
    if not any(path.iterdir()):
        return True
    try:
        info = json.loads((path / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get("kind") == marker


def check_output_dir(path: str | os.PathLike[str], marker: str) -> Path:
    """Refuse ``path`` unless it is absent, empty, or an earlier output of the same kind.

    Call it *before* the long work, so a bad ``--out`` fails at once.
    """
    out = Path(path)
    if not _is_replaceable(out, marker):
        raise ConfigError(
            f"--out {out} exists and is not an earlier `seqdata {marker}` output; refusing to "
            "overwrite it — choose a new folder or remove it"
        )
    return out


@contextlib.contextmanager
def output_dir(path: str | os.PathLike[str], *, marker: str) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; on success it becomes ``path`` at once.

    On any error the temporary folder is deleted, so ``path`` is either the complete new
    output, the untouched old one, or absent — never half-written. An existing ``path`` is
    replaced only if it is empty or was written by the same command (its
    ``seqdata-output.json`` says ``marker``).
    """
    out = check_output_dir(path, marker)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
        (tmp / MARKER_FILE).write_text(
            json.dumps({"kind": marker, "format": "seqdata-output", "version": 1}) + "\n",
            encoding="utf-8",
        )
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
