"""``seqdata translate``: translate lines with a checkpoint, stdin to stdout.

One output line per input line (an empty line translates to an empty line); the model runs
on ``--device`` (``auto``: CUDA when a GPU is visible).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from seqdata.cli import UsageError, add_device_option, positive_int

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``seqdata translate``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "translate",
        help="translate lines with a checkpoint (stdin to stdout)",
        description="Greedy-translate one sentence per line with a checkpoint from seqdata "
        "train or seqdata demo; output has one line per input line.",
    )
    p.add_argument("input", nargs="?", default="-", help="input file, or - for stdin (default)")
    p.add_argument("--checkpoint", required=True, help="checkpoint folder")
    add_device_option(p)
    p.add_argument(
        "--batch-size", type=positive_int, default=128, help="sentences per batch (default 128)"
    )
    p.add_argument(
        "--max-len", type=positive_int, default=None, help="most target tokens to generate"
    )
    p.set_defaults(func=run)
    return p


def _read_lines(source: str) -> list[str]:
    from seqdata import UndecodableInputError

    if source == "-":
        data, name = sys.stdin.buffer.read(), "<stdin>"
    else:
        path = Path(source)
        if not path.is_file():
            raise UsageError(f"{source}: no such file")
        data, name = path.read_bytes(), source
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for number, raw in enumerate(lines, start=1):
        try:
            out.append(raw.decode("utf-8").removesuffix("\r"))
        except UnicodeDecodeError as err:
            raise UndecodableInputError(
                f"is not valid UTF-8 ({err.reason} at byte {err.start}); convert the file to "
                "UTF-8 first",
                path=name,
                line=number,
            ) from None
    if out and out[0].startswith("\ufeff"):
        out[0] = out[0][1:]
    return out


def _load(checkpoint: str, device: Any) -> tuple[Any, Any, Any]:
    """``(model, pipeline, extra)`` of a Seq2Seq checkpoint whose pipeline fits the model."""
    from seqdata import CheckpointError
    from seqdata.models import Seq2Seq
    from seqdata.train import load_checkpoint

    model, pipeline, extra = load_checkpoint(checkpoint, map_location=device)
    if not isinstance(model, Seq2Seq):
        raise CheckpointError(
            f"holds a {type(model).__name__}; translate needs a Seq2Seq checkpoint "
            "(from seqdata train or seqdata demo)",
            path=checkpoint,
        )
    if pipeline is None or not hasattr(pipeline, "decode_target"):
        raise CheckpointError(
            "holds no PairPipeline (tokenizers and vocabularies); save it with "
            "save_checkpoint(..., pipeline=pipeline)",
            path=checkpoint,
        )
    sizes = (model.config.encoder.vocab_size, model.config.decoder.vocab_size)
    vocabs = (len(pipeline.src_vocab), len(pipeline.tgt_vocab))
    if sizes != vocabs:
        raise CheckpointError(
            f"the model was built for vocabularies of {sizes[0]} source / {sizes[1]} target "
            f"tokens, but its pipeline has {vocabs[0]} / {vocabs[1]}: the pipeline comes from "
            "another vocabulary; use the pipeline the model was trained with",
            path=checkpoint,
        )
    return model, pipeline, extra


def run(args: argparse.Namespace) -> int:
    """Translate ``input`` (a file, or stdin) line by line to stdout."""
    from seqdata.device import resolve_device
    from seqdata.translation import translate

    device = resolve_device(args.device)
    model, pipeline, extra = _load(args.checkpoint, device)
    texts = _read_lines(args.input)
    max_len = args.max_len
    if max_len is None and isinstance(extra, dict) and isinstance(extra.get("max_tgt_len"), int):
        max_len = 2 * int(extra["max_tgt_len"])
    hyps = translate(
        model, pipeline, texts, max_len=max_len, batch_size=args.batch_size, device=device
    )
    sys.stdout.write("".join(h.replace("\n", " ") + "\n" for h in hyps))
    sys.stdout.flush()
    return 0
