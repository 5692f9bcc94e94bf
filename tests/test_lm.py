"""BPTT batching (fold, chunk, shift, resume) and truncated-BPTT training of the char LM."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqdata.errors import ConfigError, ShapeError, StateDictError
from seqdata.lm import BPTTBatcher
from seqdata.models import CharLM
from seqdata.train import evaluate_bptt, train_bptt


def torch_batchify(data: torch.Tensor, bsz: int) -> torch.Tensor:
    """pytorch/examples word_language_model/main.py ``batchify``: (N, B), sequence first."""
    nbatch = data.size(0) // bsz
    return data.narrow(0, 0, nbatch * bsz).view(bsz, -1).t().contiguous()


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 300),
    batch_size=st.integers(1, 8),
    bptt_len=st.integers(1, 40),
)
def test_chunks_tile_the_folded_stream_with_targets_shifted_by_one(n, batch_size, bptt_len):
    if n // batch_size < 2:
        with pytest.raises(ConfigError, match="too short"):
            BPTTBatcher(torch.arange(n), batch_size, bptt_len)
        return
    batcher = BPTTBatcher(torch.arange(n), batch_size, bptt_len)
    assert torch.equal(batcher.data, torch_batchify(torch.arange(n), batch_size).t())
    assert batcher.num_dropped == n % batch_size
    chunks = list(batcher)
    assert len(chunks) == len(batcher)
    for x, y in chunks:
        assert x.shape == y.shape and x.shape[0] == batch_size and 1 <= x.shape[1] <= bptt_len
    xs = torch.cat([x for x, _ in chunks], dim=1)
    ys = torch.cat([y for _, y in chunks], dim=1)
    assert torch.equal(xs, batcher.data[:, :-1])  # every input once, in order
    assert torch.equal(ys, batcher.data[:, 1:])  # target = the next id of the same stream
    assert all(x.shape[1] == bptt_len for x, _ in chunks[:-1])


def test_accepts_lists_numpy_and_tensors_alike():
    ids = [5, 1, 4, 1, 5, 9, 2, 6, 5]
    a = BPTTBatcher(ids, 2, 3).data
    assert torch.equal(a, BPTTBatcher(np.array(ids, dtype=np.uint16), 2, 3).data)
    assert torch.equal(a, BPTTBatcher(torch.tensor(ids), 2, 3).data)
    assert a.dtype == torch.int64


@pytest.mark.parametrize("stop_after", [0, 1, 4, 6])
def test_resume_mid_pass_gives_the_uninterrupted_rest(stop_after):
    # tests/resume.py (the shared resume helper) did not exist yet, so this is inline: stop
    # after `stop_after` chunks, save, restore into a fresh batcher (through pickle, as a
    # checkpoint would), and compare with an uninterrupted pass.
    ids = torch.randint(0, 50, (200,))
    full = list(BPTTBatcher(ids, 4, 7))
    first = BPTTBatcher(ids, 4, 7)
    chunks = iter(first)
    taken = [next(chunks) for _ in range(stop_after)]
    state = pickle.loads(pickle.dumps(first.state_dict()))
    assert state["position"] == stop_after
    resumed = BPTTBatcher(ids, 4, 7)
    resumed.load_state_dict(state)
    rest = list(resumed)
    assert len(taken) + len(rest) == len(full)
    for (x, y), (fx, fy) in zip(taken + rest, full, strict=True):
        assert torch.equal(x, fx) and torch.equal(y, fy)
    # A fresh iter() on the interrupted object starts the pass over (only a restore resumes).
    assert len(list(first)) == len(full)


def test_a_fresh_iter_starts_the_pass_over_and_only_a_restore_resumes():
    batcher = BPTTBatcher(torch.arange(120), 3, 4)
    full = [x for x, _ in batcher]
    it = iter(batcher)
    next(it), next(it)  # peek, then break off
    assert torch.equal(next(iter(batcher))[0], full[0])
    state = batcher.state_dict()
    assert state["position"] == 1
    batcher.load_state_dict(state)
    assert [x.tolist() for x, _ in batcher] == [x.tolist() for x in full[1:]]
    assert torch.equal(next(iter(batcher))[0], full[0])  # the resume is used once


def test_a_batcher_pickles_with_its_position():
    batcher = BPTTBatcher(torch.arange(100), 2, 5)
    it = iter(batcher)
    next(it), next(it)
    clone = pickle.loads(pickle.dumps(batcher))
    assert clone.state_dict() == batcher.state_dict()
    assert torch.equal(next(iter(clone))[0], next(it)[0])


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"extra": 1}, r"unknown keys \['extra'\]"),
        ({"position": None}, r"position should be an int"),
        ({"position": 99}, r"position should be in \[0, 5\]"),
        ({"batch_size": 3}, r"batch_size=3, but this BPTTBatcher has batch_size=4"),
        ({"num_tokens": 7}, r"num_tokens=7"),
    ],
)
def test_load_state_dict_is_strict(change, match):
    batcher = BPTTBatcher(torch.arange(100), 4, 5)
    state = {**batcher.state_dict(), **change}
    with pytest.raises(StateDictError, match=match):
        batcher.load_state_dict(state)
    missing = batcher.state_dict()
    del missing["bptt_len"]
    with pytest.raises(StateDictError, match=r"missing keys \['bptt_len'\]"):
        batcher.load_state_dict(missing)


def test_bad_arguments_are_named():
    with pytest.raises(ConfigError, match=r"batch_size should be a positive integer"):
        BPTTBatcher([1, 2, 3], 0, 2)
    with pytest.raises(ConfigError, match=r"bptt_len should be a positive integer"):
        BPTTBatcher([1, 2, 3], 1, -1)
    with pytest.raises(ShapeError, match=r"1-D stream of integer ids"):
        BPTTBatcher(torch.zeros(2, 5, dtype=torch.long), 1, 2)
    with pytest.raises(ShapeError, match=r"1-D stream of integer ids"):
        BPTTBatcher([0.5, 1.5, 2.5], 1, 2)


class RecordingLM(CharLM):
    """The real CharLM, noting whether each incoming hidden state is still attached."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.attached: list[bool] = []

    def forward(self, x, hidden=None):
        if hidden is not None:
            h = hidden[0] if isinstance(hidden, tuple) else hidden
            self.attached.append(h.requires_grad)
        return super().forward(x, hidden)


