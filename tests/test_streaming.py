"""StreamingBucketer: exactly-once over workers × ranks, bucketing, and exact mid-stream resume."""

from __future__ import annotations

import json
import pickle
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from resume import check_resume
from torch.utils.data import DataLoader

from seqdata import streaming
from seqdata.collate import Batch, PadCollate
from seqdata.errors import ConfigError, StateDictError
from seqdata.streaming import StreamingBucketer

HYPO = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def make_pairs(src_lengths: list[int], tgt_lengths: list[int] | None = None) -> list[Any]:
    """Pairs whose first source id is the example's number (ids start at 10)."""
    tgt_lengths = tgt_lengths or [max(1, n // 2) for n in src_lengths]
    return [
        ([10 + i] + [5] * (s - 1), [2] + [6] * (t - 1))
        for i, (s, t) in enumerate(zip(src_lengths, tgt_lengths, strict=True))
    ]


def ident(example: Any) -> int:
    return int(example[0][0]) - 10


def flatten(batches: list[list[Any]]) -> list[int]:
    return [ident(ex) for batch in batches for ex in batch]


LENGTHS = st.lists(st.integers(1, 30), min_size=0, max_size=120)


# --------------------------------------------------------------------------- batching


@HYPO
@given(
    lengths=LENGTHS,
    batch_size=st.integers(1, 9),
    extra=st.integers(0, 40),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
)
def test_every_example_once_and_only_the_last_batch_short(
    lengths, batch_size, extra, shuffle, drop_last
):
    pairs = make_pairs(lengths)
    bucketer = StreamingBucketer(
        pairs,
        batch_size=batch_size,
        buffer_size=batch_size + extra,
        shuffle=shuffle,
        drop_last=drop_last,
    )
    batches = list(bucketer)
    seen = flatten(batches)
    assert len(seen) == len(set(seen))
    short = [b for b in batches if len(b) != batch_size]
    if drop_last:
        assert short == []
        assert len(pairs) - len(seen) == len(pairs) % batch_size
    else:
        assert sorted(seen) == list(range(len(pairs)))
        assert len(short) <= 1
        assert all(0 < len(b) < batch_size for b in short)


@HYPO
@given(lengths=LENGTHS, batch_size=st.integers(1, 9), extra=st.integers(0, 40))
def test_no_example_waits_longer_than_its_buffer(lengths, batch_size, extra):
    pairs = make_pairs(lengths)
    buffer_size = batch_size + extra
    fill = buffer_size - buffer_size % batch_size  # a whole number of batches per buffer
    batches = list(StreamingBucketer(pairs, batch_size=batch_size, buffer_size=buffer_size))
    emitted = 0
    for batch in batches:
        window = emitted // fill  # the buffer this batch was cut from
        assert all(ident(ex) // fill == window for ex in batch)
        emitted += len(batch)


@HYPO
@given(
    lengths=st.lists(st.integers(1, 40), min_size=1, max_size=100),
    max_tokens=st.integers(1, 120),
    cap=st.one_of(st.none(), st.integers(1, 8)),
    buffer_size=st.integers(8, 64),
)
def test_token_budget_batches_respect_the_budget(lengths, max_tokens, cap, buffer_size):
    pairs = make_pairs(lengths)
    bucketer = StreamingBucketer(
        pairs, batch_size=cap, max_tokens=max_tokens, buffer_size=buffer_size, seed=3
    )
    batches = list(bucketer)
    assert sorted(flatten(batches)) == list(range(len(pairs)))
    for batch in batches:
        longest = max(max(len(s), len(t)) for s, t in batch)
        assert len(batch) == 1 or len(batch) * longest <= max_tokens
        assert cap is None or len(batch) <= cap


def test_buffer_sorting_pads_far_less_than_arrival_order():
    rng = np.random.default_rng(0)
    lengths = np.clip(rng.lognormal(3.0, 0.6, 4000).astype(int), 1, 200).tolist()
    pairs = make_pairs(lengths)

    def efficiency(batches: list[list[Any]]) -> float:
        real = sum(len(s) for b in batches for s, _ in b)
        padded = sum(len(b) * max(len(s) for s, _ in b) for b in batches)
        return real / padded

    bucketed = list(StreamingBucketer(pairs, batch_size=32, buffer_size=2048))
    arrival = [pairs[i : i + 32] for i in range(0, len(pairs), 32)]
    assert efficiency(bucketed) > 0.9
    assert efficiency(arrival) < 0.6


def test_collate_gives_padded_batches_and_dict_rows_and_labels_work():
    rows = [{"src_ids": [3] * n, "tgt_ids": [2, 3], "label": n} for n in [4, 1, 3, 2]]
    batches = list(
        StreamingBucketer(rows, batch_size=2, shuffle=False, collate_fn=PadCollate(pad_id=0))
    )
    assert all(isinstance(b, Batch) for b in batches)
    assert [b.src_lengths.tolist() for b in batches] == [[2, 1], [4, 3]]
    assert [b.labels.tolist() for b in batches] == [[2, 1], [4, 3]]  # type: ignore[union-attr]
    labelled = [([1] * n, n % 2) for n in [5, 2, 4, 1]]
    assert [
        [len(x) for x, _ in b] for b in StreamingBucketer(labelled, batch_size=2, shuffle=False)
    ] == [
        [1, 2],
        [4, 5],
    ]
    single = [np.arange(n) for n in [3, 1, 2]]
    assert [len(x) for b in StreamingBucketer(single, batch_size=3) for x in b] == [1, 2, 3]


def test_shuffle_is_seeded_by_seed_and_epoch():
    pairs = make_pairs(list(range(1, 200)))

    def order(seed: int, epoch: int) -> list[int]:
        bucketer = StreamingBucketer(pairs, batch_size=4, buffer_size=64, seed=seed)
        bucketer.set_epoch(epoch)
        return flatten(list(bucketer))

    assert order(0, 0) == order(0, 0)
    assert order(0, 0) != order(0, 1)
    assert order(0, 0) != order(1, 0)
    plain = StreamingBucketer(pairs, batch_size=4, buffer_size=64, shuffle=False)
    assert flatten(list(plain)) == list(range(len(pairs)))  # lengths already ascending


def test_a_callable_source_is_called_every_pass():
    calls = []

    def source():
        calls.append(1)
        yield from make_pairs([3, 1, 2])

    bucketer = StreamingBucketer(source, batch_size=2)
    assert sorted(flatten(list(bucketer))) == [0, 1, 2]
    assert sorted(flatten(list(bucketer))) == [0, 1, 2]
    assert len(calls) == 2


# --------------------------------------------------------------------------- sharding


class FakeWorkers:
    """Stand in for torch's worker info, to run every (rank, worker) shard in-process."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def set(self, worker: int, num_workers: int) -> None:
        info = SimpleNamespace(id=worker, num_workers=num_workers)
        self.monkeypatch.setattr(streaming, "get_worker_info", lambda: info)


@HYPO
@given(
    lengths=LENGTHS,
    world_size=st.integers(1, 4),
    num_workers=st.integers(1, 3),
    batch_size=st.integers(1, 6),
    max_tokens=st.one_of(st.none(), st.integers(30, 90)),
)
def test_workers_times_ranks_read_every_example_exactly_once(
    monkeypatch, lengths, world_size, num_workers, batch_size, max_tokens
):
    pairs = make_pairs(lengths)
    fake = FakeWorkers(monkeypatch)
    seen: list[int] = []
    for rank in range(world_size):
        for worker in range(num_workers):
            fake.set(worker, num_workers)
            bucketer = StreamingBucketer(
                pairs,
                batch_size=batch_size,
                max_tokens=max_tokens,
                buffer_size=16,
                rank=rank,
                world_size=world_size,
            )
            seen += flatten(list(bucketer))
    assert sorted(seen) == list(range(len(pairs)))


def test_real_dataloader_workers_split_the_stream():
    pairs = make_pairs([1 + i % 17 for i in range(500)])
    seen = []
    for rank in range(2):
        bucketer = StreamingBucketer(
            pairs, batch_size=8, buffer_size=64, rank=rank, world_size=2, collate_fn=PadCollate()
        )
        loader = DataLoader(bucketer, batch_size=None, num_workers=2)
        for batch in loader:
            seen += (batch.src[:, 0] - 10).tolist()
    assert sorted(seen) == list(range(500))


def test_rank_defaults_to_torch_distributed_and_is_checked():
    bucketer = StreamingBucketer([[1]], batch_size=1, buffer_size=1)
    assert (bucketer.rank, bucketer.world_size) == (0, 1)
    with pytest.raises(ConfigError, match=r"rank should be in \[0, world_size=2\)"):
        StreamingBucketer([[1]], rank=2, world_size=2)


# --------------------------------------------------------------------------- resume


@HYPO
@given(
    lengths=LENGTHS,
    batch_size=st.integers(1, 6),
    extra=st.integers(0, 30),
    max_tokens=st.one_of(st.none(), st.integers(20, 80)),
    stop=st.integers(0, 60),
    epoch=st.integers(0, 3),
)
def test_resume_mid_stream_gives_exactly_the_rest(
    lengths, batch_size, extra, max_tokens, stop, epoch
):
    pairs = make_pairs(lengths)

    def make() -> StreamingBucketer:
        return StreamingBucketer(
            pairs, batch_size=batch_size, max_tokens=max_tokens, buffer_size=batch_size + extra
        )

    total = len(list(make()))
    full = check_resume(make, stop % (total + 1), epoch=epoch)  # the shared helper
    assert sorted(flatten(full)) == list(range(len(pairs)))


def test_state_holds_the_buffer_contents():
    pairs = make_pairs([5, 1, 4, 2, 3, 6, 2, 1, 7, 7])
    bucketer = StreamingBucketer(pairs, batch_size=2, buffer_size=6, shuffle=False)
    it = iter(bucketer)
    first = next(it)
    state = bucketer.state_dict()
    assert [ident(ex) for ex in first] == [1, 3]
    assert state["consumed"] == 6
    assert [[ident(ex) for ex in b] for b in state["pending"]] == [[4, 2], [0, 5]]
    # a stream that cannot replay the pending examples still resumes them from the state
    empty = StreamingBucketer(lambda: iter(pairs[:6]), batch_size=2, buffer_size=6, shuffle=False)
    empty.load_state_dict(json.loads(json.dumps(state)))
    assert [[ident(ex) for ex in b] for b in empty] == [[4, 2], [0, 5]]


def test_resume_through_a_dataloader_with_collate_and_pickle():
    pairs = make_pairs([1 + (7 * i) % 23 for i in range(300)])

    def make() -> StreamingBucketer:
        return StreamingBucketer(pairs, batch_size=8, buffer_size=40, collate_fn=PadCollate())

    full = [b.src for b in DataLoader(make(), batch_size=None)]
    first = make()
    loader = iter(DataLoader(first, batch_size=None))
    head = [next(loader).src for _ in range(11)]
    state = pickle.loads(pickle.dumps(first.state_dict()))
    second = make()
    second.load_state_dict(state)
    rest = [b.src for b in DataLoader(second, batch_size=None)]
    assert len(head) + len(rest) == len(full)
    for got, want in zip(head + rest, full, strict=True):
        assert torch.equal(got, want)
    torch.save(state, "/dev/null")  # torch.save-friendly as well


def test_load_state_dict_is_strict():
    pairs = make_pairs([1, 2, 3])
    bucketer = StreamingBucketer(pairs, batch_size=2, buffer_size=4)
    state = bucketer.state_dict()
    with pytest.raises(StateDictError, match=r"unknown keys \['bogus'\]"):
        bucketer.load_state_dict({**state, "bogus": 1})
    with pytest.raises(StateDictError, match=r"missing keys \['pending'\]"):
        bucketer.load_state_dict({k: v for k, v in state.items() if k != "pending"})
    with pytest.raises(
        StateDictError, match="for batch_size=3, but this StreamingBucketer has batch_size=2"
    ):
        bucketer.load_state_dict({**state, "batch_size": 3})
    with pytest.raises(StateDictError, match="consumed should be an integer >= 0"):
        bucketer.load_state_dict({**state, "consumed": -1})
    bucketer.load_state_dict({**state, "consumed": 10})
    with pytest.raises(StateDictError, match="the stream now has only 3"):
        list(bucketer)


def test_resume_in_another_worker_layout_is_refused(monkeypatch):
    pairs = make_pairs([1, 2, 3])
    bucketer = StreamingBucketer(pairs, batch_size=2, buffer_size=4)
    state = bucketer.state_dict()
    FakeWorkers(monkeypatch).set(0, 2)
    bucketer.load_state_dict(state)
    with pytest.raises(
        StateDictError, match="worker 0 of 1, but it is being restored in worker 0 of 2"
    ):
        list(bucketer)


def test_set_epoch_to_another_epoch_drops_a_restored_state():
    pairs = make_pairs(list(range(1, 30)))
    bucketer = StreamingBucketer(pairs, batch_size=4, buffer_size=8)
    it = iter(bucketer)
    next(it)
    state = bucketer.state_dict()
    fresh = StreamingBucketer(pairs, batch_size=4, buffer_size=8)
    fresh.load_state_dict(state)
    fresh.set_epoch(0)  # same epoch: keeps the position
    assert len(flatten(list(fresh))) == len(pairs) - 4
    fresh.load_state_dict(state)
    fresh.set_epoch(1)  # another epoch: starts it from the beginning
    assert sorted(flatten(list(fresh))) == list(range(len(pairs)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0}, "batch_size should be a positive integer"),
        ({"batch_size": None}, "batch_size should be a positive integer"),
        ({"max_tokens": 0}, "max_tokens should be a positive integer or None"),
        ({"batch_size": 8, "buffer_size": 4}, "buffer_size should be >= batch_size=8"),
        ({"seed": -1}, "seed should be an integer >= 0"),
        ({"collate_fn": 3}, "collate_fn should be callable"),
    ],
)
def test_bad_settings_are_explained(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        StreamingBucketer([[1]], **kwargs)


def test_a_one_shot_iterator_is_refused():
    with pytest.raises(ConfigError, match="re-iterable"):
        StreamingBucketer(iter([[1]]))
    with pytest.raises(ConfigError, match="should be an iterable"):
        StreamingBucketer(3)  # type: ignore[arg-type]


def test_a_fresh_iter_starts_the_epoch_over_and_only_a_restore_resumes():
    pairs = make_pairs([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8])
    bucketer = StreamingBucketer(pairs, batch_size=2, buffer_size=4, shuffle=True, seed=3)
    full = [[ident(ex) for ex in batch] for batch in bucketer]
    it = iter(bucketer)
    next(it), next(it)  # peek, then break off
    state = bucketer.state_dict()
    again = [[ident(ex) for ex in batch] for batch in bucketer]
    assert again == full  # a fresh iter() restarts the epoch
    bucketer.load_state_dict(state)
    rest = [[ident(ex) for ex in batch] for batch in bucketer]
    assert rest == full[2:]  # only load_state_dict resumes
