"""Batches: the typed [`Batch`][seqdata.collate.Batch], [`PadCollate`][seqdata.collate.PadCollate],
and PackedSequence both ways.

The classic RNN recipe sorts a batch by source length (descending), pad it with
``pad_sequence(batch_first=True)`` into a ``(B, L)`` long tensor, and later call
``pack_padded_sequence`` / ``pad_packed_sequence`` around the RNN. This module holds the
batch type those steps produce, the collate function that builds it in one vectorized
gather per side, and thin, checked wrappers over torch's own rnn utilities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from seqdata.errors import ConfigError, InputTypeError, ShapeError
from seqdata.ragged import Ragged, RaggedBatch

__all__ = ["Batch", "PadCollate", "pack", "unpack"]


@dataclass(frozen=True)
class Batch:
    """A padded batch, sorted by source length (longest first), as packing wants.

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


def _is_sequence(x: Any) -> bool:
    if isinstance(x, (list, tuple)):
        return True
    return isinstance(x, (np.ndarray, Tensor)) and x.ndim >= 1


class PadCollate:
    """Collate examples into a padded [`Batch`][seqdata.collate.Batch], sorted by source length
    (descending).

    Accepts what ``DataLoader`` hands a ``collate_fn``:

    * the [`RaggedBatch`][seqdata.ragged.RaggedBatch] of ``ParallelCorpus.__getitems__`` /
      ``MonoCorpus.__getitems__`` (the fast path: one masked gather per side, straight
      from the corpus arrays);
    * a list of ``(src, tgt)`` id sequences (lists, numpy arrays or tensors), of single
      sequences, or of ``(ids, label)`` with a scalar label;
    * a list of HuggingFace rows (dicts) with ``src_key`` (and optionally ``tgt_key`` and
      ``label_key``) columns.

    The sort is by *length* (a common hand-written collate, ``sorted(batch, key=lambda x:
    x[0])``, compares the id lists themselves, which is not a length order). ``batch.order``
    restores the requested order:
    ``x[batch.order]`` for any batch-major tensor ``x`` of the sorted batch. The padded
    length of each side is the *smallest* multiple of ``pad_to_multiple_of`` that is ``>=``
    its longest sequence.

    Args:
        pad_id: id written into the padded positions (``0`` by default).
        batch_first: ``(B, L)`` tensors if true (the default), else ``(L, B)``.
        pad_to_multiple_of: align the padded lengths (tensor cores like multiples of 8).
        sort: sort by source length, descending (needed by ``pack(enforce_sorted=True)``);
            ``False`` keeps the requested order and ``order`` is ``arange(B)``.
        src_key, tgt_key, label_key: column names read from dict rows.

    >>> collate = PadCollate(pad_id=0)
    >>> b = collate([([5, 6], [2, 7, 3]), ([8, 9, 4], [2, 3])])
    >>> b.src.tolist(), b.src_lengths.tolist(), b.tgt.tolist(), b.order.tolist()
    ([[8, 9, 4], [5, 6, 0]], [3, 2], [[2, 3, 0], [2, 7, 3]], [1, 0])
    >>> PadCollate(pad_to_multiple_of=4)([[1, 2, 3, 4, 5]]).src.shape   # (B=1, L=8)
    torch.Size([1, 8])
    """

    def __init__(
        self,
        pad_id: int = 0,
        *,
        batch_first: bool = True,
        pad_to_multiple_of: int | None = None,
        sort: bool = True,
        src_key: str = "src_ids",
        tgt_key: str = "tgt_ids",
        label_key: str = "label",
    ) -> None:
        if isinstance(pad_id, bool) or not isinstance(pad_id, (int, np.integer)) or pad_id < 0:
            raise ConfigError(f"pad_id should be an id >= 0, but got pad_id={pad_id!r}")
        if pad_to_multiple_of is not None and (
            isinstance(pad_to_multiple_of, bool)
            or not isinstance(pad_to_multiple_of, int)
            or pad_to_multiple_of < 1
        ):
            raise ConfigError(
                f"pad_to_multiple_of should be a positive int or None, but got "
                f"pad_to_multiple_of={pad_to_multiple_of!r}"
            )
        self.pad_id = int(pad_id)
        self.batch_first = batch_first
        self.pad_to_multiple_of = pad_to_multiple_of
        self.sort = sort
        self.src_key = src_key
        self.tgt_key = tgt_key
        self.label_key = label_key

    def __repr__(self) -> str:
        return (
            f"PadCollate(pad_id={self.pad_id}, batch_first={self.batch_first}, "
            f"pad_to_multiple_of={self.pad_to_multiple_of}, sort={self.sort})"
        )

    def __call__(self, examples: Any) -> Batch:
        parts = self._as_ragged(examples)
        size = len(parts)
        if size == 0:
            raise ShapeError("cannot collate an empty batch (the sampler yielded no indices)")
        src_lengths = parts.src_lengths
        if self.sort:
            perm = np.argsort(-src_lengths, kind="stable")  # row r holds example perm[r]
            order = np.empty(size, dtype=np.int64)
            order[perm] = np.arange(size, dtype=np.int64)
        else:
            perm = order = np.arange(size, dtype=np.int64)
        pad = (self.pad_id, self.pad_to_multiple_of, self.batch_first)
        tgt = tgt_lengths = labels = None
        if parts.has_tgt:
            tgt = parts.padded("tgt", perm, *pad)
            tgt_lengths = torch.from_numpy(parts.tgt_lengths[perm])  # type: ignore[index]
        if parts.labels is not None:
            labels = torch.as_tensor(parts.labels[perm])
        return Batch(
            src=parts.padded("src", perm, *pad),
            src_lengths=torch.from_numpy(src_lengths[perm]),
            tgt=tgt,
            tgt_lengths=tgt_lengths,
            order=torch.from_numpy(order),
            labels=labels,
        )

    def _as_ragged(self, examples: Any) -> RaggedBatch:
        if isinstance(examples, RaggedBatch):
            return examples
        if not isinstance(examples, Sequence) or isinstance(examples, (str, bytes)):
            raise InputTypeError(
                f"PadCollate expects a list of examples or a RaggedBatch, but got "
                f"{type(examples).__name__}"
            )
        if len(examples) == 0:
            raise ShapeError("cannot collate an empty batch (the sampler yielded no indices)")
        kind = _same_kind(examples)
        if kind == "row":
            return self._from_rows(examples)
        if kind in ("pair", "labelled"):
            if kind == "pair":
                return RaggedBatch(
                    Ragged.from_sequences([ex[0] for ex in examples]),
                    Ragged.from_sequences([ex[1] for ex in examples]),
                )
            labels = np.asarray([np.asarray(ex[1]).item() for ex in examples])
            return RaggedBatch(Ragged.from_sequences([ex[0] for ex in examples]), None, labels)
        return RaggedBatch(Ragged.from_sequences(examples))

    def _from_rows(self, rows: Sequence[Mapping[str, Any]]) -> RaggedBatch:
        first = rows[0]
        if self.src_key not in first:
            raise InputTypeError(
                f"the rows have no {self.src_key!r} column (src_key); their keys are "
                f"{sorted(first)}; pass PadCollate(src_key=...)"
            )
        try:
            src = Ragged.from_sequences([row[self.src_key] for row in rows])
            tgt = (
                Ragged.from_sequences([row[self.tgt_key] for row in rows])
                if self.tgt_key in first
                else None
            )
            labels = (
                np.asarray([np.asarray(row[self.label_key]).item() for row in rows])
                if self.label_key in first
                else None
            )
        except KeyError as err:
            raise InputTypeError(
                f"every row should have the columns of the first row, but one lacks {err}"
            ) from None
        return RaggedBatch(src, tgt, labels)


