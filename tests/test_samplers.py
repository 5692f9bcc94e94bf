"""Bucket and token-budget batch samplers: coverage, sharding, seeding, resume, budgets."""

from __future__ import annotations

import pickle
from collections import Counter, defaultdict

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from resume import check_resume

from seqdata.errors import ConfigError, SequenceTooLongError, StateDictError
from seqdata.samplers import (
    BucketBatchSampler,
    TokenBudgetBatchSampler,
    bucket_keys,
    partition_cells,
    token_budget_bounds,
)
from seqdata.stats import padding_stats

lengths_st = st.lists(st.integers(1, 40), min_size=1, max_size=150)


def wmt_like(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """News-like lengths (DESIGN.md §6): log-normal, long tail, 2% misaligned, framed target."""
    rng = np.random.default_rng(seed)
    src = rng.lognormal(np.log(21), 0.6, n)
    tail = rng.random(n) < 0.005
    src[tail] = 80 * (1 + rng.pareto(1.5, int(tail.sum())))
    src = np.clip(np.round(src), 1, 400)
    tgt = np.round(src * 1.05 * rng.normal(1.0, 0.12, n))
    bad = rng.random(n) < 0.02
    tgt[bad] = np.round(rng.lognormal(np.log(21), 0.6, int(bad.sum())))
    return src.astype(np.int64), np.clip(tgt, 1, 400).astype(np.int64) + 2


def make_samplers(src, tgt, **kw):
    return [
        BucketBatchSampler(src, tgt, batch_size=kw.pop("batch_size", 8), **kw),
        TokenBudgetBatchSampler(src, tgt, max_tokens=kw.pop("max_tokens", 200), **kw),
    ]


# ------------------------------------------------------------------ coverage and sharding


@settings(max_examples=40, deadline=None)
@given(
    lengths=lengths_st,
    batch_size=st.integers(1, 16),
    world_size=st.integers(1, 4),
    drop_last=st.booleans(),
    seed=st.integers(0, 2**16),
    epoch=st.integers(0, 3),
    two_sided=st.booleans(),
)
def test_bucket_every_example_once_per_epoch_over_ranks(
    lengths, batch_size, world_size, drop_last, seed, epoch, two_sided
):
    src = np.array(lengths)
    tgt = (src * 3 + 7) % 23 + 1 if two_sided else None
    n = len(src)
    kwargs = dict(batch_size=batch_size, seed=seed, drop_last=drop_last, world_size=world_size)
    if drop_last and n // batch_size < world_size:
        with pytest.raises(ConfigError, match="cannot be shared"):
            BucketBatchSampler(src, tgt, rank=0, **kwargs)
        return
    total = len(BucketBatchSampler(src, tgt, batch_size=batch_size, drop_last=drop_last))
    shares = []
    for rank in range(world_size):
        sampler = BucketBatchSampler(src, tgt, rank=rank, **kwargs)
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        shares.append(batches)
    assert len({len(s) for s in shares}) == 1  # every rank the same number of batches
    counts = Counter(i for share in shares for b in share for i in b)
    sizes = [len(b) for share in shares for b in share]
    assert sum(s != batch_size for s in sizes) <= world_size  # at most the one partial batch
    if not drop_last:
        assert set(counts) == set(range(n))  # every example at least once
        repeated = sum(counts.values()) - n
        if total % world_size == 0:
            assert repeated == 0  # exactly once
        else:  # the padding: up to world_size - 1 repeated batches
            assert repeated <= (world_size - 1) * batch_size
    else:
        assert max(counts.values()) == 1
        dropped = n - len(counts)
        assert dropped < world_size * batch_size  # the partial batch + < world_size batches


@settings(max_examples=40, deadline=None)
@given(
    lengths=lengths_st,
    max_tokens=st.integers(40, 160),
    world_size=st.integers(1, 4),
    seed=st.integers(0, 2**16),
    multiple=st.sampled_from([1, 2, 3]),
    cap=st.sampled_from([None, 4]),
)
def test_token_budget_never_exceeded_and_covers_everything(
    lengths, max_tokens, world_size, seed, multiple, cap
):
    src = np.array(lengths)
    tgt = src[::-1].copy()
    shares = []
    for rank in range(world_size):
        sampler = TokenBudgetBatchSampler(
            src,
            tgt,
            max_tokens=max_tokens,
            batch_size_multiple=multiple,
            max_batch_size=cap,
            seed=seed,
            rank=rank,
            world_size=world_size,
        )
        shares.append(list(sampler))
    assert len({len(s) for s in shares}) == 1
    for batch in (b for share in shares for b in share):
        assert len(batch) * src[batch].max() <= max_tokens
        assert len(batch) * tgt[batch].max() <= max_tokens
        if cap is not None:
            assert len(batch) <= cap
    counts = Counter(i for share in shares for b in share for i in b)
    assert set(counts) == set(range(len(src)))
    total = len(
        TokenBudgetBatchSampler(
            src, tgt, max_tokens=max_tokens, max_batch_size=cap, batch_size_multiple=multiple
        )
    )
    if total % world_size == 0:
        assert max(counts.values()) == 1


def test_batch_size_multiple_rounds_down_when_enough_fit():
    src = np.full(100, 10)
    sizes = [len(b) for b in TokenBudgetBatchSampler(src, max_tokens=130, batch_size_multiple=4)]
    assert set(sizes) == {12, 4}  # 13 fit, 12 is the multiple; the last 4 left over
    assert sum(sizes) == 100


def test_token_budget_bounds_is_greedy():
    bounds = token_budget_bounds(np.array([1, 1, 1, 2, 2, 5, 6]), np.array([2] * 7), 6)
    assert bounds.tolist() == [0, 3, 5, 6, 7]


def test_oversize_example_is_an_error_naming_index_and_length_or_a_batch_of_its_own():
    src = np.array([3, 4, 50, 2, 60])
    with pytest.raises(SequenceTooLongError, match=r"example 2: the source has 50 tokens") as e:
        TokenBudgetBatchSampler(src, max_tokens=40)
    assert e.value.index == 2 and "2 such examples" in str(e.value)
    with pytest.raises(SequenceTooLongError, match="the target has 41 tokens"):
        TokenBudgetBatchSampler(np.ones(5, int), np.array([1, 41, 1, 1, 1]), max_tokens=40)
    batches = list(TokenBudgetBatchSampler(src, max_tokens=40, oversize="single", shuffle=False))
    assert [2] in batches and [4] in batches
    assert sorted(i for b in batches for i in b) == list(range(5))


# ------------------------------------------------------------------ seeding


def test_epochs_differ_and_the_same_seed_repeats():
    src, tgt = wmt_like(3000)
    for make in (
        lambda seed: BucketBatchSampler(src, tgt, batch_size=32, seed=seed),
        lambda seed: TokenBudgetBatchSampler(src, tgt, max_tokens=1000, seed=seed),
    ):
        a, b = make(0), make(0)
        epoch0 = list(a)
        assert epoch0 == list(b)  # same seed, same order
        assert epoch0 == list(a)  # and again without set_epoch
        a.set_epoch(1)
        epoch1 = list(a)
        assert epoch1 != epoch0
        assert sorted(map(sorted, epoch1)) != sorted(map(sorted, epoch0))  # other batch mates
        assert list(make(1)) != epoch0  # another seed


def test_shuffle_false_is_deterministic_and_in_length_order():
    src = np.array([5, 1, 3, 1, 5, 3, 2, 2])
    batches = list(BucketBatchSampler(src, batch_size=2, shuffle=False))
    assert batches == [[1, 3], [6, 7], [2, 5], [0, 4]]
    sampler = BucketBatchSampler(src, batch_size=2, shuffle=False)
    sampler.set_epoch(5)
    assert list(sampler) == batches


# ------------------------------------------------------------------ the notes' rule


def test_bucket_keys_use_the_true_minimum_not_the_first_pair():
    pairs = [(9, 7), (2, 3), (4, 12)]
    # the notes: min(sentence_length, key=len) compares len((s, t)) == 2: the first pair wins
    notes_min = min(pairs, key=len)
    assert notes_min == (9, 7)
    ks, kt = bucket_keys(np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs]), 5)
    assert ks.tolist() == [(9 - 2 + 1) // 5, (2 - 2 + 1) // 5, (4 - 2 + 1) // 5]
    assert kt.tolist() == [(7 - 3 + 1) // 5, (3 - 3 + 1) // 5, (12 - 3 + 1) // 5]
    assert ks.min() >= 0 and kt.min() >= 0


@settings(max_examples=30, deadline=None)
@given(
    lengths=st.lists(st.tuples(st.integers(1, 30), st.integers(1, 30)), min_size=1, max_size=12),
    width=st.integers(1, 6),
    seed=st.integers(0, 1000),
)
def test_buckets_that_fill_whole_batches_are_never_mixed(lengths, width, seed):
    # every bucket holds a multiple of batch_size examples: each batch lies in one bucket
    batch_size = 4
    src = np.repeat([s for s, _ in lengths], batch_size)
    tgt = np.repeat([t for _, t in lengths], batch_size)
    bs, bt = bucket_keys(src, tgt, width)
    for batch in BucketBatchSampler(src, tgt, batch_size=batch_size, bucket_width=width, seed=seed):
        assert len(batch) == batch_size
        assert len({(bs[i], bt[i]) for i in batch}) == 1


def test_default_settings_reach_095_on_both_sides_with_full_batches():
    # the target, on a generated news-like corpus (long tail, misaligned pairs)
    for n in (30_000, 200_000):
        src, tgt = wmt_like(n, seed=1)
        stats = padding_stats(BucketBatchSampler(src, tgt), (src, tgt))
        assert stats.src.efficiency >= 0.95, (n, stats)
        assert stats.tgt.efficiency >= 0.95, (n, stats)
        assert stats.mean_batch_size >= 63.9
    notes = padding_stats(BucketBatchSampler(src, tgt, bucket_width=5), (src, tgt))
    assert max(notes.src.efficiency, notes.tgt.efficiency) < 0.95  # the notes' width is coarser


def test_partition_cells_makes_exact_batches_and_keeps_every_example():
    rng = np.random.default_rng(0)
    cell_src, cell_tgt = rng.integers(1, 50, 300), rng.integers(1, 50, 300)
    counts = rng.integers(0, 9, 300)
    counts[0] += (-counts.sum()) % 16
    cells, runs = partition_cells(cell_src, cell_tgt, counts, 16)
    assert np.all(runs > 0)
    got = np.bincount(cells, weights=runs, minlength=300)
    assert got.tolist() == counts.tolist()
    ends = np.cumsum(runs)
    assert ends[-1] % 16 == 0
    # batch boundaries fall on run boundaries or cut a run: every 16 examples is one batch
    per_example = np.repeat(cells, runs).reshape(-1, 16)
    waste = (cell_src[per_example].max(1)[:, None] - cell_src[per_example]).sum()
    assert waste < 0.1 * cell_src[per_example].sum()


# ------------------------------------------------------------------ resume and state


@pytest.mark.parametrize("stop_after", [0, 1, 7, 17])
@pytest.mark.parametrize("kind", ["bucket", "budget"])
def test_stop_and_restore_yields_exactly_the_rest(kind, stop_after):
    src, tgt = wmt_like(600, seed=3)

    def make():
        if kind == "bucket":
            return BucketBatchSampler(src, tgt, batch_size=16, seed=5, rank=1, world_size=2)
        return TokenBudgetBatchSampler(src, tgt, max_tokens=600, seed=5, rank=1, world_size=2)

    full = check_resume(make, stop_after, epoch=3)
    assert len(full) >= 17


def test_set_epoch_to_another_epoch_restarts_it():
    sampler = BucketBatchSampler(np.arange(1, 50), batch_size=4)
    it = iter(sampler)
    next(it), next(it)
    assert sampler.state_dict()["position"] == 2
    sampler.set_epoch(0)  # the same epoch: position kept
    assert sampler.state_dict()["position"] == 2
    sampler.set_epoch(1)
    assert sampler.state_dict()["position"] == 0 and len(list(sampler)) == len(sampler)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"extra": 1}, r"unknown keys \['extra'\] and missing keys \[\]"),
        ({"world_size": 3}, r"world_size=3, but this BucketBatchSampler has world_size=2"),
        ({"rank": 0}, r"rank=0, but this BucketBatchSampler has rank=1"),
        ({"num_examples": 7}, r"num_examples=7, but this BucketBatchSampler has num_examples=100"),
        ({"batch_size": 5}, r"batch_size=5, but this BucketBatchSampler has batch_size=8"),
        ({"position": 99}, r"position should be an integer in \[0, 7\]"),
        ({"epoch": -1}, r"epoch should be an integer >= 0"),
    ],
)
def test_load_state_dict_is_strict(change, match):
    sampler = BucketBatchSampler(np.arange(1, 101), batch_size=8, rank=1, world_size=2)
    state = {**sampler.state_dict(), **change}
    with pytest.raises(StateDictError, match=match):
        sampler.load_state_dict(state)
    state = sampler.state_dict()
    del state["seed"]
    with pytest.raises(StateDictError, match=r"missing keys \['seed'\]"):
        sampler.load_state_dict(state)


