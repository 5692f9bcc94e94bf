"""The decoder: embedding → cell → (optional attention) → linear over the target vocab.

One call runs the cell over all ``T`` given input steps: the whole shifted target under
teacher forcing (``T = Lt - 1``), or one step (``T = 1``) in a decoding loop that feeds the
argmax back, the classic greedy GRU loop.

Attention (Luong et al., 2015, "global" attention): for each decoder output ``h_t`` (B, H)
and encoder outputs ``m_s`` (B, S, E),

- ``score(h_t, m_s) = h_t · m_s`` (``"dot"``, needs ``E == H``), ``h_t · W_a m_s``
  (``"general"``, any ``E``) or ``v · tanh(W_q h_t + W_k m_s)`` (``"additive"``, Bahdanau
  et al., 2015's score, computed on ``h_t`` in Luong's place after the cell);
- padded source positions get score ``-inf``; ``a_t = softmax(scores)``; context
  ``c_t = Σ_s a_ts m_s`` (B, E);
- ``h̃_t = tanh(W_c [c_t; h_t])`` (B, H) and ``logits_t = W_out dropout(h̃_t)``.

Without input feeding, ``h̃_t`` is not fed back, so attention is computed after the cell for
all steps at once and teacher forcing stays a single cell call. With ``input_feed=True``
(Luong's input feeding) the cell reads ``[emb(y_t); h̃_{t-1}]``, so the decoder runs one cell
call per step and its state becomes a [`FeedState`][seqdata.models.decoder.FeedState]
(the cell's state plus ``h̃``).

Other options: ``embed_dropout`` / ``output_dropout`` (default: ``dropout``) act on the
embeddings and on ``h̃`` before the output layer, apart from the cell's between-layer
``dropout``; ``tie_embeddings`` shares the output layer's weight with the target embedding
(Press & Wolf, 2017), which needs ``embed_dim == hidden_size``.

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
from typing import Any, NamedTuple, TypeAlias

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

__all__ = [
    "ATTENTIONS",
    "Decoder",
    "DecoderConfig",
    "DecoderOutput",
    "DecoderState",
    "FeedState",
    "select_state",
]

ATTENTIONS = (None, "dot", "general", "additive")


@dataclass(frozen=True)
class DecoderConfig:
    """Hyper-parameters of a [`Decoder`][seqdata.models.Decoder] (stored in checkpoints).

    ``memory_size`` is the size ``E`` of the encoder outputs attended to (``dirs * H_enc``);
    it defaults to ``hidden_size`` and only matters when ``attention`` is set.
    ``embed_dropout`` and ``output_dropout`` default to ``dropout`` (one knob, as before);
    ``input_feed`` needs ``attention``; ``tie_embeddings`` needs ``embed_dim == hidden_size``.
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
    input_feed: bool = False
    embed_dropout: float | None = None
    output_dropout: float | None = None
    tie_embeddings: bool = False

    def __post_init__(self) -> None:
        for name in ("vocab_size", "embed_dim", "hidden_size", "num_layers"):
            check_positive(name, getattr(self, name))
        check_choice("cell", self.cell, CELLS)
        check_probability("dropout", self.dropout)
        for name in ("embed_dropout", "output_dropout"):
            if getattr(self, name) is not None:
                check_probability(name, getattr(self, name))
        check_id_in_vocab("pad_id", self.pad_id, self.vocab_size)
        check_choice("attention", self.attention, ATTENTIONS)
        check_choice("input_feed", self.input_feed, (True, False))
        check_choice("tie_embeddings", self.tie_embeddings, (True, False))
        if self.memory_size is not None:
            check_positive("memory_size", self.memory_size)
        if self.attention == "dot" and self.attended_size != self.hidden_size:
            raise ConfigError(
                f"attention='dot' scores h·m, so memory_size should equal hidden_size="
                f"{self.hidden_size}, but got memory_size={self.memory_size}; use "
                "attention='general' (a learned W_a) for encoder outputs of another size"
            )
        if self.input_feed and self.attention is None:
            raise ConfigError(
                "input_feed=True feeds the attentional vector back into the cell, so it needs "
                "attention, but got attention=None; set attention='general' (or another) or "
                "input_feed=False"
            )
        if self.tie_embeddings and self.embed_dim != self.hidden_size:
            raise ConfigError(
                f"tie_embeddings=True shares the output layer (hidden_size={self.hidden_size} "
                f"inputs) with the target embedding (embed_dim={self.embed_dim}), so embed_dim "
                f"should equal hidden_size, but got embed_dim={self.embed_dim}; make them equal "
                "or set tie_embeddings=False"
            )

    @property
    def attended_size(self) -> int:
        """``E``: ``memory_size``, or ``hidden_size`` when not given."""
        return self.hidden_size if self.memory_size is None else self.memory_size

    @property
    def rnn_input_size(self) -> int:
        """What the cell reads per step: ``embed_dim`` (``+ hidden_size`` with input feeding)."""
        return self.embed_dim + (self.hidden_size if self.input_feed else 0)


