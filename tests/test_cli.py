"""The ``seqdata`` command, driven as a user drives it: in a subprocess, on a small corpus.

The happy path (prepare → stats → train one short epoch → translate, and a tiny demo) runs
the real entry point in subprocesses; each bad input checks the exit status (2), the one
line on stderr (no traceback) and that no output folder was left behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from seqdata import ParallelCorpus
from seqdata.cli import main
from seqdata.outputs import MARKER_FILE, output_dir
from seqdata.tasks.dates import dates

# Each of these starts `python -m seqdata` (the model commands import torch: ~2 s a process on
# 2 cores), and the demo trains 4 short epochs: together ~20 s, so they are marked slow (CI
# runs them).
SUBPROCESS = pytest.mark.slow

SMALL_MODEL = ["--hidden-size", "16", "--embed-dim", "8", "--quiet"]


def run(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    # One thread: these models are tiny, and two spinning threads on a busy 2-core machine
    # cost more than they bring.
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "seqdata", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=env,
        timeout=300,
    )


def assert_clean_error(
    result: subprocess.CompletedProcess[str] | tuple[int, str], *needles: str
) -> str:
    """Exit status 2, exactly one line on stderr naming ``needles``, no traceback."""
    code, err = (result.returncode, result.stderr) if not isinstance(result, tuple) else result
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("seqdata ")
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 date pairs as two line-aligned files and as one TSV pairs file."""
    root = tmp_path_factory.mktemp("corpus")
    df = dates(train=400, valid=0, test=1, seed=11)
    (root / "train.src").write_text("\n".join(df["src"]) + "\n", encoding="utf-8")
    (root / "train.tgt").write_text("\n".join(df["tgt"]) + "\n", encoding="utf-8")
    df.select("src", "tgt").write_csv(root / "pairs.tsv", separator="\t")
    return root


