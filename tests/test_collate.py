"""PadCollate (all input kinds), Batch, and pack/unpack around a real GRU."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from seqdata.collate import Batch, PadCollate, pack, unpack
from seqdata.corpus import MonoCorpus, ParallelCorpus
from seqdata.errors import ConfigError, InputTypeError, ShapeError

seq_st = st.lists(st.integers(1, 500), min_size=1, max_size=15)
pairs_st = st.lists(st.tuples(seq_st, seq_st), min_size=1, max_size=20)


def check_batch(batch: Batch, src, tgt, pad_id, multiple=None):
    """Every invariant of a collated batch against the requested examples."""
    size = len(src)
    assert batch.src.dtype == torch.int64 and batch.src_lengths.dtype == torch.int64
    assert batch.src_lengths.device.type == "cpu" and batch.order.dtype == torch.int64
    lengths = batch.src_lengths.tolist()
    assert lengths == sorted(lengths, reverse=True)  # sorted, longest first
    order = batch.order
    assert sorted(order.tolist()) == list(range(size))
    for side, seqs, lens in (
        (batch.src, src, batch.src_lengths),
        (batch.tgt, tgt, batch.tgt_lengths),
    ):
        if seqs is None:
            assert side is None
            continue
        width = side.shape[1]
        longest = max(map(len, seqs))
        if multiple is None:
            assert width == longest
        else:  # the smallest aligned length
            assert width % multiple == 0 and width - multiple < longest <= width
        restored = side[order]  # back in the requested order
        assert lens[order].tolist() == [len(s) for s in seqs]
        for row, seq in zip(restored.tolist(), seqs, strict=True):
            assert row[: len(seq)] == list(seq)  # padding never changes a real token
            assert row[len(seq) :] == [pad_id] * (width - len(seq))


@settings(max_examples=60, deadline=None)
@given(pairs=pairs_st, pad_id=st.integers(0, 3), multiple=st.sampled_from([None, 1, 4, 8]))
def test_pairs_lists_arrays_tensors_and_corpus_batches_collate_alike(pairs, pad_id, multiple):
    collate = PadCollate(pad_id=pad_id, pad_to_multiple_of=multiple)
    src = [s for s, _ in pairs]
    tgt = [t for _, t in pairs]
    batch = collate(pairs)
    check_batch(batch, src, tgt, pad_id, multiple)
    corpus = ParallelCorpus.from_sequences(src, tgt)
    fast = collate(corpus.__getitems__(list(range(len(pairs)))))
    as_arrays = collate([(np.array(s), np.array(t)) for s, t in pairs])
    as_tensors = collate([(torch.tensor(s), torch.tensor(t)) for s, t in pairs])
    rows = collate([{"src_ids": s, "tgt_ids": t, "text": "x"} for s, t in pairs])
    for other in (fast, as_arrays, as_tensors, rows):
        for name in ("src", "src_lengths", "tgt", "tgt_lengths", "order"):
            assert torch.equal(getattr(batch, name), getattr(other, name)), name


@settings(max_examples=40, deadline=None)
@given(pairs=pairs_st, data=st.data())
def test_a_corpus_batch_in_any_order_is_restored_by_order(pairs, data):
    corpus = ParallelCorpus.from_sequences([s for s, _ in pairs], [t for _, t in pairs])
    idx = data.draw(st.lists(st.integers(0, len(pairs) - 1), min_size=1, max_size=25))
    batch = PadCollate()(corpus.__getitems__(idx))
    check_batch(batch, [pairs[i][0] for i in idx], [pairs[i][1] for i in idx], 0)


def test_sort_false_and_time_major():
    pairs = [([1], [2, 3]), ([4, 5, 6], [7])]
    unsorted = PadCollate(sort=False)(pairs)
    assert unsorted.src.tolist() == [[1, 0, 0], [4, 5, 6]] and unsorted.order.tolist() == [0, 1]
    time_major = PadCollate(batch_first=False)(pairs)
    assert time_major.src.shape == (3, 2)  # (L, B)
    assert torch.equal(time_major.src.T, PadCollate()(pairs).src)


def test_single_sequences_labels_and_mono_corpus():
    seqs = [[4, 5], [6, 7, 8], [9]]
    plain = PadCollate()(seqs)
    assert plain.tgt is None and plain.labels is None
    assert plain.src.tolist() == [[6, 7, 8], [4, 5, 0], [9, 0, 0]]
    labelled = PadCollate()([(s, label) for s, label in zip(seqs, [0, 1, 2], strict=True)])
    assert labelled.labels.tolist() == [1, 0, 2]  # sorted with the sequences
    assert labelled.labels[labelled.order].tolist() == [0, 1, 2]
    corpus = MonoCorpus.from_sequences(seqs, labels=[0, 1, 2])
    fast = PadCollate()(corpus.__getitems__([0, 1, 2]))
    assert torch.equal(fast.src, labelled.src) and torch.equal(fast.labels, labelled.labels)
    rows = PadCollate(src_key="ids")(
        [{"ids": s, "label": y} for s, y in zip(seqs, [0, 1, 2], strict=True)]
    )
    assert torch.equal(rows.labels, labelled.labels) and rows.tgt is None


def test_bad_inputs_and_arguments():
    with pytest.raises(ShapeError, match="empty batch"):
        PadCollate()([])
    with pytest.raises(InputTypeError, match="no 'src_ids' column"):
        PadCollate()([{"ids": [1]}])
    with pytest.raises(InputTypeError, match="every row should have the columns of the first"):
        PadCollate()([{"src_ids": [1], "tgt_ids": [2]}, {"src_ids": [1]}])
    with pytest.raises(InputTypeError, match="integer ids"):
        PadCollate()([[1.5, 2.0]])
    with pytest.raises(InputTypeError, match="a list of examples or a RaggedBatch"):
        PadCollate()("abc")
    with pytest.raises(ConfigError, match="pad_id should be an id >= 0, but got pad_id=-1"):
        PadCollate(pad_id=-1)
    with pytest.raises(ConfigError, match="pad_to_multiple_of should be a positive int or None"):
        PadCollate(pad_to_multiple_of=0)


def test_collate_and_batch_pickle():
    collate = pickle.loads(pickle.dumps(PadCollate(pad_id=1, pad_to_multiple_of=8)))
    batch = collate([([5, 6], [7])])
    assert batch.src.shape == (1, 8) and batch.src[0, 2] == 1
    clone = pickle.loads(pickle.dumps(batch))
    assert torch.equal(clone.src, batch.src) and torch.equal(clone.order, batch.order)


def test_to_moves_ids_and_keeps_lengths_on_cpu():
    batch = PadCollate()([([1, 2], [3]), ([4], [5, 6])]).to("cpu", non_blocking=True)
    assert batch.src.device.type == "cpu" and batch.src_lengths.device.type == "cpu"


@pytest.mark.cuda
def test_pin_memory_and_to_cuda():
    batch = PadCollate()([([1, 2], [3]), ([4], [5, 6])]).pin_memory()
    assert batch.src.is_pinned() and batch.src_lengths.is_pinned()
    moved = batch.to("cuda", non_blocking=True)
    assert moved.src.is_cuda and moved.tgt.is_cuda and not moved.src_lengths.is_cuda


# ------------------------------------------------------------------ pack / unpack


@settings(max_examples=40, deadline=None)
@given(lengths=st.lists(st.integers(1, 9), min_size=1, max_size=8), features=st.integers(1, 3))
def test_unpack_of_pack_restores_the_batch_and_lengths(lengths, features):
    width = max(lengths)
    x = torch.randn(len(lengths), width, features)
    mask = torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]
    x = x * mask[..., None]  # padded positions are zero, as unpack writes them
    y, got = unpack(pack(x, torch.tensor(lengths)), total_length=width)
    assert got.tolist() == lengths and got.dtype == torch.int64
    assert torch.equal(y, x)  # sorted or not, back in the caller's order


def test_gru_packed_and_padded_agree_at_real_positions():
    pairs = [([5, 6, 7, 8], [1]), ([9], [1]), ([3, 4], [1]), ([2, 2, 2], [1])]
    batch = PadCollate(pad_id=0)(pairs)
    embed = nn.Embedding(10, 6, padding_idx=0)
    gru = nn.GRU(6, 5, batch_first=True)
    with torch.no_grad():
        emb = embed(batch.src)  # (B, L, 6)
        padded_out, _ = gru(emb)  # (B, L, 5): runs over the padding too
        packed_out, h_n = gru(pack(emb, batch.src_lengths))
        out, lengths = unpack(packed_out, total_length=batch.src.shape[1])
    for b, n in enumerate(lengths.tolist()):
        assert torch.allclose(out[b, :n], padded_out[b, :n], atol=1e-6)
        assert torch.all(out[b, n:] == 0)
        assert torch.allclose(h_n[0, b], padded_out[b, n - 1], atol=1e-6)  # last real step
    # the shortest sequence's padded run drifts away from its true final state
    shortest = int(lengths.argmin())
    assert not torch.allclose(h_n[0, shortest], padded_out[shortest, -1], atol=1e-4)


def test_a_corpus_batch_pickles_as_its_own_examples_only():
    corpus = ParallelCorpus.from_sequences([[i] * 50 for i in range(1, 2001)], [[2, 3]] * 2000)
    batch = corpus.__getitems__([7, 3])
    blob = pickle.dumps(batch)
    assert len(blob) < 2000  # not the 100,000-id corpus
    clone = pickle.loads(blob)
    assert [x.tolist() for x in clone[0]] == [[8] * 50, [2, 3]]
    assert torch.equal(PadCollate()(clone).src, PadCollate()(batch).src)
