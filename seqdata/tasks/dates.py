"""The ``dates`` task: dates written out in several languages → ISO ``YYYY-MM-DD``.

Every source is a real CLDR date format rendered by babel (the formats your phone and your
browser use), so the task has variable-length, multilingual, real-language input and one
short, exact target:

    jeudi 29 février 2024            → 2024-02-29   (fr, full)
    2024년 2월 29일 목요일             → 2024-02-29   (ko, full)
    29. Februar 2024                 → 2024-02-29   (de, long)
    Feb 29, 2024                     → 2024-02-29   (en, medium)

The splits are disjoint *by date*: no calendar day of the test split appears in training in
any language or format, so exact match on ``test`` measures generalisation, not recall.
Everything is a function of ``seed`` (and of babel's CLDR data, which can change spellings
between babel releases).

>>> df = dates(train=4, valid=2, test=2, seed=0)
>>> df.columns
['split', 'src', 'tgt', 'locale', 'format']
>>> df.group_by("split", maintain_order=True).len().rows()
[('train', 4), ('valid', 2), ('test', 2)]
>>> bool(df["tgt"].str.contains(r"^\\d{4}-\\d{2}-\\d{2}$").all())
True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import polars as pl
from babel import Locale, UnknownLocaleError
from babel.dates import format_date

from seqdata.errors import ConfigError

__all__ = ["FORMATS", "LOCALES", "SPLITS", "dates", "render_date"]

LOCALES: tuple[str, ...] = (
    "en",
    "fr",
    "de",
    "es",
    "it",
    "pt",
    "nl",
    "sv",
    "pl",
    "tr",
    "ru",
    "ko",
    "ja",
)
"""The default languages (babel locale identifiers)."""

FORMATS: tuple[str, ...] = ("full", "long", "medium")
"""CLDR date lengths used by default (``short`` is left out: its two-digit years are
ambiguous)."""

SPLITS: tuple[str, ...] = ("train", "valid", "test")

_START = dt.date(1900, 1, 1)
_END = dt.date(2099, 12, 31)


def render_date(day: dt.date, locale: str, format: str) -> str:
    """Write ``day`` the way ``locale`` does in the CLDR ``format`` (full/long/medium/short).

    >>> render_date(dt.date(2024, 2, 29), "fr", "full")
    'jeudi 29 février 2024'
    >>> render_date(dt.date(2024, 2, 29), "ko", "long")
    '2024년 2월 29일'
    """
    return format_date(day, format=format, locale=locale)


def _check_size(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} should be an integer >= {minimum}, but got {name}={value!r}")


def _locales(locales: Sequence[str]) -> list[Locale]:
    if isinstance(locales, str) or not locales:
        raise ConfigError(
            f"locales should be a non-empty sequence of locale names such as ('en', 'fr'), "
            f"but got locales={locales!r}"
        )
    parsed = []
    for name in locales:
        try:
            parsed.append(Locale.parse(name))
        except (UnknownLocaleError, ValueError, TypeError) as err:
            raise ConfigError(
                f"every locale should be a CLDR locale known to babel (e.g. 'en', 'de', 'ko'), "
                f"but got {name!r} ({err})"
            ) from err
    return parsed


def dates(
    train: int = 20_000,
    valid: int = 1_000,
    test: int = 1_000,
    *,
    seed: int = 0,
    locales: Sequence[str] = LOCALES,
    formats: Sequence[str] = FORMATS,
    start: dt.date = _START,
    end: dt.date = _END,
) -> pl.DataFrame:
    """Generate the date-normalisation task: written-out dates → ``YYYY-MM-DD``.

    The calendar days from ``start`` to ``end`` are shuffled and partitioned among the splits
    in proportion to their sizes; each example then draws, without replacement, a (day,
    locale, format) triple from its split's days. So examples never repeat and the splits
    share no day.

    Args:
        train: number of training pairs.
        valid: number of validation pairs.
        test: number of test pairs.
        seed: everything is a function of it.
        locales: babel locale names of the source languages.
        formats: CLDR date lengths among ``full``, ``long``, ``medium``, ``short``.
        start: first day that may appear.
        end: last day that may appear.

    Returns:
        A polars DataFrame with columns ``split`` (``train``/``valid``/``test``, in that order),
        ``src``, ``tgt``, ``locale`` and ``format`` (both Utf8).

    Raises:
        ConfigError: a bad size, locale, format or date range, or more pairs than the range
            holds.
    """
    sizes = {"train": train, "valid": valid, "test": test}
    for name, value in sizes.items():
        _check_size(name, value, 0)
    total = sum(sizes.values())
    if total == 0:
        raise ConfigError("train + valid + test should be > 0, but all three are 0")
    bad = [f for f in formats if f not in ("full", "long", "medium", "short")]
    if isinstance(formats, str) or not formats or bad:
        raise ConfigError(
            f"formats should be a non-empty sequence of 'full', 'long', 'medium', 'short', but "
            f"got formats={formats!r}"
        )
    parsed = _locales(locales)
    if end < start:
        raise ConfigError(f"end should be on or after start, but got start={start}, end={end}")
    n_days = (end - start).days + 1
    per_day = len(parsed) * len(formats)
    rng = np.random.default_rng(seed)
    days = rng.permutation(n_days)
    # Days per split: proportional to its size, but at least enough to hold its examples.
    need = {k: -(-v // per_day) for k, v in sizes.items()}
    if sum(need.values()) > n_days:
        raise ConfigError(
            f"{total} pairs do not fit in {n_days} days x {len(parsed)} locales x "
            f"{len(formats)} formats with disjoint splits; ask for fewer pairs or widen "
            "start/end"
        )
    spare = n_days - sum(need.values())
    share = {k: need[k] + (spare * v) // total for k, v in sizes.items()}
    frames = []
    offset = 0
    for split in SPLITS:
        split_days = days[offset : offset + share[split]]
        offset += share[split]
        picks = rng.choice(len(split_days) * per_day, size=sizes[split], replace=False)
        frames.append(
            _split_frame(split, picks, split_days, start, parsed, locales, formats, per_day)
        )
    return pl.concat(frames)


def _split_frame(
    split: str,
    picks: np.ndarray,
    split_days: np.ndarray,
    start: dt.date,
    parsed: list[Locale],
    locales: Sequence[str],
    formats: Sequence[str],
    per_day: int,
) -> pl.DataFrame:
    """One split's rows from its picked (day, locale, format) indices."""
    day_idx, rest = np.divmod(picks, per_day)
    loc_idx, fmt_idx = np.divmod(rest, len(formats))
    chosen = [start + dt.timedelta(days=int(d)) for d in split_days[day_idx]]
    src = [
        format_date(day, format=formats[f], locale=parsed[loc])
        for day, loc, f in zip(chosen, loc_idx.tolist(), fmt_idx.tolist(), strict=True)
    ]
    columns = {
        "split": [split] * len(src),
        "src": src,
        "tgt": [day.isoformat() for day in chosen],
        "locale": [str(locales[i]) for i in loc_idx.tolist()],
        "format": [str(formats[i]) for i in fmt_idx.tolist()],
    }
    return pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.Utf8))
