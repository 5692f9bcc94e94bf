"""Every model option of ``seqdata train`` reaches the model and round-trips through the
checkpoint (its config and the recorded hyperparameters), and a resumed run rebuilds it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqdata.checkpoint import load_checkpoint
from seqdata.cli import main
from seqdata.tasks.dates import dates

RECIPE = [
    "--attention", "additive", "--input-feed", "--dropout", "0.1", "--embed-dropout", "0.2",
    "--output-dropout", "0.3", "--label-smoothing", "0.1", "--tie-embeddings",
    "--embed-dim", "16", "--hidden-size", "16", "--teacher-forcing", "0.9",
    "--lr-schedule", "plateau", "--clip-norm", "2.5",
]  # fmt: skip


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("flags")
    df = dates(train=160, valid=0, test=1, seed=3)
    (root / "s.txt").write_text("\n".join(df["src"]) + "\n", encoding="utf-8")
    (root / "t.txt").write_text("\n".join(df["tgt"]) + "\n", encoding="utf-8")
    argv = ["prepare", "--src", str(root / "s.txt"), "--tgt", str(root / "t.txt")]
    assert main([*argv, "--tokenizer", "char", "--out", str(root / "data"), "--quiet"]) == 0
    return root / "data"


def test_recipe_flags_reach_the_model_and_round_trip(prepared: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["train", str(prepared), "--out", str(out), "--epochs", "1", "--valid", "16"]
    assert main([*argv, "--bleu-pairs", "0", "--device", "cpu", *RECIPE]) == 0
    model, _, extra = load_checkpoint(out / "last")
    dec = model.config.decoder
    assert dec.attention == "additive" and dec.input_feed and dec.tie_embeddings
    assert (dec.embed_dropout, dec.output_dropout) == (0.2, 0.3)
    assert model.config.label_smoothing == 0.1 and model.config.teacher_forcing_ratio == 0.9
    assert model.decoder.out.weight is model.decoder.embedding.weight  # tied, not copied
    hp = extra["hyperparameters"]
    assert hp["label_smoothing"] == 0.1 and hp["input_feed"] and hp["tie_embeddings"]
    assert hp["lr_schedule"] == "plateau" and hp["clip_norm"] == 2.5
    saved = json.loads((out / "last" / "config.json").read_text(encoding="utf-8"))
    assert saved["model"]["config"]["label_smoothing"] == 0.1


def test_impossible_recipes_are_one_line_errors(
    prepared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["train", str(prepared), "--epochs", "1", "--bleu-pairs", "0", "--device", "cpu"]
    tied = [*base, "--out", str(tmp_path / "a"), "--tie-embeddings", "--embed-dim", "8"]
    assert main([*tied, "--hidden-size", "16"]) == 2
    assert "tie_embeddings" in capsys.readouterr().err
    fed = [*base, "--out", str(tmp_path / "b"), "--input-feed", "--attention", "none"]
    assert main(fed) == 2
    assert "input_feed" in capsys.readouterr().err


@pytest.mark.parametrize("select", ["loss", "bleu"])
def test_best_is_the_epoch_with_the_best_validation_score(
    prepared: Path, tmp_path: Path, select: str
) -> None:
    out = tmp_path / "run"
    argv = ["train", str(prepared), "--out", str(out), "--epochs", "4", "--valid", "16"]
    argv += ["--select", select, "--bleu-pairs", "16", "--device", "cpu", "--lr", "0.02"]
    assert main([*argv, "--embed-dim", "8", "--hidden-size", "16"]) == 0
    lines = (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    epochs = [r for r in map(json.loads, lines) if r.get("kind") == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 4]
    if select == "loss":
        best = min(epochs, key=lambda e: e["valid_loss"])  # the first of equal minima
    else:
        best = max(epochs, key=lambda e: e["bleu"])
    saved = json.loads((out / "best" / "config.json").read_text(encoding="utf-8"))
    assert saved["extra"]["epoch"] == best["epoch"]
    last = json.loads((out / "last" / "config.json").read_text(encoding="utf-8"))
    assert last["extra"]["epoch"] == 4
