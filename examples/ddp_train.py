"""Train the reference Seq2Seq with DistributedDataParallel on CPU or GPUs, resumable mid-epoch.

Run (two processes on one machine). ``nccl`` on ``cuda:LOCAL_RANK`` is picked only when every
rank has a GPU of its own (``--nproc_per_node`` <= the number of GPUs); with more ranks than
GPUs the job falls back to ``gloo`` on the CPU and prints a one-line notice::

    torchrun --nproc_per_node=2 examples/ddp_train.py --out runs/ddp --epochs 3
    # kill it (or stop it on purpose) mid-epoch, then carry on where it stopped:
    torchrun --nproc_per_node=2 examples/ddp_train.py --out runs/ddp --epochs 3 \\
        --stop-after-steps 5                      # saves at step 5 and exits
    torchrun --nproc_per_node=2 examples/ddp_train.py --out runs/ddp --epochs 3 --resume

The data is generated (no files): digit strings and their reversals, e.g. ``3 1 4`` →
``4 1 3``. What the script shows:

- every rank builds the same corpus and a :class:`~seqdata.samplers.BucketBatchSampler` (or
  ``--max-tokens N``: :class:`~seqdata.samplers.TokenBudgetBatchSampler`) with its
  ``rank``/``world_size``: the ranks get disjoint batches, the same number of them (no rank
  waits forever at the last step), and ``set_epoch(epoch)`` reshuffles every epoch;
- the model is wrapped in ``DistributedDataParallel``: gradients are averaged, so the
  parameters stay identical on every rank;
- ``--save-every N`` writes a checkpoint (``seqdata.train.save_checkpoint``: model + optimizer,
  and in ``extra`` the epoch, the step and every rank's sampler state) from rank 0;
  ``--resume`` restores all three and goes on with exactly the batches not yet seen.
- ``--log-dir DIR`` appends one JSON line per step and rank (``epoch``, ``step``, the example
  indices, the loss and a digest of the parameters): the tests check the claims above on it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from seqdata.checkpoint import checkpoint_path
from seqdata.collate import Batch, PadCollate
from seqdata.corpus import ParallelCorpus
from seqdata.distributed import (
    all_gather_objects,
    cleanup_distributed,
    init_distributed,
    parameters_digest,
)
from seqdata.models import Seq2Seq
from seqdata.samplers import BucketBatchSampler, TokenBudgetBatchSampler
from seqdata.train import load_checkpoint, load_optimizer_state, save_checkpoint

PAD, UNK, SOS, EOS = 0, 1, 2, 3
DIGIT0 = 4  # digit d has id DIGIT0 + d
VOCAB_SIZE = DIGIT0 + 10


def reversal_corpus(num_examples: int, seed: int, max_digits: int = 10) -> ParallelCorpus:
    """``num_examples`` digit strings (1..max_digits digits) → ``[SOS] reversed [EOS]``."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, max_digits + 1, num_examples)
    digits = rng.integers(0, 10, int(lengths.sum())) + DIGIT0
    src = np.split(digits, np.cumsum(lengths)[:-1])
    tgt = [np.concatenate(([SOS], s[::-1], [EOS])) for s in src]
    return ParallelCorpus.from_sequences(src, tgt)


class WithIndices(Dataset[Any]):
    """A corpus whose batches also carry the example indices (for the per-rank log)."""

    def __init__(self, corpus: ParallelCorpus) -> None:
        self.corpus = corpus

    def __len__(self) -> int:
        return len(self.corpus)

    def __getitem__(self, i: int) -> Any:
        return self.corpus[i]

    def __getitems__(self, indices: list[int]) -> tuple[list[int], Any]:
        return list(indices), self.corpus.__getitems__(indices)


class IndexedCollate:
    """``(indices, ragged) -> (indices, Batch)``."""

    def __init__(self, pad_id: int) -> None:
        self.collate = PadCollate(pad_id=pad_id)

    def __call__(self, item: Any) -> tuple[list[int], Batch]:
        indices, ragged = item
        return indices, self.collate(ragged)


class LossOf(nn.Module):
    """DDP synchronises gradients of what goes through ``forward``: make it the loss."""

    def __init__(self, model: Seq2Seq) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Batch) -> Tensor:
        return self.model.loss(batch)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="checkpoint directory")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--num-examples", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-tokens", type=int, default=None, help="token-budget batches instead")
    p.add_argument("--drop-last", action="store_true")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--hidden-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-every", type=int, default=0, help="checkpoint every N steps (0: off)")
    p.add_argument("--stop-after-steps", type=int, default=0, help="save at step K and exit")
    p.add_argument("--resume", action="store_true", help="continue from --out if it exists")
    p.add_argument("--log-dir", type=Path, default=None, help="per-rank JSON-lines step log")
    p.add_argument(
        "--backend",
        default=None,
        help="default: nccl when every rank has its own GPU, else gloo on the CPU",
    )
    return p.parse_args(argv)


