"""The GPU path, checked on a machine without a GPU.

- A training step reads no value back from the device: it is run on PyTorch's ``meta``
  device, whose tensors have no data, so any ``.item()``, ``.tolist()``, ``aminmax`` read,
  boolean mask of device values or ``bool(tensor)`` fails there (each is a host–device
  synchronisation on a GPU). Lengths stay on the CPU, as ``Batch.to`` keeps them.
- Every loop that takes ``device`` moves the model there (the demo's batching comparison
  crashed on CUDA because ``train_epoch`` moved the batch but not the model).
- ``resolve_device`` and the DDP rank → device rule, with the GPU count monkeypatched.

The same checks on a real GPU (``torch.cuda.set_sync_debug_mode("error")``) are at the end,
marked ``cuda``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

import seqdata.distributed as distributed
from seqdata.collate import Batch
from seqdata.device import resolve_device
from seqdata.errors import ConfigError
from seqdata.lm import BPTTBatcher
from seqdata.models import CharLM, Seq2Seq, SequenceClassifier, SequenceTagger
from seqdata.train import (
    evaluate,
    evaluate_bptt,
    exact_match,
    fit,
    train_bptt,
    train_epoch,
    train_step,
)

ROOT = Path(__file__).resolve().parents[1]


def _batch(n: int = 5, seed: int = 0) -> Batch:
    """A sorted (B, L) batch of reversal pairs: ``[SOS] reversed [EOS]`` targets."""
    g = torch.Generator().manual_seed(seed)
    lengths = sorted(torch.randint(2, 8, (n,), generator=g).tolist(), reverse=True)
    src = [torch.randint(4, 14, (k,), generator=g) for k in lengths]
    tgt = [torch.cat([torch.tensor([2]), s.flip(0), torch.tensor([3])]) for s in src]
    return Batch(
        src=pad_sequence(src, batch_first=True),
        src_lengths=torch.tensor(lengths),
        tgt=pad_sequence(tgt, batch_first=True),
        tgt_lengths=torch.tensor([len(t) for t in tgt]),
        labels=torch.tensor([int(s[0]) % 3 for s in src]),
    )


MODELS = {
    "seq2seq-gru-general": lambda: Seq2Seq.build(14, 14, embed_dim=8, hidden_size=12),
    "seq2seq-lstm-dot": lambda: Seq2Seq.build(
        14, 14, embed_dim=8, hidden_size=12, cell="lstm", attention="dot", bidirectional=False
    ),
    "seq2seq-rnn-no-attention-tf0.5": lambda: Seq2Seq.build(
        14, 14, embed_dim=8, hidden_size=12, cell="rnn", attention=None, teacher_forcing_ratio=0.5
    ),
    "seq2seq-recipe-additive-feed-smooth-tied": lambda: Seq2Seq.build(
        14,
        14,
        embed_dim=12,
        hidden_size=12,
        attention="additive",
        input_feed=True,
        label_smoothing=0.1,
        dropout=0.2,
        tie_embeddings=True,
    ),
    "tagger": lambda: SequenceTagger(14, 8, 12, num_tags=14),
    "classifier": lambda: SequenceClassifier(14, 8, 12, num_classes=3),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_training_step_reads_nothing_back_from_the_device(name: str) -> None:
    model = MODELS[name]().to("meta")
    batch = _batch()
    if name == "tagger":
        batch = Batch(batch.src, batch.src_lengths, tgt=batch.src)
    batch = batch.to("meta", non_blocking=True)
    assert batch.src.is_meta and batch.src_lengths.device.type == "cpu"
    for optimizer in (torch.optim.Adam(model.parameters()), torch.optim.SGD(model.parameters())):
        loss = train_step(model, batch, optimizer)
        assert loss.is_meta and loss.shape == ()


def test_a_bptt_step_reads_nothing_back_from_the_device() -> None:
    lm = CharLM(vocab_size=6, embed_dim=4, hidden_size=8).to("meta")
    batcher = BPTTBatcher(list(range(6)) * 10, batch_size=2, bptt_len=5)
    x, y = next(iter(batcher))
    logits, _ = lm(x.to("meta"), None)
    loss = nn.functional.cross_entropy(logits.reshape(-1, 6), y.to("meta").reshape(-1))
    loss.backward()
    assert logits.is_meta and loss.is_meta


class _Spy:
    """Records the device of every ``Module.to`` call on the model under test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, model: nn.Module) -> None:
        self.devices: list[torch.device] = []
        original = nn.Module.to
        spy = self

        def to(module: nn.Module, *args, **kwargs):  # type: ignore[no-untyped-def]
            if module is model:
                spy.devices.append(torch.device(args[0] if args else kwargs["device"]))
            return original(module, *args, **kwargs)

        monkeypatch.setattr(nn.Module, "to", to)


LOOPS = {
    "train_epoch": lambda m, b: train_epoch(m, [b], torch.optim.SGD(m.parameters()), device="cpu"),
    "evaluate": lambda m, b: evaluate(m, [b], device="cpu"),
    "exact_match": lambda m, b: exact_match(m, [b], device="cpu"),
    "fit": lambda m, b: fit(m, [b], epochs=1, device="cpu"),
}


