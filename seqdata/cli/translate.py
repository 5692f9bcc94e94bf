"""``seqdata translate``: translate lines with a checkpoint, stdin to stdout.

One output line per input line (an empty line translates to an empty line); the model runs
on ``--device`` (``auto``: CUDA when a GPU is visible). Greedy by default; ``--beam K``
searches ``K`` hypotheses per sentence, ranked with GNMT's length normalisation
(``--len-penalty``). Outputs are at most ``--max-len`` tokens, by default ``2 × source
length + 10`` per sentence, and at least ``--min-len`` tokens (default 1: no empty
translation). ``--replace-unk`` writes each ``<unk>`` as the source token the model attended
to most when it wrote it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from seqdata.cli import COMMANDS, UsageError, add_device_option, number, positive_int

__all__ = ["add_decoding_options", "add_parser", "load_translator", "read_lines", "run"]

nonnegative_float = number(float, lambda v: v >= 0, "a number >= 0")
nonnegative_int = number(int, lambda v: v >= 0, "an integer >= 0")


def add_decoding_options(p: argparse.ArgumentParser) -> None:
    """``--beam``, ``--len-penalty``, ``--max-len``, ``--min-len``, ``--batch-size``,
    ``--replace-unk`` (translate, evaluate)."""
    p.add_argument(
        "--beam",
        type=positive_int,
        default=1,
        help="beam width; 1 decodes greedily (default 1; 4-6 is usual for translation)",
    )
    p.add_argument(
        "--len-penalty",
        type=nonnegative_float,
        default=1.0,
        help="beam length normalisation: scores are divided by ((5 + length) / 6) ** A "
        "(GNMT); 0 ranks by raw log-probability, which favours short outputs (default 1.0)",
    )
    p.add_argument(
        "--max-len",
        type=positive_int,
        default=None,
        help="most target tokens to generate, EOS included (default: 2 x source length + 10)",
    )
    p.add_argument(
        "--min-len",
        type=nonnegative_int,
        default=1,
        help="fewest tokens before EOS (default 1: no empty translation; 0 lets the model "
        "stop at once)",
    )
    p.add_argument(
        "--batch-size", type=positive_int, default=128, help="sentences per batch (default 128)"
    )
    p.add_argument(
        "--replace-unk",
        action="store_true",
        help="write each <unk> as the source token the model attended to most when it wrote "
        "it (names, numbers; needs a model with attention)",
    )


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``seqdata translate``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "translate",
        help=COMMANDS["translate"],
        description="Translate one sentence per line with a checkpoint from seqdata train or "
        "seqdata demo, greedily or with --beam K; output has one line per input line.",
    )
    p.add_argument("input", nargs="?", default="-", help="input file, or - for stdin (default)")
    p.add_argument("--checkpoint", required=True, help="checkpoint folder")
    add_device_option(p)
    add_decoding_options(p)
    p.set_defaults(func=run)
    return p


def read_lines(source: str) -> list[str]:
    """The lines of a UTF-8 file (``-``: stdin), without line ends or a leading BOM."""
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
    for line_no, raw in enumerate(lines, start=1):
        try:
            out.append(raw.decode("utf-8").removesuffix("\r"))
        except UnicodeDecodeError as err:
            raise UndecodableInputError(
                f"is not valid UTF-8 ({err.reason} at byte {err.start}); convert the file to "
                "UTF-8 first",
                path=name,
                line=line_no,
            ) from None
    if out and out[0].startswith("\ufeff"):
        out[0] = out[0][1:]
    return out


def load_translator(checkpoint: str, device: Any) -> tuple[Any, Any, Any]:
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
    model, pipeline, _ = load_translator(args.checkpoint, device)
    texts = read_lines(args.input)
    hyps = translate(
        model,
        pipeline,
        texts,
        beam=args.beam,
        len_penalty=args.len_penalty,
        max_len=args.max_len,
        min_len=args.min_len,
        batch_size=args.batch_size,
        device=device,
        replace_unk=args.replace_unk,
    )
    sys.stdout.write("".join(h.replace("\n", " ") + "\n" for h in hyps))
    sys.stdout.flush()
    return 0
