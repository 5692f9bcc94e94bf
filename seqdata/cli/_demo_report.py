"""The demo's report: its lines, the sample translations, and the files it writes."""

from __future__ import annotations

import json
import os
import platform
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import torch

from seqdata import ParallelCorpus
from seqdata.tasks import Task

__all__ = ["Report", "machine", "samples", "write_artifacts", "write_files"]


@dataclass
class Report:
    """The report's lines: each is echoed at once and kept for ``report.txt``."""

    lines: list[str] = field(default_factory=list)
    echo: Callable[[str], None] = print

    def __call__(self, line: str = "") -> None:
        self.lines.append(line)
        self.echo(line)


def _width(text: str) -> int:
    """Terminal columns of ``text`` (East Asian wide characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _pick(frame: pl.DataFrame, k: int, seed: int) -> pl.DataFrame:
    """Up to ``k`` test rows, one per locale first when the task has locales."""
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
    if "locale" in shuffled.columns:
        firsts = shuffled.unique("locale", keep="first", maintain_order=True)
        shuffled = pl.concat([firsts, shuffled]).unique("src", maintain_order=True)
    return shuffled.head(k)


def _bleu(
    task: Task, model: Any, pipeline: Any, test: pl.DataFrame, device: torch.device
) -> tuple[float, float] | None:
    """Corpus BLEU of the model and of copying the source, for word-level tasks with sacrebleu."""
    from seqdata.translation import translate

    if task.tokenizer == "char":
        return None
    try:
        import sacrebleu
    except ImportError:
        return None
    refs = [test["tgt"].to_list()]
    hyps = translate(model, pipeline, test["src"].to_list(), device=device)
    copy_source = sacrebleu.corpus_bleu(test["src"].to_list(), refs).score
    return float(sacrebleu.corpus_bleu(hyps, refs).score), float(copy_source)


def samples(
    task: Task,
    model: Any,
    pipeline: Any,
    test: pl.DataFrame,
    *,
    budget: int,
    seed: int,
    device: torch.device,
    report: Report,
) -> tuple[list[dict[str, str]], tuple[float, float] | None]:
    """The samples stage: a few test translations (and BLEU for word-level tasks).

    Returns the sample rows for ``samples.tsv`` and ``(BLEU, BLEU of copying the source)``.
    """
    from seqdata.translation import translate

    shown = _pick(test, 8, seed)
    hyps = translate(model, pipeline, shown["src"].to_list(), max_len=budget, device=device)
    bleu = _bleu(task, model, pipeline, test, device)
    if bleu is not None:
        report(
            f"test corpus BLEU (sacrebleu): {bleu[0]:.1f}; copying the source scores {bleu[1]:.1f}"
        )
    report("sample test translations (greedy):")
    width = max(_width(s) for s in shown["src"].to_list())
    hyp_width = max(_width(h) for h in hyps)
    rows = []
    for row, hyp in zip(shown.iter_rows(named=True), hyps, strict=True):
        if width + hyp_width > 80:  # long sentences: one line each
            report(f"  source:    {row['src']}")
            report(f"  greedy:    {hyp}")
            report(f"  reference: {row['tgt']}")
            continue
        tag = f"[{row['locale']}] " if "locale" in row else ""
        verdict = "ok" if hyp == row["tgt"] else f"(want {row['tgt']})"
        report(f"  {tag}{_pad(row['src'], width)}  →  {_pad(hyp, hyp_width)}  {verdict}")
        rows.append({"src": row["src"], "hypothesis": hyp, "reference": row["tgt"]})
    return rows, bleu


def write_files(
    work: Path,
    out: Path,
    *,
    task: Task,
    result: dict[str, Any],
    report: Report,
) -> None:
    """The files stage: the closing lines, ``report.json`` and ``report.txt``."""
    report()
    report(
        f"wrote {out}/: report.txt report.json lengths.png loss.png samples.tsv checkpoint/ "
        f"— total {result['seconds_total']:.0f} s"
    )
    report(
        f"translate your own: echo '{task.example}' | seqdata translate --checkpoint "
        f"{out / 'checkpoint'}"
    )
    (work / "report.json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (work / "report.txt").write_text("\n".join(report.lines) + "\n", encoding="utf-8")


def machine(device: torch.device) -> dict[str, Any]:
    """The machine the demo ran on, for ``report.json``."""
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
    }


def write_artifacts(
    work: Path,
    *,
    task: Task,
    train: ParallelCorpus,
    pipeline: Any,
    model: Any,
    step_losses: list[float],
    steps_per_epoch: list[int],
    epochs: list[dict[str, Any]],
    sample_rows: list[dict[str, str]],
    bucket_width: int,
    seed: int,
    test_em: float,
) -> None:
    """Files: the two plots, ``samples.tsv`` and the checkpoint."""
    from seqdata.plots import plot_lengths, plot_loss
    from seqdata.train import save_checkpoint

    plot_lengths(
        work / "lengths.png",
        train.src_lengths,
        train.tgt_lengths,
        bucket_width=bucket_width,
        title=f"{task.name}: {len(train):,} training pairs ({task.tokenizer} tokens)",
    )
    plot_loss(
        work / "loss.png",
        step_losses,
        steps_per_epoch,
        [e["valid_loss"] for e in epochs],
    )
    pl.DataFrame(sample_rows).write_csv(work / "samples.tsv", separator="\t")
    save_checkpoint(
        work / "checkpoint",
        model,
        pipeline=pipeline,
        extra={
            "task": task.name,
            "seed": seed,
            "test_exact_match": test_em,
            "max_tgt_len": int(train.tgt_lengths.max()),
        },
    )
