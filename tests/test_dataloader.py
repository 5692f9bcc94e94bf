"""Samplers + corpus + PadCollate inside torch's DataLoader: workers change nothing."""

from __future__ import annotations

import warnings

import datasets
import numpy as np
import pytest
import torch
from resume import same
from torch.utils.data import DataLoader

from seqdata.collate import Batch, PadCollate
from seqdata.corpus import MonoCorpus, ParallelCorpus
from seqdata.hf import hf_lengths
from seqdata.samplers import BucketBatchSampler, TokenBudgetBatchSampler


def make_corpus(n: int = 400, seed: int = 0) -> ParallelCorpus:
    rng = np.random.default_rng(seed)
    src_len = rng.integers(1, 30, n)
    tgt_len = np.maximum(1, src_len + rng.integers(-3, 4, n)) + 2
    src = [rng.integers(4, 900, k) for k in src_len]
    tgt = [np.concatenate([[2], rng.integers(4, 900, k - 2), [3]]) for k in tgt_len]
    return ParallelCorpus.from_sequences(src, tgt)


def run_epochs(loader: DataLoader, sampler, epochs: int = 2) -> list[Batch]:
    out = []
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        out.extend(loader)
    return out


@pytest.mark.parametrize("kind", ["bucket", "budget"])
def test_workers_pinning_and_persistence_give_the_single_process_batches(kind):
    corpus = make_corpus()

    def sampler():
        if kind == "bucket":
            return BucketBatchSampler(corpus.src_lengths, corpus.tgt_lengths, batch_size=32, seed=3)
        return TokenBudgetBatchSampler(corpus.src_lengths, corpus.tgt_lengths, max_tokens=500)

    collate = PadCollate(pad_id=0, pad_to_multiple_of=8)
    single = sampler()
    expected = run_epochs(DataLoader(corpus, batch_sampler=single, collate_fn=collate), single)
    multi = sampler()
    with warnings.catch_warnings():
        # CPU-only torch: pin_memory needs an accelerator, the loader warns and skips it
        warnings.filterwarnings("ignore", message=".*pin_memory.*")
        loader = DataLoader(
            corpus,
            batch_sampler=multi,
            collate_fn=collate,
            num_workers=2,
            pin_memory=True,
            persistent_workers=True,
        )
        got = run_epochs(loader, multi)
    assert len(got) == len(expected) == 2 * len(single)
    assert all(isinstance(b, Batch) for b in got)
    assert same(got, expected)
    assert not same(expected[: len(single)], expected[len(single) :])  # epochs differ
    # every example exactly once per epoch, read back through `order`
    first = expected[: len(single)]
    assert sum(len(b) for b in first) == len(corpus)


def test_a_memory_mapped_corpus_in_workers(tmp_path):
    corpus = make_corpus(200)
    corpus.save(tmp_path)
    loaded = ParallelCorpus.load(tmp_path)
    sampler = BucketBatchSampler(loaded.src_lengths, loaded.tgt_lengths, batch_size=16)
    collate = PadCollate()
    want = list(DataLoader(corpus, batch_sampler=sampler, collate_fn=collate))
    got = list(DataLoader(loaded, batch_sampler=sampler, collate_fn=collate, num_workers=2))
    assert same(got, want)


def test_a_hf_dataset_buckets_without_converting():
    corpus = make_corpus(300)
    ds = datasets.Dataset.from_dict(
        {
            "src_ids": [corpus.src[i].tolist() for i in range(len(corpus))],
            "tgt_ids": [corpus.tgt[i].tolist() for i in range(len(corpus))],
        }
    )
    src_len, tgt_len = hf_lengths(ds, "src_ids"), hf_lengths(ds, "tgt_ids")
    assert np.array_equal(src_len, corpus.src_lengths)
    sampler = BucketBatchSampler(src_len, tgt_len, batch_size=32, seed=1)
    from_hf = list(
        DataLoader(ds.with_format("numpy"), batch_sampler=sampler, collate_fn=PadCollate())
    )
    from_store = list(DataLoader(corpus, batch_sampler=sampler, collate_fn=PadCollate()))
    assert same(from_hf, from_store)
    as_lists = list(DataLoader(ds, batch_sampler=sampler, collate_fn=PadCollate()))
    assert same(as_lists, from_store)


def test_a_labelled_mono_corpus_gives_labels():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(4, 50, k) for k in rng.integers(1, 12, 100)]
    labels = rng.integers(0, 3, 100)
    corpus = MonoCorpus.from_sequences(seqs, labels=labels)
    sampler = BucketBatchSampler(corpus.lengths, batch_size=16)
    requested = list(sampler)  # the same epoch: the loader will ask for these batches
    loader = DataLoader(corpus, batch_sampler=sampler, collate_fn=PadCollate())
    for idx, batch in zip(requested, loader, strict=True):
        assert batch.tgt is None and batch.labels.shape == (len(idx),)
        assert batch.labels[batch.order].tolist() == labels[idx].tolist()
        for row, n, i in zip(
            batch.src[batch.order], batch.src_lengths[batch.order], idx, strict=True
        ):
            assert row[:n].tolist() == seqs[i].tolist()


def test_resume_through_the_dataloader_gives_the_rest_of_the_epoch():
    corpus = make_corpus(300)
    collate = PadCollate()

    def sampler():
        return BucketBatchSampler(corpus.src_lengths, corpus.tgt_lengths, batch_size=16, seed=9)

    full = list(DataLoader(corpus, batch_sampler=sampler(), collate_fn=collate))
    first = sampler()
    loader = iter(DataLoader(corpus, batch_sampler=first, collate_fn=collate))
    taken = [next(loader) for _ in range(5)]
    state = first.state_dict()  # single process: the sampler is exactly 5 batches in
    assert state["position"] == 5
    resumed = sampler()
    resumed.load_state_dict(state)
    rest = list(DataLoader(corpus, batch_sampler=resumed, collate_fn=collate))
    assert same(taken + rest, full)
    assert torch.is_tensor(full[0].src)