_KINDS = {
    "row": "a dict of columns",
    "pair": "a (source ids, target ids) pair",
    "labelled": "an (ids, label) pair",
    "ids": "a sequence of ids",
}


def _kind(example: Any) -> str:
    if isinstance(example, Mapping):
        return "row"
    if _is_sequence(example) and len(example) == 2 and _is_sequence(example[0]):
        return "pair" if _is_sequence(example[1]) else "labelled"
    if _is_sequence(example):
        return "ids"
    return type(example).__name__


def _same_kind(examples: Sequence[Any]) -> str:
    """The kind every example of the batch has; mixed kinds are an error naming the first."""
    kinds = [_kind(ex) for ex in examples]
    for i, kind in enumerate(kinds):
        if kind not in _KINDS or kind != kinds[0]:
            what = _KINDS.get(kind, f"of type {kind}")
            raise InputTypeError(
                f"every example of a batch should be {_KINDS.get(kinds[0], 'a sequence of ids')}"
                f" like example 0, but example {i} is {what}: {examples[i]!r:.60}",
                index=i,
            )
    return kinds[0]


def lengths_for(lengths: Any, batch: int, max_len: int, name: str = "lengths") -> Tensor:
    """``lengths`` as a CPU int64 ``(B,)`` tensor, each in ``[1, max_len]`` (checked once).

    Raises:
        ShapeError: a wrong shape or dtype, or a length outside ``[1, max_len]``.
    """
    if not isinstance(lengths, Tensor):
        lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.shape[0] != batch:
        raise ShapeError(
            f"{name} should have shape (B,) = ({batch},), but got {name}.shape="
            f"{tuple(lengths.shape)}; pass one length per sequence of the batch"
        )
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise ShapeError(f"{name} should be an integer tensor, but got dtype={lengths.dtype}")
    lengths = lengths.to("cpu", torch.int64)
    if batch and (int(lengths.min()) < 1 or int(lengths.max()) > max_len):
        raise ShapeError(
            f"every length in {name} should be in [1, {max_len}] (the padded length), but got "
            f"min={int(lengths.min())}, max={int(lengths.max())}; empty sequences cannot be "
            "packed — give them at least one token (e.g. EOS) or filter them out first"
        )
    return lengths


