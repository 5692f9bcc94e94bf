"""``seqdata demo``: the whole pipeline on built-in data, in about a minute on a laptop CPU.

raw pairs (a built-in task) → tokenizers and vocabularies (:class:`PairPipeline`) → flat
store (:class:`ParallelCorpus`) → batching compared (random, the notes' buckets, token
budget) → the reference GRU encoder-decoder with attention trained on bucketed batches →
exact match on the test split → a report folder with plots, sample translations and a
checkpoint that ``seqdata translate`` reloads.

Everything is a function of the seed (up to the CPU's floating-point non-determinism).
"""

from __future__ import annotations

import copy
import json
import os
import platform
import time
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

from seqdata.errors import ConfigError
from seqdata.models import Seq2Seq
from seqdata.stats import length_summary
from seqdata.tasks import Task, get_task
from seqdata.tasks.workflow import (
    LossLog,
    batching_strategies,
    check_device,
    loader,
    matching_max_tokens,
    output_dir,
    plot_lengths,
    plot_loss,
    time_epoch,
    translate_texts,
)

__all__ = ["DemoConfig", "run_demo"]

MARKER = "demo"


@dataclass(frozen=True)
class DemoConfig:
    """Settings of a demo run (the CLI's options); the defaults are the measured demo.

    Attributes:
        task: a name from :data:`seqdata.tasks.TASKS`.
        size: training pairs (``None``: the task's default).
        epochs: training epochs.
        cell: ``gru``, ``lstm`` or ``rnn``.
        device: ``cpu`` or ``cuda``.
        seed: seeds the data, the initial weights and the batch order.
        out: the report folder (replaced if it holds an earlier demo).
        batch_size: examples per batch (random and bucketed batches).
        bucket_width: the notes' ``max_pad_len``.
        embed_dim: embedding size.
        hidden_size: RNN hidden size per direction.
        lr: Adam's learning rate for the first epoch; halved after each epoch.
        compare: time one epoch of each batching strategy before training.
        progress: show tqdm progress bars.
        threads: torch CPU threads while the demo runs (``None``: torch's default). One is
            the default: this model is too small to gain from a second thread, and with two,
            any other busy process on a 2-core machine makes torch's threads wait on each
            other (epochs measured 2-10x slower).
    """

    task: str = "dates"
    size: int | None = None
    epochs: int = 3
    cell: str = "gru"
    device: str = "cpu"
    seed: int = 0
    out: str = "seqdata-demo"
    batch_size: int = 64
    bucket_width: int = 5
    embed_dim: int = 64
    hidden_size: int = 128
    lr: float = 2e-3
    compare: bool = True
    progress: bool = True
    threads: int | None = 1


@dataclass
class _Report:
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


def _samples(frame: pl.DataFrame, k: int, seed: int) -> pl.DataFrame:
    """Up to ``k`` test rows, one per locale first when the task has locales."""
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
    if "locale" in shuffled.columns:
        firsts = shuffled.unique("locale", keep="first", maintain_order=True)
        shuffled = pl.concat([firsts, shuffled]).unique("src", maintain_order=True)
    return shuffled.head(k)


def _build_pipeline(task: Task, train: pl.DataFrame) -> Any:
    from seqdata.pipeline import PairPipeline
    from seqdata.tokenizers import make_tokenizer

    tokenizer = make_tokenizer(task.tokenizer)
    min_freq = 1 if task.tokenizer == "char" else 2
    return PairPipeline.build(
        train["src"], train["tgt"], src_tokenizer=tokenizer, min_freq=min_freq
    )


def run_demo(
    config: DemoConfig = DemoConfig(), *, echo: Callable[[str], None] = print
) -> dict[str, Any]:
    """Run the demo and write its folder; returns the report as a dict (``report.json``).

    Raises:
        ConfigError: a bad option, ``cuda`` without a GPU, or an ``out`` folder that holds
            something else (checked before any work).
    """
    started = time.perf_counter()
    task = get_task(config.task)
    device = check_device(config.device)

    if config.cell not in ("gru", "lstm", "rnn"):
        raise ConfigError(f"cell should be 'gru', 'lstm' or 'rnn', but got cell={config.cell!r}")
    for name in ("epochs", "batch_size", "bucket_width", "embed_dim", "hidden_size"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} should be a positive integer, but got {name}={value!r}")
    if config.threads is not None and (
        isinstance(config.threads, bool)
        or not isinstance(config.threads, int)
        or config.threads < 1
    ):
        raise ConfigError(
            f"threads should be a positive integer or None, but got {config.threads!r}"
        )
    threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    try:
        return _run(config, task, device, echo, started)
    finally:
        torch.set_num_threads(threads)


