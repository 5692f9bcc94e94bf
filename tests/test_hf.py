"""HuggingFace datasets end to end: map(num_proc=2), Arrow → store, bucketing without
conversion, and the streaming path (IterableDataset → StreamingBucketer) over workers and ranks.
Offline: every dataset is built in the test (conftest sets HF_DATASETS_OFFLINE=1).
"""

from __future__ import annotations

import json

import datasets
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from seqdata.collate import Batch, PadCollate
from seqdata.corpus import ParallelCorpus
from seqdata.hf import hf_lengths
from seqdata.pipeline import PairPipeline
from seqdata.samplers import BucketBatchSampler
from seqdata.streaming import StreamingBucketer

datasets.disable_progress_bars()
N = 240


def corpus_texts(n: int = N, seed: int = 0) -> tuple[list[str], list[str]]:
    """Zipf-ish words, lengths 1..12; the pair number is the first source word (``n<i>``)."""
    rng = np.random.default_rng(seed)
    words = [f"w{k}" for k in range(60)]
    src, tgt = [], []
    for i in range(n):
        m = int(rng.integers(1, 12))
        body = [words[int(z) % 60] for z in rng.zipf(1.5, m)]
        src.append(" ".join([f"n{i}", *body]))
        tgt.append(" ".join(reversed(body)) or "empty")
    return src, tgt


@pytest.fixture(scope="module")
def data() -> tuple[list[str], list[str], PairPipeline, datasets.Dataset]:
    src, tgt = corpus_texts()
    pipe = PairPipeline.build(src, tgt)
    ds = datasets.Dataset.from_dict({"src": src, "tgt": tgt})
    return src, tgt, pipe, ds


def example_number(pipe: PairPipeline, src_ids: list[int]) -> int:
    return int(pipe.src_vocab.lookup_token(int(src_ids[0]))[1:])


def test_map_with_two_processes_matches_the_per_pair_encoding(data):
    src, tgt, pipe, ds = data
    mapped = ds.map(pipe, batched=True, batch_size=32, num_proc=2)
    assert mapped["src_ids"] == [pipe.encode_source(s) for s in src]
    assert mapped["tgt_ids"] == [pipe.encode_pair(s, t)[1] for s, t in zip(src, tgt, strict=True)]
    corpus = ParallelCorpus.from_hf(mapped)
    reference = ParallelCorpus.from_texts(src, tgt, pipe)
    assert np.array_equal(corpus.src_lengths, reference.src_lengths)
    assert np.array_equal(corpus.tgt.values, reference.tgt.values)


def test_an_hf_dataset_is_bucketed_without_conversion(data):
    _, _, pipe, ds = data
    mapped = ds.map(pipe, batched=True, batch_size=64).select_columns(["src_ids", "tgt_ids"])
    sampler = BucketBatchSampler(
        hf_lengths(mapped, "src_ids"), hf_lengths(mapped, "tgt_ids"), batch_size=16, seed=1
    )
    loader = DataLoader(
        mapped.with_format("numpy"), batch_sampler=sampler, collate_fn=PadCollate(pad_id=0)
    )
    seen = []
    for batch in loader:
        assert isinstance(batch, Batch)
        assert batch.src.shape[1] == int(batch.src_lengths.max())
        assert bool((batch.src_lengths[:-1] >= batch.src_lengths[1:]).all())
        rows = batch.src[batch.order]  # back in the sampler's order
        seen += [example_number(pipe, row.tolist()) for row in rows]
    assert sorted(seen) == list(range(N))


def streamed(ds: datasets.Dataset, pipe: PairPipeline, shards: int) -> datasets.IterableDataset:
    """The streaming path: an IterableDataset mapped by the pipeline, rows as numpy arrays."""
    iterable = ds.to_iterable_dataset(num_shards=shards)
    return (
        iterable.map(pipe, batched=True, batch_size=32)
        .select_columns(["src_ids", "tgt_ids"])
        .with_format("numpy")
    )


@pytest.mark.parametrize(
    ("shards", "world_size", "num_workers"), [(4, 2, 2), (1, 1, 2), (3, 3, 0), (3, 2, 2)]
)
def test_streaming_reads_every_example_once_over_ranks_and_workers(
    data, shards, world_size, num_workers
):
    _, _, pipe, ds = data
    seen = []
    for rank in range(world_size):
        bucketer = StreamingBucketer(
            streamed(ds, pipe, shards),
            batch_size=8,
            buffer_size=64,
            rank=rank,
            world_size=world_size,
            collate_fn=PadCollate(pad_id=0),
        )
        for batch in DataLoader(bucketer, batch_size=None, num_workers=num_workers):
            seen += [example_number(pipe, row.tolist()) for row in batch.src]
    assert sorted(seen) == list(range(N))


