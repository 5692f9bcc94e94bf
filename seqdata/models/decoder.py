"""The decoder: embedding → cell → (optional Luong attention) → linear over the target vocab.

One call runs the cell over all ``T`` given input steps: the whole shifted target under
teacher forcing (``T = Lt - 1``), or one step (``T = 1``) in a decoding loop that feeds the
argmax back, as the notes' GRU loop does.

Attention (Luong et al., 2015, "global" attention without input feeding): for each decoder
output ``h_t`` (B, H) and encoder outputs ``m_s`` (B, S, E),

- ``score(h_t, m_s) = h_t · m_s`` (``"dot"``, needs ``E == H``) or ``h_t · W_a m_s``
  (``"general"``, any ``E``);
- padded source positions get score ``-inf``; ``a_t = softmax(scores)``; context
  ``c_t = Σ_s a_ts m_s`` (B, E);
- ``h̃_t = tanh(W_c [c_t; h_t])`` (B, H) and ``logits_t = W_out h̃_t``.

Because ``h̃_t`` is not fed back into the next input, attention is computed after the cell for
all steps at once, so teacher forcing stays a single cell call.

>>> import torch
>>> dec = Decoder(vocab_size=20, embed_dim=8, hidden_size=16, attention="general",
...               memory_size=32)
>>> memory = torch.randn(2, 5, 32)                        # (B, S, E) encoder outputs
>>> mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
>>> logits, h = dec(torch.tensor([[2, 7, 9], [2, 4, 0]]), None, memory, mask)
>>> tuple(logits.shape), tuple(h.shape)               # (B, T, V), (layers, B, H)
((2, 3, 20), (1, 2, 16))
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from seqdata.collate import pack_checked, unpack
from seqdata.errors import ConfigError, ShapeError
from seqdata.models._cells import (
    CELLS,
    State,
    check_choice,
    check_id_in_vocab,
    check_ids,
    check_lengths,
    check_positive,
    check_probability,
    embed,
    make_rnn,
)

__all__ = ["ATTENTIONS", "Decoder", "DecoderConfig"]

ATTENTIONS = (None, "dot", "general")


@dataclass(frozen=True)
class DecoderConfig:
    """Hyper-parameters of a :class:`Decoder`.

    ``memory_size`` is the size ``E`` of the encoder outputs attended to (``dirs * H_enc``);
    it defaults to ``hidden_size`` and only matters when ``attention`` is set.
    """

    vocab_size: int
    embed_dim: int
    hidden_size: int
    cell: str = "gru"
    num_layers: int = 1
    dropout: float = 0.0
    pad_id: int = 0
    attention: str | None = None
    memory_size: int | None = None

    def __post_init__(self) -> None:
        for name in ("vocab_size", "embed_dim", "hidden_size", "num_layers"):
            check_positive(name, getattr(self, name))
        check_choice("cell", self.cell, CELLS)
        check_probability("dropout", self.dropout)
        check_id_in_vocab("pad_id", self.pad_id, self.vocab_size)
        check_choice("attention", self.attention, ATTENTIONS)
        if self.memory_size is not None:
            check_positive("memory_size", self.memory_size)
        if self.attention == "dot" and self.attended_size != self.hidden_size:
            raise ConfigError(
                f"attention='dot' scores h·m, so memory_size should equal hidden_size="
                f"{self.hidden_size}, but got memory_size={self.memory_size}; use "
                "attention='general' (a learned W_a) for encoder outputs of another size"
            )

    @property
    def attended_size(self) -> int:
        """``E``: ``memory_size``, or ``hidden_size`` when not given."""
        return self.hidden_size if self.memory_size is None else self.memory_size


class Decoder(nn.Module):
    """A unidirectional cell over target ids, with optional Luong attention.

    Args:
        vocab_size: number of target ids ``V``.
        embed_dim: embedding size.
        hidden_size: cell size ``H``.
        cell: ``"gru"``, ``"lstm"`` or ``"rnn"``.
        num_layers: stacked layers.
        dropout: dropout on embeddings, between layers and before the output layer.
        pad_id: the padding id.
        attention: ``None``, ``"dot"`` or ``"general"`` (see the module docstring).
        memory_size: size ``E`` of the encoder outputs attended to (default ``hidden_size``).

    Call: ``decoder(tgt_in (B, T), state, memory=None, memory_mask=None, lengths=None)`` →
    ``(logits (B, T, V), state)``. ``state`` is ``(layers, B, H)`` (``(h, c)`` for an LSTM) or
    ``None`` for zeros; ``memory`` ``(B, S, E)`` and ``memory_mask`` ``(B, S)`` bool (``True`` at
    real positions) are required with attention. ``lengths`` ``(B,)``, when given, packs
    ``tgt_in`` so padded steps cost nothing (their logits are then meaningless; ignore them).
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        cell: str = "gru",
        num_layers: int = 1,
        dropout: float = 0.0,
        pad_id: int = 0,
        attention: str | None = None,
        memory_size: int | None = None,
    ) -> None:
        super().__init__()
        self.config = DecoderConfig(
            vocab_size,
            embed_dim,
            hidden_size,
            cell,
            num_layers,
            dropout,
            pad_id,
            attention,
            memory_size,
        )
        cfg = self.config
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        self.rnn = make_rnn(cell, embed_dim, hidden_size, num_layers, False, dropout)
        self.attn_proj: nn.Linear | None = None  # W_a ("general")
        self.combine: nn.Linear | None = None  # W_c
        if attention == "general":
            self.attn_proj = nn.Linear(cfg.attended_size, hidden_size, bias=False)
        if attention is not None:
            self.combine = nn.Linear(cfg.attended_size + hidden_size, hidden_size)
        self.out = nn.Linear(hidden_size, vocab_size)

    @classmethod
    def from_config(cls, config: DecoderConfig | dict[str, Any]) -> Decoder:
        """Rebuild an (untrained) decoder from its config or ``asdict(config)``."""
        cfg = config if isinstance(config, DecoderConfig) else DecoderConfig(**config)
        return cls(**asdict(cfg))

    def forward(
        self,
        tgt_in: Tensor,
        state: State | None,
        memory: Tensor | None = None,
        memory_mask: Tensor | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor, State]:
        feats, state = self.features(tgt_in, state, memory, memory_mask, lengths)  # (B, T, H)
        return self.project(feats), state  # (B, T, V)

    def features(
        self,
        tgt_in: Tensor,
        state: State | None,
        memory: Tensor | None = None,
        memory_mask: Tensor | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor, State]:
        """Everything but the output layer: ``(features (B, T, H), state)``.

        ``project(features)`` gives the logits; a loss can project only the real positions.
        """
        cfg = self.config
        check_ids(tgt_in, cfg.vocab_size, "tgt_in")
        emb = self.dropout(embed(self.embedding, tgt_in, "tgt_in"))  # (B, T, d_w)
        if lengths is None:
            out, state = self.rnn(emb, state)  # out: (B, T, H)
        else:
            lengths = check_lengths(lengths, tgt_in, "lengths")  # (B,) CPU
            packed, state = self.rnn(pack_checked(emb, lengths), state)
            out, _ = unpack(packed, total_length=tgt_in.shape[1])  # (B, T, H)
        if cfg.attention is not None:
            out = self._attend(out, memory, memory_mask)  # (B, T, H)
        return out, state

    def project(self, features: Tensor) -> Tensor:
        """The output layer: ``(..., H)`` features → ``(..., V)`` logits."""
        return self.out(self.dropout(features))

    def _attend(self, out: Tensor, memory: Tensor | None, mask: Tensor | None) -> Tensor:
        if memory is None or mask is None:
            raise ShapeError(
                f"this decoder has attention={self.config.attention!r}, so it needs the "
                "encoder outputs: pass memory (B, S, E) and memory_mask (B, S)"
            )
        batch, _, size = memory.shape
        if batch != out.shape[0] or size != self.config.attended_size:
            raise ShapeError(
                f"memory should have shape (B, S, E) = ({out.shape[0]}, S, "
                f"{self.config.attended_size}), but got {tuple(memory.shape)}"
            )
        if mask.shape != memory.shape[:2] or mask.dtype != torch.bool:
            raise ShapeError(
                f"memory_mask should be a bool tensor of shape {tuple(memory.shape[:2])}, but "
                f"got dtype={mask.dtype}, shape={tuple(mask.shape)}"
            )
        keys = memory if self.attn_proj is None else self.attn_proj(memory)  # (B, S, H)
        scores = torch.bmm(out, keys.transpose(1, 2))  # (B, T, S)
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))  # (B, T, S)
        weights = torch.softmax(scores, dim=-1)  # (B, T, S)
        context = torch.bmm(weights, memory)  # (B, T, E)
        assert self.combine is not None  # built whenever attention is set
        return torch.tanh(self.combine(torch.cat([context, out], dim=-1)))  # (B, T, H)
