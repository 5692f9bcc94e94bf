"""Output folders that appear only once they are complete, and never clobber the user's files.

Every folder the ``seqdata`` command writes (a prepared corpus, a run, a demo report) is
built in a hidden temporary folder next to its destination (``.OUT.xxxx.tmp``) and moved into
place at the end, with a small ``seqdata-output.json`` marker that lists what was written.
The rules, in one place ([`output_dir`][seqdata.outputs.output_dir]):

* a destination that does not exist (or is an empty folder) is simply created;
* an existing one is refused unless ``overwrite=True``; then only the entries the earlier
  run of the same command wrote (the marker's list, or ``owned``) are replaced or removed —
  any other file the user put there (``NOTES.txt``) is kept; a folder the command did not
  write is never overwritten;
* a run killed at any point leaves the destination as it was (old output intact, or absent);
  its temporary folder carries the owner's pid and is removed by the next run once that
  process is gone; ``SIGTERM`` is handled like ``Ctrl-C`` (the temporary folder is removed).
  The one exception is the instant a finished run moves its files over an earlier output:
  killed there, it leaves its plan behind, and the next run (or a loader of the folder)
  completes it ([`finish_interrupted_merge`][seqdata.outputs.finish_interrupted_merge]), so
  the folder is again the old output or the new one, whole;
* the folder gets the user's usual permissions (the umask), not ``mkdtemp``'s ``0700``;
* ``--out .`` (or any folder holding the working directory) is refused before anything is
  written; a folder that cannot be written is reported under the user's path.

>>> with tempfile.TemporaryDirectory() as tmp:
...     with output_dir(f"{tmp}/out", marker="example") as work:
...         _ = (work / "a.txt").write_text("done")
...     sorted(p.name for p in Path(tmp, "out").iterdir())
['a.txt', 'seqdata-output.json']
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from seqdata.errors import ConfigError, OutputError

__all__ = [
    "MARKER_FILE",
    "check_output_dir",
    "clean_stale",
    "describe_folder",
    "finish_interrupted_merge",
    "output_dir",
    "usual_permissions",
    "write_file_atomic",
    "written_by",
]

MARKER_FILE = "seqdata-output.json"
"""Written last into every folder the CLI produces: which command wrote it, and what."""
OWNER_FILE = ".seqdata-owner.json"
"""Inside a temporary folder while it is being written: the writing process."""
MERGE_FILE = ".seqdata-merge.json"
"""Inside the ``.old`` folder of a run replacing an earlier output: what it moves."""


def written_by(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The marker of a folder the ``seqdata`` command wrote (``kind``, ``files``), else None."""
    try:
        info = json.loads((Path(path) / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def write_file_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place: a
    reader (or a run killed halfway) sees the old file or the new one, never a part."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        usual_permissions(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def describe_folder(path: str | os.PathLike[str]) -> str | None:
    """What a folder is, in words, when seqdata wrote it: for messages such as "… is a
    prepared corpus, not a checkpoint". None for a folder seqdata does not recognise.

    >>> describe_folder(tempfile.gettempdir()) is None
    True
    """
    root = Path(path)
    kind = (written_by(root) or {}).get("kind")
    if kind == "prepare" or (
        (root / "manifest.json").is_file() and (root / "pipeline.json").is_file()
    ):
        return "a prepared corpus (written by `seqdata prepare`)"
    if (root / "manifest.json").is_file():
        return "a saved seqdata corpus store (ParallelCorpus.save)"
    if isinstance(kind, str):
        return f"a `seqdata {kind}` output"
    return None


def _check_not_cwd(out: Path) -> None:
    here, target = Path.cwd().resolve(), out.resolve()
    if target == here or target in here.parents or out.name in ("", ".", ".."):
        raise ConfigError(
            f"--out should name a new folder, but got --out {out}, which is (or holds) the "
            "current directory; pass a new folder name, e.g. --out data"
        )


def check_output_dir(path: str | os.PathLike[str], marker: str, *, overwrite: bool = False) -> Path:
    """Refuse ``path`` unless it is absent or empty, or ``overwrite`` and an earlier output
    of the same command (its marker says ``marker``). Call it *before* the long work."""
    out = Path(path)
    _check_not_cwd(out)
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return out
    info = written_by(out) if out.is_dir() else None
    ours = info is not None and info.get("kind") == marker
    if not ours:
        raise ConfigError(
            f"--out {out} exists and is not an earlier `seqdata {marker}` output; refusing to "
            "overwrite it — choose a new folder or remove it"
        )
    if not overwrite:
        raise ConfigError(
            f"--out {out} already holds a `seqdata {marker}` output; refusing to overwrite "
            "it — pass --overwrite to replace it (only the files seqdata wrote are replaced; "
            "files you added are kept), or choose a new folder"
        )
    return out


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return True  # unknown: leave it alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary folders of earlier runs for ``path`` whose process is gone.

    Only folders named like ours (``.NAME.*.tmp`` / ``.NAME.*.old``) that hold our owner
    file, written on this host by a process that no longer runs, are removed. A merge such a
    process left halfway is finished first (`finish_interrupted_merge`).
    """
    out = Path(path)
    removed: list[Path] = []
    if not out.parent.is_dir():
        return removed
    finish_interrupted_merge(out)  # its temporary folders hold the new output: not stale
    for candidate in out.parent.glob(f".{out.name}.*"):
        if candidate.suffix not in (".tmp", ".old") or not candidate.is_dir():
            continue
        try:
            owner = json.loads((candidate / OWNER_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(owner, dict) or owner.get("host") != socket.gethostname():
            continue
        if not _alive(owner.get("pid")):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(candidate)
    return removed


def usual_permissions(path: str | os.PathLike[str]) -> None:
    """Give a file or folder made by ``tempfile`` (``0600`` / ``0700``) the permissions the
    user's umask gives anything else (typically ``0644`` / ``0755``)."""
    mask = os.umask(0o022)
    os.umask(mask)
    os.chmod(path, (0o777 if Path(path).is_dir() else 0o666) & ~mask)


def _new_temp(out: Path, suffix: str) -> Path:
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=suffix, dir=out.parent))
    except OSError as err:
        raise OutputError(f"cannot create the output folder ({err.strerror})", path=out) from None
    usual_permissions(tmp)
    owner = {"pid": os.getpid(), "host": socket.gethostname()}
    (tmp / OWNER_FILE).write_text(json.dumps(owner) + "\n", encoding="utf-8")
    return tmp


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Inside: ``SIGTERM`` raises ``KeyboardInterrupt``, so cleanup runs as for ``Ctrl-C``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _merge(tmp: Path, out: Path, owned: set[str]) -> None:
    """Move ``tmp``'s entries into the existing ``out``: replace or drop what an earlier run
    wrote (``owned``), keep every other entry; the marker goes last.

    The plan is written first (``MERGE_FILE`` in the ``.old`` folder that receives the
    replaced entries), so a run killed halfway is finished by the next reader or writer
    ([`finish_interrupted_merge`][seqdata.outputs.finish_interrupted_merge])."""
    trash = _new_temp(out, ".old")
    new = {p.name for p in tmp.iterdir()} - {OWNER_FILE, MARKER_FILE}
    plan = {"tmp": tmp.name, "new": sorted(new), "owned": sorted(owned)}
    (trash / MERGE_FILE).write_text(json.dumps(plan) + "\n", encoding="utf-8")
    _apply_merge(tmp, trash, out, new, owned)
    shutil.rmtree(trash, ignore_errors=True)


