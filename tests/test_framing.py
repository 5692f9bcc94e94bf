"""Framing: the notes' truncation and SOS/EOS rule, per sequence and vectorized."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqdata.errors import ConfigError, InputTypeError, ShapeError
from seqdata.framing import (
    frame_source,
    frame_source_batch,
    frame_source_flat,
    frame_target,
    frame_target_batch,
    frame_target_flat,
)

SOS, EOS = 2, 3
seqs_st = st.lists(st.lists(st.integers(4, 99), max_size=12), max_size=8)


def notes_frame(src: list[int], tgt: list[int], max_len: int) -> tuple[list[int], list[int]]:
    """The two framing lines of the notes' listing, verbatim."""
    src_sentence = src[:max_len]
    tgt_sentence = [SOS] + tgt[: max_len - 2] + [EOS]  # noqa: RUF005
    return src_sentence, tgt_sentence


def flatten(seqs: list[list[int]], dtype: type = np.int32) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in seqs], out=offsets[1:])
    return np.array([x for s in seqs for x in s], dtype=dtype), offsets


def unflatten(values: np.ndarray, offsets: np.ndarray) -> list[list[int]]:
    return [values[a:b].tolist() for a, b in itertools.pairwise(offsets)]


def test_the_notes_rule_on_hand_examples() -> None:
    assert frame_source([5, 6, 7, 8, 9], 3) == [5, 6, 7]
    assert frame_target([5, 6, 7, 8, 9], 5, SOS, EOS) == [2, 5, 6, 7, 3]
    assert frame_target([5, 6], 5, SOS, EOS) == [2, 5, 6, 3]  # short: nothing cut
    assert frame_target([], 2, SOS, EOS) == [2, 3]
    assert frame_target([5, 6, 7], 2, SOS, EOS) == [2, 3]  # max_len 2: only SOS and EOS
    assert frame_source([5, 6], None) == [5, 6] and frame_target([5], None, SOS, EOS) == [2, 5, 3]
    assert frame_source(np.array([5, 6, 7]), 2) == [5, 6]


def test_batch_forms() -> None:
    assert frame_source_batch([[5, 6, 7], [8]], 2) == [[5, 6], [8]]
    assert frame_target_batch([[5, 6, 7], []], 4, SOS, EOS) == [[2, 5, 6, 3], [2, 3]]


@settings(max_examples=200, deadline=None)
@given(seqs=seqs_st, max_len=st.integers(2, 10) | st.none())
def test_flat_forms_equal_the_notes_per_sequence(
    seqs: list[list[int]], max_len: int | None
) -> None:
    values, offsets = flatten(seqs)
    src_v, src_o = frame_source_flat(values, offsets, max_len)
    tgt_v, tgt_o = frame_target_flat(values, offsets, max_len, SOS, EOS)
    assert src_v.dtype == np.int32 and tgt_v.dtype == np.int32 and tgt_o.dtype == np.int64
    assert src_o[0] == 0 and tgt_o[-1] == len(tgt_v) and len(tgt_o) == len(seqs) + 1
    sources, targets = unflatten(src_v, src_o), unflatten(tgt_v, tgt_o)
    for seq, src, tgt in zip(seqs, sources, targets, strict=True):
        if max_len is not None:
            assert (src, tgt) == notes_frame(seq, seq, max_len)
            assert len(src) <= max_len and len(tgt) <= max_len
        assert tgt[0] == SOS and tgt[-1] == EOS
        assert src == frame_source(seq, max_len) and tgt == frame_target(seq, max_len, SOS, EOS)


def test_flat_on_an_empty_batch_and_int64_values() -> None:
    v, o = frame_target_flat(np.zeros(0, np.int64), np.zeros(1, np.int64), 4, SOS, EOS)
    assert v.tolist() == [] and o.tolist() == [0]
    v, o = frame_source_flat(*flatten([[7, 8, 9]], np.int64), 2)
    assert v.dtype == np.int64 and v.tolist() == [7, 8]


@pytest.mark.parametrize("max_len", [0, -3])
def test_source_max_len_must_be_positive(max_len: int) -> None:
    with pytest.raises(
        ConfigError, match=f"max_len should be None or an integer >= 1, but got max_len={max_len}"
    ):
        frame_source([5], max_len)
    with pytest.raises(ConfigError):
        frame_source_flat(*flatten([[5]]), max_len)


@pytest.mark.parametrize("max_len", [1, 0, -1])
def test_target_max_len_below_two_is_a_value_error(max_len: int) -> None:
    with pytest.raises(ValueError, match=r">= 2 \(a target needs room for SOS and EOS\)"):
        frame_target([5], max_len, SOS, EOS)
    with pytest.raises(ConfigError):
        frame_target_flat(*flatten([[5]]), max_len, SOS, EOS)
    with pytest.raises(ConfigError):
        frame_target_batch([[5]], max_len, SOS, EOS)


def test_bad_arguments() -> None:
    with pytest.raises(InputTypeError, match="max_len should be None or an int"):
        frame_source([5], 2.5)  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match="max_len should be None or an int"):
        frame_source([5], True)
    with pytest.raises(InputTypeError, match="sos_id should be an int"):
        frame_target([5], 4, "<sos>", EOS)  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match="offsets should start at 0"):
        frame_source_flat(np.array([1, 2]), np.array([0, 1]), 3)
    with pytest.raises(ShapeError, match="never decrease"):
        frame_source_flat(np.array([1, 2]), np.array([0, 2, 1, 2]), 3)
    with pytest.raises(InputTypeError, match="integer arrays"):
        frame_source_flat(np.array([1.5]), np.array([0, 1]), 3)
    with pytest.raises(InputTypeError, match="encode it first"):
        frame_source("abc", 2)  # type: ignore[arg-type]