@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_every_loop_that_takes_a_device_moves_the_model_there(
    loop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = MODELS["seq2seq-gru-general"]()
    spy = _Spy(monkeypatch, model)
    LOOPS[loop](model, _batch())
    assert torch.device("cpu") in spy.devices, f"{loop} did not move the model to its device"


@pytest.mark.parametrize("loop", ["train_bptt", "evaluate_bptt"])
def test_the_bptt_loops_move_the_model_too(loop: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lm = CharLM(vocab_size=6, embed_dim=4, hidden_size=8)
    spy = _Spy(monkeypatch, lm)
    batcher = BPTTBatcher(list(range(6)) * 10, batch_size=2, bptt_len=5)
    if loop == "train_bptt":
        train_bptt(lm, batcher, torch.optim.SGD(lm.parameters(), lr=0.1), device="cpu")
    else:
        evaluate_bptt(lm, batcher, device="cpu")
    assert spy.devices == [torch.device("cpu")]


# --------------------------------------------------------------------------- devices


def test_auto_means_cuda_when_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


@pytest.mark.parametrize(
    ("name", "gpus", "message"),
    [
        ("gpu", 0, r"should be 'auto', 'cpu', 'cuda' or 'cuda:N', but got device='gpu'"),
        ("cuda", 0, r"torch.cuda.is_available\(\) is False .* use --device cpu"),
        ("cuda:3", 1, r"this machine has 1 GPU\(s\): use cuda:0 .. cuda:0"),
    ],
)
def test_a_device_that_is_not_there_is_a_clear_error(
    name: str, gpus: int, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    with pytest.raises(ConfigError, match=message):
        resolve_device(name)


# --------------------------------------------------------------------------- DDP rank → device


@pytest.mark.parametrize(
    ("ranks", "gpus", "backend", "device"),
    [
        (2, 0, "gloo", "cpu"),
        (2, 1, "gloo", "cpu"),  # more ranks than GPUs: never cuda:1 on a one-GPU machine
        (2, 2, "nccl", "cuda:1"),
        (1, 1, "nccl", "cuda:0"),
    ],
)
def test_nccl_only_when_every_rank_has_its_own_gpu(
    ranks: int, gpus: int, backend: str, device: str
) -> None:
    local_rank = ranks - 1
    got, dev, notice = distributed.pick_backend(
        None,
        local_rank=local_rank,
        local_world_size=ranks,
        cuda_available=gpus > 0,
        device_count=gpus,
    )
    assert (got, str(dev)) == (backend, device)
    assert (notice is not None) == (0 < gpus < ranks)


def test_nccl_asked_for_without_enough_gpus_says_how_to_run() -> None:
    with pytest.raises(ConfigError, match=r"--nproc_per_node=1 or use --backend gloo"):
        distributed.pick_backend(
            "nccl", local_rank=1, local_world_size=2, cuda_available=True, device_count=1
        )


def test_init_distributed_falls_back_to_gloo_with_a_notice(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two ranks on a one-GPU machine: rank 0 joins with gloo on the CPU, no set_device."""
    joined: dict[str, object] = {}
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: joined.setdefault("set_device", d))
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(
        distributed.dist, "init_process_group", lambda backend, timeout: joined.update(b=backend)
    )
    monkeypatch.setattr(distributed.dist, "get_rank", lambda: 0)
    monkeypatch.setattr(distributed.dist, "get_world_size", lambda: 2)
    info = distributed.init_distributed()
    assert joined == {"b": "gloo"}
    assert info.device == torch.device("cpu") and info.world_size == 2
    assert "2 ranks on this machine but 1 GPU(s): using gloo" in capsys.readouterr().err


# --------------------------------------------------------------------------- on a real GPU

cuda = pytest.mark.cuda


@cuda
@pytest.mark.parametrize("name", sorted(MODELS))
def test_cuda_training_step_does_not_synchronise(name: str) -> None:
    model = MODELS[name]().cuda()
    batch = _batch()
    if name == "tagger":
        batch = Batch(batch.src, batch.src_lengths, tgt=batch.src)
    batch = batch.pin_memory()
    optimizer = torch.optim.Adam(model.parameters())
    train_step(model, batch.to("cuda", non_blocking=True), optimizer)  # warm-up (lazy init)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        loss = train_step(model, batch.to("cuda", non_blocking=True), optimizer)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert loss.device.type == "cuda" and torch.isfinite(loss).item()


@cuda
def test_cuda_pinned_batches_move_without_blocking() -> None:
    batch = _batch().pin_memory()
    assert batch.src.is_pinned() and batch.src_lengths.is_pinned()
    moved = batch.to("cuda", non_blocking=True)
    assert moved.src.is_cuda and moved.tgt is not None and moved.tgt.is_cuda
    assert moved.src_lengths.device.type == "cpu"  # packing wants CPU lengths
    assert torch.equal(moved.src.cpu(), batch.src)


@cuda
def test_cuda_fit_puts_a_cpu_model_on_the_gpu() -> None:
    model = MODELS["seq2seq-gru-general"]()
    loader = torch.utils.data.DataLoader(
        [_batch(seed=s) for s in range(4)], batch_size=None, pin_memory=True
    )
    history = fit(model, loader, epochs=2, device="cuda")
    assert next(model.parameters()).is_cuda and history[-1].train_loss < history[0].train_loss
    assert 0.0 <= exact_match(model, loader, device="cuda") <= 1.0


@cuda
def test_cuda_single_process_distinfo_points_at_the_gpu() -> None:
    info = distributed.init_distributed()
    assert info.world_size == 1 and info.device.type == "cuda"


@cuda
def test_cuda_ddp_one_process_per_gpu(tmp_path: Path) -> None:
    """``torchrun --nproc_per_node=<GPUs>``: nccl, every rank on its own GPU, in sync."""
    gpus = torch.cuda.device_count()
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={gpus}",
        str(ROOT / "examples" / "ddp_train.py"),
        "--out",
        str(tmp_path / "run"),
        "--epochs",
        "1",
        "--num-examples",
        "256",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "run" / "config.json").is_file()
