"""``seqdata demo``: the whole pipeline on built-in data, in about a minute on a laptop CPU.

raw pairs (a built-in task) → tokenizers and vocabularies ([`PairPipeline`][seqdata.PairPipeline])
→ flat store ([`ParallelCorpus`][seqdata.ParallelCorpus]) → batching compared (random, length
buckets, token budget) → the reference GRU encoder-decoder with attention trained on bucketed
batches → exact match on the test split → a report folder with plots, sample translations
and a checkpoint that ``seqdata translate`` reloads.

The run is cut into the stages its report prints: data, pipeline, lengths, batching
comparison, model, training, test, samples, files. Everything is a function of the seed (up
to the floating-point non-determinism of the CPU or GPU).
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

from seqdata import BucketBatchSampler, PairPipeline, ParallelCorpus, make_tokenizer
from seqdata._checks import check_choice, check_int, check_optional_int
from seqdata.cli import COMMANDS, add_model_options, positive_int, progress, say
from seqdata.cli._batching import (
    LossLog,
    batching_strategies,
    loader,
    matching_max_tokens,
    time_epoch,
)
from seqdata.cli._demo_report import Report, machine, samples, write_artifacts, write_files
from seqdata.device import move_model, resolve_device
from seqdata.models import Seq2Seq
from seqdata.stats import length_summary
from seqdata.tasks import Task, get_task

__all__ = ["DemoConfig", "add_parser", "run", "run_demo"]

MARKER = "demo"


@dataclass(frozen=True)
class DemoConfig:
    """Settings of a demo run (the CLI's options); the defaults are the measured demo.

    Attributes:
        task: a name from ``seqdata.tasks.TASKS``.
        size: training pairs (``None``: the task's default).
        epochs: training epochs.
        cell: ``gru``, ``lstm`` or ``rnn``.
        device: ``auto`` (CUDA when a GPU is visible, else the CPU), ``cpu``, ``cuda`` or
            ``cuda:N``.
        seed: seeds the data, the initial weights and the batch order.
        out: the report folder (replaced if it holds an earlier demo).
        batch_size: examples per batch (random and bucketed batches).
        bucket_width: lengths within this many tokens share a bucket.
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
    device: str = "auto"
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


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``seqdata demo``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help=COMMANDS["demo"],
        description="Build a built-in task, compare batching strategies, train the GRU "
        "encoder-decoder with attention on bucketed batches, evaluate exact match on the test "
        "split, and write a report folder with plots, sample translations and a checkpoint.",
    )
    p.add_argument(
        "--task", default="dates", help="built-in task (see `seqdata tasks`; default dates)"
    )
    p.add_argument(
        "--size",
        type=positive_int,
        default=None,
        help="training pairs (default: the task's; small for a quick try)",
    )
    p.add_argument("--out", default="seqdata-demo", help="report folder (default ./seqdata-demo)")
    p.add_argument(
        "--no-compare", action="store_true", help="skip timing one epoch of each batching strategy"
    )
    add_model_options(p, epochs=DemoConfig.epochs)
    p.add_argument(
        "--threads",
        type=positive_int,
        default=DemoConfig.threads,
        help="torch CPU threads (default 1: the demo's model is small, and one thread is not "
        "slowed down by other busy processes)",
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the demo with the command line's options."""
    config = DemoConfig(
        task=args.task,
        size=args.size,
        epochs=args.epochs,
        cell=args.cell,
        device=args.device,
        seed=args.seed,
        out=args.out,
        batch_size=args.batch_size,
        hidden_size=args.hidden_size,
        embed_dim=args.embed_dim,
        compare=not args.no_compare,
        progress=progress(args),
        threads=args.threads,
    )
    run_demo(config, echo=say)
    return 0


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
    device = resolve_device(config.device)
    check_choice("cell", config.cell, ("gru", "lstm", "rnn"))
    for name in ("epochs", "batch_size", "bucket_width", "embed_dim", "hidden_size"):
        check_int(name, getattr(config, name))
    check_optional_int("threads", config.threads)
    threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    try:
        return _run(config, task, device, Report(echo=echo), started)
    finally:
        torch.set_num_threads(threads)


@dataclass
class _Data:
    """The task's frames, the pipeline built on its training split, and the encoded splits."""

    parts: dict[str, pl.DataFrame]
    pipeline: PairPipeline
    corpora: dict[str, ParallelCorpus]
    seconds: float

    @property
    def train(self) -> ParallelCorpus:
        return self.corpora["train"]


def _run(
    config: DemoConfig, task: Task, device: torch.device, report: Report, started: float
) -> dict[str, Any]:
    from seqdata.outputs import output_dir

    with output_dir(config.out, marker=MARKER) as work:
        torch.manual_seed(config.seed)
        data = _stage_data(config, task, report)
        unk = _stage_pipeline(task, data, report)
        lengths = _stage_lengths(data, report)
        model = _build_model(config, data.pipeline)
        initial = copy.deepcopy(model.state_dict())
        batching = _stage_batching(config, data, model, initial, device, report)
        n_params = _stage_model(config, model, device, report)
        model.load_state_dict(initial)
        epochs, log = _stage_training(config, data, model, device, report)
        test_em, met = _stage_test(task, data, model, device, report)
        budget = int(data.train.tgt_lengths.max()) + 4
        sample_rows, bleu = samples(
            task, model, data.pipeline, data.parts["test"],
            budget=budget, seed=config.seed, device=device, report=report,
        )  # fmt: skip
        write_artifacts(
            work, task=task, train=data.train, pipeline=data.pipeline, model=model,
            step_losses=log.losses.losses, steps_per_epoch=log.steps_per_epoch, epochs=epochs,
            sample_rows=sample_rows, bucket_width=config.bucket_width, seed=config.seed,
            test_em=test_em,
        )  # fmt: skip
        result: dict[str, Any] = {
            "task": task.name,
            "config": asdict(config),
            "sizes": {s: len(c) for s, c in data.corpora.items()},
            "vocab": {"src": len(data.pipeline.src_vocab), "tgt": len(data.pipeline.tgt_vocab)},
            "lengths": lengths,
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
            "seconds_total": round(time.perf_counter() - started, 1),
            "machine": machine(device),
        }
        write_files(work, Path(config.out), task=task, result=result, report=report)
    return result


def _stage_data(config: DemoConfig, task: Task, report: Report) -> _Data:
    """Data: the task's splits, its pipeline, and the encoded corpora."""
    frame = task.load(config.size, seed=config.seed)
    parts = {s: frame.filter(pl.col("split") == s) for s in ("train", "valid", "test")}
    t0 = time.perf_counter()
    tokenizer = make_tokenizer(task.tokenizer)
    min_freq = 1 if task.tokenizer == "char" else 2
    pipeline = PairPipeline.build(
        parts["train"]["src"], parts["train"]["tgt"], src_tokenizer=tokenizer, min_freq=min_freq
    )
    corpora = {s: ParallelCorpus.from_frame(df, pipeline) for s, df in parts.items()}
    data = _Data(parts, pipeline, corpora, time.perf_counter() - t0)
    report(
        f"seqdata demo — task {task.name!r}: {len(data.train):,} train / "
        f"{len(corpora['valid']):,} valid / {len(corpora['test']):,} test pairs "
        f"(seed {config.seed})"
    )
    report(f"  {task.summary}")
    return data


def _stage_pipeline(task: Task, data: _Data, report: Report) -> float:
    """Pipeline: tokenizer, vocabulary sizes, build time; returns the test UNK rate."""
    src_vocab, tgt_vocab = data.pipeline.src_vocab, data.pipeline.tgt_vocab
    unk = float(np.mean(np.asarray(data.corpora["test"].src.values) == src_vocab.unk_id))
    report(
        f"pipeline: {task.tokenizer} tokens, vocab {len(src_vocab)} source / "
        f"{len(tgt_vocab)} target ({data.seconds:.1f} s to build and encode); test UNK rate "
        f"{unk:.2%}"
    )
    return unk


def _stage_lengths(data: _Data, report: Report) -> dict[str, Any]:
    """Lengths: the training split's length summary per side."""
    src_len = length_summary(data.train.src_lengths)
    tgt_len = length_summary(data.train.tgt_lengths)
    report(
        f"lengths (train, tokens): source mean {src_len['mean']}, p50 {src_len['p50']:g}, "
        f"p95 {src_len['p95']:g}, max {src_len['max']}; target (with SOS/EOS) mean "
        f"{tgt_len['mean']}, max {tgt_len['max']}"
    )
    return {"src": src_len, "tgt": tgt_len}


def _build_model(config: DemoConfig, pipeline: PairPipeline) -> Seq2Seq:
    tgt_vocab = pipeline.tgt_vocab
    return Seq2Seq.build(
        len(pipeline.src_vocab),
        len(tgt_vocab),
        embed_dim=config.embed_dim,
        hidden_size=config.hidden_size,
        cell=config.cell,
        attention="general",
        pad_id=tgt_vocab.pad_id,
        sos_id=tgt_vocab.sos_id,
        eos_id=tgt_vocab.eos_id,
    )


def _stage_batching(
    config: DemoConfig,
    data: _Data,
    model: Seq2Seq,
    initial: dict[str, Any],
    device: torch.device,
    report: Report,
) -> dict[str, Any]:
    """Batching comparison: padding per strategy, and (``compare``) one timed epoch each."""
    from seqdata import padding_stats

    train, pad = data.train, data.pipeline.tgt_vocab.pad_id
    strategies = batching_strategies(
        train,
        batch_size=config.batch_size,
        max_tokens=matching_max_tokens(train, config.batch_size),
        bucket_width=config.bucket_width,
        seed=config.seed,
    )
    report()
    report(
        f"batching the {len(train):,} training pairs (padding efficiency = real tokens / "
        "padded tokens):"
    )
    header = f"  {'strategy':<14}{'batches':>8}{'per batch':>11}{'src':>7}{'tgt':>7}{'both':>7}"
    report(header + (f"{'s/epoch':>9}{'loss':>8}" if config.compare else ""))
    if config.compare:
        _warm_up(model, train, pad, device)
    batching: dict[str, Any] = {}
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
            f"{row['efficiency_src']:>7.2f}{row['efficiency_tgt']:>7.2f}{row['efficiency']:>7.2f}"
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
            "  (s/epoch, loss: one training epoch from the same initial weights with each strategy)"
        )
    return batching


def _warm_up(model: Seq2Seq, train: Any, pad: int, device: torch.device) -> None:
    """A few throwaway steps so that the first timed epoch does not pay torch's start-up."""
    probe = copy.deepcopy(model)
    move_model(probe, device)
    optimizer = torch.optim.Adam(probe.parameters())
    sampler = [list(range(i, min(i + 32, len(train)))) for i in range(0, min(len(train), 96), 32)]
    for batch in loader(train, sampler, pad_id=pad, device=device):  # type: ignore[arg-type]
        loss = probe.loss(batch.to(device, non_blocking=True))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _stage_model(config: DemoConfig, model: Seq2Seq, device: torch.device, report: Report) -> int:
    """Model: the architecture, its size and the device it trains on."""
    n_params = sum(p.numel() for p in model.parameters())
    cell = config.cell.upper()
    report()
    report(
        f"model: Seq2Seq, {cell} bidirectional encoder + {cell} decoder with general "
        f"attention, {n_params:,} parameters, on {device}"
    )
    return n_params


def _eval_loader(corpus: ParallelCorpus, pad: int, device: torch.device) -> Any:
    sampler = BucketBatchSampler(
        corpus.src_lengths, corpus.tgt_lengths, batch_size=256, shuffle=False
    )
    return loader(corpus, sampler, pad_id=pad, device=device)


def _stage_training(
    config: DemoConfig, data: _Data, model: Seq2Seq, device: torch.device, report: Report
) -> tuple[list[dict[str, Any]], _Training]:
    """Training: ``fit`` on bucketed batches, the learning rate halved after every epoch."""
    from seqdata.train import exact_match, fit

    train, pad = data.train, data.pipeline.tgt_vocab.pad_id
    sampler = BucketBatchSampler(
        train.src_lengths,
        train.tgt_lengths,
        batch_size=config.batch_size,
        bucket_width=config.bucket_width,
        seed=config.seed,
    )
    valid_loader = _eval_loader(data.corpora["valid"], pad, device)
    epochs: list[dict[str, Any]] = []
    log = _Training(LossLog(model), [])
    move_model(model, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    # Halve the learning rate after every epoch: fast progress first, then no late spikes.
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)

    def on_epoch_end(stats: Any) -> None:
        em = exact_match(model, valid_loader)
        log.steps_per_epoch.append(len(log.losses.losses) - sum(log.steps_per_epoch))
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
            loader(train, sampler, pad_id=pad, device=device),
            epochs=config.epochs,
            optimizer=optimizer,
            device=device,
            valid_loader=valid_loader,
            progress=config.progress,
            on_epoch_end=on_epoch_end,
        )
    finally:
        log.losses.close()
    return epochs, log


@dataclass
class _Training:
    """The loss of every training step, and how many steps each epoch took."""

    losses: LossLog
    steps_per_epoch: list[int]


def _stage_test(
    task: Task, data: _Data, model: Seq2Seq, device: torch.device, report: Report
) -> tuple[float, bool | None]:
    """Test: exact match on the test split, against the task's bar."""
    from seqdata.train import exact_match

    test = data.corpora["test"]
    test_em = exact_match(model, _eval_loader(test, data.pipeline.tgt_vocab.pad_id, device))
    report()
    bar_line = f"test exact match: {test_em:.1%} ({round(test_em * len(test))}/{len(test)})"
    met = None
    if task.bar is not None:
        met = test_em >= task.bar
        bar_line += f" — bar >= {task.bar:.0%}: {'met' if met else 'NOT met'}"
    report(bar_line)
    return test_em, met
