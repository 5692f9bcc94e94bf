"""The body of ``seqdata train``: data, model, a resumable [`Trainer`][seqdata.trainer.Trainer],
and what happens at each save and each epoch's end (validation, best/, patience, logs)."""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from seqdata.cli import UsageError
from seqdata.cli._prepared import load_prepared
from seqdata.cli._train_options import apply_config, check_run_folder
from seqdata.runlog import LOGGER, MetricsLog, ProgressLine, setup_logging

__all__ = ["EpochEnd", "WarmupDecay", "train_run"]

_NOT_HYPERPARAMETERS = ("func", "command", "dir", "out", "resume", "overwrite", "config", "_given")


class WarmupDecay:
    """``LambdaLR`` factor: linear warm-up over ``warmup`` steps, then ``sqrt(warmup / step)``."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup

    def __call__(self, step: int) -> float:
        step += 1
        return step / self.warmup if step < self.warmup else math.sqrt(self.warmup / step)


def _resume_source(args: argparse.Namespace) -> Path | None:
    if args.resume is None:
        return None
    from seqdata.checkpoint import checkpoint_path, finish_interrupted_save

    source = Path(args.out) if args.resume == "" else Path(args.resume)
    if source.resolve() == Path(args.out).resolve():
        for name in ("last", "best"):  # a kill mid-save left .NAME.prev: put it back
            finish_interrupted_save(source / name)
    found = checkpoint_path(source, prefer="last")
    if not (found / "config.json").is_file():
        raise UsageError(f"--resume: {source} holds no checkpoint to continue from")
    return found


def _saved_hyperparameters(ckpt: Path | None) -> dict[str, Any]:
    if ckpt is None:
        return {}
    config = json.loads((ckpt / "config.json").read_text(encoding="utf-8"))
    extra = config.get("extra") or {}
    saved = extra.get("hyperparameters") if isinstance(extra, dict) else None
    return dict(saved) if isinstance(saved, dict) else {}


def _check_floats(args: argparse.Namespace) -> None:
    from seqdata._checks import check_float, check_probability

    check_float("--lr", args.lr, 0.0, low_open=True)
    check_float("--clip-norm", args.clip_norm, 0.0, low_open=True)
    check_float("--log-every", args.log_every, 0.0, low_open=True)
    check_probability("--teacher-forcing", args.teacher_forcing)
    check_float("--dropout", args.dropout, 0.0, 1.0)


def _data(args: argparse.Namespace, pipeline: Any, ckpt: Path | None) -> tuple[Any, Any, Any]:
    """``(pipeline, train, valid)``: ``DIR/valid`` when prepared, else pairs held out."""
    from seqdata import ManifestError, ParallelCorpus
    from seqdata.cli._batching import split_holdout

    try:
        corpus, pipeline, _ = load_prepared(args.dir, pipeline=pipeline)
    except ManifestError as err:
        raise UsageError(
            f"checkpoint {ckpt} was trained with another vocabulary than {args.dir} "
            f"({err.message}); train from scratch, or prepare the corpus with its pipeline"
        ) from err
    valid_dir = Path(args.dir) / "valid"
    if valid_dir.is_dir():
        return pipeline, corpus, ParallelCorpus.load(valid_dir, pipeline=pipeline)
    size = args.valid if args.valid is not None else min(1000, len(corpus) // 20)
    train, valid = split_holdout(corpus, size, seed=args.seed)
    return pipeline, train, valid


def _new_model(args: argparse.Namespace, pipeline: Any) -> Any:
    from seqdata.models import Seq2Seq

    return Seq2Seq.build(
        len(pipeline.src_vocab),
        len(pipeline.tgt_vocab),
        embed_dim=args.embed_dim,
        hidden_size=args.hidden_size,
        cell=args.cell,
        num_layers=args.num_layers,
        attention=None if args.attention == "none" else args.attention,
        dropout=args.dropout,
        pad_id=pipeline.tgt_vocab.pad_id,
        sos_id=pipeline.tgt_vocab.sos_id,
        eos_id=pipeline.tgt_vocab.eos_id,
        teacher_forcing_ratio=args.teacher_forcing,
        label_smoothing=args.label_smoothing,
        input_feed=args.input_feed,
        embed_dropout=args.embed_dropout,
        output_dropout=args.output_dropout,
        tie_embeddings=args.tie_embeddings,
    )


def _sampler(args: argparse.Namespace, train: Any) -> Any:
    from seqdata import BucketBatchSampler, TokenBudgetBatchSampler

    if args.max_tokens is not None:
        budget = args.max_tokens
        if budget == "auto":
            from seqdata.cli._batching import auto_max_tokens

            budget = auto_max_tokens(train.src_lengths, train.tgt_lengths)
        return TokenBudgetBatchSampler(
            train.src_lengths,
            train.tgt_lengths,
            max_tokens=budget,
            oversize="single",
            seed=args.seed,
        )
    return BucketBatchSampler(
        train.src_lengths,
        train.tgt_lengths,
        batch_size=args.batch_size,
        bucket_width=args.bucket_width,
        seed=args.seed,
    )


def _selected_by(args: argparse.Namespace) -> str:
    """What ``best/`` was chosen by: ``--select``, or the loss when no BLEU was computed."""
    if args.select == "bleu" and args.bleu_pairs == 0:
        return "loss, as --bleu-pairs 0 computes no BLEU"
    return str(args.select)


def _batches_text(sampler: Any) -> str:
    """``"123 batches an epoch of <= 2,048 tokens a side"`` (or ``"… of <= 64 pairs"``)."""
    budget = getattr(sampler, "max_tokens", None)
    size = f"{budget:,} tokens a side" if budget is not None else f"{sampler.batch_size} pairs"
    n = len(sampler)
    return f"{n:,} batch{'' if n == 1 else 'es'} an epoch of <= {size}"


def _scheduler(args: argparse.Namespace, optimizer: Any) -> Any:
    import torch

    if args.lr_schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
    if args.lr_schedule == "warmup":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, WarmupDecay(args.warmup_steps))
    return None


class EpochEnd:
    """The ``Trainer`` hooks of a CLI run: save ``last/``, and validate at each epoch's end."""

    def __init__(self, args: argparse.Namespace, run: dict[str, Any]) -> None:
        self.args, self.run = args, run
        self.out = Path(args.out)
        self.metrics = MetricsLog(self.out / "metrics.jsonl")
        self.logger = logging.getLogger(LOGGER)

    def _extra(self, trainer: Any) -> dict[str, Any]:
        meta = trainer.progress.meta
        return {
            "hyperparameters": self.run["hyperparameters"],
            "corpus": str(Path(self.args.dir).resolve()),
            "device": str(trainer.device),
            "epoch": trainer.progress.epoch,
            "step": trainer.progress.step,
            "history": meta.get("history", []),
            "best": meta.get("best"),
            "select": self.args.select,
            "max_tgt_len": self.run["max_tgt_len"],
        }

    def save(self, trainer: Any) -> None:
        from seqdata.checkpoint import save_checkpoint

        save_checkpoint(
            self.out / "last",
            trainer.model,
            pipeline=self.run["pipeline"],
            optimizer=trainer.optimizer,
            extra=self._extra(trainer),
            train_state=trainer.state_dict(),
        )

    def _scores(self, trainer: Any) -> dict[str, Any]:
        from seqdata.train import evaluate, exact_match, translation_scores

        valid = self.run["valid_loader"]
        if valid is None:
            return {}
        loss = evaluate(trainer.model, valid, device=trainer.device)
        scores: dict[str, Any] = {"valid_loss": loss, "valid_ppl": math.exp(min(loss, 50.0))}
        if self.args.bleu_pairs > 0:
            got = translation_scores(
                trainer.model,
                valid,
                self.run["pipeline"],
                max_pairs=self.args.bleu_pairs,
                device=trainer.device,
            )
            scores.update(bleu=got["bleu"], chrf=got["chrf"])
        if self.args.exact_match:
            scores["exact_match"] = exact_match(trainer.model, valid, device=trainer.device)
        return scores

    def _improved(self, entry: dict[str, Any], best: dict[str, Any] | None) -> bool:
        key = "bleu" if self.args.select == "bleu" and "bleu" in entry else "valid_loss"
        if key not in entry:
            return False
        if best is None or key not in best:
            return True
        return bool(entry[key] > best[key] if key == "bleu" else entry[key] < best[key])

    def __call__(self, trainer: Any) -> bool:
        """Validate, step a plateau schedule, keep best/, log; ``True`` stops (patience)."""
        from seqdata.checkpoint import save_checkpoint
        from seqdata.plots import plot_curves

        meta = trainer.progress.meta
        start = time.perf_counter()
        entry = {**trainer.epoch_stats, **self._scores(trainer)}
        entry["valid_seconds"] = time.perf_counter() - start  # loss, BLEU: not in "seconds"
        entry["lr"] = trainer.optimizer.param_groups[0]["lr"]
        if self.run["plateau"] and "valid_loss" in entry:
            trainer.scheduler.step(entry["valid_loss"])
        meta.setdefault("history", []).append(entry)
        if self._improved(entry, meta.get("best")):
            meta["best"], meta["bad_epochs"] = dict(entry), 0
            save_checkpoint(
                self.out / "best",
                trainer.model,
                pipeline=self.run["pipeline"],
                extra={**self._extra(trainer), "epoch": entry["epoch"]},
            )
        elif "valid_loss" in entry:
            meta["bad_epochs"] = meta.get("bad_epochs", 0) + 1
        self.metrics.write({"kind": "epoch", **entry})
        self.logger.info(_epoch_line(entry, self.args.epochs))
        plot_curves(self.out / "curves.png", meta["history"])
        patience = self.args.patience
        return patience is not None and meta.get("bad_epochs", 0) >= patience


