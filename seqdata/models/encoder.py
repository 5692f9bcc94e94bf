"""The encoder: ``nn.Embedding`` → RNN/LSTM/GRU over a ``PackedSequence``.

>>> import torch
>>> enc = Encoder(vocab_size=100, embed_dim=8, hidden_size=16, cell="gru",
...               num_layers=2, bidirectional=True)
>>> src = torch.tensor([[5, 6, 7], [8, 9, 0]])             # (B=2, L=3), 0 = pad
>>> outputs, h_n = enc(src, torch.tensor([3, 2]))
>>> tuple(outputs.shape), tuple(h_n.shape)              # (B, L, dirs*H), (layers*dirs, B, H)
((2, 3, 32), (4, 2, 16))
>>> outputs[1, 2].abs().sum().item()                    # padded position
0.0
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from torch import Tensor, nn

from seqdata.collate import pack_checked, unpack
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

__all__ = ["Encoder", "EncoderConfig"]


@dataclass(frozen=True)
class EncoderConfig:
    """Hyper-parameters of an [`Encoder`][seqdata.models.Encoder] (JSON-friendly; stored in
    checkpoints)."""

    vocab_size: int
    embed_dim: int
    hidden_size: int
    cell: str = "gru"
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    pad_id: int = 0
    embed_dropout: float | None = None

    def __post_init__(self) -> None:
        for name in ("vocab_size", "embed_dim", "hidden_size", "num_layers"):
            check_positive(name, getattr(self, name))
        check_choice("cell", self.cell, CELLS)
        check_choice("bidirectional", self.bidirectional, (True, False))
        check_probability("dropout", self.dropout)
        if self.embed_dropout is not None:
            check_probability("embed_dropout", self.embed_dropout)
        check_id_in_vocab("pad_id", self.pad_id, self.vocab_size)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """Size of each output vector: ``dirs * hidden_size``."""
        return self.num_directions * self.hidden_size


class Encoder(nn.Module):
    """Embed a padded batch and run the cell over it, packed so padding costs nothing.

    Args:
        vocab_size: number of source ids ``V``.
        embed_dim: embedding size ``d_w``.
        hidden_size: cell size ``H``.
        cell: ``"gru"``, ``"lstm"`` or ``"rnn"`` (tanh Elman cell).
        num_layers: stacked layers.
        bidirectional: also read right to left; outputs concatenate both directions.
        dropout: dropout between layers, and on the embeddings unless ``embed_dropout`` is set.
        pad_id: the padding id (its embedding stays zero).
        embed_dropout: dropout on the embeddings (default: ``dropout``).

    Call: ``encoder(src (B, L), src_lengths (B,))`` → ``(outputs (B, L, dirs*H), state)`` where
    ``outputs`` is zero at padded positions and ``state`` is ``h_n (layers*dirs, B, H)`` in
    torch's layout (index ``layer*dirs + direction``), or ``(h_n, c_n)`` for an LSTM. Each
    sequence's final state is taken at its own last real token. ``src_lengths`` may be on any
    device and in any order.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        cell: str = "gru",
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        pad_id: int = 0,
        embed_dropout: float | None = None,
    ) -> None:
        super().__init__()
        self.config = EncoderConfig(
            vocab_size,
            embed_dim,
            hidden_size,
            cell,
            num_layers,
            bidirectional,
            dropout,
            pad_id,
            embed_dropout,
        )
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout if embed_dropout is None else embed_dropout)
        self.rnn = make_rnn(cell, embed_dim, hidden_size, num_layers, bidirectional, dropout)

    @classmethod
    def from_config(cls, config: EncoderConfig | dict[str, Any]) -> Encoder:
        """Rebuild an (untrained) encoder from its config or ``asdict(config)``."""
        cfg = config if isinstance(config, EncoderConfig) else EncoderConfig(**config)
        return cls(**asdict(cfg))

    @property
    def output_size(self) -> int:
        """``dirs * hidden_size``, the last dimension of ``outputs``."""
        return self.config.output_size

    def forward(self, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, State]:
        check_ids(src, self.config.vocab_size, "src")
        lengths = check_lengths(src_lengths, src, "src_lengths")  # (B,) int64, CPU
        emb = self.dropout(embed(self.embedding, src, "src"))  # (B, L, d_w)
        packed_out, state = self.rnn(pack_checked(emb, lengths))  # state: (layers*dirs, B, H)
        outputs, _ = unpack(packed_out, total_length=src.shape[1])  # (B, L, dirs*H)
        return outputs, state
