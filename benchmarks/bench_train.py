"""One epoch of GRU seq2seq training, four ways of batching, side by side.

1. **random + padded**: shuffled fixed-size batches, padded, the RNNs run over the padding
   (no packing) — the notes' first listing;
2. **bucketed + packed**: the notes' bucketing (group by length, chunk, shuffle the batches)
   and ``pack_padded_sequence`` around the RNNs;
3. **seqdata buckets + packed**: ``BucketBatchSampler`` with its defaults, and packing;
4. **token budget + packed**: seqdata's token-budget batches (each batch holds about the same
   number of tokens) and packing.

Batches of every policy are gathered and padded by seqdata's ``ParallelCorpus`` +
``PadCollate`` (sorted by source length, as packing wants).

Corpus (generated, WMT-like per DESIGN.md §6): ``--pairs`` pairs (default 100,000); source
lengths log-normal (mean ≈ 24, p50 ≈ 20, p99 ≈ 85, clipped to [1, 150]); target length =
source × 0.95 × N(1, 0.1) plus 2% misaligned pairs with an independent length; words Zipf
(s = 1.1) over a 8,000-id vocabulary. Model: GRU, embed 128, hidden 256, bidirectional
encoder, Luong "general" attention, Adam 1e-3, clip 1.0. Batches: 64 pairs, or a budget of
64 × mean source length source tokens.

Prints tokens/s (real source + target tokens), seconds per epoch, the padded share of the
source/target cells, and ratios against (1).

    python benchmarks/bench_train.py [--pairs 100000] [--device cpu]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqdata.collate import Batch, PadCollate
from seqdata.corpus import ParallelCorpus
from seqdata.models import Seq2Seq
from seqdata.samplers import BucketBatchSampler, TokenBudgetBatchSampler
from seqdata.train import fit, train_step

PAD, SOS, EOS, FIRST_WORD = 0, 2, 3, 4


def make_corpus(pairs: int, vocab: int, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    src_len = np.clip(np.round(rng.lognormal(3.0, 0.6, pairs)), 1, 150).astype(np.int64)
    tgt_len = np.round(src_len * 0.95 * rng.normal(1.0, 0.1, pairs)).astype(np.int64)
    misaligned = rng.random(pairs) < 0.02
    tgt_len[misaligned] = rng.integers(1, 100, int(misaligned.sum()))
    tgt_len = np.clip(tgt_len, 1, 148)
    ranks = np.arange(1, vocab - FIRST_WORD + 1)
    probs = ranks**-1.1 / (ranks**-1.1).sum()

    def draw(lengths: np.ndarray) -> list[np.ndarray]:
        words = rng.choice(len(probs), size=int(lengths.sum()), p=probs) + FIRST_WORD
        return np.split(words.astype(np.int64), np.cumsum(lengths)[:-1])

    tgt = [np.concatenate([[SOS], t, [EOS]]) for t in draw(tgt_len)]
    return draw(src_len), tgt


# ---------------------------------------------------------------- batching policies


def random_batches(n: int, batch_size: int, seed: int) -> list[list[int]]:
    order = np.random.default_rng(seed).permutation(n)
    return [order[i : i + batch_size].tolist() for i in range(0, n, batch_size)]


def notes_buckets(
    src_len: np.ndarray, tgt_len: np.ndarray, batch_size: int, max_pad_len: int, seed: int
) -> list[list[int]]:
    """The notes' bucketing listing (dict of lists, chunk, shuffle), with the true minimum."""
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    keys_s = (src_len - src_len.min() + 1) // max_pad_len
    keys_t = (tgt_len - tgt_len.min() + 1) // max_pad_len
    for idx, key in enumerate(zip(keys_s.tolist(), keys_t.tolist(), strict=True)):
        buckets[key].append(idx)
    out = [v[i : i + batch_size] for v in buckets.values() for i in range(0, len(v), batch_size)]
    order = np.random.default_rng(seed).permutation(len(out))
    return [out[i] for i in order]


