"""``seqdata lm``: a character (or word) language model on a text file.

Three subcommands:

- ``seqdata lm train TEXT --out CKPT``: builds the vocabulary from ``TEXT`` (characters, or
  words with an end-of-line token), holds out its last ``--valid-fraction``, folds both into
  ``(B, N)`` streams ([`BPTTBatcher`][seqdata.lm.BPTTBatcher]) and trains a
  [`CharLM`][seqdata.models.CharLM] with truncated backpropagation through time
  ([`train_bptt`][seqdata.train.train_bptt]), printing one line per epoch with the training
  and validation loss in bits per character (characters) or perplexity (words). The
  checkpoint is written after every epoch, with its vocabulary.
- ``seqdata lm evaluate --checkpoint CKPT TEXT``: the loss of a checkpoint on another text.
- ``seqdata lm generate --checkpoint CKPT --prefix "ROMEO:"``: sample a continuation.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

from seqdata.cli import (
    COMMANDS,
    UsageError,
    add_device_option,
    nonnegative_int,
    number,
    positive_float,
    positive_int,
    say,
)

__all__ = ["add_parser", "run"]

_LEVELS = ("char", "word")
_fraction = number(float, lambda v: 0 <= v < 1, "a fraction in [0, 1)")
_temperature = number(float, lambda v: v >= 0, "a number >= 0 (0 = always the likeliest)")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``seqdata lm`` and its subcommands."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "lm",
        help=COMMANDS["lm"],
        description="A recurrent language model on a text file, trained with truncated "
        "backpropagation through time; losses in bits per character (or word perplexity).",
    )
    sub = p.add_subparsers(dest="lm_command", metavar="SUBCOMMAND", required=True)
    _add_train(sub)
    ev = sub.add_parser("evaluate", help="the loss of a checkpoint on a text file")
    ev.add_argument("--checkpoint", required=True, help="a folder written by seqdata lm train")
    ev.add_argument("text", help="a UTF-8 text file")
    ev.add_argument("--bptt", type=positive_int, default=64, help="chunk length (default 64)")
    add_device_option(ev)
    ev.set_defaults(func=run_evaluate)
    gen = sub.add_parser("generate", help="continue a prefix by sampling the model")
    gen.add_argument("--checkpoint", required=True, help="a folder written by seqdata lm train")
    gen.add_argument("--prefix", default="\n", help="text to start from (default a new line)")
    gen.add_argument(
        "--length", type=positive_int, default=200, help="tokens to generate (default 200)"
    )
    gen.add_argument(
        "--temperature",
        type=_temperature,
        default=0.8,
        help="sampling temperature: lower is more conservative, 0 always picks the likeliest "
        "(default 0.8)",
    )
    gen.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (default 0)")
    add_device_option(gen)
    gen.set_defaults(func=run_generate)
    return p


def _add_train(sub: Any) -> None:
    t = sub.add_parser("train", help="train a language model on a text file")
    t.add_argument("text", help="a UTF-8 text file")
    t.add_argument("--out", required=True, help="checkpoint folder")
    t.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint")
    t.add_argument(
        "--level", choices=_LEVELS, default="char", help="characters or words (default char)"
    )
    t.add_argument(
        "--cell", choices=("lstm", "gru", "rnn"), default="lstm", help="RNN cell (default lstm)"
    )
    t.add_argument("--epochs", type=positive_int, default=5, help="passes (default 5)")
    t.add_argument("--max-steps", type=positive_int, help="stop each pass after this many chunks")
    t.add_argument(
        "--batch-size", type=positive_int, default=32, help="parallel streams B (default 32)"
    )
    t.add_argument(
        "--bptt", type=positive_int, default=64, help="steps T of backpropagation (default 64)"
    )
    t.add_argument("--embed-dim", type=positive_int, default=64, help="embedding size (default 64)")
    t.add_argument("--hidden-size", type=positive_int, default=256, help="cell size (default 256)")
    t.add_argument("--num-layers", type=positive_int, default=1, help="RNN layers (default 1)")
    t.add_argument("--dropout", type=_fraction, default=0.0, help="dropout (default 0)")
    t.add_argument("--lr", type=positive_float, default=2e-3, help="Adam rate (default 0.002)")
    t.add_argument(
        "--clip", type=positive_float, default=1.0, help="gradient norm clip (default 1.0)"
    )
    t.add_argument(
        "--valid-fraction",
        type=_fraction,
        default=0.1,
        help="the end of the text held out for validation (default 0.1; 0 = none)",
    )
    t.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (default 0)")
    add_device_option(t)
    t.set_defaults(func=run_train)


# --- text ↔ ids ------------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except UnicodeDecodeError as err:
        raise UsageError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    return text.replace("\r\n", "\n")


def _tokens(text: str, level: str, eol: str) -> list[str]:
    """Characters, or the words of each line followed by the end-of-line token ``eol``."""
    if level == "char":
        return list(text)
    return [tok for line in text.splitlines() for tok in (*line.split(), eol)]


def _detok(tokens: list[str], level: str, eol: str) -> str:
    if level == "char":
        return "".join(tokens)
    return " ".join(tokens).replace(f" {eol} ", "\n").replace(eol, "\n")


def _loss_text(nats: float, level: str) -> str:
    if level == "char":
        return f"{nats / math.log(2):.3f} bits/char"
    return f"perplexity {math.exp(min(nats, 50.0)):.1f}"


def _load(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    from seqdata.checkpoint import load_checkpoint
    from seqdata.device import resolve_device
    from seqdata.vocab import Vocab

    device = resolve_device(args.device)
    model, _, extra = load_checkpoint(args.checkpoint, map_location=device)
    if type(model).__name__ != "CharLM" or not isinstance(extra, dict) or "vocab" not in extra:
        raise UsageError(
            f"--checkpoint {args.checkpoint} was not written by seqdata lm train (it holds a "
            f"{type(model).__name__})"
        )
    return model, Vocab.from_dict(extra["vocab"]), extra


# --- the subcommands -------------------------------------------------------------------------


def run_train(args: argparse.Namespace) -> int:
    """Train and print one line per epoch; the checkpoint is written after each epoch."""
    import torch

    from seqdata.checkpoint import save_checkpoint
    from seqdata.device import move_model, resolve_device
    from seqdata.lm import BPTTBatcher
    from seqdata.models import CharLM
    from seqdata.train import evaluate_bptt, train_bptt
    from seqdata.vocab import Vocab

    device = resolve_device(args.device)
    out = Path(args.out)
    if out.exists() and (out.is_file() or any(out.iterdir())) and not args.overwrite:
        raise UsageError(f"--out {out} exists; pass --overwrite to replace it, or a new folder")
    torch.manual_seed(args.seed)
    vocab0 = Vocab([])
    tokens = _tokens(_read(args.text), args.level, vocab0.lookup_token(vocab0.eos_id))
    cut = len(tokens) - int(len(tokens) * args.valid_fraction)
    vocab = Vocab.build([tokens[:cut]])
    ids = vocab.encode(tokens)
    train = BPTTBatcher(ids[:cut], batch_size=args.batch_size, bptt_len=args.bptt)
    valid = None
    if cut < len(ids):
        streams = max(1, min(args.batch_size, (len(ids) - cut) // (args.bptt + 1)))
        valid = BPTTBatcher(ids[cut:], batch_size=streams, bptt_len=args.bptt)
    model = CharLM(
        len(vocab), args.embed_dim, args.hidden_size, args.cell, args.num_layers, args.dropout
    )
    move_model(model, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    unit = "characters" if args.level == "char" else "words"
    say(
        f"{args.text}: {len(tokens):,} {unit}, vocab {len(vocab):,}; training on {cut:,}, "
        f"{len(tokens) - cut:,} held out; {sum(p.numel() for p in model.parameters()):,} "
        f"parameters on {device}"
    )
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        loss = train_bptt(
            model, train, optimizer, device=device, clip_norm=args.clip, max_steps=args.max_steps
        )
        if not math.isfinite(loss):
            raise UsageError(f"epoch {epoch}: the training loss is {loss}; lower --lr")
        line = f"epoch {epoch}  train {_loss_text(loss, args.level)}"
        extra: dict[str, Any] = {"level": args.level, "vocab": vocab.to_dict(), "epoch": epoch}
        extra["train_loss"] = loss
        if valid is not None:
            valid_loss = evaluate_bptt(model, valid, device=device)
            line += f"  valid {_loss_text(valid_loss, args.level)}"
            extra["valid_loss"] = valid_loss
        save_checkpoint(out, model, optimizer=optimizer, extra=extra)
        say(f"{line}  ({time.perf_counter() - start:.1f} s)")
    say(f"wrote {out}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """Print the checkpoint's loss on a text file."""
    from seqdata.lm import BPTTBatcher
    from seqdata.train import evaluate_bptt

    model, vocab, extra = _load(args)
    level = extra.get("level", "char")
    tokens = _tokens(_read(args.text), level, vocab.lookup_token(vocab.eos_id))
    ids = vocab.encode(tokens)
    streams = max(1, min(32, len(ids) // (args.bptt + 1)))
    loss = evaluate_bptt(model, BPTTBatcher(ids, streams, args.bptt))
    unknown = sum(1 for i in ids if i == vocab.unk_id)
    say(f"{args.text}: {len(ids):,} tokens ({unknown:,} unknown): {_loss_text(loss, level)}")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    """Print the prefix and its sampled continuation."""
    import torch

    model, vocab, extra = _load(args)
    level = extra.get("level", "char")
    eol = vocab.lookup_token(vocab.eos_id)
    prefix = vocab.encode(_tokens(args.prefix, level, eol) or [eol])
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(args.seed)
    ids = model.generate(prefix, args.length, args.temperature, generator=generator)
    skip = {vocab.pad_id, vocab.special_ids.get("sos", vocab.pad_id)}
    if level == "char":  # a character model has no end-of-line token: "\n" is a character
        skip.add(vocab.eos_id)
    tokens = [vocab.lookup_token(i) for i in ids.tolist() if i not in skip]
    sys.stdout.write(_detok(tokens, level, eol).rstrip("\n") + "\n")
    return 0


run = run_train
