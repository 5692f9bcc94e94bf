"""``seqdata train --recipe rnn-attention``: the preset resolves to its documented values, the
flags, a ``--config`` file and a resumed run override it, and the checkpoint records it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from seqdata import ParallelCorpus
from seqdata.checkpoint import load_checkpoint
from seqdata.cli import UsageError, build_parser, main
from seqdata.cli import train as train_cli
from seqdata.cli._batching import auto_max_tokens
from seqdata.cli._train_options import RECIPES, apply_config, apply_recipe
from seqdata.tasks.dates import dates

DOCUMENTED = {
    "cell": "gru",
    "embed_dim": 256,
    "hidden_size": 512,
    "attention": "additive",
    "input_feed": False,
    "dropout": 0.3,
    "label_smoothing": 0.1,
    "lr": 2e-3,
    "lr_schedule": "plateau",
    "epochs": 15,
    "patience": 3,
    "select": "bleu",
    "max_tokens": "auto",
}
"""What the brief, ``--help`` and docs/tutorials/08-translation-recipe.md promise."""


def _resolve(*argv: str) -> argparse.Namespace:
    """Parse ``seqdata train ARGV`` and settle the options as ``seqdata train`` does."""
    args = build_parser().parse_args(["train", "DIR", "--out", "OUT", *argv])
    parser, defaults = train_cli._PARSER["parser"], train_cli._PARSER["defaults"]
    return apply_config(args, parser, apply_recipe(args, defaults))


def test_the_preset_resolves_to_the_documented_values() -> None:
    assert RECIPES["rnn-attention"] == DOCUMENTED
    args = _resolve("--recipe", "rnn-attention")
    assert {k: getattr(args, k) for k in DOCUMENTED} == DOCUMENTED
    assert args.recipe == "rnn-attention"
    # what the preset does not name keeps the plain defaults
    plain = _resolve()
    assert (args.teacher_forcing, args.clip_norm) == (plain.teacher_forcing, plain.clip_norm)
    assert plain.recipe is None and plain.attention == "general" and plain.lr == 2e-3


def test_help_lists_every_value_of_the_preset() -> None:
    action = next(a for a in train_cli._PARSER["parser"]._actions if a.dest == "recipe")
    text = " ".join((action.help or "").split())
    for dest, value in DOCUMENTED.items():
        flag = "--" + dest.replace("_", "-")
        if isinstance(value, bool):
            assert (flag in text) is value, flag  # a false switch is not given
        else:
            assert (
                f"{flag} {value:g}" in text
                if isinstance(value, float)
                else (f"{flag} {value}" in text)
            ), flag


def test_flags_and_config_override_the_preset(tmp_path: Path) -> None:
    args = _resolve("--recipe", "rnn-attention", "--lr", "0.005", "--embed-dim", "32")
    assert (args.lr, args.embed_dim) == (0.005, 32)
    assert (args.hidden_size, args.attention) == (512, "additive")
    config = tmp_path / "run.yaml"
    config.write_text("recipe: rnn-attention\nlabel-smoothing: 0.2\nlr: 0.004\n", "utf-8")
    args = _resolve("--config", str(config), "--lr", "0.003")
    assert (args.recipe, args.label_smoothing, args.lr) == ("rnn-attention", 0.2, 0.003)
    assert args.max_tokens == "auto" and args.patience == 3
    config.write_text("max_tokens: 2048\n", "utf-8")
    assert _resolve("--config", str(config)).max_tokens == 2048
    config.write_text("max-tokens: auto\n", "utf-8")
    assert _resolve("--config", str(config)).max_tokens == "auto"
    config.write_text("max-tokens: most\n", "utf-8")
    with pytest.raises(UsageError, match="--max-tokens should be a positive integer or auto"):
        _resolve("--config", str(config))


def test_an_unknown_recipe_in_a_config_file_names_the_choices(tmp_path: Path) -> None:
    config = tmp_path / "run.json"
    config.write_text('{"recipe": "transformer"}', "utf-8")
    with pytest.raises(UsageError, match=r"rnn-attention.*transformer"):
        _resolve("--config", str(config))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("recipe")
    df = dates(train=120, valid=0, test=1, seed=5)
    (root / "s.txt").write_text("\n".join(df["src"]) + "\n", encoding="utf-8")
    (root / "t.txt").write_text("\n".join(df["tgt"]) + "\n", encoding="utf-8")
    argv = ["prepare", "--src", str(root / "s.txt"), "--tgt", str(root / "t.txt")]
    assert main([*argv, "--tokenizer", "char", "--out", str(root / "data"), "--quiet"]) == 0
    return root / "data"


TINY = ["--embed-dim", "8", "--hidden-size", "8", "--max-tokens", "400", "--bleu-pairs", "4"]


def test_the_automatic_budget_is_resolved_on_the_training_set_and_recorded_as_auto(
    prepared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = ["train", str(prepared), "--out", str(out), "--valid", "12", "--device", "cpu"]
    tiny = ["--embed-dim", "8", "--hidden-size", "8", "--bleu-pairs", "0", "--quiet"]
    assert main([*argv, "--recipe", "rnn-attention", "--epochs", "1", *tiny]) == 0
    printed = capsys.readouterr().out
    corpus = ParallelCorpus.load(prepared)
    assert auto_max_tokens(corpus.src_lengths, corpus.tgt_lengths) == 1024  # the floor
    assert "batches an epoch of <= 1,024 tokens a side" in printed
    assert "(best/ selected by loss, as --bleu-pairs 0 computes no BLEU)" in printed
    _, _, extra = load_checkpoint(out / "last")
    assert extra["hyperparameters"]["max_tokens"] == "auto"
    lines = (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    (epoch,) = [e for e in map(json.loads, lines) if e.get("kind") == "epoch"]
    assert epoch["seconds"] > 0 and epoch["valid_seconds"] > 0  # training, then validation


def test_the_automatic_budget_aims_at_256_updates_within_its_bounds() -> None:
    for pairs, length in ((100, 10), (8_000, 16), (30_000, 17), (40_000, 25), (10**6, 30)):
        lengths = np.full(pairs, length)
        budget = auto_max_tokens(lengths, lengths - 1)
        assert 1024 <= budget <= 4096 and budget % 256 == 0
        if 1024 < budget < 4096:  # not clipped: within half a step of 256 updates an epoch
            assert abs(pairs * length / budget - 256) <= 256 * 128 / budget
    assert auto_max_tokens(np.full(100, 3), np.full(100, 5_000)) == 2048  # the larger side


def test_the_checkpoint_records_the_recipe_and_resume_keeps_it(
    prepared: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    argv = ["train", str(prepared), "--out", str(out), "--valid", "12", "--device", "cpu"]
    assert main([*argv, "--recipe", "rnn-attention", "--epochs", "1", "--lr", "5e-4", *TINY]) == 0
    model, _, extra = load_checkpoint(out / "last")
    hp = extra["hyperparameters"]
    assert hp["recipe"] == "rnn-attention"
    expected = {**DOCUMENTED, "epochs": 1, "lr": 5e-4, "embed_dim": 8, "hidden_size": 8}
    assert {k: hp[k] for k in DOCUMENTED} == {**expected, "max_tokens": 400}
    dec = model.config.decoder
    assert dec.attention == "additive" and not dec.input_feed
    assert dec.dropout == 0.3 and (dec.embed_dropout, dec.output_dropout) == (None, None)
    assert model.decoder.embed_dropout.p == 0.3  # embeddings and outputs follow --dropout
    assert model.config.label_smoothing == 0.1
    assert (out / "best").is_dir() and extra["select"] == "bleu"
    # a resumed run keeps the values it was trained with, not the preset's
    assert main([*argv, "--resume", "--epochs", "2", "--quiet"]) == 0
    _, _, extra = load_checkpoint(out / "last")
    hp = extra["hyperparameters"]
    assert (hp["recipe"], hp["lr"], hp["max_tokens"], hp["epochs"]) == (
        "rnn-attention",
        5e-4,
        400,
        2,
    )
    assert extra["epoch"] == 2
