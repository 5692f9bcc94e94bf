"""A toy translation task for decoding tests: reverse a string of letters. A small GRU +
attention model learns it in seconds on one CPU thread, well but not perfectly."""

from __future__ import annotations

import random

import torch

from seqdata import PairPipeline, Vocab
from seqdata.collate import PadCollate
from seqdata.models import Seq2Seq

LETTERS = "abcdefghij"


def reversal_pairs(n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` pairs ``("a c b", "b c a")`` of 3 to 7 letters."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        words = [rng.choice(LETTERS) for _ in range(rng.randint(3, 7))]
        pairs.append((" ".join(words), " ".join(reversed(words))))
    return pairs


def train_reversal(steps: int = 100, unknown: str = "") -> tuple[Seq2Seq, PairPipeline]:
    """A GRU + attention model after ``steps`` Adam steps (100: ~90 BLEU), in eval mode;
    the letters of ``unknown`` are left out of the target vocabulary (so they are UNK)."""
    pairs = reversal_pairs(2000, seed=0)
    pipe = PairPipeline.build([s for s, _ in pairs], [t for _, t in pairs])
    if unknown:
        kept = Vocab([t for t in LETTERS if t not in unknown])
        pipe = PairPipeline(pipe.src_tokenizer, pipe.tgt_tokenizer, pipe.src_vocab, kept)
    torch.manual_seed(0)
    model = Seq2Seq.build(len(pipe.src_vocab), len(pipe.tgt_vocab), embed_dim=16, hidden_size=32)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    encoded = [pipe.encode_pair(s, t) for s, t in pairs]
    collate, rng = PadCollate(), random.Random(1)
    for _ in range(steps):
        loss = model.loss(collate(rng.sample(encoded, 32)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), pipe
