"""Small helpers for ``torchrun`` jobs: join the process group, agree, and check sync.

seqdata's samplers shard by ``rank``/``world_size`` themselves (and read them from
``torch.distributed`` when it is initialised), so no ``DistributedSampler`` wrapper is
needed; these helpers only do the set-up a training script repeats:

- :func:`init_distributed` reads the environment ``torchrun`` sets (``RANK``, ``WORLD_SIZE``,
  ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``), joins the process group (``nccl`` when
  CUDA is available, else ``gloo``) and picks this process's GPU; run as a plain
  ``python script.py`` it is a single process of world size 1 and initialises nothing.
- :func:`all_gather_objects` collects one picklable object per rank (a sampler state, a
  log line) — every rank gets the list.
- :func:`parameters_in_sync` checks that every rank holds bit-identical parameters, the
  invariant ``DistributedDataParallel`` keeps.
- :func:`cleanup_distributed` leaves the group.

>>> info = init_distributed()          # not under torchrun: one process
>>> info, info.is_main
(DistInfo(rank=0, world_size=1, local_rank=0), True)
>>> import torch
>>> parameters_in_sync(torch.nn.Linear(2, 2))
True
"""

from __future__ import annotations

import hashlib
import os
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
]


class DistInfo(NamedTuple):
    """Where this process stands in the job."""

    rank: int
    world_size: int
    local_rank: int

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


def init_distributed(backend: str | None = None, *, timeout_s: float = 300.0) -> DistInfo:
    """Join the process group ``torchrun`` describes in the environment (idempotent).

    Args:
        backend: ``"gloo"``, ``"nccl"`` …; default ``nccl`` with CUDA, else ``gloo``.
        timeout_s: how long collective operations wait before failing (a hang becomes an
            error).

    Returns:
        ``DistInfo(rank, world_size, local_rank)``; ``(0, 1, 0)`` outside ``torchrun``.
    """
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), _env_int("LOCAL_RANK", 0))
    world_size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    if not 0 <= rank < world_size:
        raise ConfigError(f"RANK should be in [0, WORLD_SIZE={world_size}), but got RANK={rank}")
    if world_size == 1:
        return DistInfo(0, 1, local_rank)
    if not dist.is_available():
        raise ConfigError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    from datetime import timedelta

    dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank)


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