def pack_checked(embedded: Tensor, lengths: Tensor, batch_first: bool = True) -> PackedSequence:
    """[`pack`][seqdata.pack] for lengths that [`lengths_for`][seqdata.collate.lengths_for]
    already checked (CPU int64): the models' path, which does not check twice."""
    is_sorted = bool((lengths[:-1] >= lengths[1:]).all()) if len(lengths) > 1 else True
    return pack_padded_sequence(
        embedded, lengths, batch_first=batch_first, enforce_sorted=is_sorted
    )


def pack(embedded: Tensor, lengths: Tensor, batch_first: bool = True) -> PackedSequence:
    """Pack a padded batch for an RNN, skipping the padded steps.

    Sorted input (lengths descending, as [`PadCollate`][seqdata.collate.PadCollate] produces) takes
    torch's
    ``enforce_sorted=True`` path; any other order goes through ``enforce_sorted=False`` and
    [`unpack`][seqdata.collate.unpack] returns it in the caller's order.

    Args:
        embedded: ``(B, L, *)`` if ``batch_first`` else ``(L, B, *)``.
        lengths: ``(B,)`` integer lengths, each in ``[1, L]``; moved to the CPU if needed.
        batch_first: layout of ``embedded``.

    Returns:
        A `PackedSequence`.

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
    return pack_checked(embedded, lengths_for(lengths, batch, max_len), batch_first)


def unpack(
    packed: PackedSequence,
    total_length: int | None = None,
    batch_first: bool = True,
    padding_value: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """Undo [`pack`][seqdata.collate.pack]: back to a padded tensor and its lengths, in the caller's
    order.

    Args:
        packed: the output of [`pack`][seqdata.collate.pack] or of an RNN run on it.
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