class PaddedSeq2Seq(nn.Module):
    """The same Seq2Seq, run as the notes' first listing: no packing, RNNs over the padding."""

    def __init__(self, model: Seq2Seq) -> None:
        super().__init__()
        self.model = model

    def loss(self, batch: Batch) -> Tensor:
        m = self.model
        memory, state = m.encoder.rnn(m.encoder.embedding(batch.src))  # (B, S, 2H)
        mask = batch.src != PAD  # (B, S)
        assert batch.tgt is not None
        logits, _ = m.decoder(batch.tgt[:, :-1], m.bridge(state), memory, mask)  # (B, T, V)
        gold = batch.tgt[:, 1:]
        return F.cross_entropy(logits.flatten(0, 1), gold.flatten(), ignore_index=PAD)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    src, tgt = make_corpus(args.pairs, args.vocab, args.seed)
    src_len = np.array([len(s) for s in src])
    tgt_len = np.array([len(t) for t in tgt])
    print(
        f"corpus: {args.pairs:,} pairs, vocab {args.vocab}; source length mean "
        f"{src_len.mean():.1f}, p50 {np.percentile(src_len, 50):.0f}, p99 "
        f"{np.percentile(src_len, 99):.0f}, max {src_len.max()}; target (framed) mean "
        f"{tgt_len.mean():.1f}; device {args.device}, torch threads {torch.get_num_threads()}"
    )
    budget = int(args.batch_size * src_len.mean())
    print(f"token budget {budget} tokens per side")
    policies = {
        "random + padded": random_batches(args.pairs, args.batch_size, args.seed),
        "notes' buckets + packed": notes_buckets(src_len, tgt_len, args.batch_size, 5, args.seed),
        "seqdata buckets + packed": list(
            BucketBatchSampler(src_len, tgt_len, batch_size=args.batch_size, seed=args.seed)
        ),
        "token budget + packed": list(
            TokenBudgetBatchSampler(src_len, tgt_len, max_tokens=budget, seed=args.seed)
        ),
    }
    corpus = ParallelCorpus.from_sequences(src, tgt)
    collate = PadCollate(pad_id=PAD)
    rows = []
    for name, index_lists in policies.items():
        batches = [collate(corpus.__getitems__(idx)) for idx in index_lists]
        cells = sum(b.src.numel() + b.tgt.numel() for b in batches)  # type: ignore[union-attr]
        real = int(src_len.sum() + tgt_len.sum())
        torch.manual_seed(args.seed)
        seq2seq = Seq2Seq.build(args.vocab, args.vocab, embed_dim=128, hidden_size=256)
        model: nn.Module = PaddedSeq2Seq(seq2seq) if name.endswith("padded") else seq2seq
        start = time.perf_counter()
        (stats,) = fit(model, batches, epochs=1, lr=1e-3, device=args.device)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        rows.append((name, len(batches), 1 - real / cells, seconds, real / seconds, stats))
        print(f"  {name:<22} done: {seconds:7.1f} s, loss {stats.train_loss:.3f}", flush=True)

    base_s, base_tps = rows[0][3], rows[0][4]
    print(
        f"\n{'batching':<24}{'batches':>8}{'padding':>9}{'s/epoch':>10}{'tokens/s':>11}"
        f"{'speed-up':>10}"
    )
    for name, n, pad, seconds, tps, _ in rows:
        print(f"{name:<24}{n:>8}{pad:>9.1%}{seconds:>10.1f}{tps:>11,.0f}{base_s / seconds:>9.2f}x")
    print(
        f"(tokens/s counts real source + target tokens; speed-up = "
        f"{rows[0][0]!r} time / row time; baseline {base_tps:,.0f} tokens/s)"
    )
    data_share(corpus, policies["seqdata buckets + packed"], args)


def data_share(corpus: ParallelCorpus, index_lists: list[list[int]], args: Any) -> None:
    """The data side's share of a training step: fetch + collate (+ pin) + copy to the device,
    against the whole step (data + forward + backward + optimizer), seqdata buckets, one epoch."""
    collate = PadCollate(pad_id=PAD)
    cuda = args.device.startswith("cuda")
    torch.manual_seed(args.seed)
    model = Seq2Seq.build(args.vocab, args.vocab, embed_dim=128, hidden_size=256).to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    data_s = 0.0
    start = time.perf_counter()
    for idx in index_lists:
        t0 = time.perf_counter()
        batch = collate(corpus.__getitems__(idx))
        if cuda:
            batch = batch.pin_memory()
        batch = batch.to(args.device, non_blocking=True)
        data_s += time.perf_counter() - t0
        train_step(model, batch, optimizer)
    if cuda:
        torch.cuda.synchronize()
    total = time.perf_counter() - start
    n = len(index_lists)
    print(
        f"\ndata side (fetch + collate{' + pin' if cuda else ''} + copy to {args.device}), "
        f"seqdata buckets: {1e3 * data_s / n:.2f} ms of {1e3 * total / n:.2f} ms per step "
        f"= {data_s / total:.1%} of a training step"
    )


if __name__ == "__main__":
    main()
