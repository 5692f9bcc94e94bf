"""A character-level language model: embedding → cell → linear over the characters.

The textbook example: the word "hello", vocab ``[h, e, l, o]``, each character predicting the
next (h→e, e→l, l→l, l→o). The model only sees ids, so any vocabulary works — a
``seqdata.vocab.Vocab`` built with ``CharTokenizer``, or a plain list as here:

>>> import torch
>>> vocab = ["h", "e", "l", "o"]
>>> ids = torch.tensor([[vocab.index(ch) for ch in "hello"]])       # (B=1, 5)
>>> x, y = ids[:, :-1], ids[:, 1:]                                   # "hell" → "ello"
>>> lm = CharLM(vocab_size=4, embed_dim=8, hidden_size=16, cell="rnn")
>>> logits, h = lm(x)
>>> tuple(logits.shape), tuple(h.shape)                            # (B, T, V), (layers, B, H)
((1, 4, 4), (1, 1, 16))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from seqdata.errors import ConfigError, ShapeError
from seqdata.models._cells import (
    CELLS,
    State,
    check_choice,
    check_ids,
    check_positive,
    check_probability,
    embed,
    make_rnn,
)

__all__ = ["CharLM", "CharLMConfig"]


@dataclass(frozen=True)
class CharLMConfig:
    """Hyper-parameters of a [`CharLM`][seqdata.models.CharLM]."""

    vocab_size: int
    embed_dim: int
    hidden_size: int
    cell: str = "lstm"
    num_layers: int = 1
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "embed_dim", "hidden_size", "num_layers"):
            check_positive(name, getattr(self, name))
        check_choice("cell", self.cell, CELLS)
        check_probability("dropout", self.dropout)


class CharLM(nn.Module):
    """A recurrent language model over a stream of ids (characters, usually).

    Args:
        vocab_size: number of ids ``V``.
        embed_dim: embedding size.
        hidden_size: cell size ``H``.
        cell: ``"gru"``, ``"lstm"`` or ``"rnn"`` (the plain ``h_t = tanh(W_hh h + W_xh x + b)``).
        num_layers: stacked layers.
        dropout: dropout on embeddings, between layers and before the output layer.

    Call: ``lm(x (B, T), hidden=None)`` → ``(logits (B, T, V), hidden)``, ``hidden`` being
    ``(layers, B, H)`` (``(h, c)`` for an LSTM). Pass the returned hidden state into the next
    chunk of the same streams; detach it between chunks (truncated BPTT,
    `train_bptt` does).
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        cell: str = "lstm",
        num_layers: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.config = CharLMConfig(vocab_size, embed_dim, hidden_size, cell, num_layers, dropout)
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.rnn = make_rnn(cell, embed_dim, hidden_size, num_layers, False, dropout)
        self.out = nn.Linear(hidden_size, vocab_size)

    @classmethod
    def from_config(cls, config: CharLMConfig | dict[str, Any]) -> CharLM:
        """Rebuild an (untrained) model from its config or ``asdict(config)``."""
        cfg = config if isinstance(config, CharLMConfig) else CharLMConfig(**config)
        return cls(**asdict(cfg))

    def forward(self, x: Tensor, hidden: State | None = None) -> tuple[Tensor, State]:
        check_ids(x, self.config.vocab_size, "x")
        self._check_hidden(hidden, x.shape[0])
        emb = self.dropout(embed(self.embedding, x, "x"))  # (B, T, d)
        out, hidden = self.rnn(emb, hidden)  # out: (B, T, H)
        return self.out(self.dropout(out)), hidden  # (B, T, V)

    @torch.no_grad()
    def generate(
        self,
        prefix: Sequence[int] | Tensor,
        n: int,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Continue ``prefix`` by ``n`` ids, sampling ``softmax(logits / temperature)``.

        ``temperature=0`` takes the argmax (deterministic). Call ``model.eval()`` first if the
        model has dropout.

        Args:
            prefix: ``(P,)`` ids to start from, ``P >= 1``.
            n: how many ids to generate.
            temperature: ``> 0`` to sample (lower is more conservative), ``0`` for greedy.
            generator: a seeded ``torch.Generator`` (on the model's device) for reproducibility.

        Returns:
            ``(P + n,)`` int64 ids on the model's device: the prefix, then the continuation.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigError(f"n should be a non-negative integer, but got n={n!r}")
        if not isinstance(temperature, (int, float)) or temperature < 0:
            raise ConfigError(
                f"temperature should be a number >= 0 (0 = greedy), but got "
                f"temperature={temperature!r}"
            )
        device = self.out.weight.device
        ids = torch.as_tensor(prefix, dtype=torch.long, device=device)  # (P,)
        if ids.dim() != 1 or ids.numel() == 0:
            raise ShapeError(
                f"prefix should be a non-empty 1-D sequence of ids, but got shape "
                f"{tuple(ids.shape)}"
            )
        logits, hidden = self(ids[None, :])  # (1, P, V)
        last = logits[0, -1]  # (V,)
        out = [ids]
        for _ in range(n):
            if temperature == 0:
                nxt = last.argmax().view(1)  # (1,)
            else:
                probs = torch.softmax(last / temperature, dim=-1)  # (V,)
                nxt = torch.multinomial(probs, 1, generator=generator)  # (1,)
            out.append(nxt)
            logits, hidden = self(nxt[None, :], hidden)  # (1, 1, V)
            last = logits[0, -1]  # (V,)
        return torch.cat(out)  # (P + n,)

    def _check_hidden(self, hidden: State | None, batch: int) -> None:
        if hidden is None:
            return
        cfg = self.config
        expected = (cfg.num_layers, batch, cfg.hidden_size)
        parts = hidden if isinstance(hidden, tuple) else (hidden,)
        wanted = 2 if cfg.cell == "lstm" else 1
        if len(parts) != wanted or any(tuple(p.shape) != expected for p in parts):
            got = [tuple(p.shape) for p in parts]
            raise ShapeError(
                f"hidden should be {'an (h, c) pair' if wanted == 2 else 'one tensor'} of shape "
                f"{expected} (layers, B, H) for this {cfg.cell} model, but got shapes {got}; "
                "was the batch size changed between chunks of the same streams?"
            )
