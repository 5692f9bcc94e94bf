"""Many-to-one (the first use of an RNN's ``h_n``): the last hidden state → a linear classifier.

>>> import torch
>>> clf = SequenceClassifier(vocab_size=50, embed_dim=8, hidden_size=16, num_classes=3,
...                          bidirectional=True)
>>> logits = clf(torch.tensor([[4, 5, 6], [7, 8, 0]]), torch.tensor([3, 2]))
>>> tuple(logits.shape)                                # (B, C)
(2, 3)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from torch import Tensor, nn

from seqdata.collate import Batch
from seqdata.errors import ShapeError
from seqdata.models._cells import check_positive, class_loss
from seqdata.models.encoder import Encoder, EncoderConfig

__all__ = ["SequenceClassifier", "SequenceClassifierConfig"]


@dataclass(frozen=True)
class SequenceClassifierConfig:
    """The encoder's config plus the number of classes."""

    encoder: EncoderConfig
    num_classes: int

    def __post_init__(self) -> None:
        check_positive("num_classes", self.num_classes)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SequenceClassifierConfig:
        """Inverse of ``dataclasses.asdict``."""
        return cls(EncoderConfig(**d["encoder"]), d["num_classes"])


class SequenceClassifier(nn.Module):
    """Encoder → top layer's final state (both directions concatenated) → linear.

    Args:
        vocab_size: and embed_dim, hidden_size, cell, num_layers, bidirectional, dropout,
            pad_id, embed_dropout: as for [`Encoder`][seqdata.models.Encoder].
        num_classes: number of classes ``C``.

    Call: ``clf(src (B, L), src_lengths (B,))`` → logits ``(B, C)``; the state used is each
    sequence's own last real token (forward direction) and first token (backward direction).
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_classes: int,
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
        self.config = SequenceClassifierConfig(self.encoder.config, num_classes)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.output_size, num_classes)

    @classmethod
    def from_config(cls, config: SequenceClassifierConfig | dict[str, Any]) -> SequenceClassifier:
        """Rebuild an (untrained) model from its config or ``asdict(config)``."""
        cfg = (
            config
            if isinstance(config, SequenceClassifierConfig)
            else SequenceClassifierConfig.from_dict(config)
        )
        return cls(num_classes=cfg.num_classes, **asdict(cfg.encoder))

    def forward(self, src: Tensor, src_lengths: Tensor) -> Tensor:
        enc = self.config.encoder
        _, state = self.encoder(src, src_lengths)
        h_n = state[0] if isinstance(state, tuple) else state  # (layers*dirs, B, H)
        top = h_n.view(enc.num_layers, enc.num_directions, -1, enc.hidden_size)[-1]  # (d, B, H)
        last = top.permute(1, 0, 2).reshape(top.shape[1], enc.output_size)  # (B, dirs*H)
        return self.head(self.dropout(last))  # (B, C)

    def loss(self, batch: Batch) -> Tensor:
        """Mean cross-entropy against ``batch.labels`` ``(B,)``."""
        if batch.labels is None:
            raise ShapeError(
                "SequenceClassifier needs batch.labels (B,), but got None; collate a corpus "
                "with labels (MonoCorpus(labels=...))"
            )
        logits = self(batch.src, batch.src_lengths)  # (B, C)
        labels = batch.labels.to(logits.device)  # (B,)
        if labels.shape != logits.shape[:1]:
            raise ShapeError(
                f"batch.labels should have shape (B,) = ({logits.shape[0]},), but got "
                f"{tuple(labels.shape)}"
            )
        return class_loss(logits, labels, "labels", "num_classes")

    def num_targets(self, batch: Batch) -> int:
        """One target per sequence."""
        return len(batch)
