"""``seqdata train``: train the reference encoder-decoder on a prepared corpus.

The training pairs are batched by length ([`BucketBatchSampler`][seqdata.BucketBatchSampler],
or [`TokenBudgetBatchSampler`][seqdata.TokenBudgetBatchSampler] with ``--max-tokens``),
validated on the prepared ``DIR/valid`` split (else on pairs held out of ``DIR``), and the
model trains on ``--device``. ``--out`` is a run folder:

- ``last/`` — the latest checkpoint, saved every epoch (and every ``--save-every`` steps)
  with everything ``--resume`` needs to continue exactly;
- ``best/`` — the checkpoint with the best validation score (``--select bleu|loss``);
- ``metrics.jsonl`` — one JSON object per progress line and per epoch;
- ``curves.png`` — loss and BLEU per epoch.

``seqdata translate --checkpoint OUT`` uses ``best/`` (or ``last/``).
"""

from __future__ import annotations

import argparse
from typing import Any

from seqdata.cli import (
    COMMANDS,
    add_model_options,
    nonnegative_int,
    number,
    positive_float,
    positive_int,
)

__all__ = ["add_parser", "run"]

finite_float = number(float, lambda v: v == v and abs(v) != float("inf"), "a finite number")
fraction = number(float, lambda v: 0 <= v <= 1, "a number in [0, 1]")
dropout_rate = number(float, lambda v: 0 <= v < 1, "a number in [0, 1)")


def _token_budget(text: str) -> int | str:
    """``--max-tokens``: a positive integer, or ``auto`` (resolved on the training set)."""
    if text == "auto":
        return "auto"
    try:
        return int(positive_int(text))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"should be a positive integer or auto, but got {text!r}"
        ) from None


_PARSER: dict[str, Any] = {}


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="the run folder (checkpoints, metrics, plots)")
    p.add_argument(
        "--resume",
        nargs="?",
        const="",
        default=None,
        metavar="CKPT",
        help="continue a run exactly where it stopped: the one in --out (no value), or the "
        "checkpoint or run folder CKPT",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start a new run in a non-empty --out (only the files seqdata train writes are "
        "replaced)",
    )
    p.add_argument("--config", help="a YAML or JSON file of options (flags override it)")
    p.add_argument(
        "--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's)"
    )
    p.add_argument(
        "--max-steps", type=positive_int, default=None, help="stop after this many steps"
    )
    p.add_argument(
        "--save-every",
        type=positive_int,
        default=None,
        help="also save last/ every this many steps (default: every epoch only)",
    )
    p.add_argument(
        "--log-every",
        type=positive_float,
        default=30.0,
        help="seconds between progress lines (default 30)",
    )
    p.add_argument("--log-file", default=None, help="also write the log to this file")


def _add_recipe_options(p: argparse.ArgumentParser) -> None:
    """The model options standard RNN translation recipes use (each a model config field)."""
    p.add_argument(
        "--input-feed",
        action="store_true",
        help="feed the attentional vector to the next decoder step (needs attention)",
    )
    p.add_argument(
        "--dropout",
        type=dropout_rate,
        default=0.0,
        help="dropout between layers, and on embeddings and outputs unless set below (default 0)",
    )
    p.add_argument(
        "--embed-dropout",
        type=dropout_rate,
        default=None,
        help="dropout on the embeddings (default: --dropout)",
    )
    p.add_argument(
        "--output-dropout",
        type=dropout_rate,
        default=None,
        help="dropout on the decoder outputs before the output layer (default: --dropout)",
    )
    p.add_argument(
        "--label-smoothing",
        type=dropout_rate,
        default=0.0,
        help="spread this much of the target probability over the vocabulary (default 0)",
    )
    p.add_argument(
        "--tie-embeddings",
        action="store_true",
        help="share the decoder's embedding and output weights (needs --embed-dim equal to "
        "the decoder's hidden size)",
    )


def _add_training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--num-layers", type=positive_int, default=1, help="RNN layers (default 1)")
    p.add_argument(
        "--attention",
        choices=("general", "dot", "additive", "none"),
        default="general",
        help="attention over the encoder outputs: general/dot (Luong) or additive (Bahdanau) "
        "(default general)",
    )
    _add_recipe_options(p)
    p.add_argument(
        "--teacher-forcing",
        type=fraction,
        default=1.0,
        help="probability of feeding the gold token to the decoder while training (default 1)",
    )
    p.add_argument(
        "--lr", type=positive_float, default=2e-3, help="Adam learning rate (default 0.002)"
    )
    p.add_argument(
        "--clip-norm",
        type=positive_float,
        default=1.0,
        help="max global gradient norm (default 1)",
    )
    p.add_argument(
        "--lr-schedule",
        choices=("constant", "plateau", "warmup"),
        default="constant",
        help="constant; plateau: halve the rate when the valid loss stops improving; warmup: "
        "linear warm-up over --warmup-steps, then inverse square-root decay (default constant)",
    )
    p.add_argument(
        "--warmup-steps", type=positive_int, default=500, help="warm-up steps (default 500)"
    )
    p.add_argument(
        "--bucket-width",
        type=positive_int,
        default=1,
        help="lengths within this many tokens share a bucket (default 1)",
    )
    p.add_argument(
        "--max-tokens",
        type=_token_budget,
        default=None,
        help="batch by a token budget per side instead of --batch-size examples; auto: about "
        "256 batches an epoch, between 1,024 and 4,096 tokens",
    )


def _add_valid_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--valid",
        type=nonnegative_int,
        default=None,
        help="pairs held out for validation when DIR has no valid/ split "
        "(default 5%%, at most 1000)",
    )
    p.add_argument(
        "--select",
        choices=("bleu", "loss"),
        default="bleu",
        help="the validation score best/ is chosen by (default bleu)",
    )
    p.add_argument(
        "--patience",
        type=positive_int,
        default=None,
        help="stop after this many epochs without a better validation score",
    )
    p.add_argument(
        "--bleu-pairs",
        type=nonnegative_int,
        default=1000,
        help="validation pairs translated for BLEU/chrF each epoch (default 1000; 0: none)",
    )
    p.add_argument(
        "--exact-match",
        action="store_true",
        help="also report the share of exactly right translations (for tasks like dates)",
    )