def _run(
    config: DemoConfig,
    task: Task,
    device: torch.device,
    echo: Callable[[str], None],
    started: float,
) -> dict[str, Any]:
    from seqdata.stats import padding_stats
    from seqdata.store import ParallelCorpus
    from seqdata.train import exact_match, fit, save_checkpoint

    report = _Report(echo=echo)
    with output_dir(config.out, marker=MARKER) as work:
        torch.manual_seed(config.seed)
        frame = task.load(config.size, seed=config.seed)
        parts = {s: frame.filter(pl.col("split") == s) for s in ("train", "valid", "test")}
        t0 = time.perf_counter()
        pipeline = _build_pipeline(task, parts["train"])
        corpora = {s: ParallelCorpus.from_frame(df, pipeline) for s, df in parts.items()}
        prep_s = time.perf_counter() - t0
        train = corpora["train"]
        src_vocab, tgt_vocab = pipeline.src_vocab, pipeline.tgt_vocab
        pad = tgt_vocab.pad_id
        report(
            f"seqdata demo — task {task.name!r}: {len(train):,} train / "
            f"{len(corpora['valid']):,} valid / {len(corpora['test']):,} test pairs "
            f"(seed {config.seed})"
        )
        report(f"  {task.summary}")
        src_len, tgt_len = length_summary(train.src_lengths), length_summary(train.tgt_lengths)
        unk = float(np.mean(np.asarray(corpora["test"].src.values) == src_vocab.unk_id))
        report(
            f"pipeline: {task.tokenizer} tokens, vocab {len(src_vocab)} source / "
            f"{len(tgt_vocab)} target ({prep_s:.1f} s to build and encode); test UNK rate "
            f"{unk:.2%}"
        )
        report(
            f"lengths (train, tokens): source mean {src_len['mean']}, p50 {src_len['p50']:g}, "
            f"p95 {src_len['p95']:g}, max {src_len['max']}; target (with SOS/EOS) mean "
            f"{tgt_len['mean']}, max {tgt_len['max']}"
        )

        model = Seq2Seq.build(
            len(src_vocab),
            len(tgt_vocab),
            embed_dim=config.embed_dim,
            hidden_size=config.hidden_size,
            cell=config.cell,
            attention="general",
            pad_id=pad,
            sos_id=tgt_vocab.sos_id,
            eos_id=tgt_vocab.eos_id,
        )
        initial = copy.deepcopy(model.state_dict())

        max_tokens = matching_max_tokens(train, config.batch_size)
        strategies = batching_strategies(
            train,
            batch_size=config.batch_size,
            max_tokens=max_tokens,
            bucket_width=config.bucket_width,
            seed=config.seed,
        )
        report()
        report(
            f"batching the {len(train):,} training pairs (padding efficiency = real tokens / "
            "padded tokens):"
        )
        header = f"  {'strategy':<14}{'batches':>8}{'per batch':>11}{'src':>7}{'tgt':>7}{'both':>7}"
        if config.compare:
            header += f"{'s/epoch':>9}{'loss':>8}"
        report(header)
        batching: dict[str, Any] = {}
        if config.compare:
            _warm_up(model, train, pad, device)
        for strategy in strategies:
            stats = padding_stats(strategy.sampler, train)
            row: dict[str, Any] = {
                "description": strategy.description,
                "batches": stats.batches,
                "examples_per_batch": round(stats.mean_batch_size, 1),
                "efficiency_src": round(stats.src.efficiency, 4),
                "efficiency_tgt": round(stats.tgt.efficiency if stats.tgt is not None else 1.0, 4),
                "efficiency": round(stats.efficiency, 4),
            }
            line = (
                f"  {strategy.name:<14}{row['batches']:>8}{row['examples_per_batch']:>11}"
                f"{row['efficiency_src']:>7.2f}{row['efficiency_tgt']:>7.2f}"
                f"{row['efficiency']:>7.2f}"
            )
            if config.compare:
                probe = copy.deepcopy(model)
                probe.load_state_dict(initial)
                seconds, loss = time_epoch(
                    probe, train, strategy.sampler, pad_id=pad, device=device, lr=config.lr
                )
                row["seconds_per_epoch"] = round(seconds, 2)
                row["loss_after_one_epoch"] = round(loss, 4)
                line += f"{seconds:>9.1f}{loss:>8.3f}"
                del probe
            batching[strategy.name] = row
            report(line)
        if config.compare:
            report(
                "  (s/epoch, loss: one training epoch from the same initial weights with each "
                "strategy)"
            )

        from seqdata.samplers import BucketBatchSampler

        n_params = sum(p.numel() for p in model.parameters())
        report()
        report(
            f"model: Seq2Seq, {config.cell.upper()} bidirectional encoder + {config.cell.upper()} "
            f"decoder with general attention, {n_params:,} parameters, on {device}"
        )
        model.load_state_dict(initial)
        sampler = BucketBatchSampler(
            train.src_lengths,
            train.tgt_lengths,
            batch_size=config.batch_size,
            bucket_width=config.bucket_width,
            seed=config.seed,
        )
        train_loader = loader(train, sampler, pad_id=pad)
        eval_sampler = BucketBatchSampler(
            corpora["valid"].src_lengths,
            corpora["valid"].tgt_lengths,
            batch_size=256,
            shuffle=False,
        )
        valid_loader = loader(corpora["valid"], eval_sampler, pad_id=pad)
        test_loader = loader(
            corpora["test"],
            BucketBatchSampler(
                corpora["test"].src_lengths,
                corpora["test"].tgt_lengths,
                batch_size=256,
                shuffle=False,
            ),
            pad_id=pad,
        )
        epochs: list[dict[str, Any]] = []
        steps_per_epoch: list[int] = []
        log = LossLog(model)

        model.to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        # Halve the learning rate after every epoch: fast progress first, then no late spikes.
        schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)

        def on_epoch_end(stats: Any) -> None:
            em = exact_match(model, valid_loader)
            steps_per_epoch.append(len(log.losses) - sum(steps_per_epoch))
            lr = optimizer.param_groups[0]["lr"]
            epochs.append({**asdict(stats), "valid_exact_match": em, "lr": lr})
            report(
                f"epoch {stats.epoch + 1}/{config.epochs} (lr {lr:.1e}): train loss "
                f"{stats.train_loss:.4f}, valid loss {stats.valid_loss:.4f}, valid exact match "
                f"{em:.1%}, {stats.seconds:.1f} s ({stats.samples_per_s:,.0f} samples/s)"
            )
            schedule.step()

        try:
            fit(
                model,
                train_loader,
                epochs=config.epochs,
                optimizer=optimizer,
                device=device,
                valid_loader=valid_loader,
                progress=config.progress,
                on_epoch_end=on_epoch_end,
            )
        finally:
            log.close()
        test_em = exact_match(model, test_loader)
        n_test = len(corpora["test"])
        report()
        bar_line = f"test exact match: {test_em:.1%} ({round(test_em * n_test)}/{n_test})"
        met = None
        if task.bar is not None:
            met = test_em >= task.bar
            bar_line += f" — bar >= {task.bar:.0%}: {'met' if met else 'NOT met'}"
        report(bar_line)

        shown = _samples(parts["test"], 8, config.seed)
        budget = int(train.tgt_lengths.max()) + 4
        hyps = translate_texts(
            model, pipeline, shown["src"].to_list(), max_len=budget, device=device
        )
        bleu = _bleu(task, model, pipeline, parts["test"], device)
        if bleu is not None:
            report(
                f"test corpus BLEU (sacrebleu): {bleu[0]:.1f}; copying the source scores "
                f"{bleu[1]:.1f}"
            )
        report("sample test translations (greedy):")
        width = max(_width(s) for s in shown["src"].to_list())
        hyp_width = max(_width(h) for h in hyps)
        sample_rows = []
        for row, hyp in zip(shown.iter_rows(named=True), hyps, strict=True):
            ok = hyp == row["tgt"]
            if width + hyp_width > 80:  # long sentences: one line each
                report(f"  source:    {row['src']}")
                report(f"  greedy:    {hyp}")
                report(f"  reference: {row['tgt']}")
                continue
            tag = f"[{row['locale']}] " if "locale" in row else ""
            verdict = "ok" if ok else f"(want {row['tgt']})"
            report(f"  {tag}{_pad(row['src'], width)}  →  {_pad(hyp, hyp_width)}  {verdict}")
            sample_rows.append({"src": row["src"], "hypothesis": hyp, "reference": row["tgt"]})

        plot_lengths(
            work / "lengths.png",
            train.src_lengths,
            train.tgt_lengths,
            bucket_width=config.bucket_width,
            title=f"{task.name}: {len(train):,} training pairs ({task.tokenizer} tokens)",
        )
        plot_loss(
            work / "loss.png",
            log.losses,
            steps_per_epoch,
            [e["valid_loss"] for e in epochs],
        )
        pl.DataFrame(sample_rows).write_csv(work / "samples.tsv", separator="\t")
        total = time.perf_counter() - started
        out = Path(config.out)
        result: dict[str, Any] = {
            "task": task.name,
            "config": asdict(config),
            "sizes": {s: len(c) for s, c in corpora.items()},
            "vocab": {"src": len(src_vocab), "tgt": len(tgt_vocab)},
            "lengths": {"src": src_len, "tgt": tgt_len},
            "test_unk_rate": unk,
            "batching": batching,
            "parameters": n_params,
            "epochs": epochs,
            "test_exact_match": test_em,
            "test_bleu": None if bleu is None else bleu[0],
            "test_bleu_copy_source": None if bleu is None else bleu[1],
            "bar": task.bar,
            "bar_met": met,
            "samples": sample_rows,
            "seconds_total": round(total, 1),
            "machine": {
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "device": str(device),
            },
        }
        save_checkpoint(
            work / "checkpoint",
            model,
            pipeline=pipeline,
            extra={
                "task": task.name,
                "seed": config.seed,
                "test_exact_match": test_em,
                "max_tgt_len": int(train.tgt_lengths.max()),
            },
        )
        report()
        report(
            f"wrote {out}/: report.txt report.json lengths.png loss.png samples.tsv checkpoint/ "
            f"— total {total:.0f} s"
        )
        report(
            f"translate your own: echo '{task.example}' | seqdata translate --checkpoint "
            f"{out / 'checkpoint'}"
        )
        (work / "report.json").write_text(
            json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        (work / "report.txt").write_text("\n".join(report.lines) + "\n", encoding="utf-8")
    return result


def _warm_up(model: Seq2Seq, train: Any, pad: int, device: torch.device) -> None:
    """A few throwaway steps so that the first timed epoch does not pay torch's start-up."""
    probe = copy.deepcopy(model).to(device)
    optimizer = torch.optim.Adam(probe.parameters())
    sampler = [list(range(i, min(i + 32, len(train)))) for i in range(0, min(len(train), 96), 32)]
    for batch in loader(train, sampler, pad_id=pad):  # type: ignore[arg-type]
        loss = probe.loss(batch.to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _bleu(
    task: Task, model: Seq2Seq, pipeline: Any, test: pl.DataFrame, device: torch.device
) -> tuple[float, float] | None:
    """Corpus BLEU of the model and of copying the source, for word-level tasks with sacrebleu."""
    if task.tokenizer == "char":
        return None
    try:
        import sacrebleu
    except ImportError:
        return None
    refs = [test["tgt"].to_list()]
    hyps = translate_texts(model, pipeline, test["src"].to_list(), device=device)
    copy_source = sacrebleu.corpus_bleu(test["src"].to_list(), refs).score
    return float(sacrebleu.corpus_bleu(hyps, refs).score), float(copy_source)
