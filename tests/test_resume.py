"""Exact resume of a training run: stop at any step, restore from the saved files, and end
with the same weights as a run never interrupted (also with DataLoader workers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from seqdata import BucketBatchSampler, PadCollate, ParallelCorpus
from seqdata.checkpoint import (
    load_checkpoint,
    load_optimizer_state,
    load_train_state,
    save_checkpoint,
)
from seqdata.errors import CheckpointError
from seqdata.models import Seq2Seq
from seqdata.trainer import Trainer, TrainingDivergedError

EPOCHS = 3


def corpus() -> ParallelCorpus:
    g = np.random.default_rng(0)
    src = [g.integers(4, 12, g.integers(2, 7)).tolist() for _ in range(120)]
    return ParallelCorpus.from_sequences(src, [[2, *s[::-1], 3] for s in src])


def make(workers: int = 0, seed: int = 1) -> tuple[Seq2Seq, DataLoader, torch.optim.Optimizer]:
    torch.manual_seed(0)
    # dropout and a teacher-forcing coin: the run draws from the global RNG every step
    model = Seq2Seq.build(
        12, 12, embed_dim=8, hidden_size=16, num_layers=2, dropout=0.2, teacher_forcing_ratio=0.5
    )
    data = corpus()
    sampler = BucketBatchSampler(data.src_lengths, data.tgt_lengths, batch_size=16, seed=seed)
    loader = DataLoader(
        data, batch_sampler=sampler, collate_fn=PadCollate(pad_id=0), num_workers=workers
    )
    return model, loader, torch.optim.Adam(model.parameters(), lr=1e-2)


def scheduler(optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.9)


def run_saving(tmp: Path, seed: int = 1) -> tuple[dict[str, torch.Tensor], list[Path]]:
    """An uninterrupted run that saves a checkpoint folder every 4 steps and every epoch."""
    model, loader, opt = make(seed=seed)
    saved: list[Path] = []

    def save(t: Trainer) -> None:
        path = tmp / f"step{t.progress.step:04d}-e{t.progress.epoch}"
        save_checkpoint(path, t.model, optimizer=t.optimizer, train_state=t.state_dict())
        saved.append(path)

    Trainer(
        model, loader, opt, epochs=EPOCHS, scheduler=scheduler(opt), save_every=4, on_save=save
    ).run()
    return model.state_dict(), saved


def resume(path: Path, workers: int = 0, seed: int = 1) -> dict[str, torch.Tensor]:
    model, loader, opt = make(workers, seed)
    model.load_state_dict(load_checkpoint(path).model.state_dict())
    load_optimizer_state(path, opt)
    trainer = Trainer(model, loader, opt, epochs=EPOCHS, scheduler=scheduler(opt))
    trainer.load_state_dict(load_train_state(path))
    trainer.run()
    return model.state_dict()


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("seed", [1, 7])
def test_resuming_from_any_save_ends_with_the_same_weights(tmp_path: Path, seed: int) -> None:
    final, saved = run_saving(tmp_path, seed)
    assert len(saved) >= 6
    # mid-epoch saves and epoch-boundary saves alike
    for path in saved[:: max(1, len(saved) // 5)]:
        assert same_weights(resume(path, seed=seed), final), path.name


def test_resume_with_dataloader_workers_counts_the_steps_taken(tmp_path: Path) -> None:
    final, saved = run_saving(tmp_path)
    mid = next(p for p in saved if load_train_state(p)["position"] > 0)
    assert same_weights(resume(mid, workers=2), final)


def test_a_fresh_run_differs_so_the_check_has_teeth(tmp_path: Path) -> None:
    final, saved = run_saving(tmp_path)
    model, loader, opt = make()
    # weights and optimizer only (a warm start): the sampler and RNG restart, the result differs
    model.load_state_dict(load_checkpoint(saved[2]).model.state_dict())
    load_optimizer_state(saved[2], opt)
    Trainer(model, loader, opt, epochs=EPOCHS - 1, scheduler=scheduler(opt)).run()
    assert not same_weights(model.state_dict(), final)


def test_state_holds_progress_sampler_scheduler_and_rng(tmp_path: Path) -> None:
    _, saved = run_saving(tmp_path)
    state = load_train_state(saved[0])
    assert {"epoch", "step", "position", "sampler", "scheduler", "rng", "meta"} <= set(state)
    assert state["step"] == 4 and state["position"] == 4 and state["epoch"] == 0
    assert state["sampler"]["position"] == 4
    assert set(state["rng"]) == {"python", "numpy", "torch", "cuda"}


def test_a_nan_loss_stops_at_its_step() -> None:
    model, loader, opt = make()
    calls = {"n": 0}
    real = model.loss

    def loss(batch: object) -> torch.Tensor:
        calls["n"] += 1
        value = real(batch)  # type: ignore[arg-type]
        return value * float("nan") if calls["n"] == 3 else value

    model.loss = loss  # type: ignore[method-assign]
    with pytest.raises(TrainingDivergedError, match="at step 3"):
        Trainer(model, loader, opt, epochs=1).run()


def test_a_checkpoint_without_train_state_is_refused_for_resume(tmp_path: Path) -> None:
    model, _, _ = make()
    path = save_checkpoint(tmp_path / "plain", model)
    with pytest.raises(CheckpointError, match="no training state"):
        load_train_state(path)