@pytest.fixture(scope="module")
def prepared(corpus: Path) -> Path:
    result = run(
        "prepare", "--src", "train.src", "--tgt", "train.tgt", "--tokenizer", "char",
        "--out", "data", "--quiet", cwd=corpus,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "prepared 401 pairs into data/" in result.stdout
    return corpus / "data"


@pytest.fixture(scope="module")
def checkpoint(prepared: Path) -> Path:
    out = prepared.parent / "ckpt"
    result = run(
        "train", str(prepared), "--epochs", "1", "--valid", "20", "--out", str(out), *SMALL_MODEL
    )
    assert result.returncode == 0, result.stderr
    assert "epoch 1/1: train loss" in result.stdout
    assert "training on 381 pairs (20 held out)" in result.stdout
    return out


# --------------------------------------------------------------------------- the happy path


@SUBPROCESS
def test_prepare_writes_a_complete_store(prepared: Path) -> None:
    names = {p.name for p in prepared.iterdir()}
    assert {"manifest.json", "pipeline.json", "summary.json", MARKER_FILE} <= names
    assert {"src.values.npy", "src.offsets.npy", "tgt.values.npy", "tgt.offsets.npy"} <= names
    assert not [p for p in prepared.parent.iterdir() if p.name.startswith(".data.")]  # no temp
    summary = json.loads((prepared / "summary.json").read_text(encoding="utf-8"))
    assert summary["pairs"] == 401
    assert summary["vocab"]["tgt"] == 4 + 11  # specials + digits and "-"
    assert summary["unk_rate"] == {"src": 0.0, "tgt": 0.0}
    assert summary["lengths"]["tgt"]["max"] == 12  # SOS + YYYY-MM-DD + EOS
    manifest = json.loads((prepared / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["num_examples"] == 401


@SUBPROCESS
def test_prepare_pairs_file_with_truncation_and_vocab_limit(corpus: Path) -> None:
    result = run(
        "prepare", "--pairs", "pairs.tsv", "--tokenizer", "char", "--max-len", "8",
        "--vocab-size", "20", "--out", "short", "--quiet", cwd=corpus,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads((corpus / "short" / "summary.json").read_text(encoding="utf-8"))
    src_len = pl.read_csv(corpus / "pairs.tsv", separator="\t")["src"].str.len_chars()
    assert summary["truncated"] == {"src": int((src_len > 8).sum()), "tgt": 401}
    assert summary["lengths"]["src"]["max"] == 8
    assert summary["lengths"]["tgt"]["max"] == 8
    assert summary["vocab"]["src"] == 20
    assert summary["unk_rate"]["src"] > 0  # the rarer characters fell out of the vocabulary
    assert (
        f"truncated to --max-len 8: {int((src_len > 8).sum())} source, 401 target" in result.stdout
    )


@SUBPROCESS
def test_stats_reports_lengths_padding_buckets_and_plot(prepared: Path, tmp_path: Path) -> None:
    plot = tmp_path / "lengths.png"
    result = run("stats", str(prepared), "--batch-size", "32", "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "401 pairs" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("  ")}
    eff = {name: float(rows[name][5]) for name in ("random", "bucket", "token-budget")}
    assert all(0 < v <= 1 for v in eff.values())
    assert eff["bucket"] > eff["random"]
    assert eff["token-budget"] >= eff["bucket"] - 0.05
    assert "buckets (keys (len - min + 1) // width, width 5)" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stats_with_a_token_budget(prepared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", str(prepared), "--max-tokens", "300"]) == 0
    out = capsys.readouterr().out
    assert "token budget 300 per side" in out
    corpus = ParallelCorpus.load(prepared)
    per_example = np.maximum(corpus.src_lengths, corpus.tgt_lengths).mean()
    assert f"random batches of {round(300 / per_example)}" in out  # the same average batch


@SUBPROCESS
def test_train_writes_a_checkpoint_and_translate_reads_files_and_stdin(
    checkpoint: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert {p.name for p in checkpoint.iterdir()} == {
        "best",
        "last",
        "metrics.jsonl",
        "curves.png",
        "seqdata-output.json",
    }
    assert {p.name for p in (checkpoint / "last").iterdir()} == {
        "config.json",
        "model.pt",
        "optimizer.pt",
        "train_state.pt",
    }
    config = json.loads((checkpoint / "last" / "config.json").read_text(encoding="utf-8"))
    assert config["extra"]["history"][0]["epoch"] == 1
    assert {"bleu", "chrf", "valid_ppl"} <= set(config["extra"]["history"][0])
    assert config["extra"]["max_tgt_len"] == 12
    lines = ["3 mars 2021", "", "Feb 29, 2024", "2024년 2월 29일"]
    source = corpus / "to_translate.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    from_stdin = run("translate", "--checkpoint", str(checkpoint), stdin="\n".join(lines) + "\n")
    assert from_stdin.returncode == 0, from_stdin.stderr
    out = from_stdin.stdout.split("\n")
    assert len(out) == len(lines) + 1 and out[-1] == ""  # one line per input line
    assert out[1] == ""  # an empty line stays empty
    assert main(["translate", "--checkpoint", str(checkpoint), str(source)]) == 0
    assert capsys.readouterr().out == from_stdin.stdout


@SUBPROCESS
def test_tiny_demo_writes_its_report(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = run(
        "demo", "--size", "100", "--epochs", "1", "--out", str(out), "--batch-size", "16",
        *SMALL_MODEL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    names = {p.name for p in out.iterdir()}
    assert {
        "report.txt",
        "report.json",
        "lengths.png",
        "loss.png",
        "samples.tsv",
        "checkpoint",
    } <= names
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["sizes"] == {"train": 100, "valid": 20, "test": 20}
    assert 0.0 <= report["test_exact_match"] <= 1.0
    assert report["bar"] == 0.9 and report["bar_met"] == (report["test_exact_match"] >= 0.9)
    batching = report["batching"]
    assert set(batching) == {"random", "bucket", "token-budget"}
    for row in batching.values():
        assert 0 < row["efficiency"] <= 1 and row["seconds_per_epoch"] > 0
        assert row["loss_after_one_epoch"] > 0
    assert batching["bucket"]["efficiency_src"] > batching["random"]["efficiency_src"]
    assert len(report["epochs"]) == 1 and report["epochs"][0]["train_loss"] > 0
    assert report["samples"] and all(s["reference"] for s in report["samples"])
    assert (out / "report.txt").read_text(encoding="utf-8").splitlines()[
        0
    ] == result.stdout.splitlines()[0]
    for png in ("lengths.png", "loss.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    source = tmp_path / "one.txt"
    source.write_text("31 mars 2046\n", encoding="utf-8")
    assert main(["translate", "--checkpoint", str(out / "checkpoint"), str(source)]) == 0


def test_help_on_every_command() -> None:
    for command in ("tasks", "demo", "prepare", "stats", "train", "translate"):
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0


def test_tasks_lists_the_built_in_tasks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dates") and "\nbible" in out and ">= 90%" in out


# --------------------------------------------------------------------------- bad input


@SUBPROCESS
def test_missing_file_is_one_line_and_no_output(corpus: Path) -> None:
    result = run("prepare", "--src", "nope.src", "--tgt", "train.tgt", "--out", "x", cwd=corpus)
    assert_clean_error(result, "seqdata prepare: error:", "nope.src")
    assert not (corpus / "x").exists()


def test_mismatched_line_counts(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    short = tmp_path / "short.tgt"
    short.write_text("2020-01-01\n2020-01-02\n", encoding="utf-8")
    code = main(
        [
            "prepare",
            "--src",
            str(corpus / "train.src"),
            "--tgt",
            str(short),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    line = assert_clean_error((code, capsys.readouterr().err), "401", "2")
    assert "short.tgt" in line
    assert not (tmp_path / "o").exists()


def test_empty_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("e.src", "e.tgt"):
        (tmp_path / name).write_text("", encoding="utf-8")
    code = main(
        [
            "prepare",
            "--src",
            str(tmp_path / "e.src"),
            "--tgt",
            str(tmp_path / "e.tgt"),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert_clean_error((code, capsys.readouterr().err), "seqdata prepare: error:")
    assert not (tmp_path / "o").exists()


def test_checkpoint_from_another_vocabulary(
    checkpoint: Path, corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the same corpus, but words instead of characters: other vocabularies
    other = tmp_path / "words"
    code = main(
        [
            "prepare",
            "--src",
            str(corpus / "train.src"),
            "--tgt",
            str(corpus / "train.tgt"),
            "--out",
            str(other),
            "--quiet",
        ]
    )
    assert code == 0
    capsys.readouterr()
    code = main(
        ["train", str(other), "--resume", str(checkpoint), "--out", str(tmp_path / "c2"), "--quiet"]
    )
    assert_clean_error(
        (code, capsys.readouterr().err), "another vocabulary", str(checkpoint / "last")
    )
    assert not (tmp_path / "c2").exists()
    # a checkpoint whose pipeline was swapped for one with other vocabularies
    swapped = tmp_path / "swapped"
    swapped.mkdir()
    config = json.loads((checkpoint / "best" / "config.json").read_text(encoding="utf-8"))
    config["pipeline"] = json.loads((other / "pipeline.json").read_text(encoding="utf-8"))
    (swapped / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (swapped / "model.pt").write_bytes((checkpoint / "best" / "model.pt").read_bytes())
    source = tmp_path / "in.txt"
    source.write_text("3 mars 2021\n", encoding="utf-8")
    code = main(["translate", "--checkpoint", str(swapped), str(source)])
    assert_clean_error((code, capsys.readouterr().err), "another vocabulary")


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the message shown when there is no GPU"
)
def test_cuda_without_a_gpu(
    prepared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", str(prepared), "--device", "cuda", "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert_clean_error((code, err), "torch.cuda.is_available() is False", "--device cpu")
    assert not (tmp_path / "c").exists()


def test_bad_arguments_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, needle in [
        (["demo", "--epochs", "0"], "--epochs: should be a positive integer, but got 0"),
        (["prepare", "--src", "a"], "required: --out"),
        (["prepare", "--src", "a", "--out", "o"], "give --src FILE and --tgt FILE"),
        (["stats", "d", "--batch-size", "4", "--max-tokens", "9"], "not allowed with argument"),
        (["demo", "--task", "nope", "--out", "never"], "task should be one of"),
    ]:
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        assert_clean_error((code, capsys.readouterr().err), needle)
    assert not Path("never").exists()


def test_stats_and_translate_on_wrong_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["stats", str(tmp_path)])
    assert_clean_error((code, capsys.readouterr().err), "not a folder written by `seqdata prepare`")
    code = main(["translate", "--checkpoint", str(tmp_path / "none")])
    assert_clean_error((code, capsys.readouterr().err), "no checkpoint directory here")


def test_output_folder_of_something_else_is_never_overwritten(
    prepared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work", encoding="utf-8")
    code = main(["demo", "--size", "10", "--out", str(precious)])
    assert_clean_error((code, capsys.readouterr().err), "refusing to overwrite")
    code = main(["train", str(prepared), "--out", str(precious)])
    assert_clean_error((code, capsys.readouterr().err), "exists and is not empty")
    assert [p.name for p in precious.iterdir()] == ["thesis.tex"]


def test_output_dir_is_all_or_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(RuntimeError), output_dir(out, marker="t") as work:
        (work / "half.npy").write_bytes(b"...")
        raise RuntimeError("killed mid-write")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # the temporary folder is gone too
    with output_dir(out, marker="t") as work:
        (work / "v1").write_text("1")
    with pytest.raises(RuntimeError), output_dir(out, marker="t", overwrite=True) as work:
        (work / "v2").write_text("2")
        raise RuntimeError("killed mid-write")
    assert sorted(p.name for p in out.iterdir()) == [MARKER_FILE, "v1"]  # the old output stays
    with output_dir(out, marker="t", overwrite=True) as work:
        (work / "v3").write_text("3")
    assert sorted(p.name for p in out.iterdir()) == [MARKER_FILE, "v3"]  # replaced at once


@pytest.mark.slow  # trains 2 epochs on 10,000 pairs: ~10 s on 2 cores
def test_empty_lines_fail_by_default_and_are_reported_when_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "s").write_text("3 mars 2021\n\nMay 6, 1981\n", encoding="utf-8")
    (tmp_path / "t").write_text("2021-03-03\n1999-01-01\n1981-05-06\n", encoding="utf-8")
    argv = ["prepare", "--src", str(tmp_path / "s"), "--tgt", str(tmp_path / "t"), "--quiet"]
    code = main([*argv, "--out", str(tmp_path / "strict")])
    assert_clean_error((code, capsys.readouterr().err), "line 2")
    assert not (tmp_path / "strict").exists()
    assert main([*argv, "--tokenizer", "char", "--skip-empty", "--out", str(tmp_path / "ok")]) == 0
    assert "skipped 1 pair with an empty side (line 2)" in capsys.readouterr().out
    summary = json.loads((tmp_path / "ok" / "summary.json").read_text(encoding="utf-8"))
    assert summary["pairs"] == 2 and summary["skipped_empty_lines"] == [2]


# --------------------------------------------------------------------------- train: run folder

TINY = ["--hidden-size", "8", "--embed-dim", "4", "--valid", "20", "--bleu-pairs", "5"]


def test_train_refuses_a_non_empty_out_and_overwrite_keeps_other_files(
    prepared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["train", str(prepared), "--epochs", "1", "--out", str(out), *TINY]) == 0
    (out / "NOTES.txt").write_text("mine", encoding="utf-8")
    before = (out / "last" / "model.pt").read_bytes()
    capsys.readouterr()
    code = main(["train", str(prepared), "--epochs", "1", "--out", str(out), *TINY])
    assert_clean_error((code, capsys.readouterr().err), "--resume", "--overwrite")
    assert (out / "last" / "model.pt").read_bytes() == before  # the trained run is intact
    argv = ["train", str(prepared), "--epochs", "1", "--out", str(out), "--seed", "5", *TINY]
    (out / ".last.x1y2.tmp").mkdir()  # what a save killed halfway leaves
    assert main([*argv, "--overwrite"]) == 0
    assert (out / "NOTES.txt").read_text(encoding="utf-8") == "mine"
    assert not (out / ".last.x1y2.tmp").exists()
    assert (out / "last" / "model.pt").read_bytes() != before


def test_a_full_disk_at_save_time_names_the_last_good_checkpoint(
    prepared: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import errno

    out = tmp_path / "run"
    assert main(["train", str(prepared), "--epochs", "1", "--out", str(out), *TINY]) == 0
    capsys.readouterr()

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("seqdata.checkpoint.torch.save", full)
    code = main(["train", str(prepared), "--epochs", "2", "--out", str(out), "--resume"])
    err = capsys.readouterr().err
    assert_clean_error((code, err), "disk is full", f"last good checkpoint is {out / 'last'}")
    assert (out / "last" / "config.json").is_file()
    assert not list(out.glob(".last.*.tmp"))


def test_config_file_under_the_flags_and_every_hyperparameter_in_the_checkpoint(
    prepared: Path, tmp_path: Path
) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("epochs: 1\nhidden-size: 8\nembed_dim: 4\nlr: 0.01\n", encoding="utf-8")
    out = tmp_path / "run"
    argv = ["train", str(prepared), "--config", str(config), "--lr", "0.005", "--out", str(out)]
    assert main([*argv, "--valid", "20", "--bleu-pairs", "0", "--max-tokens", "200"]) == 0
    extra = json.loads((out / "last" / "config.json").read_text(encoding="utf-8"))["extra"]
    hp = extra["hyperparameters"]
    assert hp["hidden_size"] == 8 and hp["epochs"] == 1 and hp["lr"] == 0.005
    assert hp["max_tokens"] == 200 and hp["bucket_width"] == 1 and hp["select"] == "bleu"
    bad = tmp_path / "bad.yaml"
    bad.write_text("hiden_size: 8\n", encoding="utf-8")
    assert main(["train", str(prepared), "--config", str(bad), "--out", str(tmp_path / "x")]) == 2


def test_non_finite_floats_are_refused(
    prepared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", str(prepared), "--lr", "inf", "--out", str(tmp_path / "x")])
    assert_clean_error((code, capsys.readouterr().err), "--lr should be a finite number")
    assert not (tmp_path / "x").exists()


@SUBPROCESS
def test_train_with_stdout_redirected_prints_progress_lines_before_the_first_epoch_ends(
    prepared: Path, tmp_path: Path
) -> None:
    log = tmp_path / "stdout.txt"
    out = tmp_path / "run"
    argv = ["train", str(prepared), "--epochs", "1", "--out", str(out), "--batch-size", "4"]
    argv += [*TINY, "--log-every", "0.2", "--threads", "1", "--log-file", str(tmp_path / "t.log")]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    with log.open("w") as f:
        code = subprocess.run(
            [sys.executable, "-m", "seqdata", *argv], stdout=f, env=env, timeout=300
        ).returncode
    assert code == 0
    lines = log.read_text(encoding="utf-8").splitlines()
    end = next(i for i, line in enumerate(lines) if line.startswith("epoch 1/1: train loss"))
    progress = [line for line in lines[:end] if "samples/s, ETA" in line]
    assert len(progress) >= 2, lines
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert {"progress", "epoch"} == {r["kind"] for r in records}
    assert "epoch 1/1: train loss" in (tmp_path / "t.log").read_text(encoding="utf-8")


def test_train_without_held_out_pairs_says_why_there_is_no_best(
    prepared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    tiny = ["--hidden-size", "8", "--embed-dim", "4", "--valid", "0"]
    assert main(["train", str(prepared), "--epochs", "1", "--out", str(out), *tiny]) == 0
    printed = capsys.readouterr().out
    assert "(0 held out)" in printed
    assert f"wrote {out}/ (last/; no best/ without held-out pairs)" in printed
    assert (out / "last").is_dir() and not (out / "best").exists()