def _add_recipe_flag(p: argparse.ArgumentParser) -> None:
    from seqdata.cli._train_options import RECIPES

    p.add_argument(
        "--recipe",
        choices=sorted(RECIPES),
        default=None,
        help="a named preset of the options above, under --config and the flags. "
        "rnn-attention: --cell gru --embed-dim 256 --hidden-size 512 --attention additive "
        "--dropout 0.3 --label-smoothing 0.1 --lr 0.002 --lr-schedule plateau --epochs 15 "
        "--patience 3 --select bleu --max-tokens auto (no input feeding); decode its runs "
        "with evaluate/translate --beam 5",
    )


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``seqdata train``."""
    from seqdata.cli._train_options import track_given

    p: argparse.ArgumentParser = subparsers.add_parser(
        "train",
        help=COMMANDS["train"],
        description="Train the reference Seq2Seq (bidirectional encoder, attention) on "
        "length-bucketed batches of a prepared corpus; report validation loss, perplexity and "
        "BLEU each epoch; keep the last and the best checkpoints in the run folder --out, "
        "which seqdata translate reloads.",
    )
    p.add_argument("dir", help="a folder written by seqdata prepare")
    add_model_options(p, epochs=5)
    _add_run_options(p)
    _add_training_options(p)
    _add_valid_options(p)
    _add_recipe_flag(p)
    p.set_defaults(func=run)
    _PARSER["parser"], _PARSER["defaults"] = p, track_given(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Train, log progress and one line per epoch, keep last/ and best/ in ``--out``."""
    from seqdata.cli._train_options import apply_recipe
    from seqdata.cli._train_run import train_run

    return train_run(args, _PARSER["parser"], apply_recipe(args, _PARSER["defaults"]))