def test_every_sampler_pickles_with_its_position():
    src, tgt = wmt_like(500)
    for sampler in make_samplers(src, tgt, seed=2):
        sampler.set_epoch(4)
        it = iter(sampler)
        first = [next(it) for _ in range(3)]
        clone = pickle.loads(pickle.dumps(sampler))
        assert clone.state_dict() == sampler.state_dict()
        assert list(clone) == list(it)
        fresh = pickle.loads(pickle.dumps(sampler))
        fresh.load_state_dict({**sampler.state_dict(), "position": 0})
        assert list(fresh)[:3] == first


# ------------------------------------------------------------------ arguments


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0}, r"batch_size should be a positive integer, but got batch_size=0"),
        ({"bucket_width": 1.5}, r"bucket_width should be a positive integer"),
        ({"seed": -1}, r"seed should be an integer >= 0, but got seed=-1"),
        ({"rank": 2, "world_size": 2}, r"rank should be in \[0, world_size=2\), but got rank=2"),
        ({"world_size": 0}, r"world_size should be a positive integer"),
    ],
)
def test_bad_arguments_are_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        BucketBatchSampler([3, 4, 5], **kwargs)


def test_bad_lengths():
    with pytest.raises(ConfigError, match="tgt_lengths should have one length per example"):
        BucketBatchSampler([1, 2, 3], [1, 2])
    with pytest.raises(TypeError, match="1-D array of integer lengths"):
        BucketBatchSampler([1.5, 2.0])
    with pytest.raises(ConfigError, match=r"src_lengths\[1\]=-2"):
        BucketBatchSampler([1, -2])
    with pytest.raises(ConfigError, match="at least one length"):
        TokenBudgetBatchSampler([], max_tokens=5)
    with pytest.raises(ConfigError, match="oversize should be 'error' or 'single'"):
        TokenBudgetBatchSampler([1], max_tokens=5, oversize="skip")


