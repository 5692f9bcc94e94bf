"""Shared pieces of the reference models: building the torch cell, checking inputs.

Every model here is built the same way — ``nn.Embedding`` then ``nn.RNN`` / ``nn.LSTM`` /
``nn.GRU`` — so the cell is made here once, with one initialisation choice: the LSTM's forget
gate and the GRU's update gate start with a bias of +1, so that at initialisation a cell keeps
about 73% of its memory per step instead of 50%. That is the usual remedy for the vanishing
gradients of plain RNNs (Jozefowicz et al., 2015); ``tests/test_models.py`` shows its effect.
"""

from __future__ import annotations

from typing import TypeAlias

import torch
from torch import Tensor, nn

from seqdata.collate import lengths_for
from seqdata.errors import ConfigError, ShapeError

__all__ = [
    "CELLS",
    "State",
    "check_choice",
    "check_id_in_vocab",
    "check_ids",
    "check_lengths",
    "check_positive",
    "check_probability",
    "class_loss",
    "detach_state",
    "embed",
    "length_mask",
    "make_rnn",
    "real_positions",
]

CELLS = ("gru", "lstm", "rnn")

#: A recurrent state: ``h`` of shape ``(layers*dirs, B, H)``, or ``(h, c)`` for an LSTM.
State: TypeAlias = Tensor | tuple[Tensor, Tensor]


def check_positive(name: str, value: int) -> None:
    """Raise [`ConfigError`][seqdata.errors.ConfigError] unless ``value`` is a positive ``int``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} should be a positive integer, but got {name}={value!r}")


def check_probability(name: str, value: float) -> None:
    """Raise [`ConfigError`][seqdata.errors.ConfigError] unless ``0 <= value <= 1``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"{name} should be a number in [0, 1], but got {name}={value!r}")


def check_id_in_vocab(name: str, value: int, vocab_size: int) -> None:
    """Raise [`ConfigError`][seqdata.errors.ConfigError] unless ``value`` is an id in
    ``[0, vocab_size)``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < vocab_size:
        raise ConfigError(
            f"{name} should be an id in [0, vocab_size={vocab_size}), but got {name}={value!r}"
        )


def check_choice(name: str, value: object, choices: tuple[object, ...]) -> None:
    """Raise [`ConfigError`][seqdata.errors.ConfigError] unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"{name} should be one of {choices}, but got {name}={value!r}")


def make_rnn(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
) -> nn.RNNBase:
    """Build the torch cell, ``batch_first=True``, with remembering gate biases.

    ``dropout`` is torch's between-layer dropout, so it is only passed on when
    ``num_layers > 1`` (torch warns otherwise).

    >>> rnn = make_rnn("lstm", 8, 16, num_layers=2, bidirectional=True)
    >>> type(rnn).__name__, rnn.batch_first, rnn.bias_ih_l0[16:32].tolist()[:2]
    ('LSTM', True, [1.0, 1.0])
    """
    check_choice("cell", cell, CELLS)
    kind = {"gru": nn.GRU, "lstm": nn.LSTM, "rnn": nn.RNN}[cell]
    rnn: nn.RNNBase = kind(
        input_size,
        hidden_size,
        num_layers=num_layers,
        batch_first=True,
        bidirectional=bidirectional,
        dropout=dropout if num_layers > 1 else 0.0,
    )
    # Gate order: LSTM (i, f, g, o) -> forget gate is chunk 1; GRU (r, z, n) -> update gate z
    # is chunk 1. h' = (1 - z) * n + z * h, so z near 1 keeps the old state.
    if cell in ("lstm", "gru"):
        with torch.no_grad():
            for name, param in rnn.named_parameters():
                if name.startswith("bias_ih"):
                    param[hidden_size : 2 * hidden_size].fill_(1.0)
    return rnn


