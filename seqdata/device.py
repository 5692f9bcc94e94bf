"""Devices: the one place that turns a user's ``--device`` into a ``torch.device``.

``"auto"`` (the command line's default) means CUDA when a GPU is visible, else the CPU.
Every entry point that takes a device puts the model *and* every tensor it makes there
([`move_model`][seqdata.device.move_model]), so a GPU run never meets a CPU tensor halfway.

>>> resolve_device("cpu")
device(type='cpu')
>>> resolve_device(None).type in ("cpu", "cuda")
True
"""

from __future__ import annotations

import torch
from torch import nn

from seqdata.errors import ConfigError

__all__ = ["move_model", "resolve_device"]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """A ``torch.device`` for ``"auto"``/``None``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Raises:
        ConfigError: an unknown name, or CUDA asked for where torch sees no GPU (the message
            says which torch build is installed and what to pass instead).
    """
    if isinstance(device, torch.device):
        device = str(device)
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, str) or not (
        device == "cpu" or device == "cuda" or device.startswith("cuda:")
    ):
        raise ConfigError(
            f"device should be 'auto', 'cpu', 'cuda' or 'cuda:N', but got device={device!r}"
        )
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {device!r} was asked for, but torch.cuda.is_available() is False "
                f"(torch {torch.__version__}); use --device cpu (or auto), or install a CUDA "
                "build of torch"
            )
        index = device.partition(":")[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise ConfigError(
                f"device {device!r} was asked for, but this machine has "
                f"{torch.cuda.device_count()} GPU(s): use cuda:0 .. "
                f"cuda:{torch.cuda.device_count() - 1}"
            )
    return torch.device(device)


def move_model(model: nn.Module, device: str | torch.device | None) -> torch.device:
    """Put ``model`` on ``device`` (or leave it where it is when None); return its device.

    Every function that takes both a model and a device calls this first, so the model and
    the tensors built for it always agree.
    """
    if device is None:
        try:
            return next(model.parameters()).device
        except StopIteration:
            return torch.device("cpu")
    target = resolve_device(device)
    model.to(target)
    return target