@dataclass(frozen=True)
class FeedState:
    """The decoder state with input feeding: the cell's state and the last ``h̃`` ``(B, H)``."""

    rnn: State
    feed: Tensor


#: What the decoder carries between calls: a cell state, or a `FeedState` with input feeding.
DecoderState: TypeAlias = State | FeedState


class DecoderOutput(NamedTuple):
    """What [`Decoder.run`][seqdata.models.Decoder.run] returns.

    Attributes:
        features: ``(B, T, H)``, the input of the output layer (``h̃`` with attention).
        state: the state after the last step.
        attention: ``(B, T, S)`` attention weights (rows sum to 1), or None without attention.
    """

    features: Tensor
    state: DecoderState
    attention: Tensor | None


def select_state(state: DecoderState, index: Tensor) -> DecoderState:
    """Pick (or repeat) batch rows of a state: rows ``index`` ``(N,)`` → a batch of ``N``.

    Beam search uses it to follow the surviving hypotheses.

    >>> h = torch.arange(6.0).view(1, 3, 2)                # (layers, B, H)
    >>> select_state(h, torch.tensor([2, 2, 0]))[0, :, 0].tolist()
    [4.0, 4.0, 0.0]
    """
    if isinstance(state, FeedState):
        return FeedState(select_state(state.rnn, index), state.feed.index_select(0, index))  # type: ignore[arg-type]
    if isinstance(state, tuple):
        return (state[0].index_select(1, index), state[1].index_select(1, index))
    return state.index_select(1, index)


