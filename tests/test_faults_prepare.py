"""``kill -9`` during ``seqdata prepare``: the output is the old one or the new one, whole.

A real process is killed at a random moment (several seeds) while it re-prepares over an
earlier output with ``--overwrite``. Afterwards the folder must load with the full checksum
check as exactly the old corpus or exactly the new one, the user's own file in it must be
untouched, and the next run must leave no temporary folder behind.
"""

from __future__ import annotations

import os
import random
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
