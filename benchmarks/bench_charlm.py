"""Character LM on tiny-shakespeare with truncated BPTT: the loss must fall below a stated value.

Usage (from the repository root)::

    python benchmarks/bench_charlm.py [PATH] [--steps 1000] [--device cpu]

PATH defaults to ``../shared/data/tinyshakespeare.txt`` relative to the repository root. The
text (≈1.1M characters, 65 distinct) is split 90/10 into train/validation streams; a 1-layer
LSTM (embed 64, hidden 256) is trained with ``seqdata.train.train_bptt`` (batch 32 streams ×
64 steps, Adam 3e-3, gradient-norm clip 1.0) and evaluated with the hidden state carried
across the validation stream. The script prints the validation loss in nats/char (and bits)
next to the uniform and unigram baselines, a greedy sample, and exits with status 1 if the
loss is not below ``--target`` (default 1.8 nats/char, vs ln 65 ≈ 4.17 for uniform).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from seqdata.lm import BPTTBatcher
from seqdata.models import CharLM
from seqdata.train import evaluate_bptt, train_bptt

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", default=str(ROOT / "../shared/data/tinyshakespeare.txt"))
    parser.add_argument("--steps", type=int, default=1000, help="training chunks (B x T each)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--bptt", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--cell", default="lstm", choices=["lstm", "gru", "rnn"])
    parser.add_argument("--target", type=float, default=1.8, help="nats/char to beat")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    path = Path(args.path)
    if not path.is_file():
        print(f"{path}: not found; pass the tiny-shakespeare text file as PATH", file=sys.stderr)
        return 2
    text = path.read_text(encoding="utf-8")
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)  # one code per char
    chars, ids = np.unique(codes, return_inverse=True)  # vocab = sorted distinct characters
    split = int(0.9 * len(ids))
    train = BPTTBatcher(ids[:split], args.batch_size, args.bptt)
    valid = BPTTBatcher(ids[split:], args.batch_size, args.bptt)
    counts = np.bincount(ids[:split], minlength=len(chars)) + 1
    unigram = float(-(np.log(counts / counts.sum())[ids[split:]]).mean())

    torch.manual_seed(args.seed)
    model = CharLM(len(chars), 64, args.hidden, cell=args.cell).to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    print(
        f"corpus: {path.name}, {len(ids):,} chars, vocab {len(chars)}, "
        f"train {split:,} / valid {len(ids) - split:,}"
    )
    params = sum(p.numel() for p in model.parameters())
    print(
        f"model: {args.cell} embed 64 hidden {args.hidden}, {params:,} params; "
        f"batch {args.batch_size} x bptt {args.bptt}; device {args.device}"
    )
    print(f"baselines (nats/char): uniform {math.log(len(chars)):.3f}, unigram {unigram:.3f}")

    def endless(batcher: BPTTBatcher) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:  # pass after pass: each fresh iter() starts the stream again
            yield from batcher

    chunks = endless(train)
    start, done, report = time.perf_counter(), 0, max(args.steps // 6, 1)
    while done < args.steps:
        chunk = min(report, args.steps - done)
        loss = train_bptt(model, chunks, optimizer, clip_norm=1.0, max_steps=chunk)
        done += chunk
        elapsed = time.perf_counter() - start
        chars_s = done * args.batch_size * args.bptt / elapsed
        print(f"step {done:5d}  train {loss:.3f}  ({elapsed:6.1f} s, {chars_s:,.0f} chars/s)")
    valid_loss = evaluate_bptt(model, valid)

    model.eval()
    prefix = [int(np.searchsorted(chars, ord(c))) for c in "ROMEO:\n"]
    sample = model.generate(prefix, 200, temperature=0.8).tolist()
    print("sample:\n" + "".join(chr(int(chars[i])) for i in sample))
    ok = valid_loss < args.target
    print(
        f"\nvalid loss {valid_loss:.3f} nats/char ({valid_loss / math.log(2):.3f} bits/char) "
        f"after {done} steps, {time.perf_counter() - start:.1f} s; target < {args.target}: "
        f"{'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
