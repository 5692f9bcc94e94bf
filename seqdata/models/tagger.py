"""Many-to-many (the second use of an RNN's ``hidden_states``): a linear at every step.

>>> import torch
>>> tagger = SequenceTagger(vocab_size=50, embed_dim=8, hidden_size=16, num_tags=5)
>>> logits = tagger(torch.tensor([[4, 5, 6], [7, 8, 0]]), torch.tensor([3, 2]))
>>> tuple(logits.shape)                                # (B, L, num_tags)
(2, 3, 5)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from torch import Tensor, nn

from seqdata.collate import Batch
from seqdata.errors import ShapeError
from seqdata.models._cells import check_lengths, check_positive, class_loss, real_positions
from seqdata.models.encoder import Encoder, EncoderConfig

__all__ = ["SequenceTagger", "SequenceTaggerConfig"]


@dataclass(frozen=True)
class SequenceTaggerConfig:
    """The encoder's config plus the number of tags."""

    encoder: EncoderConfig
    num_tags: int

    def __post_init__(self) -> None:
        check_positive("num_tags", self.num_tags)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SequenceTaggerConfig:
        """Inverse of ``dataclasses.asdict``."""
        return cls(EncoderConfig(**d["encoder"]), d["num_tags"])


class SequenceTagger(nn.Module):
    """Encoder outputs (unpacked) → a per-step linear over the tags.

    Args:
        vocab_size: and embed_dim, hidden_size, cell, num_layers, bidirectional, dropout,
            pad_id, embed_dropout: as for [`Encoder`][seqdata.models.Encoder].
        num_tags: number of tags ``K``.

    Call: ``tagger(src (B, L), src_lengths (B,))`` → logits ``(B, L, K)`` (rows past a
    sequence's length are meaningless). `loss` reads the gold tags from ``batch.tgt``
    ``(B, L)`` and ignores positions past ``src_lengths``, whatever their padding value.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_tags: int,
        cell: str = "gru",
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        pad_id: int = 0,
        embed_dropout: float | None = None,
    ) -> None:
        super().__init__()
        self.encoder = Encoder(
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
        self.config = SequenceTaggerConfig(self.encoder.config, num_tags)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.output_size, num_tags)

    @classmethod
    def from_config(cls, config: SequenceTaggerConfig | dict[str, Any]) -> SequenceTagger:
        """Rebuild an (untrained) model from its config or ``asdict(config)``."""
        cfg = (
            config
            if isinstance(config, SequenceTaggerConfig)
            else SequenceTaggerConfig.from_dict(config)
        )
        return cls(num_tags=cfg.num_tags, **asdict(cfg.encoder))

    def forward(self, src: Tensor, src_lengths: Tensor) -> Tensor:
        outputs, _ = self.encoder(src, src_lengths)  # (B, L, dirs*H)
        return self.head(self.dropout(outputs))  # (B, L, K)

    def loss(self, batch: Batch) -> Tensor:
        """Mean cross-entropy over the real positions; gold tags in ``batch.tgt`` ``(B, L)``."""
        if batch.tgt is None or batch.tgt.shape != batch.src.shape:
            got = None if batch.tgt is None else tuple(batch.tgt.shape)
            raise ShapeError(
                f"SequenceTagger needs one tag per token: batch.tgt should have the shape of "
                f"batch.src {tuple(batch.src.shape)}, but got {got}"
            )
        logits = self(batch.src, batch.src_lengths)  # (B, L, K)
        lengths = check_lengths(batch.src_lengths, batch.src, "src_lengths")  # (B,) CPU
        flat = real_positions(lengths, batch.src.shape[1]).to(logits.device, non_blocking=True)
        logits = logits.reshape(-1, logits.shape[-1]).index_select(0, flat)  # (N, K)
        tags = batch.tgt.to(logits.device).reshape(-1).index_select(0, flat)  # (N,)
        return class_loss(logits, tags, "tags", "num_tags")

    def num_targets(self, batch: Batch) -> int:
        """One target per real token."""
        return int(batch.src_lengths.sum())
