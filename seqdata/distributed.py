"""Small helpers for ``torchrun`` jobs: join the process group, agree, and check sync.

seqdata's samplers shard by ``rank``/``world_size`` themselves (and read them from
``torch.distributed`` when it is initialised), so no ``DistributedSampler`` wrapper is
needed; these helpers only do the set-up a training script repeats:

- [`init_distributed`][seqdata.distributed.init_distributed] reads the environment ``torchrun`` sets
  (``RANK``, ``WORLD_SIZE``,
  ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``), joins the process
  group and picks this process's device ([`pick_backend`][seqdata.distributed.pick_backend]):
  ``nccl`` and ``cuda:LOCAL_RANK``
  only when every rank on this machine has a GPU of its own, else ``gloo`` on the CPU with a
  one-line notice; run as a plain ``python script.py`` it is a single process of world size 1
  and initialises nothing.
- [`all_gather_objects`][seqdata.distributed.all_gather_objects] collects one picklable object per
  rank (a sampler state, a
  log line) — every rank gets the list.
- [`parameters_in_sync`][seqdata.distributed.parameters_in_sync] checks that every rank holds
  bit-identical parameters, the
  invariant ``DistributedDataParallel`` keeps.
- [`cleanup_distributed`][seqdata.distributed.cleanup_distributed] leaves the group.

>>> info = init_distributed()          # not under torchrun: one process
>>> info.rank, info.world_size, info.is_main
(0, 1, True)
>>> import torch
>>> parameters_in_sync(torch.nn.Linear(2, 2))
True
"""

from __future__ import annotations

import hashlib
import os
import sys
from typing import Any, NamedTuple

import torch
import torch.distributed as dist
from torch import nn

from seqdata.errors import ConfigError

__all__ = [
    "DistInfo",
    "all_gather_objects",
    "cleanup_distributed",
    "init_distributed",
    "parameters_digest",
    "parameters_in_sync",
    "pick_backend",
]


class DistInfo(NamedTuple):
    """Where this process stands in the job."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that saves checkpoints and prints."""
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(
            f"the environment variable {name} should be an integer, but got {name}={value!r}"
        ) from None


def pick_backend(
    backend: str | None,
    *,
    local_rank: int,
    local_world_size: int,
    cuda_available: bool,
    device_count: int,
) -> tuple[str, torch.device, str | None]:
    """Choose the process group backend and this rank's device; pure, so it is testable.

    ``nccl`` needs one GPU per rank: with ``local_world_size`` ranks on this machine and
    ``device_count`` GPUs, ``nccl`` on ``cuda:local_rank`` when ``device_count >=
    local_world_size``; otherwise the default falls back to ``gloo`` on the CPU and says so
    in the returned notice (never a raw "invalid device ordinal" later).

    Returns:
        ``(backend, device, notice)``; ``notice`` is a one-line message or None.

    Raises:
        ConfigError: ``backend="nccl"`` asked for where the ranks cannot each have a GPU.

    >>> backend, device, notice = pick_backend(
    ...     None, local_rank=1, local_world_size=2, cuda_available=True, device_count=1
    ... )
    >>> backend, device, "1 GPU(s): using gloo on the CPU" in notice
    ('gloo', device(type='cpu'), True)
    >>> pick_backend(None, local_rank=1, local_world_size=2, cuda_available=True, device_count=2)
    ('nccl', device(type='cuda', index=1), None)
    """
    enough = cuda_available and device_count >= local_world_size
    if backend == "nccl" and not enough:
        raise ConfigError(
            f"backend='nccl' needs one GPU per rank, but this machine runs {local_world_size} "
            f"ranks and has {device_count if cuda_available else 0} GPU(s); run with "
            f"--nproc_per_node={max(device_count, 1) if cuda_available else 1} or use "
            "--backend gloo"
        )
    if backend is None:
        if enough:
            return "nccl", torch.device("cuda", local_rank), None
        notice = None
        if cuda_available and device_count > 0:
            notice = (
                f"seqdata: {local_world_size} ranks on this machine but {device_count} GPU(s): "
                f"using gloo on the CPU (run with --nproc_per_node={device_count} to train on "
                "the GPU)"
            )
        return "gloo", torch.device("cpu"), notice
    device = torch.device("cuda", local_rank) if enough else torch.device("cpu")
    return backend, device, None


def init_distributed(backend: str | None = None, *, timeout_s: float = 300.0) -> DistInfo:
    """Join the process group ``torchrun`` describes in the environment (idempotent).

    Args:
        backend: ``"gloo"``, ``"nccl"`` …; default: the rule of
            [`pick_backend`][seqdata.distributed.pick_backend] (``nccl`` when every local
            rank has its own GPU, else ``gloo`` on the CPU).
        timeout_s: how long collective operations wait before failing (a hang becomes an
            error).

    Returns:
        ``DistInfo(rank, world_size, local_rank, device)``; ``(0, 1, 0, cuda or cpu)``
        outside ``torchrun``. Put the model and every batch on ``info.device``.
    """
    local_rank = _env_int("LOCAL_RANK", 0)
    world_size = _env_int("WORLD_SIZE", 1)
    local_world_size = _env_int("LOCAL_WORLD_SIZE", world_size)
    cuda, count = torch.cuda.is_available(), torch.cuda.device_count()
    if dist.is_available() and dist.is_initialized():
        _, device, _ = pick_backend(
            dist.get_backend(),
            local_rank=local_rank,
            local_world_size=local_world_size,
            cuda_available=cuda,
            device_count=count,
        )
        return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank, device)
    rank = _env_int("RANK", 0)
    if not 0 <= rank < world_size:
        raise ConfigError(f"RANK should be in [0, WORLD_SIZE={world_size}), but got RANK={rank}")
    if world_size == 1:
        return DistInfo(0, 1, local_rank, torch.device("cuda" if cuda else "cpu"))
    if not dist.is_available():
        raise ConfigError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    backend, device, notice = pick_backend(
        backend,
        local_rank=local_rank,
        local_world_size=local_world_size,
        cuda_available=cuda,
        device_count=count,
    )
    if notice and local_rank == 0:
        print(notice, file=sys.stderr, flush=True)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    from datetime import timedelta

    dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank, device)


def cleanup_distributed() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order (``[obj]`` without a process group)."""
    if not (dist.is_available() and dist.is_initialized()):
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def parameters_digest(model: nn.Module) -> str:
    """SHA-256 of every parameter's bytes, in ``named_parameters`` order."""
    digest = hashlib.sha256()
    for name, param in model.named_parameters():
        digest.update(name.encode())
        digest.update(param.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def parameters_in_sync(model: nn.Module) -> bool:
    """True when every rank's parameters are bit-identical (always, for one process)."""
    digests = all_gather_objects(parameters_digest(model))
    return all(d == digests[0] for d in digests)
