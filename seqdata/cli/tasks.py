"""``seqdata tasks``: list the built-in tasks."""

from __future__ import annotations

import argparse
from typing import Any

from seqdata.cli import COMMANDS, say

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``seqdata tasks``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "tasks", help=COMMANDS["tasks"], description="List the built-in tasks."
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Print each task: its summary, tokenizer, demo size and exact-match bar."""
    from seqdata.tasks import TASKS

    for task in TASKS.values():
        bar = f"bar: test exact match >= {task.bar:.0%}" if task.bar is not None else "no bar"
        size = "all" if task.default_size is None else f"{task.default_size:,}"
        say(f"{task.name:<8}{task.summary}")
        say(f"{'':<8}tokenizer {task.tokenizer}, demo size {size} training pairs, {bar}")
    return 0
