"""Batches: the typed :class:`Batch`, and PackedSequence conversion both ways.

The study notes sort a batch by source length (descending), pad it with
``pad_sequence(batch_first=True)`` into a ``(B, L)`` long tensor, and later call
``pack_padded_sequence`` / ``pad_packed_sequence`` around the RNN. This module holds the
batch type those steps produce and thin, checked wrappers over torch's own rnn utilities.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from seqdata.errors import ShapeError

__all__ = ["Batch", "pack", "unpack"]


@dataclass(frozen=True)
class Batch:
    """A padded batch, sorted by source length (longest first) as the notes do.

    Attributes:
        src: ``(B, Ls)`` int64 source ids, padded with the pad id (``(Ls, B)`` when collated
            with ``batch_first=False``).
        src_lengths: ``(B,)`` int64 true source lengths, on the CPU (torch's packing wants them
            there), in the same (sorted) order as ``src``.
        tgt: ``(B, Lt)`` int64 target ids, or ``None`` for single-sequence corpora.
        tgt_lengths: ``(B,)`` int64 true target lengths, or ``None``.
        order: ``(B,)`` int64; ``x[order]`` puts any batch-major tensor ``x`` of this batch
            back into the order in which the examples were requested.
        labels: ``(B,)`` int64 class labels for classification corpora, else ``None``.
    """

    src: Tensor
    src_lengths: Tensor
    tgt: Tensor | None = None
    tgt_lengths: Tensor | None = None
    order: Tensor | None = None
    labels: Tensor | None = None

    def __len__(self) -> int:
        return int(self.src_lengths.shape[0])

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """Move the id tensors to ``device``; lengths and ``order`` stay on the CPU.

        ``pack_padded_sequence`` requires CPU lengths, so keeping them there saves a copy back.
        """
        return replace(
            self,
            src=self.src.to(device, non_blocking=non_blocking),
            tgt=_move(self.tgt, device, non_blocking),
            labels=_move(self.labels, device, non_blocking),
        )

    def pin_memory(self) -> Batch:
        """Page-lock every tensor; ``DataLoader(pin_memory=True)`` calls this."""
        pinned: dict[str, Any] = {
            f.name: getattr(self, f.name).pin_memory()
            for f in fields(self)
            if getattr(self, f.name) is not None
        }
        return replace(self, **pinned)


def _move(t: Tensor | None, device: torch.device | str, non_blocking: bool) -> Tensor | None:
    return None if t is None else t.to(device, non_blocking=non_blocking)


def _check_lengths(lengths: Tensor, batch: int, max_len: int) -> Tensor:
    if not isinstance(lengths, Tensor):
        lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.shape[0] != batch:
        raise ShapeError(
            f"lengths should have shape (B,) = ({batch},), but got lengths.shape="
            f"{tuple(lengths.shape)}; pass one length per sequence of the batch"
        )
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise ShapeError(f"lengths should be an integer tensor, but got dtype={lengths.dtype}")
    lengths = lengths.to("cpu", torch.int64)
    if batch and (int(lengths.min()) < 1 or int(lengths.max()) > max_len):
        raise ShapeError(
            f"every length should be in [1, {max_len}] (the padded length), but got "
            f"min={int(lengths.min())}, max={int(lengths.max())}; empty sequences cannot be "
            "packed — give them at least one token (e.g. EOS) or filter them out first"
        )
    return lengths


def pack(embedded: Tensor, lengths: Tensor, batch_first: bool = True) -> PackedSequence:
    """Pack a padded batch for an RNN, skipping the padded steps.

    Sorted input (lengths descending, as :class:`PadCollate` produces) takes torch's
    ``enforce_sorted=True`` path; any other order goes through ``enforce_sorted=False`` and
    :func:`unpack` returns it in the caller's order.

    Args:
        embedded: ``(B, L, *)`` if ``batch_first`` else ``(L, B, *)``.
        lengths: ``(B,)`` integer lengths, each in ``[1, L]``; moved to the CPU if needed.
        batch_first: layout of ``embedded``.

    Returns:
        A :class:`torch.nn.utils.rnn.PackedSequence`.

    >>> x = torch.arange(6.0).reshape(2, 3, 1)          # (B=2, L=3, 1)
    >>> p = pack(x, torch.tensor([3, 1]))
    >>> p.batch_sizes.tolist()
    [2, 1, 1]
    """
    if embedded.dim() < 2:
        raise ShapeError(
            f"embedded should be at least 2-D ((B, L, ...) or (L, B, ...)), but got "
            f"shape={tuple(embedded.shape)}"
        )
    batch = embedded.shape[0] if batch_first else embedded.shape[1]
    max_len = embedded.shape[1] if batch_first else embedded.shape[0]
    lengths = _check_lengths(lengths, batch, max_len)
    is_sorted = bool((lengths[:-1] >= lengths[1:]).all()) if batch > 1 else True
    return pack_padded_sequence(
        embedded, lengths, batch_first=batch_first, enforce_sorted=is_sorted
    )


def unpack(
    packed: PackedSequence,
    total_length: int | None = None,
    batch_first: bool = True,
    padding_value: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """Undo :func:`pack`: back to a padded tensor and its lengths, in the caller's order.

    Args:
        packed: the output of :func:`pack` or of an RNN run on it.
        total_length: pad to this length instead of the longest sequence (needed to get the
            input's ``L`` back when every sequence is shorter than ``L``).
        batch_first: return ``(B, L, *)`` instead of ``(L, B, *)``.
        padding_value: value of the padded positions.

    Returns:
        ``(padded, lengths)`` with ``lengths`` a ``(B,)`` int64 CPU tensor.

    >>> x = torch.arange(6.0).reshape(2, 3, 1)
    >>> y, n = unpack(pack(x, torch.tensor([1, 3])), total_length=3)
    >>> n.tolist(), y[1].flatten().tolist(), y[0].flatten().tolist()
    ([1, 3], [3.0, 4.0, 5.0], [0.0, 0.0, 0.0])
    """
    if not isinstance(packed, PackedSequence):
        raise ShapeError(f"unpack expects a PackedSequence, but got {type(packed).__name__}")
    return pad_packed_sequence(
        packed, batch_first=batch_first, padding_value=padding_value, total_length=total_length
    )