def check_ids(ids: Tensor, vocab_size: int, name: str) -> None:
    """Check that ``ids`` is a non-empty 2-D integer tensor (its metadata only).

    The *values* are not read here: on a GPU that would copy them back to the host and stall
    every step. Ids are range-checked where data enters (the store's load, the pipeline's
    vocabulary); on the CPU an id outside the vocabulary still gets a clear error from
    [`embed`][seqdata.models._cells.embed].

    Raises:
        ShapeError: naming ``name`` and the bad type, shape or dtype.
    """
    if not isinstance(ids, Tensor):
        raise ShapeError(f"{name} should be a torch.Tensor, but got {type(ids).__name__}")
    if ids.dim() != 2:
        raise ShapeError(
            f"{name} should be 2-D (B, L) with batch_first layout, but got shape {tuple(ids.shape)}"
        )
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise ShapeError(f"{name} should hold integer ids (torch.long), but got dtype={ids.dtype}")
    if ids.numel() == 0:
        raise ShapeError(f"{name} is empty (shape {tuple(ids.shape)}); a batch needs tokens")


def embed(embedding: nn.Embedding, ids: Tensor, name: str) -> Tensor:
    """``embedding(ids)`` ``(B, L, d)``; an id outside the vocabulary is a ``ShapeError``.

    Nothing is checked on the way in (no host synchronisation); only when torch refuses an
    id (on the CPU: an ``IndexError``) is the offending id located and named.
    """
    try:
        return embedding(ids)
    except IndexError:
        size = embedding.num_embeddings
        bad = ((ids < 0) | (ids >= size)).nonzero()
        where = ""
        if len(bad):
            row, col = bad[0].tolist()
            where = f" id {int(ids[row, col])} at (row {row}, position {col}),"
        raise ShapeError(
            f"{name} holds{where} an id outside the vocabulary [0, {size}); was the batch "
            f"encoded with a different vocab than the model's vocab_size={size}?"
        ) from None


def check_lengths(lengths: Tensor, ids: Tensor, name: str) -> Tensor:
    """Return ``lengths`` as a CPU int64 ``(B,)`` tensor that fits ``ids`` ``(B, L)``.

    Lengths belong on the CPU (``Batch.to`` keeps them there), where packing wants them and
    reading them costs no GPU synchronisation; lengths given on a GPU are copied back once.
    """
    return lengths_for(lengths, ids.shape[0], ids.shape[1], name)


def length_mask(lengths: Tensor, max_len: int, device: torch.device) -> Tensor:
    """``(B, max_len)`` bool mask, ``True`` at real positions.

    >>> length_mask(torch.tensor([2, 1]), 3, torch.device("cpu")).int().tolist()
    [[1, 1, 0], [1, 0, 0]]
    """
    steps = torch.arange(max_len, device=device)  # (L,)
    return steps[None, :] < lengths.to(device, non_blocking=True)[:, None]  # (B, L)


def real_positions(lengths: Tensor, max_len: int) -> Tensor:
    """Flat indices ``(N,)`` of the real positions of a ``(B, max_len)`` batch, on the CPU.

    Built from CPU lengths, so selecting ``x.reshape(B * max_len, ...)[idx]`` never reads
    device values back (a boolean mask of device values would).

    >>> real_positions(torch.tensor([2, 1]), 3).tolist()
    [0, 1, 3]
    """
    steps = torch.arange(max_len)  # (L,)
    mask = steps[None, :] < lengths.to("cpu")[:, None]  # (B, L)
    return mask.reshape(-1).nonzero().squeeze(1)  # (N,)


def class_loss(logits: Tensor, target: Tensor, what: str, size_name: str) -> Tensor:
    """``cross_entropy(logits (N, K), target (N,))``; a target outside ``[0, K)`` is a
    ``ShapeError`` naming ``what`` (found when torch refuses it, not by reading the values
    first, which would synchronise with a GPU every step)."""
    try:
        return torch.nn.functional.cross_entropy(logits, target)
    except (IndexError, RuntimeError) as err:
        if "out of bounds" not in str(err):
            raise
        k = logits.shape[-1]
        raise ShapeError(
            f"{what} should be in [0, {size_name}={k}), but got min={int(target.min())}, "
            f"max={int(target.max())}"
        ) from None


def detach_state(state: State | None) -> State | None:
    """Cut the graph behind a recurrent state (truncated BPTT); ``None`` stays ``None``."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return (state[0].detach(), state[1].detach())
    return state.detach()