def test_train_bptt_detaches_between_chunks_and_learns_a_periodic_stream():
    torch.manual_seed(0)
    stream = torch.tensor([0, 1, 2, 3, 4, 5, 6] * 60)  # perfectly predictable
    batcher = BPTTBatcher(stream, batch_size=6, bptt_len=10)
    lm = RecordingLM(7, 8, 32, cell="lstm")
    before = evaluate_bptt(lm, batcher)
    lm.attached.clear()
    opt = torch.optim.Adam(lm.parameters(), lr=2e-2)
    for _ in range(6):
        train_bptt(lm, batcher, opt)
    after = evaluate_bptt(lm, batcher)
    assert before > 1.5 and after < 0.1  # log(7) ≈ 1.95 → nearly certain
    training_calls = 6 * (len(batcher) - 1)  # every chunk but the first gets a hidden state
    assert lm.attached[:training_calls] == [False] * training_calls  # cut: truncated BPTT
    # The check means something: in training mode the state a chunk returns is attached.
    _, hidden = lm(batcher.data[:, :5])
    assert hidden[0].requires_grad


def test_train_bptt_max_steps_on_an_iterator_continues_in_the_next_call():
    batcher = BPTTBatcher(torch.randint(0, 7, (500,)), batch_size=5, bptt_len=10)
    lm = CharLM(7, 4, 8, cell="gru")
    opt = torch.optim.SGD(lm.parameters(), lr=0.1)
    chunks = iter(batcher)
    train_bptt(lm, chunks, opt, max_steps=3)
    assert batcher.state_dict()["position"] == 3
    train_bptt(lm, chunks, opt, max_steps=2)
    assert batcher.state_dict()["position"] == 5
    train_bptt(lm, batcher, opt, max_steps=1)  # the batcher itself: a fresh pass
    assert batcher.state_dict()["position"] == 1