def save(
    args: argparse.Namespace,
    model: Seq2Seq,
    optimizer: torch.optim.Optimizer,
    sampler: Any,
    epoch: int,
    step_in_epoch: int,
    step: int,
) -> None:
    """Every rank's sampler state is gathered; rank 0 writes one atomic checkpoint."""
    sampler_state = {**sampler.state_dict(), "position": step_in_epoch}
    states = all_gather_objects(sampler_state)
    if torch.distributed.is_initialized() and torch.distributed.get_rank() != 0:
        torch.distributed.barrier()
        return
    extra = {"epoch": epoch, "step_in_epoch": step_in_epoch, "step": step, "samplers": states}
    save_checkpoint(args.out, model, optimizer=optimizer, extra=extra)
    if torch.distributed.is_initialized():
        torch.distributed.barrier()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = init_distributed(args.backend)
    device = info.device  # cuda:LOCAL_RANK only when every rank has its own GPU, else cpu
    torch.manual_seed(args.seed)  # the same initial weights everywhere (DDP also broadcasts)

    corpus = reversal_corpus(args.num_examples, args.seed)  # the same on every rank
    sampler: BucketBatchSampler | TokenBudgetBatchSampler
    if args.max_tokens:
        sampler = TokenBudgetBatchSampler(
            corpus.src_lengths,
            corpus.tgt_lengths,
            max_tokens=args.max_tokens,
            seed=args.seed,
            drop_last=args.drop_last,
            rank=info.rank,
            world_size=info.world_size,
        )
    else:
        sampler = BucketBatchSampler(
            corpus.src_lengths,
            corpus.tgt_lengths,
            batch_size=args.batch_size,
            seed=args.seed,
            drop_last=args.drop_last,
            rank=info.rank,
            world_size=info.world_size,
        )
    loader = DataLoader(WithIndices(corpus), batch_sampler=sampler, collate_fn=IndexedCollate(PAD))

    model = Seq2Seq.build(
        VOCAB_SIZE, VOCAB_SIZE, embed_dim=16, hidden_size=args.hidden_size, pad_id=PAD
    ).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    start_epoch, start_step, step = 0, 0, 0
    # a kill between a save's two renames leaves .NAME.prev: checkpoint_path finds it
    found = checkpoint_path(args.out)
    if args.resume and (found / "config.json").is_file():
        ckpt = load_checkpoint(found, map_location=device)
        model.load_state_dict(ckpt.model.state_dict())
        load_optimizer_state(found, optimizer, map_location=device)
        extra = ckpt.extra
        states = extra["samplers"]
        if len(states) != info.world_size:
            raise SystemExit(
                f"the checkpoint was written by {len(states)} ranks, but this job has "
                f"{info.world_size}; resume with --nproc_per_node={len(states)}"
            )
        sampler.load_state_dict(states[info.rank])
        start_epoch, start_step, step = extra["epoch"], extra["step_in_epoch"], extra["step"]
        if info.is_main:
            print(f"resumed from {args.out}: epoch {start_epoch}, step {step}", flush=True)
    ddp = DistributedDataParallel(LossOf(model)) if info.world_size > 1 else LossOf(model)

    log = None
    if args.log_dir is not None:
        args.log_dir.mkdir(parents=True, exist_ok=True)
        log = (args.log_dir / f"rank{info.rank}.jsonl").open("a", encoding="utf-8")
    for epoch in range(start_epoch, args.epochs):
        sampler.set_epoch(epoch)  # keeps a restored mid-epoch position for the same epoch
        step_in_epoch = start_step if epoch == start_epoch else 0
        total, count, start = 0.0, 0, time.perf_counter()
        for indices, batch in loader:
            batch = batch.to(device, non_blocking=True)
            loss = ddp(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
            step_in_epoch += 1
            value = loss.item()
            total, count = total + value, count + 1
            if log is not None:
                record = {
                    "epoch": epoch,
                    "step": step,
                    "indices": indices,
                    "loss": value,
                    "params": parameters_digest(model),
                }
                log.write(json.dumps(record) + "\n")
                log.flush()
            stop = args.stop_after_steps and step == args.stop_after_steps
            if stop or (args.save_every and step % args.save_every == 0):
                save(args, model, optimizer, sampler, epoch, step_in_epoch, step)
            if stop:
                if info.is_main:
                    print(f"stopped after step {step} (checkpoint in {args.out})", flush=True)
                if log is not None:
                    log.close()
                sys.stdout.flush()
                os._exit(0)  # as if killed: no clean-up, no end-of-epoch code
        sums = torch.tensor([total, count], dtype=torch.float64)
        if info.world_size > 1:
            torch.distributed.all_reduce(sums)
        mean = float(sums[0]) / max(float(sums[1]), 1.0)
        if info.is_main:
            print(
                f"epoch {epoch}: {count} steps per rank, loss {mean:.4f}, "
                f"{time.perf_counter() - start:.1f}s",
                flush=True,
            )
        save(args, model, optimizer, sampler, epoch + 1, 0, step)
    if log is not None:
        log.close()
    if info.world_size > 1:
        torch.distributed.barrier()  # nobody tears the group down while another rank uses it
    del ddp  # DDP's reducer before its process group
    cleanup_distributed()
    if info.world_size > 1:
        # Everything is saved and closed. Skip the interpreter's finalization: gloo's worker
        # threads can still be torn down there and abort the process now and then
        # ("terminate called without an active exception"; see pytorch/pytorch#179291).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
