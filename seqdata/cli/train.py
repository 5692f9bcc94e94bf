"""``seqdata train``: train the reference encoder-decoder on a prepared corpus.

A validation set is held out, the training pairs are batched by length
([`BucketBatchSampler`][seqdata.BucketBatchSampler]), the model trains on ``--device``
(``auto``: CUDA when a GPU is visible) and the checkpoint is written with its pipeline,
so that ``seqdata translate`` reloads both.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from seqdata.cli import (
    UsageError,
    add_model_options,
    nonnegative_int,
    positive_float,
    positive_int,
    progress,
    say,
)
from seqdata.cli._prepared import load_prepared

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``seqdata train``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "train",
        help="train the encoder-decoder on a prepared corpus",
        description="Train the reference Seq2Seq (bidirectional encoder, attention) on bucketed "
        "batches of a prepared corpus, holding out a validation set; write a checkpoint that "
        "seqdata translate reloads.",
    )
    p.add_argument("dir", help="a folder written by seqdata prepare")
    p.add_argument("--out", required=True, help="checkpoint folder")
    add_model_options(p, epochs=5)
    p.add_argument(
        "--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's)"
    )
    p.add_argument("--num-layers", type=positive_int, default=1, help="RNN layers (default 1)")
    p.add_argument(
        "--attention",
        choices=("general", "dot", "none"),
        default="general",
        help="attention over the encoder outputs (default general)",
    )
    p.add_argument("--dropout", type=float, default=0.0, help="dropout between layers (default 0)")
    p.add_argument(
        "--lr", type=positive_float, default=2e-3, help="Adam learning rate (default 0.002)"
    )
    p.add_argument(
        "--bucket-width",
        type=positive_int,
        default=5,
        help="lengths within this many tokens share a bucket (default 5)",
    )
    p.add_argument(
        "--valid",
        type=nonnegative_int,
        default=None,
        help="pairs held out for validation (default 5%%, at most 1000)",
    )
    p.add_argument("--resume", help="continue training this checkpoint (same vocabularies)")
    p.set_defaults(func=run)
    return p


def _check_checkpoint_out(path: str) -> None:
    out = Path(path)
    if out.exists() and (
        out.is_file() or (any(out.iterdir()) and not (out / "config.json").is_file())
    ):
        raise UsageError(
            f"--out {out} exists and is not a seqdata checkpoint; refusing to overwrite it — "
            "choose a new folder"
        )


def _resume(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """Load ``--resume CKPT`` and the prepared corpus, checking they share vocabularies."""
    from seqdata import ManifestError
    from seqdata.train import load_checkpoint

    model, pipeline, _ = load_checkpoint(args.resume)
    if pipeline is None:
        raise UsageError(
            f"--resume {args.resume} holds no pipeline; it cannot be trained on {args.dir}"
        )
    try:
        corpus, _, _ = load_prepared(args.dir, pipeline=pipeline)
    except ManifestError as err:
        raise UsageError(
            f"checkpoint {args.resume} was trained with another vocabulary than {args.dir} "
            f"({err.message}); train from scratch, or prepare the corpus with the checkpoint's "
            "pipeline"
        ) from err
    return model, pipeline, corpus


def _model(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """``(model, pipeline, corpus)``: resumed from ``--resume``, or a new model."""
    from seqdata.models import Seq2Seq

    if args.resume is not None:
        model, pipeline, corpus = _resume(args)
        say(f"resuming {args.resume}: the model's architecture comes from the checkpoint")
        return model, pipeline, corpus
    corpus, pipeline, _ = load_prepared(args.dir)
    model = Seq2Seq.build(
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
    )
    return model, pipeline, corpus


def run(args: argparse.Namespace) -> int:
    """Train, print one line per epoch, and write the checkpoint to ``--out``."""
    import torch

    from seqdata import BucketBatchSampler
    from seqdata.cli._batching import loader, split_holdout
    from seqdata.device import move_model, resolve_device
    from seqdata.train import exact_match, fit, save_checkpoint

    device = resolve_device(args.device)
    _check_checkpoint_out(args.out)
    torch.manual_seed(args.seed)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    model, pipeline, corpus = _model(args)
    move_model(model, device)
    valid_size = args.valid if args.valid is not None else min(1000, len(corpus) // 20)
    train, valid = split_holdout(corpus, valid_size, seed=args.seed)
    pad = pipeline.tgt_vocab.pad_id
    sampler = BucketBatchSampler(
        train.src_lengths,
        train.tgt_lengths,
        batch_size=args.batch_size,
        bucket_width=args.bucket_width,
        seed=args.seed,
    )
    valid_loader = None
    if valid is not None:
        valid_sampler = BucketBatchSampler(
            valid.src_lengths, valid.tgt_lengths, batch_size=256, shuffle=False
        )
        valid_loader = loader(valid, valid_sampler, pad_id=pad, device=device)
    n_params = sum(p.numel() for p in model.parameters())
    say(
        f"training on {len(train):,} pairs ({0 if valid is None else len(valid):,} held out), "
        f"{n_params:,} parameters, {args.epochs} epoch{'' if args.epochs == 1 else 's'} on {device}"
    )
    history: list[dict[str, Any]] = []
    fit(
        model,
        loader(train, sampler, pad_id=pad, device=device),
        epochs=args.epochs,
        lr=args.lr,
        device=device,
        valid_loader=valid_loader,
        progress=progress(args),
        on_epoch_end=_EpochLog(args, model, valid_loader, history, exact_match),
    )
    path = save_checkpoint(
        args.out,
        model.cpu(),
        pipeline=pipeline,
        extra={
            "corpus": str(Path(args.dir).resolve()),
            "device": str(device),
            "history": history,
            "max_tgt_len": int(corpus.tgt_lengths.max()),
        },
    )
    say(f"wrote checkpoint {path}/ — translate with: seqdata translate --checkpoint {path} FILE")
    return 0


class _EpochLog:
    """``fit``'s ``on_epoch_end``: one line per epoch, and the history for the checkpoint."""

    def __init__(
        self,
        args: argparse.Namespace,
        model: Any,
        valid_loader: Any,
        history: list[dict[str, Any]],
        exact_match: Any,
    ) -> None:
        self.args, self.model, self.valid_loader = args, model, valid_loader
        self.history, self.exact_match = history, exact_match

    def __call__(self, stats: Any) -> None:
        entry = {
            "epoch": stats.epoch + 1,
            "train_loss": stats.train_loss,
            "valid_loss": stats.valid_loss,
            "seconds": stats.seconds,
            "samples_per_s": stats.samples_per_s,
        }
        line = f"epoch {stats.epoch + 1}/{self.args.epochs}: train loss {stats.train_loss:.4f}"
        if self.valid_loader is not None:
            em = self.exact_match(self.model, self.valid_loader)
            entry["valid_exact_match"] = em
            line += f", valid loss {stats.valid_loss:.4f}, valid exact match {em:.1%}"
        self.history.append(entry)
        say(line + f", {stats.seconds:.1f} s ({stats.samples_per_s:,.0f} samples/s)")
