"""Built-in data: nothing is downloaded, every task is generated or ships in a package.

A task is a function returning a polars DataFrame with columns ``split`` (``train``,
``valid``, ``test``), ``src`` and ``tgt`` (plus task-specific columns). `TASKS` lists
them with the tokenizer and the demo settings that suit each; ``seqdata tasks`` prints it.

>>> sorted(TASKS)
['bible', 'dates']
>>> df = load_task("dates", size=6, seed=1)
>>> df.filter(pl.col("split") == "train").height, sorted(set(df["split"]))
(6, ['test', 'train', 'valid'])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from seqdata.errors import ConfigError
from seqdata.tasks.bible import bible, pairs_from_bibles, split_frame
from seqdata.tasks.dates import FORMATS, LOCALES, SPLITS, dates, render_date

__all__ = [
    "FORMATS",
    "LOCALES",
    "SPLITS",
    "TASKS",
    "Task",
    "bible",
    "dates",
    "get_task",
    "load_task",
    "pairs_from_bibles",
    "render_date",
    "split_frame",
]


def _eval_size(size: int) -> int:
    """Valid/test size for ``size`` training pairs: a tenth, within [20, 1000]."""
    return min(max(size // 10, 20), 1_000)


def _load_dates(size: int, seed: int) -> pl.DataFrame:
    return dates(train=size, valid=_eval_size(size), test=_eval_size(size), seed=seed)


def _load_bible(size: int | None, seed: int) -> pl.DataFrame:
    return bible(train=size, seed=seed).drop("verse")


@dataclass(frozen=True)
class Task:
    """A built-in task and the demo settings that suit it.

    Attributes:
        name: what ``--task`` takes.
        summary: one line for ``seqdata tasks``.
        tokenizer: the tokenizer (both sides) the demo uses: ``char`` or ``whitespace``.
        default_size: training pairs of the default demo run (``None``: all there are).
        bar: the demo's target on the test split (exact match), or ``None`` for none.
        extra: the optional dependency group it needs, if any.
        example: a source sentence to try ``seqdata translate`` on.
    """

    name: str
    summary: str
    loader: Callable[..., pl.DataFrame]
    tokenizer: str
    default_size: int | None
    bar: float | None
    extra: str | None = None
    example: str = ""

    def load(self, size: int | None = None, *, seed: int = 0) -> pl.DataFrame:
        """The task's frame with ``size`` training pairs (default `default_size`)."""
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ConfigError(f"size should be a positive integer, but got size={size!r}")
        return self.loader(self.default_size if size is None else size, seed)


TASKS: dict[str, Task] = {
    "dates": Task(
        name="dates",
        summary="dates written out in 13 languages (babel's CLDR formats: en fr de es it pt nl "
        "sv pl tr ru ko ja) -> YYYY-MM-DD; generated from the seed, any size",
        loader=_load_dates,
        tokenizer="char",
        default_size=20_000,
        bar=0.90,
        example="3 mars 2021",
    ),
    "bible": Task(
        name="bible",
        summary="American Standard Version -> World English Bible, aligned by verse (~31k "
        "pairs); needs pip install 'seqdata[bible]'",
        loader=_load_bible,
        tokenizer="whitespace",
        default_size=None,
        bar=None,
        extra="bible",
        example="And God said, Let there be light: and there was light.",
    ),
}
"""Every built-in task by name."""


def get_task(name: str) -> Task:
    """The [`Task`][seqdata.tasks.Task] called ``name``; [`ConfigError`][seqdata.errors.ConfigError]
    listing the choices if none."""
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(f"task should be one of {sorted(TASKS)}, but got task={name!r}") from None


def load_task(name: str, size: int | None = None, *, seed: int = 0) -> pl.DataFrame:
    """Build task ``name`` with ``size`` training pairs (its default if ``None``)."""
    return get_task(name).load(size, seed=seed)
