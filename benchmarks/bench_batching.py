"""Batching side by side: the notes' bucketing + collate, random batches, HuggingFace, seqdata.

For each generated corpus size (default 30k, 1M and 5M pairs; ``--sizes``) and one length
shape (``--shape``, default ``wmt``: log-normal, long tail, 2% misaligned pairs — see
``benchmarks/corpora.py``), every batching of one epoch at batch size 64 is measured for:

* padding efficiency (real / padded tokens) of the source and the target, batches per epoch
  and mean batch size;
* sampler time per epoch (``init`` is seqdata's one-off grouping in ``__init__``);
  times are process CPU seconds, with wall-clock seconds next to the epoch totals (on a
  shared machine the wall clock includes other processes' turns);
* fetch + collate time per batch and per epoch: the time to turn the epoch's index lists
  into padded tensors. For the notes and HuggingFace on corpora over ``--full-epoch-max``
  pairs it is measured on ``--sample-batches`` random batches of the epoch and scaled to
  the epoch ("est.");
* peak memory of one sampler epoch (tracemalloc; numpy allocations included) and the
  corpus's footprint in memory (the notes and HuggingFace hold Python lists of ints,
  estimated from 10,000 examples; seqdata holds flat arrays).

The rows:

1. ``notes``: the study notes' bucketing (``max_pad_len=5``) and collate, copied literally
   — including ``min(sentence_length, key=len)`` (which returns the *first* pair, not the
   minimum lengths) and ``sorted(..., key=lambda x: x[0])`` (which sorts by the source
   *ids*, not their length) — over a list of ``(src_list, tgt_list)`` pairs;
2. ``random``: ``BatchSampler(RandomSampler(corpus), 64)``, seqdata's fetch + collate;
3. ``hf``: transformers' ``LengthGroupedSampler`` (source lengths, as the Trainer uses it)
   chunked by the DataLoader into 64s, and ``DataCollatorForSeq2Seq`` (the
   ``DataCollatorWithPadding`` that also pads ``labels``) over feature dicts of lists;
4. ``seqdata``: ``BucketBatchSampler`` with its defaults, ``ParallelCorpus.__getitems__`` +
   ``PadCollate`` (what ``DataLoader(corpus, batch_sampler=…, collate_fn=PadCollate())``
   runs per batch); plus ``seqdata w=5`` (the notes' bucket width) and ``seqdata budget``
   (``TokenBudgetBatchSampler``, budget = 64 × mean longest side).

    python benchmarks/bench_batching.py [--sizes 30000,1000000,5000000] [--shape wmt]
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import BatchSampler, RandomSampler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpora import SHAPES, describe, make_corpus

from seqdata.collate import PadCollate
from seqdata.corpus import ParallelCorpus
from seqdata.samplers import BucketBatchSampler, TokenBudgetBatchSampler
from seqdata.stats import padding_stats

BATCH = 64

# ------------------------------------------------------------------ the notes, literally


def notes_bucketing(sentence_length, batch_size=BATCH, max_pad_len=5):  # type: ignore[no-untyped-def]
    batch_map = defaultdict(list)
    batch_indices_list = []

    src_len_min = min(sentence_length, key=len)[0]  # 첫번째 인덱스인 src의 min length
    tgt_len_min = min(sentence_length, key=len)[1]  # 두번째 인덱스인 tgt의 min length

    for idx, (src_len, tgt_len) in enumerate(sentence_length):
        src = (src_len - src_len_min + 1) // (max_pad_len)
        tgt = (tgt_len - tgt_len_min + 1) // (max_pad_len)
        batch_map[(src, tgt)].append(idx)

    for _key, value in batch_map.items():
        batch_indices_list += [value[i : i + batch_size] for i in range(0, len(value), batch_size)]

    # Don't forget shuffling batches because length of each batch could be biased
    random.shuffle(batch_indices_list)

    return batch_indices_list


def notes_collate(batched_samples):  # type: ignore[no-untyped-def]
    batch_size = len(batched_samples)  # noqa: F841 (kept as in the notes)

    batched_samples = sorted(batched_samples, key=lambda x: x[0], reverse=True)

    src_sentences = []
    tgt_sentences = []
    for src_sentence, tgt_sentence in batched_samples:
        src_sentences.append(torch.tensor(src_sentence))
        tgt_sentences.append(torch.tensor(tgt_sentence))

    src_sentences = torch.nn.utils.rnn.pad_sequence(src_sentences, batch_first=True)
    tgt_sentences = torch.nn.utils.rnn.pad_sequence(tgt_sentences, batch_first=True)
    return src_sentences, tgt_sentences


# ------------------------------------------------------------------ HuggingFace


def hf_parts() -> tuple[Any, Callable[..., Any]]:
    """transformers' LengthGroupedSampler class and a DataCollatorForSeq2Seq (imported lazily)."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import DataCollatorForSeq2Seq, PreTrainedTokenizerFast
    from transformers.trainer_pt_utils import LengthGroupedSampler
    from transformers.utils import logging

    logging.set_verbosity_error()
    model = WordLevel({"<pad>": 0, "<unk>": 1}, unk_token="<unk>")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(model), pad_token="<pad>")
    collator = DataCollatorForSeq2Seq(
        tokenizer, padding=True, label_pad_token_id=0, return_tensors="pt"
    )
    return LengthGroupedSampler, collator


