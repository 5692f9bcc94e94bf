"""The one resume-test helper for every stateful stage (samplers, batchers, bucketers).

``check_resume(make, stop_after)`` runs a fresh stage for one uninterrupted pass, then runs
another fresh one for ``stop_after`` items, saves its ``state_dict()`` through pickle (as a
checkpoint would), restores it into a third fresh stage and checks that what was taken plus
what the restored stage yields equals the uninterrupted pass — exactly the rest, nothing
repeated, nothing lost. Import it in a test module as ``from resume import check_resume``
(pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["check_resume", "same"]


def same(a: Any, b: Any) -> bool:
    """Deep equality that understands tensors, numpy arrays and dataclasses (``Batch``)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and bool(torch.equal(a, b))
        )
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    if is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(
            same(getattr(a, f.name), getattr(b, f.name)) for f in fields(a)
        )
    if isinstance(a, (list, tuple)):
        return (
            isinstance(b, (list, tuple))
            and len(a) == len(b)
            and all(same(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def _start(stage: Any, epoch: int | None) -> Any:
    if epoch is not None:
        stage.set_epoch(epoch)
    return stage


def check_resume(
    make: Callable[[], Any], stop_after: int, *, epoch: int | None = None
) -> list[Any]:
    """Stop after ``stop_after`` items, restore a fresh stage, compare with an unbroken pass.

    Args:
        make: builds a fresh stage (the same way every call).
        stop_after: items to take before saving the state (``0`` … a whole pass).
        epoch: if given, ``set_epoch(epoch)`` is called on every stage before iterating —
            and again on the restored one after ``load_state_dict``, as a training loop
            does, which must keep the restored position.

    Returns:
        The uninterrupted pass, for further checks.
    """
    full = list(_start(make(), epoch))
    assert 0 <= stop_after <= len(full), f"stop_after={stop_after} > {len(full)} items"
    first = _start(make(), epoch)
    items = iter(first)
    taken = [next(items) for _ in range(stop_after)]
    state = pickle.loads(pickle.dumps(first.state_dict()))
    resumed = make()
    resumed.load_state_dict(state)
    rest = list(_start(resumed, epoch))
    assert len(taken) + len(rest) == len(full), (
        f"{len(taken)} taken + {len(rest)} after the restore != {len(full)} in one pass"
    )
    for k, (got, want) in enumerate(zip(taken + rest, full, strict=True)):
        assert same(got, want), f"item {k} differs after restoring at {stop_after}"
    # a finished pass starts the next one from the beginning
    assert same(list(resumed), full)
    return full
