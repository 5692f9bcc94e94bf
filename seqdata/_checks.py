"""Argument checks in the house style, written once.

Every public entry point checks its inputs here, once, where they enter; the messages read
"X should be …, but got X=…" and say what to do. The functions return the checked value
(converted to a plain Python type), so a call site is one line:

    self.batch_size = check_int("batch_size", batch_size)

>>> check_int("batch_size", 32)
32
>>> check_int("batch_size", 0)
Traceback (most recent call last):
...
seqdata.errors.ConfigError: batch_size should be a positive integer, but got batch_size=0
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Mapping
from typing import Any, TypeVar

import numpy as np

from seqdata.errors import ConfigError, StateDictError

__all__ = [
    "check_choice",
    "check_float",
    "check_int",
    "check_optional_int",
    "check_probability",
    "check_state_keys",
    "check_threads",
    "resolve_rank",
]

_T = TypeVar("_T")


def _is_int(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


def _int_kind(low: int, high: int | None) -> str:
    if high is not None:
        return f"an integer in [{low}, {high}]"
    return "a positive integer" if low == 1 else f"an integer >= {low}"


def check_int(
    name: str, value: Any, low: int = 1, high: int | None = None, *, error: type = ConfigError
) -> int:
    """``value`` as an ``int`` if it is an integer in ``[low, high]``; else a ``ConfigError``.

    Args:
        name: the argument's name, used in the message.
        value: what the caller passed.
        low: the smallest allowed value (1 by default: a positive integer).
        high: the largest allowed value, or None for no bound.
        error: the exception class to raise (a ``SeqdataError`` subclass).
    """
    if not _is_int(value) or value < low or (high is not None and value > high):
        raise error(f"{name} should be {_int_kind(low, high)}, but got {name}={value!r}")
    return int(value)


def check_optional_int(name: str, value: Any, low: int = 1) -> int | None:
    """Like `check_int`, but ``None`` passes through (meaning "no limit")."""
    if value is None:
        return None
    if not _is_int(value) or value < low:
        raise ConfigError(
            f"{name} should be {_int_kind(low, None)} or None, but got {name}={value!r}"
        )
    return int(value)


def check_float(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
) -> float:
    """``value`` as a finite ``float`` in ``[low, high]`` (``(low, high]`` with ``low_open``).

    NaN and ±inf are always refused: a learning rate of ``inf`` trains to NaN weights.
    """
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    if ok:
        value = float(value)
        ok = math.isfinite(value)
        if ok and low is not None:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value <= high
    if not ok:
        lo = "" if low is None else (f"> {low:g}" if low_open else f">= {low:g}")
        hi = "" if high is None else f"<= {high:g}"
        bound = " and ".join(b for b in (lo, hi) if b)
        kind = f"a finite number {bound}" if bound else "a finite number"
        raise ConfigError(f"{name} should be {kind}, but got {name}={value!r}")
    return float(value)


def check_probability(name: str, value: Any) -> float:
    """``value`` as a float in ``[0, 1]``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name} should be a number in [0, 1], but got {name}={value!r}")
    if not 0 <= float(value) <= 1:
        raise ConfigError(f"{name} should be a number in [0, 1], but got {name}={value!r}")
    return float(value)


def check_choice(name: str, value: _T, choices: Collection[_T]) -> _T:
    """``value`` if it is one of ``choices``; else a ``ConfigError`` listing them."""
    if value not in choices:
        shown = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"{name} should be one of {shown}, but got {name}={value!r}")
    return value


def check_threads(num_threads: Any) -> int:
    """The number of threads to use: ``None`` means the CPUs this process may run on."""
    if num_threads is None:
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            return os.cpu_count() or 1
    if not _is_int(num_threads) or num_threads < 1:
        raise ConfigError(
            f"num_threads should be None or a positive integer, but got num_threads={num_threads!r}"
        )
    return int(num_threads)


def resolve_rank(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """``rank``/``world_size`` as given, else from ``torch.distributed`` when initialised."""
    import torch.distributed as dist

    initialised = dist.is_available() and dist.is_initialized()
    if world_size is None:
        world_size = dist.get_world_size() if initialised else 1
    if rank is None:
        rank = dist.get_rank() if initialised else 0
    world_size = check_int("world_size", world_size)
    rank = check_int("rank", rank, low=0)
    if rank >= world_size:
        raise ConfigError(f"rank should be in [0, world_size={world_size}), but got rank={rank}")
    return rank, world_size


def check_state_keys(
    owner: str,
    state: Any,
    expected: Collection[str],
    config: Mapping[str, Any] | None = None,
) -> None:
    """The strict restore rule for every stateful stage.

    ``state`` must be a mapping with exactly the ``expected`` keys (every key consumed, none
    unknown), and every ``config`` entry must equal the saved value (both values named).

    Raises:
        StateDictError: not a mapping, unknown or missing keys, or a setting that differs.
    """
    if not isinstance(state, Mapping):
        raise StateDictError(
            f"{owner}.load_state_dict should get the dict that state_dict() returned, but got "
            f"{type(state).__name__}"
        )
    unknown = sorted(set(state) - set(expected))
    missing = sorted(set(expected) - set(state))
    if unknown or missing:
        raise StateDictError(
            f"{owner} state should have keys {sorted(expected)}, but got unknown keys "
            f"{unknown} and missing keys {missing}"
        )
    for key, value in (config or {}).items():
        if state[key] != value:
            raise StateDictError(
                f"the saved state is for {key}={state[key]!r}, but this {owner} has "
                f"{key}={value!r}; restore into a {owner} built the same way"
            )