def _epoch_line(entry: dict[str, Any], epochs: int) -> str:
    line = f"epoch {entry['epoch']}/{epochs}: train loss {entry['train_loss']:.4f}"
    if "valid_loss" in entry:
        line += f", valid loss {entry['valid_loss']:.4f} (perplexity {entry['valid_ppl']:.2f})"
    if "bleu" in entry:
        line += f", BLEU {entry['bleu']:.2f}, chrF {entry['chrf']:.2f}"
    if "exact_match" in entry:
        line += f", valid exact match {entry['exact_match']:.1%}"
    return line + f", {entry['seconds']:.1f} s ({entry['samples_per_s']:,.0f} samples/s)"


def _prepare(
    args: argparse.Namespace, parser: argparse.ArgumentParser, defaults: dict[str, Any]
) -> Path | None:
    """Settle the options (flags > --config > a resumed run's > defaults) and ``--out``."""
    ckpt = _resume_source(args)
    saved = _saved_hyperparameters(ckpt)
    merged = {**defaults, **{k: v for k, v in saved.items() if k in defaults}}
    for name in ("resume", "overwrite"):
        merged[name] = defaults[name]
    apply_config(args, parser, merged)
    _check_floats(args)
    out = Path(args.out)
    check_run_folder(out, overwrite=args.overwrite, resume=ckpt is not None)
    return ckpt


