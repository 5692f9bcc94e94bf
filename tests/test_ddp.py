"""examples/ddp_train.py under ``torchrun --nproc_per_node=2`` (gloo, CPU), checked on its logs.

Each launch takes a few seconds (two Python processes importing torch, a tiny model); the
uninterrupted run is shared by the tests through a module-scoped fixture.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from seqdata.samplers import BucketBatchSampler

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "ddp_train.py"
sys.path.insert(0, str(SCRIPT.parent))
from ddp_train import reversal_corpus  # noqa: E402

NUM_EXAMPLES, BATCH_SIZE, EPOCHS, SEED = 160, 8, 2, 0
TIMEOUT_S = 120  # a hang (unequal batch counts) fails the test instead of blocking CI


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def torchrun(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={free_port()}",
        str(SCRIPT),
        "--out",
        str(tmp / "ckpt"),
        "--log-dir",
        str(tmp / "log"),
        "--epochs",
        str(EPOCHS),
        "--num-examples",
        str(NUM_EXAMPLES),
        "--batch-size",
        str(BATCH_SIZE),
        "--seed",
        str(SEED),
        "--backend",
        "gloo",
        *args,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    assert proc.returncode == 0, f"torchrun failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def read_log(tmp: Path, rank: int) -> list[dict[str, Any]]:
    lines = (tmp / "log" / f"rank{rank}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("ddp_full")
    proc = torchrun(tmp)
    return tmp, proc.stdout


def test_ranks_split_each_epoch_into_disjoint_equal_shares(full_run):
    tmp, stdout = full_run
    corpus = reversal_corpus(NUM_EXAMPLES, SEED)
    total = len(BucketBatchSampler(corpus.src_lengths, corpus.tgt_lengths, batch_size=BATCH_SIZE))
    assert total % 2 == 0, "pick sizes with an even batch count so the shares can be disjoint"
    logs = [read_log(tmp, r) for r in range(2)]
    for epoch in range(EPOCHS):
        seen = [[r["indices"] for r in log if r["epoch"] == epoch] for log in logs]
        assert len(seen[0]) == len(seen[1]) == total // 2  # equal counts: nobody waits
        flat = [set(i for batch in s for i in batch) for s in seen]
        assert flat[0].isdisjoint(flat[1])
        assert flat[0] | flat[1] == set(range(NUM_EXAMPLES))
        counts = Counter(i for s in seen for batch in s for i in batch)
        assert set(counts.values()) == {1}
        # each rank got exactly the batches its sampler plans for that epoch, in order
        for rank in range(2):
            sampler = BucketBatchSampler(
                corpus.src_lengths,
                corpus.tgt_lengths,
                batch_size=BATCH_SIZE,
                seed=SEED,
                rank=rank,
                world_size=2,
            )
            sampler.set_epoch(epoch)
            assert seen[rank] == list(sampler)
    # set_epoch reshuffles: epoch 1 does not repeat epoch 0's batches in the same order
    assert [r["indices"] for r in logs[0] if r["epoch"] == 0] != [
        r["indices"] for r in logs[0] if r["epoch"] == 1
    ]
    assert "epoch 1:" in stdout


def test_parameters_are_identical_across_ranks_after_every_step(full_run):
    tmp, _ = full_run
    logs = [read_log(tmp, r) for r in range(2)]
    assert [r["step"] for r in logs[0]] == [r["step"] for r in logs[1]]
    assert [r["params"] for r in logs[0]] == [r["params"] for r in logs[1]]
    digests = [r["params"] for r in logs[0]]
    assert len(set(digests)) == len(digests)  # and they do change at every step
    losses = [r["loss"] for r in logs[0]]
    assert sum(losses[-5:]) < sum(losses[:5])  # it learns something


@pytest.mark.slow  # two more torchrun launches (~5-10 s each on 2 CPU cores)
def test_killed_mid_epoch_then_resumed_sees_exactly_the_unseen_examples(full_run, tmp_path):
    ref_dir, _ = full_run
    reference = [read_log(ref_dir, r) for r in range(2)]
    per_epoch = sum(1 for r in reference[0] if r["epoch"] == 0)
    stop = per_epoch + per_epoch // 2  # the middle of epoch 1
    first = torchrun(tmp_path, "--stop-after-steps", str(stop))
    assert f"stopped after step {stop}" in first.stdout
    before = [read_log(tmp_path, r) for r in range(2)]
    assert [len(b) for b in before] == [stop, stop]
    second = torchrun(tmp_path, "--resume")
    assert f"resumed from {tmp_path / 'ckpt'}: epoch 1, step {stop}" in second.stdout
    after = [read_log(tmp_path, r)[stop:] for r in range(2)]
    for rank in range(2):
        seen_before = {i for r in before[rank] if r["epoch"] == 1 for i in r["indices"]}
        seen_after = {i for r in after[rank] if r["epoch"] == 1 for i in r["indices"]}
        share = {i for r in reference[rank] if r["epoch"] == 1 for i in r["indices"]}
        assert seen_before.isdisjoint(seen_after)
        assert seen_before | seen_after == share  # exactly the examples not yet seen
        # the same batches, in the same order, as the run that was never interrupted
        got = [(r["epoch"], r["indices"]) for r in before[rank] + after[rank]]
        assert got == [(r["epoch"], r["indices"]) for r in reference[rank]]
    # model + optimizer restored: training goes on bit-identically
    assert [r["params"] for r in before[0] + after[0]] == [r["params"] for r in reference[0]]
