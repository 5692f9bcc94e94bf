"""The ``seqdata`` command: the demo, and the same stages on your own parallel corpus.

Usage:

    seqdata demo                                   # built-in data, end to end
    seqdata tasks                                  # the built-in tasks
    seqdata prepare --src train.de --tgt train.en --out data/
    seqdata stats data/ --plot lengths.png
    seqdata train data/ --epochs 5 --out ckpt/
    seqdata translate --checkpoint ckpt/ < test.de > test.hyp.en

Every command has ``--help``. A bad input (a missing file, mismatched line counts, an empty
corpus, a checkpoint from another vocabulary, ``--device cuda`` without a GPU) prints one
line on stderr, ``seqdata <command>: error: …``, and exits with status 2; output folders
appear only when complete (written to a temporary folder, then renamed).

Each command is one module of this package that owns its parser and its handler side by
side: ``add_parser(subparsers)`` registers it, ``run(args)`` runs it and returns the exit
status. This module holds [`main`][seqdata.cli.main] and what the commands share: the
number parser for ``type=``, [`UsageError`][seqdata.cli.UsageError] and the output helpers.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from seqdata.errors import SeqdataError

__all__ = ["COMMANDS", "UsageError", "build_parser", "main"]

COMMANDS: dict[str, str] = {
    "tasks": "list the built-in tasks",
    "demo": "run the whole pipeline on built-in data",
    "prepare": "read, tokenize, index and store a parallel corpus",
    "stats": "length percentiles, padding efficiency per batching strategy, bucket table",
    "train": "train the encoder-decoder on a prepared corpus",
    "translate": "translate lines with a checkpoint (stdin to stdout)",
    "evaluate": "translate a test set and score it (BLEU, chrF, perplexity)",
    "lm": "train, evaluate and sample a character (or word) language model",
}
"""The subcommands (one module each) and their one-line help, in the order ``seqdata --help``
lists them."""


class UsageError(Exception):
    """A bad command line that argparse cannot see (reported like argparse's own errors)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def number(kind: Callable[[str], Any], ok: Callable[[Any], bool], what: str) -> Any:
    """An argparse ``type=``: parse with ``kind``, accept when ``ok``, else say ``what``.

    >>> number(int, lambda v: v >= 1, "a positive integer")("3")
    3
    """

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"should be {what}, but got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"should be {what}, but got {value}")
        return value

    return parse


positive_int = number(int, lambda v: v >= 1, "a positive integer")
nonnegative_int = number(int, lambda v: v >= 0, "an integer >= 0")
positive_float = number(float, lambda v: v > 0, "a positive number")

DEVICE_HELP = (
    "auto (CUDA when a GPU is visible, else the CPU), cpu, cuda or cuda:N (default auto); "
    "cuda needs a CUDA build of torch"
)


def add_device_option(p: argparse.ArgumentParser) -> None:
    """``--device``, the same on every command that runs a model."""
    p.add_argument("--device", default="auto", help=DEVICE_HELP)


def add_model_options(p: argparse.ArgumentParser, *, epochs: int) -> None:
    """The options ``seqdata demo`` and ``seqdata train`` share (model, device, seed)."""
    p.add_argument(
        "--cell", choices=("gru", "lstm", "rnn"), default="gru", help="RNN cell (default gru)"
    )
    p.add_argument(
        "--epochs", type=positive_int, default=epochs, help=f"training epochs (default {epochs})"
    )
    add_device_option(p)
    p.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--batch-size", type=positive_int, default=64, help="examples per batch (default 64)"
    )
    p.add_argument("--embed-dim", type=positive_int, default=64, help="embedding size (default 64)")
    p.add_argument(
        "--hidden-size",
        type=positive_int,
        default=128,
        help="hidden size per direction (default 128)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars (shown on a terminal)")


def progress(args: argparse.Namespace) -> bool:
    """Progress bars on a terminal only (a log file gets the per-epoch lines), never --quiet."""
    return not args.quiet and sys.stderr.isatty()


def say(line: str = "") -> None:
    """One line of a command's report, on stdout."""
    print(line, flush=True)


def note(line: str) -> None:
    """One line for the user on stderr (errors, notices)."""
    print(line, file=sys.stderr, flush=True)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``seqdata`` argument parser (every subcommand has ``--help``).

    Args:
        only: build the full parser of this subcommand alone and list the others by name and
            help line, without importing their modules (``main`` passes the command it runs,
            so ``seqdata prepare`` never loads what ``train`` needs, torch included; ``""``
            lists them all). ``None``: every subcommand in full.
    """
    import importlib

    from seqdata import __version__

    parser = _Parser(
        prog="seqdata",
        description="Text to length-bucketed batches for RNN/LSTM/GRU models: the demo, and "
        "the same stages on your own parallel corpus.",
        epilog="Start with `seqdata demo`; then prepare → stats → train → translate.",
    )
    parser.add_argument("--version", action="version", version=f"seqdata {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command, summary in COMMANDS.items():
        if only is None or command == only:
            importlib.import_module(f"seqdata.cli.{command}").add_parser(sub)
        else:
            sub.add_parser(command, help=summary)  # listed; `main` never selects it unbuilt
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``seqdata`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else "")
    args = parser.parse_args(argv)
    prog = f"seqdata {args.command}"
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (UsageError, SeqdataError) as err:
        note(f"{prog}: error: {err}")
        return 2
    except BrokenPipeError:
        # `seqdata translate ... | head`: the reader left; stop quietly, like other tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as err:
        note(f"{prog}: error: {err}")
        return 2
    except KeyboardInterrupt:
        note(f"{prog}: interrupted")
        return 130