def _load(args: argparse.Namespace, ckpt: Path | None) -> tuple[Any, Any, Any, Any, Any]:
    """``(model, pipeline, train, valid, train_state)``, new or resumed."""
    from seqdata.checkpoint import load_checkpoint, load_optimizer_state, load_train_state

    if ckpt is None:
        pipeline, train, valid = _data(args, None, None)
        return _new_model(args, pipeline), pipeline, train, valid, None
    model, pipeline, _ = load_checkpoint(ckpt)
    if pipeline is None:
        raise UsageError(f"--resume {ckpt} holds no pipeline; it cannot be trained on {args.dir}")
    pipeline, train, valid = _data(args, pipeline, ckpt)
    model.teacher_forcing_ratio = args.teacher_forcing
    state = None
    files = json.loads((ckpt / "config.json").read_text(encoding="utf-8")).get("files", {})
    if "train_state.pt" in files:
        state = (load_train_state(ckpt), lambda opt: load_optimizer_state(ckpt, opt))
    else:
        logging.getLogger(LOGGER).info(
            f"{ckpt} has no training state: starting a new run from its weights"
        )
    return model, pipeline, train, valid, state


def train_run(
    args: argparse.Namespace, parser: argparse.ArgumentParser, defaults: dict[str, Any]
) -> int:
    """``seqdata train``: see the module docstring of ``seqdata.cli.train``."""
    import torch

    from seqdata.cli._batching import loader
    from seqdata.device import move_model, resolve_device
    from seqdata.trainer import Trainer

    ckpt = _prepare(args, parser, defaults)
    device = resolve_device(args.device)
    logger = setup_logging(args.log_file)
    torch.manual_seed(args.seed)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    model, pipeline, train, valid, state = _load(args, ckpt)
    move_model(model, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    pad = pipeline.tgt_vocab.pad_id
    train_loader = loader(train, _sampler(args, train), pad_id=pad, device=device)
    run = {
        "pipeline": pipeline,
        "valid_loader": _valid_loader(valid, pad, device),
        "max_tgt_len": int(train.tgt_lengths.max()),
        "plateau": args.lr_schedule == "plateau",
        "hyperparameters": {
            k: v for k, v in sorted(vars(args).items()) if k not in _NOT_HYPERPARAMETERS
        },
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "seqdata-output.json").write_text(
        json.dumps({"kind": "train", "format": "seqdata-output", "version": 1}) + "\n",
        encoding="utf-8",
    )
    hooks = EpochEnd(args, run)
    total = args.epochs * len(train_loader.batch_sampler)  # type: ignore[arg-type]
    total = min(total, args.max_steps) if args.max_steps else total
    trainer = Trainer(
        model,
        train_loader,
        optimizer,
        epochs=args.epochs,
        scheduler=_scheduler(args, optimizer),
        device=device,
        clip_norm=args.clip_norm,
        max_steps=args.max_steps,
        save_every=args.save_every,
        on_save=hooks.save,
        on_epoch_end=hooks,
        on_log=ProgressLine(total, args.epochs, hooks.metrics, show=not args.quiet),
        log_every_s=args.log_every,
    )
    if state is not None:
        state[1](optimizer)
        trainer.load_state_dict(state[0])
    n_params = sum(p.numel() for p in model.parameters())
    n_valid = 0 if valid is None else len(valid)
    resumed = f", resuming at epoch {trainer.progress.epoch + 1} step {trainer.progress.step}"
    logger.info(
        f"training on {len(train):,} pairs ({n_valid:,} held out), {n_params:,} parameters, "
        f"{args.epochs} epoch{'' if args.epochs == 1 else 's'} on {device}, "
        + _batches_text(train_loader.batch_sampler)
        + (resumed if state is not None else "")
    )
    trainer.run()
    if (out / "best").is_dir():
        kept = f"best/ selected by {_selected_by(args)}"
    else:
        kept = "last/; no best/ without held-out pairs" if n_valid == 0 else "last/"
    logger.info(
        f"wrote {out}/ ({kept}) — translate with: seqdata translate --checkpoint {out} FILE"
    )
    return 0


def _valid_loader(valid: Any, pad: int, device: Any) -> Any:
    from seqdata import BucketBatchSampler
    from seqdata.cli._batching import loader

    if valid is None:
        return None
    sampler = BucketBatchSampler(
        valid.src_lengths, valid.tgt_lengths, batch_size=256, shuffle=False
    )
    return loader(valid, sampler, pad_id=pad, device=device)