def test_streaming_resume_restores_the_buffer_and_gives_exactly_the_rest(data):
    _, _, pipe, ds = data

    def make() -> StreamingBucketer:
        shuffled = streamed(ds, pipe, 4).shuffle(seed=7, buffer_size=50)  # HF's own buffer
        b = StreamingBucketer(shuffled, batch_size=8, buffer_size=48, seed=3)
        b.set_epoch(2)
        return b

    full = [[example_number(pipe, ex["src_ids"]) for ex in batch] for batch in make()]
    first = make()
    it = iter(first)
    head = [[example_number(pipe, ex["src_ids"]) for ex in next(it)] for _ in range(9)]
    state = json.loads(json.dumps(first.state_dict()))
    assert state["pending"] and state["consumed"] > 9 * 8  # mid-buffer, contents saved
    second = make()
    second.load_state_dict(state)
    rest = [[example_number(pipe, ex["src_ids"]) for ex in batch] for batch in second]
    assert head + rest == full
    assert sorted(i for b in full for i in b) == list(range(N))


def test_streaming_batches_pad_less_than_the_stream_order(data):
    _, _, pipe, ds = data
    rows = list(streamed(ds, pipe, 1))

    def padded(batches) -> int:
        return sum(len(b) * max(len(r["src_ids"]) for r in b) for b in batches)

    bucketed = list(StreamingBucketer(rows, batch_size=8, buffer_size=240))
    in_order = [rows[i : i + 8] for i in range(0, len(rows), 8)]
    assert padded(bucketed) < 0.8 * padded(in_order)
    batch = PadCollate()(bucketed[0])
    assert batch.src.dtype == torch.int64


@pytest.mark.parametrize("fmt", [None, "arrow", "polars", "pandas", "numpy", "torch", "python"])
def test_map_gives_the_same_ids_for_every_batch_format(data, fmt):
    src, tgt, pipe, ds = data
    mapped = ds.with_format(fmt).map(pipe, batched=True, batch_size=50).with_format(None)
    assert mapped.column_names == ["src", "tgt", "src_ids", "tgt_ids"]
    assert mapped["src"] == src and mapped["tgt"] == tgt
    assert mapped["src_ids"] == [pipe.encode_source(s) for s in src]
    assert mapped["tgt_ids"] == [pipe.encode_target(t) for t in tgt]


def test_the_lazy_batch_is_read_as_arrow_and_gets_only_the_new_columns(data):
    _, _, pipe, ds = data
    seen = []

    def spy(batch):
        out = pipe(batch)
        seen.append((type(out).__name__, set(batch.keys_to_format), type(out["src_ids"])))
        return out

    ds.map(spy, batched=True, batch_size=100)
    # the text columns were never turned into Python lists; the ids are polars Series
    assert {name for name, _, _ in seen} == {"LazyBatch"}
    assert all(unformatted == {"src", "tgt"} for _, unformatted, _ in seen)
    assert {kind.__name__ for _, _, kind in seen} == {"Series"}


def test_map_fingerprints_a_pipeline_by_its_vocabularies_not_its_lookups(data):
    # `datasets` caches a map's output under the function's hash: equal pipelines hash
    # alike whether or not their lookups are built, and another vocabulary hashes apart
    from datasets.fingerprint import Hasher

    src, tgt, pipe, ds = data
    fresh = PairPipeline.from_dict(pipe.to_dict())
    before = Hasher.hash(fresh)
    fresh.encode_flat(src, tgt)  # builds the lookups and remembers forms
    assert Hasher.hash(fresh) == before == Hasher.hash(PairPipeline.from_dict(pipe.to_dict()))
    assert Hasher.hash(PairPipeline.build([*src, "neu"], [*tgt, "new"])) != before
    # built, both sides share one tokenizer object; saved and loaded, they hold two equal
    # ones: the same pipeline all the same, so a map cached in one session is reused later
    assert pipe.src_tokenizer is pipe.tgt_tokenizer
    assert Hasher.hash(pipe) == before
    assert ds.map(pipe, batched=True)._fingerprint == ds.map(fresh, batched=True)._fingerprint
