"""Decoding speed: greedy vs beam search (beam 5), sentences per second, CPU and CUDA.

Model: the default recipe's shape — GRU, embed 128, hidden 256, bidirectional encoder,
Luong "general" attention (``--attention``), 8,000-id vocabularies — with random weights and
EOS switched off, so every output runs to the default limit ``2 * S + 10`` tokens (the worst
case; a random model's argmax is EOS at every step or never, nothing in between). Sources:
caption-like lengths (DESIGN.md §6: log-normal, median 11, clipped to [3, 40]), Zipf ids,
batches of ``--batch`` sentences sorted by length. Prints sentences/s, output tokens/s and
the beam/greedy ratio (beam search does ``K`` times the work per step, batched, so the ratio
shows what batching the beams buys).

    python benchmarks/bench_decode.py [--sentences 512] [--batch 64] [--device cpu|cuda|all|auto]
    python benchmarks/bench_decode.py --device cuda --quick    # a few seconds (gpu_check.sh)

``--quick`` decodes 64 sentences (unless ``--sentences`` says otherwise). ``--device cuda``
without a GPU is an error (exit 2); ``all`` runs the CPU and, when there is one, the GPU;
``auto`` runs the GPU when there is one, else the CPU.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from seqdata.models import Seq2Seq

EOS = 3


def make_sources(n: int, vocab: int, seed: int) -> list[torch.Tensor]:
    rng = np.random.default_rng(seed)
    lengths = np.clip(np.round(rng.lognormal(np.log(11), 0.333, n)), 3, 40).astype(int)
    ranks = np.arange(4, vocab)
    p = 1.0 / (ranks - 3)
    p /= p.sum()
    return [torch.from_numpy(rng.choice(ranks, k, p=p)) for k in sorted(lengths, reverse=True)]


def make_model(vocab: int, seed: int, attention: str = "general") -> Seq2Seq:
    torch.manual_seed(seed)
    model = Seq2Seq.build(vocab, vocab, embed_dim=128, hidden_size=256, attention=attention)
    model.eval()
    with torch.no_grad():
        model.decoder.out.bias[EOS] = -1e4  # never stops early: every output to its limit
    return model


def run(model: Seq2Seq, sources: list[torch.Tensor], batch: int, beam: int, dev: str) -> tuple:
    """(seconds, sentences, output tokens) for decoding every source once."""
    from torch.nn.utils.rnn import pad_sequence

    tokens = 0
    if dev.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(0, len(sources), batch):
        chunk = sources[i : i + batch]
        src = pad_sequence(chunk, batch_first=True).to(dev)
        lengths = torch.tensor([len(s) for s in chunk])
        if beam == 1:
            out = model.greedy(src, lengths)
        else:
            out = model.beam_search(src, lengths, beam=beam)
        tokens += int(out.lengths.sum())
    if dev.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start, len(sources), tokens


def devices_for(choice: str) -> list[str]:
    """The devices to run for ``--device``; exits with status 2 on ``cuda`` without a GPU."""
    has_cuda = torch.cuda.is_available()
    if choice == "cuda" and not has_cuda:
        print("bench_decode: error: --device cuda, but no CUDA GPU is visible", file=sys.stderr)
        raise SystemExit(2)
    if choice == "auto":
        return ["cuda" if has_cuda else "cpu"]
    if choice == "all":
        return ["cpu", "cuda"] if has_cuda else ["cpu"]
    return [choice]


def bench_device(dev: str, sources: list[torch.Tensor], args: argparse.Namespace) -> None:
    """Decode every source greedily and with the beam on ``dev``; print speeds and the ratio."""
    model = make_model(args.vocab, seed=0, attention=args.attention).to(dev)
    warm = sources[: min(args.batch, 8)]
    for beam in (1, args.beam):  # warm-up: kernels, allocator, first-call overheads
        run(model, warm, args.batch, beam, dev)
    results = {}
    for beam in (1, args.beam):
        secs, n, toks = run(model, sources, args.batch, beam, dev)
        results[beam] = n / secs
        name = "greedy" if beam == 1 else f"beam {beam}"
        print(
            f"  {dev:4s} {name:8s}: {n / secs:8.1f} sentences/s, {toks / secs:9.0f} "
            f"output tokens/s, mean output {toks / n:.1f} tokens, {secs:.2f} s"
        )
    ratio = results[args.beam] / results[1]
    print(f"  {dev:4s} beam {args.beam} / greedy speed: {ratio:.2f}x ({1 / ratio:.1f}x slower)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=None, help="default 512 (64 --quick)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "all", "auto"])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--attention",
        default="general",
        choices=["dot", "general", "additive"],
        help="the decoder's attention (the rnn-attention recipe uses additive)",
    )
    parser.add_argument("--quick", action="store_true", help="64 sentences: a few seconds")
    args = parser.parse_args()
    if args.sentences is None:
        args.sentences = 64 if args.quick else 512
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = devices_for(args.device)
    sources = make_sources(args.sentences, args.vocab, seed=0)
    mean_len = np.mean([len(s) for s in sources])
    print(
        f"{args.sentences} sources (mean {mean_len:.1f} tokens), batch {args.batch}, "
        f"vocab {args.vocab}, GRU 128/256 + {args.attention} attention, torch threads "
        f"{torch.get_num_threads()}"
    )
    for dev in devices:
        bench_device(dev, sources, args)


if __name__ == "__main__":
    main()