class Decoder(nn.Module):
    """A unidirectional cell over target ids, with optional attention and input feeding.

    Args:
        vocab_size: number of target ids ``V``.
        embed_dim: embedding size.
        hidden_size: cell size ``H``.
        cell: ``"gru"``, ``"lstm"`` or ``"rnn"``.
        num_layers: stacked layers.
        dropout: dropout between layers; also on embeddings and outputs unless set apart.
        pad_id: the padding id.
        attention: ``None``, ``"dot"``, ``"general"`` or ``"additive"`` (module docstring).
        memory_size: size ``E`` of the encoder outputs attended to (default ``hidden_size``).
        input_feed: feed ``h̃_{t-1}`` into the cell with the next embedding (needs attention).
        embed_dropout: dropout on the target embeddings (default ``dropout``).
        output_dropout: dropout before the output layer (default ``dropout``).
        tie_embeddings: share the output layer's weight with the embedding.

    Call: ``decoder(tgt_in (B, T), state, memory=None, memory_mask=None, lengths=None)`` →
    ``(logits (B, T, V), state)``. ``state`` is ``(layers, B, H)`` (``(h, c)`` for an LSTM, a
    `FeedState` with input feeding) or ``None`` for zeros; ``memory`` ``(B, S, E)`` and
    ``memory_mask`` ``(B, S)`` bool (``True`` at real positions) are required with attention.
    ``lengths`` ``(B,)``, when given, packs ``tgt_in`` so padded steps cost nothing (their
    logits are then meaningless; ignore them). With input feeding the steps run one by one
    and ``lengths`` is not used, so the returned state is that after all ``T`` steps.
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
        input_feed: bool = False,
        embed_dropout: float | None = None,
        output_dropout: float | None = None,
        tie_embeddings: bool = False,
    ) -> None:
        super().__init__()
        self.config = cfg = DecoderConfig(
            vocab_size,
            embed_dim,
            hidden_size,
            cell,
            num_layers,
            dropout,
            pad_id,
            attention,
            memory_size,
            input_feed,
            embed_dropout,
            output_dropout,
            tie_embeddings,
        )
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.embed_dropout = nn.Dropout(dropout if embed_dropout is None else embed_dropout)
        self.output_dropout = nn.Dropout(dropout if output_dropout is None else output_dropout)
        self.rnn = make_rnn(cell, cfg.rnn_input_size, hidden_size, num_layers, False, dropout)
        self.attn_proj: nn.Linear | None = None  # W_a ("general"), W_k ("additive")
        self.attn_query: nn.Linear | None = None  # W_q ("additive")
        self.attn_v: nn.Linear | None = None  # v ("additive")
        self.combine: nn.Linear | None = None  # W_c
        if attention == "general":
            self.attn_proj = nn.Linear(cfg.attended_size, hidden_size, bias=False)
        if attention == "additive":
            self.attn_proj = nn.Linear(cfg.attended_size, hidden_size)
            self.attn_query = nn.Linear(hidden_size, hidden_size, bias=False)
            self.attn_v = nn.Linear(hidden_size, 1, bias=False)
        if attention is not None:
            self.combine = nn.Linear(cfg.attended_size + hidden_size, hidden_size)
        self.out = nn.Linear(hidden_size, vocab_size)
        if tie_embeddings:
            self.out.weight = self.embedding.weight  # (V, H) == (V, d_w)

    @classmethod
    def from_config(cls, config: DecoderConfig | dict[str, Any]) -> Decoder:
        """Rebuild an (untrained) decoder from its config or ``asdict(config)``."""
        cfg = config if isinstance(config, DecoderConfig) else DecoderConfig(**config)
        return cls(**asdict(cfg))

    def forward(
        self,
        tgt_in: Tensor,
        state: DecoderState | None,
        memory: Tensor | None = None,
        memory_mask: Tensor | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor, DecoderState]:
        out = self.run(tgt_in, state, memory, memory_mask, lengths)
        return self.project(out.features), out.state  # (B, T, V)

    def features(
        self,
        tgt_in: Tensor,
        state: DecoderState | None,
        memory: Tensor | None = None,
        memory_mask: Tensor | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor, DecoderState]:
        """Everything but the output layer: ``(features (B, T, H), state)``.

        ``project(features)`` gives the logits; a loss can project only the real positions.
        """
        out = self.run(tgt_in, state, memory, memory_mask, lengths)
        return out.features, out.state

    def run(
        self,
        tgt_in: Tensor,
        state: DecoderState | None,
        memory: Tensor | None = None,
        memory_mask: Tensor | None = None,
        lengths: Tensor | None = None,
        keys: Tensor | None = None,
    ) -> DecoderOutput:
        """Like [`features`][seqdata.models.Decoder.features], plus the attention weights.

        ``keys``: ``attention_keys(memory)``, computed once by a loop that calls ``run`` step
        by step (see [`attention_keys`][seqdata.models.Decoder.attention_keys]); computed
        here when None.
        """
        cfg = self.config
        check_ids(tgt_in, cfg.vocab_size, "tgt_in")
        emb = self.embed_dropout(embed(self.embedding, tgt_in, "tgt_in"))  # (B, T, d_w)
        if cfg.attention is not None and keys is None:
            keys = self.attention_keys(self._checked_memory(memory, memory_mask, tgt_in))
        if cfg.input_feed:
            return self._run_fed(emb, state, memory, memory_mask, keys)
        if isinstance(state, FeedState):
            raise ShapeError("this decoder has input_feed=False, but got a FeedState as state")
        if lengths is None:
            out, state = self.rnn(emb, state)  # out: (B, T, H)
        else:
            lengths = check_lengths(lengths, tgt_in, "lengths")  # (B,) CPU
            packed, state = self.rnn(pack_checked(emb, lengths), state)
            out, _ = unpack(packed, total_length=tgt_in.shape[1])  # (B, T, H)
        weights = None
        if cfg.attention is not None:
            out, weights = self._attend(out, memory, memory_mask, keys)  # (B, T, H), (B, T, S)
        return DecoderOutput(out, state, weights)

    def attention_keys(self, memory: Tensor) -> Tensor | None:
        """What the attention scores compare a decoder output with, per source position:
        ``W_a m_s`` (``"general"``), ``W_k m_s`` (``"additive"``) ``(B, S, H)``; None for
        ``"dot"`` (the memory itself) and without attention. It depends only on the encoder
        outputs, so a decoding loop computes it once, not once per step."""
        return None if self.attn_proj is None else self.attn_proj(memory)

    def project(self, features: Tensor) -> Tensor:
        """The output layer: ``(..., H)`` features → ``(..., V)`` logits."""
        return self.out(self.output_dropout(features))

    def _run_fed(
        self,
        emb: Tensor,
        state: DecoderState | None,
        memory: Tensor | None,
        mask: Tensor | None,
        keys: Tensor | None,
    ) -> DecoderOutput:
        """Input feeding: one cell call per step, ``h̃_{t-1}`` concatenated to the input."""
        if isinstance(state, FeedState):
            rnn_state: State | None = state.rnn
            feed = state.feed  # (B, H)
        else:
            rnn_state = state
            feed = emb.new_zeros(emb.shape[0], self.config.hidden_size)  # (B, H)
        outs, weights = [], []
        for t in range(emb.shape[1]):
            step_in = torch.cat([emb[:, t : t + 1], feed[:, None]], dim=-1)  # (B, 1, d_w+H)
            out, rnn_state = self.rnn(step_in, rnn_state)  # (B, 1, H)
            att, w = self._attend(out, memory, mask, keys)  # (B, 1, H), (B, 1, S)
            feed = att[:, 0]  # (B, H)
            outs.append(att)
            weights.append(w)
        assert rnn_state is not None  # at least one step ran (tgt_in is checked non-empty)
        return DecoderOutput(
            torch.cat(outs, dim=1), FeedState(rnn_state, feed), torch.cat(weights, dim=1)
        )

    def _scores(self, out: Tensor, memory: Tensor, keys: Tensor | None) -> Tensor:
        """Attention scores ``(B, T, S)`` of outputs ``(B, T, H)`` against the keys
        ``(B, S, H)`` of ``memory`` ``(B, S, E)``."""
        keys = memory if self.attn_proj is None else keys  # (B, S, H)
        assert keys is not None  # `run` computes them
        if self.attn_v is not None:  # additive: v · tanh(W_q h_t + W_k m_s)
            assert self.attn_query is not None
            query = self.attn_query(out)  # (B, T, H)
            return self.attn_v(torch.tanh(query[:, :, None] + keys[:, None])).squeeze(-1)
        return torch.bmm(out, keys.transpose(1, 2))  # (B, T, S)

    def _checked_memory(self, memory: Tensor | None, mask: Tensor | None, ids: Tensor) -> Tensor:
        """``memory``, after checking it and ``mask`` against a batch of ``ids`` ``(B, T)``."""
        if memory is None or mask is None:
            raise ShapeError(
                f"this decoder has attention={self.config.attention!r}, so it needs the "
                "encoder outputs: pass memory (B, S, E) and memory_mask (B, S)"
            )
        batch, _, size = memory.shape
        if batch != ids.shape[0] or size != self.config.attended_size:
            raise ShapeError(
                f"memory should have shape (B, S, E) = ({ids.shape[0]}, S, "
                f"{self.config.attended_size}), but got {tuple(memory.shape)}"
            )
        if mask.shape != memory.shape[:2] or mask.dtype != torch.bool:
            raise ShapeError(
                f"memory_mask should be a bool tensor of shape {tuple(memory.shape[:2])}, but "
                f"got dtype={mask.dtype}, shape={tuple(mask.shape)}"
            )
        return memory

    def _attend(
        self, out: Tensor, memory: Tensor | None, mask: Tensor | None, keys: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        memory = self._checked_memory(memory, mask, out)
        assert mask is not None  # checked with memory
        scores = self._scores(out, memory, keys)  # (B, T, S)
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))  # (B, T, S)
        weights = torch.softmax(scores, dim=-1)  # (B, T, S)
        context = torch.bmm(weights, memory)  # (B, T, E)
        assert self.combine is not None  # built whenever attention is set
        return torch.tanh(self.combine(torch.cat([context, out], dim=-1))), weights  # (B, T, H)
