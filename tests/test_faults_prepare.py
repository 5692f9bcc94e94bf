"""``kill -9`` during ``seqdata prepare``: the output is the old one or the new one, whole.

A real process is killed at a random moment (several seeds) while it re-prepares over an
earlier output with ``--overwrite``. Afterwards the folder must load with the full checksum
check as exactly the old corpus or exactly the new one, the user's own file in it must be
untouched, and the next run must leave no temporary folder behind.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from seqdata.cli import main
from seqdata.corpus import ParallelCorpus

ROOT = Path(__file__).resolve().parents[1]
WORDS = ["the", "a", "dog", "cat", "ran", "saw", "small", "big", "house", "tree", "river", "stone"]


def write_corpus(folder: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    lines = [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 12)))) for _ in range(2 * n)]
    src, tgt = folder / "c.src", folder / "c.tgt"
    src.write_text("\n".join(lines[:n]) + "\n", encoding="utf-8")
    tgt.write_text("\n".join(lines[n:]) + "\n", encoding="utf-8")
    return src, tgt


def snapshot(folder: Path) -> tuple[list[int], list[int]]:
    corpus = ParallelCorpus.load(folder, verify="full")
    return corpus.src.values.tolist(), corpus.tgt_lengths.tolist()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("faults")
    src, tgt = write_corpus(base, 20000)
    return base, src, tgt


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kill_during_prepare_leaves_old_or_new_output(prepared, tmp_path, seed, capsys):
    _, src, tgt = prepared
    out = tmp_path / "data"
    assert main(["prepare", "--quiet", "--src", str(src), "--tgt", str(tgt), "--out", str(out),
                 "--max-len", "4"]) == 0  # fmt: skip
    capsys.readouterr()
    (out / "NOTES.txt").write_text("my notes", encoding="utf-8")
    old = snapshot(out)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "seqdata", "prepare", "--quiet", "--src", str(src), "--tgt",
           str(tgt), "--out", str(out), "--overwrite"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # wait until it writes (its hidden temporary folder appears), then kill it a random
    # moment later: before, during or after the move into place
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".data.*")) and proc.poll() is None:
        assert time.monotonic() < deadline, "prepare never started writing"
        time.sleep(0.005)
    time.sleep(random.Random(seed).uniform(0.0, 0.4))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    now = snapshot(out)  # loads whole and verified, whatever the moment
    if now != old:  # the new output: the untruncated corpus
        assert max(now[1]) > 4
    assert (out / "NOTES.txt").read_text(encoding="utf-8") == "my notes"
    assert main(["prepare", "--quiet", "--src", str(src), "--tgt", str(tgt), "--out", str(out),
                 "--overwrite"]) == 0  # fmt: skip
    capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no stale temp folders
    assert max(snapshot(out)[1]) > 4


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs in the merge (no cleanup either)."""


def test_a_merge_killed_after_any_move_is_finished_by_the_next_reader(
    prepared, tmp_path, monkeypatch, capsys
):
    from seqdata import outputs

    _, src, tgt = prepared
    old, new = tmp_path / "old", tmp_path / "new"
    args = ["prepare", "--quiet", "--src", str(src), "--tgt", str(tgt)]
    assert main([*args, "--out", str(old), "--max-len", "4"]) == 0
    assert main([*args, "--out", str(new)]) == 0
    capsys.readouterr()
    (old / "NOTES.txt").write_text("my notes", encoding="utf-8")
    owned = set(outputs.written_by(old)["files"])
    real_replace = os.replace
    moves = 0
    while True:  # kill after 0, 1, 2, ... moves, until the merge runs through
        out = tmp_path / f"run{moves}" / "data"
        shutil.copytree(old, out)
        work = outputs._new_temp(out, ".tmp")
        for entry in new.iterdir():
            (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, work / entry.name)
        left = [moves]

        def replace(a, b, left=left):
            if left[0] == 0:
                raise Killed
            left[0] -= 1
            real_replace(a, b)

        monkeypatch.setattr(outputs.os, "replace", replace)
        try:
            outputs._merge(work, out, owned)
            done = True
        except Killed:
            done = False
        monkeypatch.setattr(outputs.os, "replace", real_replace)
        monkeypatch.setattr(outputs, "_alive", lambda pid: False)  # the process is gone
        assert snapshot(out) == snapshot(new)  # the reader finishes the merge first
        assert (out / "NOTES.txt").read_text(encoding="utf-8") == "my notes"
        if done:
            shutil.rmtree(work)  # output_dir's own cleanup, after a merge that ran through
        assert sorted(p.name for p in out.parent.iterdir()) == ["data"]
        assert outputs.written_by(out) == outputs.written_by(new)
        monkeypatch.undo()
        if done:
            break
        moves += 1
    entries = [p.name for p in new.iterdir()]  # each moved in, the marker last
    assert moves >= len(entries)  # so every move was a kill point once


def test_a_merge_killed_halfway_is_finished_by_the_next_writer(prepared, tmp_path, capsys):
    from seqdata import outputs

    _, src, tgt = prepared
    out, new = tmp_path / "data", tmp_path / "new"
    args = ["prepare", "--quiet", "--src", str(src), "--tgt", str(tgt)]
    assert main([*args, "--out", str(out), "--max-len", "4"]) == 0
    assert main([*args, "--out", str(new)]) == 0
    capsys.readouterr()
    # what a run killed after three moves leaves: its plan, and its unmoved entries
    code = (
        "import os, sys\n"
        "from seqdata import outputs\n"
        "out, new = sys.argv[1:3]\n"
        "work = outputs._new_temp(outputs.Path(out), '.tmp')\n"
        "import shutil\n"
        "for e in outputs.Path(new).iterdir():\n"
        "    (shutil.copytree if e.is_dir() else shutil.copy2)(e, work / e.name)\n"
        "left = [3]\n"
        "real = os.replace\n"
        "def replace(a, b):\n"
        "    if left[0] == 0: os._exit(9)\n"
        "    left[0] -= 1; real(a, b)\n"
        "os.replace = replace\n"
        "outputs._merge(work, outputs.Path(out), set(outputs.written_by(out)['files']))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code, str(out), str(new)], env=env)
    assert proc.returncode == 9
    assert len(list(tmp_path.glob(".data.*"))) == 2  # the plan's .old and the new entries
    assert outputs.clean_stale(out) == []  # what a writer does first: finish, not delete
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "new"]
    assert snapshot(out) == snapshot(new)  # the killed run's output, whole
    assert main([*args, "--out", str(out), "--overwrite", "--max-len", "4"]) == 0
    assert max(snapshot(out)[1]) <= 4
