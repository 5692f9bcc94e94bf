"""Where the CLI's model and batches live: ``--device auto``, model moves, pinned loaders.

The CPU tests would have failed on the code before the CLI took ``auto`` and moved models:
the demo's batching comparison (``time_epoch``) left the model where it was, so on a GPU its
batches met CPU weights. Here a spy on ``nn.Module.to`` records where each function puts the
model. The ``cuda`` tests run the commands on a GPU (they skip without one).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from seqdata import BucketBatchSampler, PairPipeline, ParallelCorpus, make_tokenizer
from seqdata.cli import build_parser, main
from seqdata.cli._batching import loader, time_epoch
from seqdata.cli.demo import DemoConfig, run_demo
from seqdata.models import Seq2Seq
from seqdata.tasks.dates import dates
from seqdata.translation import translate

SMALL = ["--hidden-size", "8", "--embed-dim", "8", "--quiet"]


@pytest.fixture
def moves(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every ``Module.to(device)`` call made on a Seq2Seq: ``(class name, device)``."""
    calls: list[tuple[str, Any]] = []
    original = nn.Module.to

    def spy(self: nn.Module, *args: Any, **kwargs: Any) -> nn.Module:
        if isinstance(self, Seq2Seq):
            calls.append((type(self).__name__, args[0] if args else kwargs.get("device")))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(nn.Module, "to", spy)
    return calls


def _tiny() -> tuple[Seq2Seq, PairPipeline, ParallelCorpus]:
    frame = dates(train=40, valid=0, test=1, seed=3)
    pipeline = PairPipeline.build(
        frame["src"], frame["tgt"], src_tokenizer=make_tokenizer("char"), min_freq=1
    )
    corpus = ParallelCorpus.from_frame(frame, pipeline)
    vocab = pipeline.tgt_vocab
    model = Seq2Seq.build(
        len(pipeline.src_vocab),
        len(vocab),
        embed_dim=8,
        hidden_size=8,
        pad_id=vocab.pad_id,
        sos_id=vocab.sos_id,
        eos_id=vocab.eos_id,
    )
    return model, pipeline, corpus


def test_device_defaults_to_auto_on_every_command_that_runs_a_model() -> None:
    parser = build_parser()
    for argv in (["demo"], ["train", "d", "--out", "o"], ["translate", "--checkpoint", "c"]):
        assert parser.parse_args(argv).device == "auto", argv
    assert parser.parse_args(["prepare", "--out", "o"]).__dict__.get("device") is None
    assert DemoConfig().device == "auto"


def test_time_epoch_moves_the_model_to_the_given_device(moves: list[tuple[str, Any]]) -> None:
    model, pipeline, corpus = _tiny()
    sampler = BucketBatchSampler(corpus.src_lengths, corpus.tgt_lengths, batch_size=16)
    seconds, loss = time_epoch(
        model, corpus, sampler, pad_id=pipeline.tgt_vocab.pad_id, device="cpu"
    )
    assert moves and {torch.device(d) for _, d in moves} == {torch.device("cpu")}
    assert seconds > 0 and loss > 0


def test_translate_moves_the_model_to_the_given_device(moves: list[tuple[str, Any]]) -> None:
    model, pipeline, _ = _tiny()
    hyps = translate(model, pipeline, ["3 mars 2021", "", "May 11, 1997"], max_len=5, device="cpu")
    assert [torch.device(d) for _, d in moves] == [torch.device("cpu")]
    assert len(hyps) == 3 and hyps[1] == ""
    assert all(len(h) <= 5 for h in hyps)  # at most 5 characters: max_len is honoured


def test_loaders_pin_memory_only_when_feeding_a_gpu() -> None:
    corpus = _tiny()[2]
    sampler = BucketBatchSampler(corpus.src_lengths, corpus.tgt_lengths, batch_size=16)
    assert loader(corpus, sampler, device=torch.device("cuda")).pin_memory is True
    assert loader(corpus, sampler, device=torch.device("cpu")).pin_memory is False
    assert loader(corpus, sampler).pin_memory is False


def test_auto_is_the_cpu_without_a_gpu(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "demo"
    config = DemoConfig(
        size=30, epochs=1, hidden_size=8, embed_dim=8, batch_size=16, out=str(out),
        compare=False, progress=False,
    )  # fmt: skip
    report = run_demo(config, echo=lambda line: None)
    assert report["config"]["device"] == "auto"
    assert report["machine"]["device"] == "cpu" and report["machine"]["gpu"] is None
    text = (out / "report.txt").read_text(encoding="utf-8")
    assert "parameters, on cpu" in text


# --------------------------------------------------------------------------- on a GPU


@pytest.mark.cuda
def test_demo_on_cuda_with_the_batching_comparison(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    argv = ["demo", "--size", "200", "--epochs", "1", "--batch-size", "32", "--device", "cuda"]
    assert main([*argv, "--out", str(out), *SMALL]) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["machine"]["device"] == "cuda"
    assert set(report["batching"]) == {"random", "bucket", "token-budget"}
    assert all(row["seconds_per_epoch"] > 0 for row in report["batching"].values())
    assert "parameters, on cuda" in (out / "report.txt").read_text(encoding="utf-8")


@pytest.mark.cuda
def test_prepare_train_translate_on_cuda(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = dates(train=300, valid=0, test=1, seed=5)
    (tmp_path / "a.src").write_text("\n".join(df["src"]) + "\n", encoding="utf-8")
    (tmp_path / "a.tgt").write_text("\n".join(df["tgt"]) + "\n", encoding="utf-8")
    data, ckpt = tmp_path / "data", tmp_path / "ckpt"
    prepare = ["prepare", "--src", str(tmp_path / "a.src"), "--tgt", str(tmp_path / "a.tgt")]
    assert main([*prepare, "--tokenizer", "char", "--out", str(data), "--quiet"]) == 0
    train = ["train", str(data), "--epochs", "1", "--valid", "20", "--device", "cuda"]
    assert main([*train, "--out", str(ckpt), *SMALL]) == 0
    assert "epoch on cuda" in capsys.readouterr().out
    source = tmp_path / "in.txt"
    source.write_text("3 mars 2021\n\nMay 11, 1997\n", encoding="utf-8")
    assert main(["translate", "--checkpoint", str(ckpt), "--device", "cuda", str(source)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