def _apply_merge(tmp: Path, trash: Path, out: Path, new: set[str], owned: set[str]) -> None:
    """The moves of `_merge`; each step is skipped when done, so it can be run again."""
    for name in sorted(owned | new):
        if name in (MARKER_FILE, OWNER_FILE, MERGE_FILE) or "/" in name:
            continue
        target, fresh = out / name, tmp / name
        if name in new and not (fresh.exists() or fresh.is_symlink()):
            continue  # moved in already
        present = target.exists() or target.is_symlink()
        if name in owned and present and not (trash / name).exists():
            os.replace(target, trash / name)
        if name in new:
            os.replace(fresh, target)
    if (tmp / MARKER_FILE).exists():
        os.replace(tmp / MARKER_FILE, out / MARKER_FILE)


def finish_interrupted_merge(path: str | os.PathLike[str]) -> bool:
    """Finish replacing the output ``path`` when the run doing it was killed halfway.

    A run that replaces an earlier output (``overwrite``) moves its entries in one by one;
    killed in between, it leaves a mix of old and new files, the plan, and the rest of the
    new entries in its temporary folder. This completes the plan (the new output, whole),
    then removes the temporary folders. Runs still alive, and other hosts' runs, are left
    alone. Called by every writer before it starts and by the loaders of prepared folders.

    Returns:
        True if a merge was finished.

    Raises:
        OutputError: the folder cannot be written; the message says where the new files are.
    """
    out = Path(path)
    finished = False
    if not out.parent.is_dir():
        return finished
    for trash in sorted(out.parent.glob(f".{glob.escape(out.name)}.*.old")):
        try:
            plan = json.loads((trash / MERGE_FILE).read_text(encoding="utf-8"))
            owner = json.loads((trash / OWNER_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not (isinstance(plan, dict) and isinstance(owner, dict)):
            continue
        if owner.get("host") != socket.gethostname() or _alive(owner.get("pid")):
            continue
        tmp = out.parent / Path(str(plan.get("tmp"))).name
        try:
            if tmp.is_dir():
                new, owned = (set(map(str, plan.get(k) or ())) for k in ("new", "owned"))
                _apply_merge(tmp, trash, out, new, owned)
                shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(trash, ignore_errors=True)
        except OSError as err:
            raise OutputError(
                f"a seqdata run that was replacing this folder was killed halfway, and "
                f"finishing it failed ({err.strerror}); its new files are in {tmp}",
                path=out,
            ) from None
        finished = True
    return finished


@contextlib.contextmanager
def output_dir(
    path: str | os.PathLike[str],
    *,
    marker: str,
    overwrite: bool = False,
    owned: Collection[str] = (),
) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; on success its contents become ``path``.

    Args:
        path: the destination folder.
        marker: the command writing it (``"prepare"``, ``"train"``, …), recorded in the marker.
        overwrite: replace an earlier output of the same command (else it is refused).
        owned: names the command writes besides those the earlier marker lists (e.g. the
            names of an older version's files), also replaced when ``overwrite``.

    Raises:
        ConfigError: ``path`` is refused (see the module's rules).
        OutputError: the folder cannot be written (the user's path is named).
    """
    out = check_output_dir(path, marker, overwrite=overwrite)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create the output folder ({err.strerror})", path=out) from None
    clean_stale(out)
    tmp = _new_temp(out, ".tmp")
    try:
        with _sigterm_as_interrupt():
            try:
                yield tmp
            except OSError as err:
                if isinstance(err, OutputError) or err.filename is None:
                    raise
                name = Path(str(err.filename)).name
                raise OutputError(f"cannot write {name} ({err.strerror})", path=out) from None
            files = sorted(p.name for p in tmp.iterdir() if p.name != OWNER_FILE)
            info = {"kind": marker, "format": "seqdata-output", "version": 1, "files": files}
            (tmp / MARKER_FILE).write_text(json.dumps(info) + "\n", encoding="utf-8")
            previous = written_by(out) if out.is_dir() else None
            if previous is None:
                (tmp / OWNER_FILE).unlink()
                if out.is_dir():
                    out.rmdir()  # empty (checked above)
                os.replace(tmp, out)
            else:
                before = previous.get("files")
                names = {str(n) for n in before} if isinstance(before, list) else set()
                _merge(tmp, out, names | set(owned))
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
