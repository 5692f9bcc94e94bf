"""``seqdata lm``: train / evaluate / generate a character or word LM from the command line."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from seqdata.checkpoint import load_checkpoint
from seqdata.cli import main

TEXT = Path(__file__).resolve().parents[1] / "docs" / "tutorials" / "data" / "shakespeare.txt"
SMALL = ["--embed-dim", "16", "--hidden-size", "32", "--batch-size", "8", "--bptt", "16"]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_char_lm_trains_reports_bits_and_writes_a_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = tmp_path / "ckpt"
    status, out, err = _run(
        capsys, "lm", "train", str(TEXT), "--out", str(ckpt), "--epochs", "2",
        "--max-steps", "4", "--device", "cpu", *SMALL,
    )  # fmt: skip
    assert status == 0, err
    epochs = re.findall(r"epoch (\d)  train ([\d.]+) bits/char  valid ([\d.]+) bits/char", out)
    assert [e[0] for e in epochs] == ["1", "2"], out
    # bits/char of a model barely trained on 60 symbols: below log2(60) ≈ 5.9 plus a margin
    assert all(0 < float(b) < 8 for _, t, v in epochs for b in (t, v))
    assert "7,476 characters" in out
    model, _, extra = load_checkpoint(ckpt)
    assert type(model).__name__ == "CharLM" and extra["epoch"] == 2 and extra["level"] == "char"
    assert (ckpt / "optimizer.pt").is_file()
    valid_bits = float(epochs[-1][2])
    assert math.isclose(extra["valid_loss"] / math.log(2), valid_bits, abs_tol=1e-3)

    status, out, _ = _run(
        capsys, "lm", "generate", "--checkpoint", str(ckpt), "--prefix", "ROMEO:",
        "--length", "40", "--seed", "1", "--device", "cpu",
    )  # fmt: skip
    assert status == 0 and out.startswith("ROMEO:") and len(out.rstrip("\n")) >= 30
    again = _run(
        capsys, "lm", "generate", "--checkpoint", str(ckpt), "--prefix", "ROMEO:",
        "--length", "40", "--seed", "1", "--device", "cpu",
    )  # fmt: skip
    assert again[1] == out  # a seed gives the same sample

    status, out, _ = _run(capsys, "lm", "evaluate", "--checkpoint", str(ckpt), str(TEXT))
    assert status == 0 and re.search(r"7,476 tokens \(0 unknown\): [\d.]+ bits/char", out)


def test_word_lm_reports_perplexity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = tmp_path / "words"
    status, out, err = _run(
        capsys, "lm", "train", str(TEXT), "--out", str(ckpt), "--level", "word",
        "--epochs", "1", "--max-steps", "3", *SMALL,
    )  # fmt: skip
    assert status == 0, err
    ppl = re.search(r"train perplexity ([\d.]+)  valid perplexity ([\d.]+)", out)
    assert ppl is not None, out
    vocab = json.loads((ckpt / "config.json").read_text())["extra"]["vocab"]
    assert 2 < float(ppl[1]) <= 2 * len(vocab["tokens"])  # barely trained: near uniform
    status, out, _ = _run(
        capsys, "lm", "generate", "--checkpoint", str(ckpt), "--prefix", "the",
        "--length", "5", "--temperature", "0",
    )  # fmt: skip
    assert status == 0 and out.startswith("the")


def test_existing_output_is_refused_without_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "mine"
    out_dir.mkdir()
    (out_dir / "NOTES.txt").write_text("keep me")
    status, _, err = _run(capsys, "lm", "train", str(TEXT), "--out", str(out_dir), *SMALL)
    assert status == 2 and "--overwrite" in err
    assert (out_dir / "NOTES.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["lm", "train", "missing.txt", "--out", "x"], "no such file"),
        (["lm", "evaluate", "--checkpoint", "nope", str(TEXT)], "nope"),
        (["lm", "train", str(TEXT), "--out", "x", "--valid-fraction", "1.5"], "fraction"),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    argv: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        status = int(exit_.code or 0)
    err = capsys.readouterr().err
    assert status == 2 and message in err and "Traceback" not in err
