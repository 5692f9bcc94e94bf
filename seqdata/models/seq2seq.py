"""Encoder-decoder (the classic RNN translation model): teacher forcing, label smoothing,
greedy and beam decoding to EOS (the loops live in [`seqdata.decoding`][seqdata.decoding]).

The bridge from the encoder's final state to the decoder's initial state works for any pair
of cells, depths and directions:

1. **Directions**: the encoder's ``h_n`` ``(layers_e*dirs, B, H_e)`` is viewed as
   ``(layers_e, dirs, B, H_e)`` and the directions of each layer are concatenated →
   ``(layers_e, B, dirs*H_e)``.
2. **Layers**: decoder layer ``i`` (0 = bottom) takes encoder layer
   ``min(i + max(layers_e - layers_d, 0), layers_e - 1)``: equal depths map one to one, a
   shallower decoder takes the encoder's top layers, a deeper one repeats the top layer.
3. **Size**: ``h0 = tanh(W_h · h)`` maps ``dirs*H_e → H_d``. For an LSTM decoder the cell state
   is ``c0 = W_c · c`` from the encoder's cell state (or from ``h`` if the encoder has none);
   an LSTM encoder feeding a GRU/RNN decoder passes only ``h``.

>>> import torch
>>> from seqdata.collate import Batch
>>> model = Seq2Seq.build(src_vocab_size=12, tgt_vocab_size=14, embed_dim=8, hidden_size=16)
>>> batch = Batch(src=torch.tensor([[5, 6, 7], [8, 9, 0]]), src_lengths=torch.tensor([3, 2]),
...               tgt=torch.tensor([[2, 4, 5, 3], [2, 6, 3, 0]]), tgt_lengths=torch.tensor([4, 3]))
>>> tuple(model(batch).shape)                       # (B, Lt-1, V)
(2, 3, 14)
>>> ids, lengths = model.greedy_decode(batch.src, batch.src_lengths, max_len=5)
>>> ids.shape[0], bool((lengths <= 5).all())
(2, True)
>>> out = model.beam_search(batch.src, batch.src_lengths, beam=3, return_attention=True)
>>> out.ids.shape[0], tuple(out.attention.shape[::2])       # (B, T, S)
(2, (2, 3))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqdata._checks import check_int
from seqdata.collate import Batch
from seqdata.errors import ConfigError, ShapeError
from seqdata.models._cells import (
    State,
    check_id_in_vocab,
    check_lengths,
    check_probability,
    length_mask,
    real_positions,
)
from seqdata.models.decoder import Decoder, DecoderConfig, DecoderState
from seqdata.models.encoder import Encoder, EncoderConfig

if TYPE_CHECKING:
    from seqdata.decoding import Decoded

__all__ = ["Seq2Seq", "Seq2SeqConfig"]


@dataclass(frozen=True)
class Seq2SeqConfig:
    """The encoder's and decoder's configs plus the target specials (stored in checkpoints)."""

    encoder: EncoderConfig
    decoder: DecoderConfig
    sos_id: int = 2
    eos_id: int = 3
    teacher_forcing_ratio: float = 1.0
    label_smoothing: float = 0.0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Seq2SeqConfig:
        """Inverse of ``dataclasses.asdict``."""
        rest = {k: v for k, v in d.items() if k not in ("encoder", "decoder")}
        return cls(EncoderConfig(**d["encoder"]), DecoderConfig(**d["decoder"]), **rest)


class Seq2Seq(nn.Module):
    """Packed encoder → bridge → decoder, with a PAD-ignoring loss and greedy decoding.

    Args:
        encoder: any [`Encoder`][seqdata.models.Encoder] (cell, depth, directions).
        decoder: any [`Decoder`][seqdata.models.Decoder]; with attention its ``memory_size`` must
            equal
            ``encoder.output_size``.
        sos_id: the start-of-sequence id that every target starts with.
        eos_id: the end-of-sequence id that stops decoding.
        teacher_forcing_ratio: the ratio `loss` uses while training (evaluation always
            uses 1.0); `forward` takes its own.
        label_smoothing: the smoothing `loss` uses by default (torch's
            ``cross_entropy(label_smoothing=…)``: the gold token gets ``1 - ε`` plus its
            share of ``ε / V``); 0 is plain cross-entropy.
    """

    def __init__(
        self,
        encoder: Encoder,
        decoder: Decoder,
        *,
        sos_id: int = 2,
        eos_id: int = 3,
        teacher_forcing_ratio: float = 1.0,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        enc, dec = encoder.config, decoder.config
        check_id_in_vocab("sos_id", sos_id, dec.vocab_size)
        check_id_in_vocab("eos_id", eos_id, dec.vocab_size)
        check_probability("teacher_forcing_ratio", teacher_forcing_ratio)
        check_probability("label_smoothing", label_smoothing)
        if dec.attention is not None and dec.attended_size != enc.output_size:
            raise ConfigError(
                f"the decoder attends to vectors of size memory_size={dec.attended_size}, but "
                f"the encoder outputs dirs*H={enc.output_size}; build the decoder with "
                f"memory_size={enc.output_size}"
            )
        self.config = Seq2SeqConfig(
            enc, dec, sos_id, eos_id, teacher_forcing_ratio, float(label_smoothing)
        )
        self.teacher_forcing_ratio = teacher_forcing_ratio
        self.encoder = encoder
        self.decoder = decoder
        self.bridge_h = nn.Linear(enc.output_size, dec.hidden_size)  # W_h
        self.bridge_c = nn.Linear(enc.output_size, dec.hidden_size) if dec.cell == "lstm" else None
        # Decoder layer i reads encoder layer layer_map[i] (step 2 of the module docstring).
        shift = max(enc.num_layers - dec.num_layers, 0)
        layer_map = [min(i + shift, enc.num_layers - 1) for i in range(dec.num_layers)]
        self.layer_map: Tensor
        self.register_buffer("layer_map", torch.tensor(layer_map), persistent=False)

    @classmethod
    def build(
        cls,
        src_vocab_size: int,
        tgt_vocab_size: int,
        *,
        embed_dim: int = 64,
        hidden_size: int = 128,
        cell: str = "gru",
        num_layers: int = 1,
        bidirectional: bool = True,
        attention: str | None = "general",
        dropout: float = 0.0,
        pad_id: int = 0,
        sos_id: int = 2,
        eos_id: int = 3,
        teacher_forcing_ratio: float = 1.0,
        label_smoothing: float = 0.0,
        input_feed: bool = False,
        embed_dropout: float | None = None,
        output_dropout: float | None = None,
        tie_embeddings: bool = False,
    ) -> Seq2Seq:
        """A matching encoder/decoder pair with the same cell, sizes and depth.

        ``embed_dropout`` applies to both embeddings; the other options are the decoder's
        ([`Decoder`][seqdata.models.Decoder]) and the loss's.
        """
        encoder = Encoder(
            src_vocab_size,
            embed_dim,
            hidden_size,
            cell,
            num_layers,
            bidirectional,
            dropout,
            pad_id,
            embed_dropout,
        )
        decoder = Decoder(
            tgt_vocab_size,
            embed_dim,
            hidden_size,
            cell,
            num_layers,
            dropout,
            pad_id,
            attention,
            memory_size=encoder.output_size if attention is not None else None,
            input_feed=input_feed,
            embed_dropout=embed_dropout,
            output_dropout=output_dropout,
            tie_embeddings=tie_embeddings,
        )
        return cls(
            encoder,
            decoder,
            sos_id=sos_id,
            eos_id=eos_id,
            teacher_forcing_ratio=teacher_forcing_ratio,
            label_smoothing=label_smoothing,
        )

    @classmethod
    def from_config(cls, config: Seq2SeqConfig | dict[str, Any]) -> Seq2Seq:
        """Rebuild an (untrained) model from its config or ``asdict(config)``."""
        cfg = config if isinstance(config, Seq2SeqConfig) else Seq2SeqConfig.from_dict(config)
        return cls(
            Encoder.from_config(cfg.encoder),
            Decoder.from_config(cfg.decoder),
            sos_id=cfg.sos_id,
            eos_id=cfg.eos_id,
            teacher_forcing_ratio=cfg.teacher_forcing_ratio,
            label_smoothing=cfg.label_smoothing,
        )

    def bridge(self, state: State) -> State:
        """Map the encoder's final state to the decoder's initial one (module docstring).

        ``(layers_e*dirs, B, H_e)`` (or an ``(h, c)`` pair) → ``(layers_d, B, H_d)`` (a pair
        when the decoder is an LSTM).
        """
        enc = self.config.encoder
        h, c = state if isinstance(state, tuple) else (state, None)
        batch = h.shape[1]

        def per_layer(x: Tensor) -> Tensor:
            x = x.view(enc.num_layers, enc.num_directions, batch, enc.hidden_size)  # (l, d, B, H)
            x = x.permute(0, 2, 1, 3).reshape(enc.num_layers, batch, enc.output_size)  # (l, B, dH)
            return x.index_select(0, self.layer_map)  # (layers_d, B, dirs*H_e)

        h0 = torch.tanh(self.bridge_h(per_layer(h)))  # (layers_d, B, H_d)
        if self.bridge_c is None:
            return h0.contiguous()
        c0 = self.bridge_c(per_layer(h if c is None else c))  # (layers_d, B, H_d)
        return (h0.contiguous(), c0.contiguous())

    def encode(self, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, Tensor, State]:
        """Run the encoder and the bridge: ``(memory (B, S, E), mask (B, S), state)``."""
        memory, enc_state = self.encoder(src, src_lengths)  # (B, S, dirs*H_e)
        lengths = check_lengths(src_lengths, src, "src_lengths")  # (B,) CPU
        mask = length_mask(lengths, src.shape[1], src.device)  # (B, S)
        return memory, mask, self.bridge(enc_state)

    def forward(self, batch: Batch, teacher_forcing_ratio: float = 1.0) -> Tensor:
        """Logits ``(B, Lt-1, V)`` for ``batch.tgt[:, 1:]`` (the target shifted by one).

        With ``teacher_forcing_ratio == 1`` the decoder reads the gold target in one packed
        call; below 1, a per-step loop feeds the model's own argmax back at each step with
        probability ``1 - teacher_forcing_ratio`` (one coin per step, shared by the batch).
        """
        tgt, tgt_lengths = self._check_target(batch)
        memory, mask, state = self.encode(batch.src, batch.src_lengths)
        tgt_in = tgt[:, :-1]  # (B, Lt-1): [SOS] t, no EOS
        if teacher_forcing_ratio >= 1.0:
            logits, _ = self.decoder(tgt_in, state, memory, mask, lengths=tgt_lengths - 1)
            return logits  # (B, Lt-1, V)
        steps = []
        inp = tgt_in[:, :1]  # (B, 1)
        keys = self.decoder.attention_keys(memory)  # (B, S, H) or None: once, not per step
        dec_state: DecoderState = state
        for t in range(tgt_in.shape[1]):
            out = self.decoder.run(inp, dec_state, memory, mask, keys=keys)
            dec_state = out.state
            step_logits = self.decoder.project(out.features)  # (B, 1, V)
            steps.append(step_logits)
            if t + 1 < tgt_in.shape[1]:
                use_gold = bool(torch.rand(()) < teacher_forcing_ratio)
                inp = tgt_in[:, t + 1 : t + 2] if use_gold else step_logits.argmax(-1)  # (B, 1)
        return torch.cat(steps, dim=1)  # (B, Lt-1, V)

    def loss(
        self,
        batch: Batch,
        teacher_forcing_ratio: float | None = None,
        *,
        label_smoothing: float | None = None,
    ) -> Tensor:
        """Mean cross-entropy over the real target tokens (PAD ignored).

        ``teacher_forcing_ratio`` defaults to the model's ratio while training, 1.0 in eval;
        ``label_smoothing`` defaults to the model's ``config.label_smoothing`` (pass 0.0 for
        the plain negative log-likelihood, e.g. to report perplexity).
        """
        if teacher_forcing_ratio is None:
            teacher_forcing_ratio = self.teacher_forcing_ratio if self.training else 1.0
        if label_smoothing is None:
            label_smoothing = self.config.label_smoothing
        else:
            check_probability("label_smoothing", label_smoothing)
        tgt, tgt_lengths = self._check_target(batch)
        gold = tgt[:, 1:]  # (B, Lt-1)
        # The real positions come from the CPU lengths (t < length - 1), not from comparing
        # device ids with PAD: a boolean mask of device values would need a host sync.
        flat = real_positions(tgt_lengths - 1, gold.shape[1]).to(gold.device, non_blocking=True)
        gold = gold.reshape(-1).index_select(0, flat)  # (N,)
        if teacher_forcing_ratio >= 1.0:
            # Same as forward(), but the output layer (the costly V-sized matmul) only runs
            # at the real target positions.
            memory, mask, state = self.encode(batch.src, batch.src_lengths)
            feats, _ = self.decoder.features(
                tgt[:, :-1], state, memory, mask, lengths=tgt_lengths - 1
            )  # (B, Lt-1, H)
            feats = feats.reshape(-1, feats.shape[-1]).index_select(0, flat)  # (N, H)
            logits = self.decoder.project(feats)  # (N, V)
            return F.cross_entropy(logits, gold, label_smoothing=label_smoothing)
        logits = self(batch, teacher_forcing_ratio)  # (B, Lt-1, V)
        logits = logits.reshape(-1, logits.shape[-1]).index_select(0, flat)  # (N, V)
        return F.cross_entropy(logits, gold, label_smoothing=label_smoothing)

    def num_targets(self, batch: Batch) -> int:
        """How many target tokens `loss` averages over (the non-PAD ``tgt[:, 1:]``)."""
        _, tgt_lengths = self._check_target(batch)
        return int(tgt_lengths.sum()) - len(tgt_lengths)

    def greedy_decode(
        self, src: Tensor, src_lengths: Tensor, max_len: int, min_len: int = 1
    ) -> tuple[Tensor, Tensor]:
        """Feed the argmax back until every sequence has produced EOS: ``(ids (B, T), lengths
        (B,))``, lengths on the CPU and EOS included (``max_len`` for a row without EOS);
        no EOS before ``min_len`` tokens.

        [`greedy`][seqdata.models.Seq2Seq.greedy] gives the same ids plus scores and
        attention weights; call ``model.eval()`` first if the model has dropout.
        """
        out = self.greedy(src, src_lengths, max_len=check_int("max_len", max_len), min_len=min_len)
        return out.ids, out.lengths

    def greedy(
        self,
        src: Tensor,
        src_lengths: Tensor,
        *,
        max_len: int | None = None,
        min_len: int = 1,
        return_attention: bool = False,
    ) -> Decoded:
        """Greedy decoding with scores (and attention): see `seqdata.decoding.greedy_search`."""
        from seqdata.decoding import greedy_search

        options: dict[str, Any] = {"max_len": max_len, "min_len": min_len}
        return greedy_search(self, src, src_lengths, return_attention=return_attention, **options)

    def beam_search(
        self,
        src: Tensor,
        src_lengths: Tensor,
        *,
        beam: int = 5,
        max_len: int | None = None,
        len_penalty: float = 1.0,
        min_len: int = 1,
        return_attention: bool = False,
    ) -> Decoded:
        """Batched beam search: see `seqdata.decoding.beam_search`."""
        from seqdata.decoding import beam_search

        options: dict[str, Any] = {
            "max_len": max_len,
            "len_penalty": len_penalty,
            "min_len": min_len,
        }
        return beam_search(
            self, src, src_lengths, beam=beam, return_attention=return_attention, **options
        )

    def _check_target(self, batch: Batch) -> tuple[Tensor, Tensor]:
        if batch.tgt is None or batch.tgt_lengths is None:
            raise ShapeError(
                "Seq2Seq needs a target: batch.tgt and batch.tgt_lengths should be tensors, but "
                "got None; collate a ParallelCorpus (src and tgt), not a single-sequence corpus"
            )
        tgt = batch.tgt
        if tgt.dim() != 2 or tgt.shape[0] != batch.src.shape[0] or tgt.shape[1] < 2:
            raise ShapeError(
                f"batch.tgt should have shape (B, Lt) with B={batch.src.shape[0]} (as src) and "
                f"Lt >= 2 ([SOS] ... [EOS]), but got {tuple(tgt.shape)}"
            )
        lengths = check_lengths(batch.tgt_lengths, tgt, "tgt_lengths")  # (B,) CPU
        if int(lengths.min()) < 2:
            raise ShapeError(
                f"every target should hold at least [SOS, EOS] (length >= 2), but got "
                f"min(tgt_lengths)={int(lengths.min())}; frame targets with frame_target"
            )
        return tgt, lengths