def test_tensor_lengths_are_accepted():
    a = list(BucketBatchSampler(torch.tensor([3, 1, 2]), batch_size=2, seed=1))
    assert a == list(BucketBatchSampler(np.array([3, 1, 2]), batch_size=2, seed=1))


def test_rank_and_world_size_default_to_torch_distributed(monkeypatch):
    dist = torch.distributed
    monkeypatch.setattr(dist, "is_available", lambda: True)
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_rank", lambda: 2)
    monkeypatch.setattr(dist, "get_world_size", lambda: 3)
    sampler = BucketBatchSampler(np.arange(1, 31), batch_size=2)
    assert (sampler.rank, sampler.world_size) == (2, 3)
    assert len(sampler) == 5
    explicit = BucketBatchSampler(np.arange(1, 31), batch_size=2, rank=0, world_size=1)
    assert (explicit.rank, explicit.world_size) == (0, 1)


def test_bucketing_keeps_lengths_together_per_batch():
    src, tgt = wmt_like(5000, seed=7)
    spread = defaultdict(list)
    for batch in BucketBatchSampler(src, tgt, batch_size=32):
        spread["src"].append(src[batch].max() - src[batch].min())
        spread["tgt"].append(tgt[batch].max() - tgt[batch].min())
    assert np.median(spread["src"]) <= 2 and np.median(spread["tgt"]) <= 3


@pytest.mark.parametrize("world_size", [2, 3])
def test_token_budget_drop_last_over_ranks_never_repeats(world_size):
    src, tgt = wmt_like(800, seed=4)
    shares = [
        list(
            TokenBudgetBatchSampler(
                src, tgt, max_tokens=700, drop_last=True, rank=r, world_size=world_size, seed=1
            )
        )
        for r in range(world_size)
    ]
    total = len(TokenBudgetBatchSampler(src, tgt, max_tokens=700))
    assert all(len(s) == total // world_size for s in shares)
    seen = [i for share in shares for b in share for i in b]
    assert len(seen) == len(set(seen))


def test_a_fresh_iteration_never_skips_batches_a_peek_or_break_handed_out():
    src, tgt = wmt_like(500)
    for sampler in make_samplers(src, tgt, seed=3):
        whole = list(sampler)
        peek = iter(sampler)
        next(peek)
        next(peek)
        assert list(sampler) == whole  # the same epoch, from its first batch
        for k, _ in enumerate(sampler):
            if k == 4:
                break
        assert list(sampler) == whole
