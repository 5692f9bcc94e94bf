"""``seqdata train`` killed with SIGKILL at random moments, then resumed: the run ends with
the same weights as one never interrupted, and the previous output is never damaged."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from seqdata.cli import main

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ["--epochs", "3", "--save-every", "3", "--batch-size", "16", "--threads", "1"]
MODEL = ["--embed-dim", "8", "--hidden-size", "16", "--dropout", "0.1", "--bleu-pairs", "10"]
MODEL += ["--teacher-forcing", "0.7", "--valid", "20", "--lr-schedule", "warmup"]
MODEL += ["--warmup-steps", "5", "--quiet"]


def command(prepared: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "seqdata", "train", str(prepared), "--out", str(out)]


def env() -> dict[str, str]:
    e = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), e.get("PYTHONPATH")]))
    return e


def train(prepared: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [*command(prepared, out), *TRAIN, *MODEL, *extra]
    proc = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "last" / "model.pt", weights_only=True)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from seqdata.tasks.dates import dates

    root = tmp_path_factory.mktemp("faults")
    df = dates(train=300, valid=0, test=1, seed=3)
    (root / "a.src").write_text("\n".join(df["src"]) + "\n", encoding="utf-8")
    (root / "a.tgt").write_text("\n".join(df["tgt"]) + "\n", encoding="utf-8")
    argv = ["prepare", "--src", str(root / "a.src"), "--tgt", str(root / "a.tgt")]
    assert main([*argv, "--tokenizer", "char", "--out", str(root / "data"), "--quiet"]) == 0
    return root / "data"


@pytest.fixture(scope="module")
def uninterrupted(prepared: Path) -> dict[str, torch.Tensor]:
    out = prepared.parent / "full"
    train(prepared, out)
    return weights(out)


def saved(out: Path) -> bool:
    """A checkpoint is on disk: ``last/``, or ``.last.prev`` when the kill hit a swap."""
    from seqdata.checkpoint import checkpoint_path

    return (checkpoint_path(out, prefer="last") / "config.json").is_file()


@pytest.mark.parametrize("seed", [0, 1])
def test_killed_and_resumed_ends_with_the_same_weights(
    prepared: Path, uninterrupted: dict[str, torch.Tensor], tmp_path: Path, seed: int
) -> None:
    out = tmp_path / "run"
    cmd = [*command(prepared, out), *TRAIN, *MODEL]
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not saved(out) and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.02)
        time.sleep(random.Random(seed).uniform(0.0, 1.5))  # somewhere later in the run
    finally:
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
    assert saved(out), f"killed before the first save: {err.decode()[-2000:]}"
    if seed == 1 and (out / "last").is_dir() and not (out / ".last.prev").exists():
        # the one moment a kill leaves no last/: between its two renames (checkpoint._swap_in)
        (out / "last").rename(out / ".last.prev")
    # whatever moment the kill hit, there is a complete checkpoint to resume from
    from seqdata.checkpoint import checkpoint_path, load_train_state

    state = load_train_state(checkpoint_path(out, prefer="last"))
    assert state["step"] >= 3
    resumed = train(prepared, out, "--resume")
    if state["epoch"] < 3:
        assert "resuming at epoch" in resumed.stdout
    got = weights(out)
    assert got.keys() == uninterrupted.keys()
    for key in got:
        assert torch.equal(got[key], uninterrupted[key]), key
    assert not [p.name for p in out.iterdir() if p.name.startswith(".last.")]  # prev, tmp


def test_the_same_run_twice_is_bitwise_equal(
    prepared: Path, uninterrupted: dict[str, torch.Tensor], tmp_path: Path
) -> None:
    train(prepared, tmp_path / "again")
    again = weights(tmp_path / "again")
    assert all(torch.equal(again[k], uninterrupted[k]) for k in again)