# ------------------------------------------------------------------ measuring


@dataclass
class Row:
    name: str
    src_eff: float
    tgt_eff: float
    batches: int
    mean_batch: float
    init_s: float
    epoch_s: float
    epoch_wall_s: float
    collate_batch_ms: float
    collate_epoch_s: float
    collate_wall_s: float
    estimated: bool
    peak_mb: float
    data_mb: float


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``(result, cpu seconds, wall seconds)``."""
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - cpu, time.perf_counter() - wall


def peak_mb(fn: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def python_lists_mb(corpus: ParallelCorpus, sample: int = 10_000) -> float:
    """Bytes of the corpus as Python ``(src_list, tgt_list)`` pairs, from a sample."""
    n = len(corpus)
    idx = np.linspace(0, n - 1, min(n, sample)).astype(int)
    total = 0
    for i in idx:
        src, tgt = corpus[int(i)]
        s, t = src.tolist(), tgt.tolist()
        total += sys.getsizeof(s) + sys.getsizeof(t) + 56  # two lists + the pair tuple
        total += 28 * sum(1 for x in s + t if x > 256) + 8  # int objects (small ones cached)
    return total / len(idx) * n / 2**20


def collate_time(
    batches: list[list[int]], run: Callable[[list[int]], Any], sample: int | None, seed: int
) -> tuple[float, float, float, bool]:
    """(cpu ms per batch, cpu s per epoch, wall s per epoch, estimated?) of fetch + collate."""
    chosen = batches
    if sample is not None and sample < len(batches):
        pick = np.random.default_rng(seed).choice(len(batches), sample, replace=False)
        chosen = [batches[i] for i in pick]
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    for idx in chosen:
        run(idx)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    scale = len(batches) / len(chosen)
    return cpu / len(chosen) * 1e3, cpu * scale, wall * scale, chosen is not batches


def bench_size(n: int, shape: str, args: argparse.Namespace) -> list[Row]:
    corpus, _, gen_s = timed(lambda: make_corpus(n, shape, seed=args.seed))
    src_len, tgt_len = corpus.src_lengths, corpus.tgt_lengths
    print(f"\n=== {n:,} pairs ({shape}), generated in {gen_s:.1f} s")
    print(f"    {describe(src_len, tgt_len)}")
    sample = None if n <= args.full_epoch_max else args.sample_batches
    collate = PadCollate(pad_id=0)
    seqdata_mb = (corpus.src.values.nbytes + corpus.tgt.values.nbytes) / 2**20
    seqdata_mb += (corpus.src.offsets.nbytes + corpus.tgt.offsets.nbytes) / 2**20
    lists_mb = python_lists_mb(corpus)
    rows: list[Row] = []

    def fetch_collate(idx: list[int]) -> Any:
        return collate(corpus.__getitems__(idx))

    def record(
        name: str,
        batches: list[list[int]],
        init_s: float,
        epoch: tuple[float, float],
        run: Callable[[list[int]], Any],
        sampled: int | None,
        peak: float,
        data_mb: float,
    ) -> None:
        stats = padding_stats(batches, corpus)
        assert stats.tgt is not None
        per_batch, per_epoch, wall, est = collate_time(batches, run, sampled, args.seed)
        rows.append(
            Row(
                name,
                stats.src.efficiency,
                stats.tgt.efficiency,
                stats.batches,
                stats.mean_batch_size,
                init_s,
                *epoch,
                per_batch,
                per_epoch,
                wall,
                est,
                peak,
                data_mb,
            )
        )
        print(f"    {name:<15} done", flush=True)

    # 1. the notes
    sentence_length = list(zip(src_len.tolist(), tgt_len.tolist(), strict=True))
    random.seed(args.seed)
    notes_batches, *notes_s = timed(lambda: notes_bucketing(sentence_length))
    notes_peak = peak_mb(lambda: notes_bucketing(sentence_length)) if args.memory else 0.0
    needed = notes_batches
    if sample is not None:  # Python lists only for the batches that are timed
        pick = np.random.default_rng(args.seed).choice(len(notes_batches), sample, replace=False)
        needed = [notes_batches[i] for i in pick]
    examples = {i: (corpus.src[i].tolist(), corpus.tgt[i].tolist()) for b in needed for i in b}
    record(
        "notes (w=5)",
        notes_batches,
        0.0,
        tuple(notes_s),
        lambda idx: notes_collate([examples[i] for i in idx]),
        sample,
        notes_peak,
        lists_mb,
    )
    examples.clear()  # free the Python lists before the next row
    sentence_length.clear()

    # 2. random batches
    def random_epoch() -> list[list[int]]:
        gen = torch.Generator().manual_seed(args.seed)
        return list(BatchSampler(RandomSampler(range(n), generator=gen), BATCH, drop_last=False))

    rand_batches, *rand_s = timed(random_epoch)
    rand_peak = peak_mb(random_epoch) if args.memory else 0.0
    record("random", rand_batches, 0.0, tuple(rand_s), fetch_collate, None, rand_peak, seqdata_mb)
    del rand_batches

    # 3. HuggingFace
    if not args.no_hf:
        grouped_sampler, hf_collator = hf_parts()
        lengths = src_len.tolist()

        def hf_epoch() -> list[list[int]]:
            gen = torch.Generator().manual_seed(args.seed)
            order = list(grouped_sampler(BATCH, lengths=lengths, generator=gen))
            return [order[i : i + BATCH] for i in range(0, n, BATCH)]

        hf_batches, *hf_s = timed(hf_epoch)
        hf_peak = peak_mb(hf_epoch) if args.memory else 0.0
        needed = hf_batches
        if sample is not None:
            pick = np.random.default_rng(args.seed).choice(len(hf_batches), sample, replace=False)
            needed = [hf_batches[i] for i in pick]
        features = {
            i: {"input_ids": corpus.src[i].tolist(), "labels": corpus.tgt[i].tolist()}
            for b in needed
            for i in b
        }
        record(
            "hf grouped",
            hf_batches,
            0.0,
            tuple(hf_s),
            lambda idx: hf_collator([features[i] for i in idx]),
            sample,
            hf_peak,
            lists_mb,
        )
        features.clear()
        lengths.clear()
        del hf_batches

    # 4. seqdata
    budget = BATCH * int(np.mean(np.maximum(src_len, tgt_len)))
    makers: dict[str, Callable[[], Any]] = {
        "seqdata": lambda: BucketBatchSampler(src_len, tgt_len, batch_size=BATCH, seed=args.seed),
        "seqdata w=5": lambda: BucketBatchSampler(
            src_len, tgt_len, batch_size=BATCH, bucket_width=5, seed=args.seed
        ),
        "seqdata budget": lambda: TokenBudgetBatchSampler(
            src_len, tgt_len, max_tokens=budget, oversize="single", seed=args.seed
        ),
    }
    for name, make in makers.items():
        sampler, init_s, _ = timed(make)
        sampler.set_epoch(1)
        batches, *epoch_s = timed(lambda s=sampler: list(s))

        def one_epoch(s: Any = sampler) -> None:
            s.set_epoch(2)
            list(s)

        peak = peak_mb(one_epoch) if args.memory else 0.0
        record(name, batches, init_s, tuple(epoch_s), fetch_collate, None, peak, seqdata_mb)
    print(f"    (seqdata budget: max_tokens={budget} per side)")
    return rows


def report(n: int, rows: list[Row]) -> None:
    notes = rows[0]
    print(f"\n{n:,} pairs, batch size {BATCH}; seconds are CPU (wall clock in brackets)")
    print(
        f"{'batching':<15}{'src eff':>8}{'tgt eff':>8}{'batches':>8}{'mean B':>7}"
        f"{'init s':>7}{'sampler s/epoch':>17}{'collate ms/b':>13}{'collate s/epoch':>19}"
        f"{'vs notes':>9}{'peak MB':>8}{'data MB':>8}"
    )
    for r in rows:
        est = "~" if r.estimated else " "
        print(
            f"{r.name:<15}{r.src_eff:>8.3f}{r.tgt_eff:>8.3f}{r.batches:>8}{r.mean_batch:>7.1f}"
            f"{r.init_s:>7.2f}{r.epoch_s:>8.3f} [{r.epoch_wall_s:>5.2f}]"
            f"{r.collate_batch_ms:>13.3f}{est}{r.collate_epoch_s:>8.3f} [{r.collate_wall_s:>7.2f}]"
            f"{notes.collate_epoch_s / r.collate_epoch_s:>8.1f}x{r.peak_mb:>8.0f}{r.data_mb:>8.0f}"
        )
    best = next(r for r in rows if r.name == "seqdata")
    hf = next((r for r in rows if r.name == "hf grouped"), None)
    checks = [
        ("efficiency >= 0.95 on both sides", min(best.src_eff, best.tgt_eff) >= 0.95),
        ("mean batch >= 58", best.mean_batch >= 58),
        ("sampler epoch <= 1 s", best.epoch_s <= 1.0),
        ("fetch+collate >= 10x the notes", notes.collate_epoch_s / best.collate_epoch_s >= 10),
    ]
    if hf is not None:
        checks.append(("fetch+collate faster than HF", best.collate_epoch_s < hf.collate_epoch_s))
    print(
        "targets (seqdata defaults): "
        + "; ".join(f"{label}: {'yes' if ok else 'NO'}" for label, ok in checks)
    )
    print("(~ = per-batch time measured on a sample of the epoch's batches, times batches)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="30000,1000000,5000000", help="comma-separated corpus sizes (pairs)"
    )
    parser.add_argument("--shape", default="wmt", choices=SHAPES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--sample-batches",
        type=int,
        default=2000,
        help="batches timed for the notes/HF collate on big corpora",
    )
    parser.add_argument(
        "--full-epoch-max",
        type=int,
        default=100_000,
        help="largest corpus whose notes/HF collate is timed over the epoch",
    )
    parser.add_argument(
        "--no-memory",
        dest="memory",
        action="store_false",
        help="skip the tracemalloc pass (faster)",
    )
    parser.add_argument("--no-hf", action="store_true", help="skip the transformers rows")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"torch {torch.__version__}, numpy {np.__version__}, {torch.get_num_threads()} "
        f"torch threads; batch size {BATCH}"
    )
    start = time.perf_counter()
    results = [(n, bench_size(n, args.shape, args)) for n in sizes]
    for n, rows in results:
        report(n, rows)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
