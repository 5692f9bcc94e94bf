"""Frame: truncate id sequences and wrap targets in SOS … EOS — exactly the classic NMT
preprocessing rule:

    src_sentence = src_sentence[:max_len]
    tgt_sentence = [SOS] + tgt_sentence[:max_len - 2] + [EOS]

so a framed source has at most ``max_len`` ids and a framed target at most ``max_len``
(``max_len - 2`` words plus SOS and EOS). ``max_len=None`` truncates nothing.

Each rule has three forms: one sequence (``frame_source``/``frame_target`` → ``list[int]``), a
list of sequences (``*_batch``) and the flat form the store uses (``*_flat`` on ``(values,
offsets)``: example ``i`` is ``values[offsets[i]:offsets[i + 1]]``), vectorized with numpy —
one ``np.minimum`` on the lengths and one gather, no Python per id.

>>> frame_source([5, 6, 7, 8], max_len=3)
[5, 6, 7]
>>> frame_target([5, 6, 7, 8], max_len=4, sos_id=2, eos_id=3)
[2, 5, 6, 3]
>>> values, offsets = frame_target_flat(
...     np.array([5, 6, 7, 9]), np.array([0, 3, 3, 4]), max_len=4, sos_id=2, eos_id=3)
>>> values.tolist(), offsets.tolist()
([2, 5, 6, 3, 2, 3, 2, 9, 3], [0, 4, 6, 9])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqdata.errors import ConfigError, InputTypeError, ShapeError

__all__ = [
    "check_max_len",
    "frame_source",
    "frame_source_batch",
    "frame_source_flat",
    "frame_target",
    "frame_target_batch",
    "frame_target_flat",
]

IdSequence = Sequence[int] | np.ndarray


_TARGET_FLOOR = " (a target needs room for SOS and EOS)"


def check_max_len(max_len: object, minimum: int, why: str = "") -> int | None:
    """``max_len`` as an int ``>= minimum``, or None (no truncation); ``why`` explains the floor.

    >>> check_max_len(None, 2) is None, check_max_len(5, 2)
    (True, 5)
    """
    if max_len is None:
        return None
    if isinstance(max_len, bool) or not isinstance(max_len, int | np.integer):
        raise InputTypeError(
            f"max_len should be None or an int, but got {type(max_len).__name__} ({max_len!r})"
        )
    if max_len < minimum:
        raise ConfigError(
            f"max_len should be None or an integer >= {minimum}{why}, but got max_len={max_len}"
        )
    return int(max_len)


def _check_id(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputTypeError(f"{name} should be an int, but got {type(value).__name__}")


def _as_list(ids: IdSequence) -> list[int]:
    if isinstance(ids, np.ndarray):
        if ids.ndim != 1:
            raise ShapeError(f"ids should be one sequence (1-D), but got shape {ids.shape}")
        return list(ids.tolist())
    if isinstance(ids, str | bytes):
        raise InputTypeError("ids should be a sequence of ints, but got a str; encode it first")
    return list(ids)


def frame_source(ids: IdSequence, max_len: int | None) -> list[int]:
    """``ids[:max_len]`` as a list.

    Raises:
        ConfigError: ``max_len <= 0``.

    >>> frame_source([4, 5], max_len=None)
    [4, 5]
    """
    check_max_len(max_len, 1)
    seq = _as_list(ids)
    return seq if max_len is None else seq[:max_len]


def frame_target(ids: IdSequence, max_len: int | None, sos_id: int, eos_id: int) -> list[int]:
    """``[sos_id] + ids[:max_len - 2] + [eos_id]``; an empty ``ids`` gives ``[sos_id, eos_id]``.

    Raises:
        ConfigError: ``max_len < 2`` (no room for SOS and EOS).

    >>> frame_target([], max_len=2, sos_id=2, eos_id=3)
    [2, 3]
    """
    check_max_len(max_len, 2, _TARGET_FLOOR)
    _check_id(sos_id, "sos_id")
    _check_id(eos_id, "eos_id")
    seq = _as_list(ids)
    body = seq if max_len is None else seq[: max_len - 2]
    return [int(sos_id), *body, int(eos_id)]


def frame_source_batch(batch: Sequence[IdSequence], max_len: int | None) -> list[list[int]]:
    """[`frame_source`][seqdata.framing.frame_source] on each sequence.

    >>> frame_source_batch([[4, 5, 6], [7]], max_len=2)
    [[4, 5], [7]]
    """
    check_max_len(max_len, 1)
    return [frame_source(ids, max_len) for ids in batch]


def frame_target_batch(
    batch: Sequence[IdSequence], max_len: int | None, sos_id: int, eos_id: int
) -> list[list[int]]:
    """[`frame_target`][seqdata.framing.frame_target] on each sequence.

    >>> frame_target_batch([[4, 5, 6], []], max_len=4, sos_id=2, eos_id=3)
    [[2, 4, 5, 3], [2, 3]]
    """
    check_max_len(max_len, 2, _TARGET_FLOOR)
    return [frame_target(ids, max_len, sos_id, eos_id) for ids in batch]


def _check_flat(values: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(values)
    offsets = np.asarray(offsets)
    if values.ndim != 1 or offsets.ndim != 1 or len(offsets) == 0:
        raise ShapeError(
            f"values and offsets should be 1-D with len(offsets) >= 1, but got shapes "
            f"{values.shape} and {offsets.shape}"
        )
    if not np.issubdtype(offsets.dtype, np.integer) or (
        values.size and not np.issubdtype(values.dtype, np.integer)
    ):
        raise InputTypeError(
            f"values and offsets should be integer arrays, but got {values.dtype} and "
            f"{offsets.dtype}"
        )
    offsets = offsets.astype(np.int64, copy=False)
    if offsets[0] != 0 or offsets[-1] != len(values) or np.any(offsets[1:] < offsets[:-1]):
        raise ShapeError(
            "offsets should start at 0, never decrease and end at len(values)="
            f"{len(values)}, but got offsets[0]={offsets[0]}, offsets[-1]={offsets[-1]}"
        )
    return values, offsets


def _truncate_flat(
    values: np.ndarray, offsets: np.ndarray, max_len: int
) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.diff(offsets)
    if len(lengths) == 0 or lengths.max() <= max_len:
        return values, offsets
    kept = np.minimum(lengths, max_len)
    new_offsets = np.zeros(len(offsets), dtype=np.int64)
    np.cumsum(kept, out=new_offsets[1:])
    # Output position j of example i reads values[offsets[i] + j - new_offsets[i]].
    gather = np.arange(new_offsets[-1], dtype=np.int64)
    gather += np.repeat(offsets[:-1] - new_offsets[:-1], kept)
    return values[gather], new_offsets


def frame_source_flat(
    values: np.ndarray, offsets: np.ndarray, max_len: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """[`frame_source`][seqdata.framing.frame_source] on every example of a flat batch, vectorized.

    Args:
        values: all ids, ``(T,)``.
        offsets: int ``(N + 1,)``, ``offsets[0] == 0``, ``offsets[-1] == T``.
        max_len: the most ids per example, or ``None``.

    Returns:
        ``(values, offsets)`` of the framed batch (``values`` keeps its dtype; the inputs are
        returned as they are when nothing is longer than ``max_len``).

    >>> v, o = frame_source_flat(np.array([1, 2, 3, 4, 5]), np.array([0, 3, 5]), max_len=2)
    >>> v.tolist(), o.tolist()
    ([1, 2, 4, 5], [0, 2, 4])
    """
    check_max_len(max_len, 1)
    values, offsets = _check_flat(values, offsets)
    if max_len is None:
        return values, offsets
    return _truncate_flat(values, offsets, int(max_len))


def frame_target_flat(
    values: np.ndarray, offsets: np.ndarray, max_len: int | None, sos_id: int, eos_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """[`frame_target`][seqdata.framing.frame_target] on every example of a flat batch, vectorized.

    Returns:
        ``(values, offsets)``: ``N`` examples of length ``min(len, max_len - 2) + 2``.

    >>> v, o = frame_target_flat(np.array([7, 8, 9]), np.array([0, 0, 3]), 4, 2, 3)
    >>> v.tolist(), o.tolist()
    ([2, 3, 2, 7, 8, 3], [0, 2, 6])
    """
    check_max_len(max_len, 2, _TARGET_FLOOR)
    _check_id(sos_id, "sos_id")
    _check_id(eos_id, "eos_id")
    values, offsets = _check_flat(values, offsets)
    if max_len is not None:
        values, offsets = _truncate_flat(values, offsets, int(max_len) - 2)
    n = len(offsets) - 1
    new_offsets = offsets + 2 * np.arange(n + 1, dtype=np.int64)
    dtype = values.dtype if np.issubdtype(values.dtype, np.integer) else np.dtype(np.int64)
    out = np.empty(new_offsets[-1], dtype=dtype)
    body = np.ones(len(out), dtype=bool)
    body[new_offsets[:-1]] = False
    body[new_offsets[1:] - 1] = False
    out[body] = values
    out[new_offsets[:-1]] = sos_id
    out[new_offsets[1:] - 1] = eos_id
    return out, new_offsets
