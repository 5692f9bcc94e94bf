"""Decoding a [`Seq2Seq`][seqdata.models.Seq2Seq]: greedy and batched beam search.

Both loops run on the model's device, stop a hypothesis at EOS (it then only grows PAD at no
cost), and return a [`Decoded`][seqdata.decoding.Decoded] with the ids, lengths, scores and,
on request, the attention weights ``(B, T, S)`` for an alignment heatmap.

- **Length limit.** ``max_len=None`` lets each sentence generate up to
  ``2 * src_len + 10`` tokens (EOS included); an ``int`` is the same limit for every row.
  A hypothesis that reaches its limit ends there without EOS.
- **Minimum length.** EOS cannot be chosen before ``min_len`` tokens (default 1, as in
  fairseq: a translation of a non-empty source is never empty; its log-probability is set
  to ``-inf`` for those steps, in both loops, so ``beam=1`` still equals greedy).
- **Beam search.** ``beam`` hypotheses per sentence, expanded together as one ``(B*K)``
  batch; each step keeps the ``K`` best of the ``K * V`` continuations. Finished
  hypotheses stay in the beam with their score frozen, so they compete with the growing
  ones; the search ends when all ``K`` of every sentence have finished.
- **Length penalty** (GNMT, Wu et al., 2016): hypotheses are ranked by
  ``log P(y) / lp(y)`` with ``lp(y) = ((5 + |y|) / 6) ** len_penalty`` (``|y|`` counts
  EOS). ``len_penalty=0`` ranks by the raw log-probability (short outputs win);
  ``len_penalty=1`` is close to the mean log-probability per token.
- **No host syncs per step.** Whether every hypothesis has finished is read back only every
  `SYNC_EVERY` steps; the extra steps only append PAD and are trimmed at the end.

>>> import torch
>>> from seqdata.models import Seq2Seq
>>> model = Seq2Seq.build(12, 14, embed_dim=8, hidden_size=16).eval()
>>> src, lengths = torch.tensor([[5, 6, 7], [8, 9, 0]]), torch.tensor([3, 2])
>>> out = beam_search(model, src, lengths, beam=4, max_len=6)
>>> out.ids.shape[0], bool((out.lengths <= 6).all()), out.attention is None
(2, True, True)
>>> g = greedy_search(model, src, lengths, max_len=6, return_attention=True)
>>> tuple(g.attention.shape) == (2, g.ids.shape[1], 3)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from seqdata._checks import check_float, check_int, check_optional_int
from seqdata.models.decoder import DecoderState, select_state

if TYPE_CHECKING:
    from seqdata.models.seq2seq import Seq2Seq

__all__ = ["SYNC_EVERY", "Decoded", "beam_search", "default_max_len", "greedy_search"]

#: Decoding loops check "has everything finished?" (a device → host read) every this many steps.
SYNC_EVERY = 8


@dataclass(frozen=True)
class Decoded:
    """The output of a decoding loop.

    Attributes:
        ids: ``(B, T)`` long, on the model's device: each row's tokens, its EOS, then PAD.
        lengths: ``(B,)`` int64 on the CPU: tokens up to and including EOS (the row's
            length limit when it never produced EOS).
        scores: ``(B,)`` float, the total log-probability of each output (natural log).
        attention: ``(B, T, S)`` attention weights of the step that produced each token (zero
            after a row's end), or None when not requested or the model has no attention.
    """

    ids: Tensor
    lengths: Tensor
    scores: Tensor
    attention: Tensor | None = None


def default_max_len(src_lengths: Tensor) -> Tensor:
    """The per-sentence length limit when none is given: ``2 * src_len + 10``, ``(B,)`` CPU.

    >>> default_max_len(torch.tensor([1, 20])).tolist()
    [12, 50]
    """
    return 2 * src_lengths.to("cpu", torch.int64) + 10


def _limits(src_lengths: Tensor, max_len: int | None) -> Tensor:
    if not isinstance(src_lengths, Tensor):
        src_lengths = torch.as_tensor(src_lengths)
    limit = check_optional_int("max_len", max_len)
    if limit is None:
        return default_max_len(src_lengths)  # (B,)
    return torch.full((src_lengths.shape[0],), limit, dtype=torch.int64)  # (B,)


def _model_device(model: Seq2Seq) -> torch.device:
    return next(model.parameters()).device


def _lengths_of(ids: Tensor, eos_id: int, limits: Tensor) -> Tensor:
    """``(B,)`` CPU: position of the first EOS + 1, else the row's limit."""
    is_eos = ids == eos_id  # (B, T)
    first = is_eos.int().argmax(dim=1).cpu()  # (B,) first EOS (0 if none)
    return torch.where(is_eos.any(dim=1).cpu(), first + 1, limits)


@torch.no_grad()
def greedy_search(
    model: Seq2Seq,
    src: Tensor,
    src_lengths: Tensor,
    *,
    max_len: int | None = None,
    min_len: int = 1,
    return_attention: bool = False,
) -> Decoded:
    """Feed the argmax back until every row has produced EOS or reached its limit.

    Call ``model.eval()`` first if the model has dropout.

    Args:
        model: the encoder-decoder.
        src: ``(B, S)`` source ids (moved to the model's device).
        src_lengths: ``(B,)`` source lengths.
        max_len: the most tokens per output, EOS included; None: ``2 * src_len + 10``.
        min_len: the fewest tokens before EOS (0: EOS may come first, an empty output).
        return_attention: also return the attention weights ``(B, T, S)``.
    """
    shortest = check_int("min_len", min_len, low=0)
    cfg, dec = model.config, model.decoder
    limits = _limits(src_lengths, max_len)  # (B,) CPU
    device = _model_device(model)
    memory, mask, enc_state = model.encode(src.to(device), src_lengths)  # (B, S, E), (B, S)
    keys = dec.attention_keys(memory)  # (B, S, H) or None: once, not per step
    state: DecoderState = enc_state
    batch = mask.shape[0]
    limit_dev = limits.to(device)  # (B,)
    inp = torch.full((batch, 1), cfg.sos_id, dtype=torch.long, device=device)  # (B, 1)
    done = torch.zeros(batch, dtype=torch.bool, device=device)  # (B,)
    score = torch.zeros(batch, device=device)  # (B,)
    steps, atts = [], []
    for t in range(int(limits.max())):
        out = dec.run(inp, state, memory, mask, keys=keys)
        state = out.state
        logp = F.log_softmax(dec.project(out.features[:, 0]).float(), -1)  # (B, V)
        if t < shortest:
            logp[:, cfg.eos_id] = float("-inf")
        nxt = logp.argmax(-1)  # (B,)
        step_logp = logp.gather(1, nxt[:, None])[:, 0]  # (B,)
        score += step_logp.masked_fill(done, 0.0)
        if return_attention and out.attention is not None:
            atts.append(out.attention[:, 0].masked_fill(done[:, None], 0.0))  # (B, S)
        nxt = nxt.masked_fill(done, cfg.decoder.pad_id)
        steps.append(nxt)
        done = done | (nxt == cfg.eos_id) | (t + 1 >= limit_dev)
        inp = nxt[:, None]  # (B, 1)
        if (t + 1) % SYNC_EVERY == 0 and bool(done.all()):
            break
    ids = torch.stack(steps, dim=1)  # (B, T)
    lengths = _lengths_of(ids, cfg.eos_id, limits)  # (B,) CPU
    width = int(lengths.max())
    attention = torch.stack(atts, dim=1)[:, :width] if atts else None  # (B, T, S)
    return Decoded(ids[:, :width], lengths, score, attention)


def _penalty(lengths: Tensor, alpha: float) -> Tensor:
    """GNMT length penalty ``((5 + |y|) / 6) ** alpha`` for ``lengths`` of any shape."""
    return ((5.0 + lengths.float()) / 6.0) ** alpha


@torch.no_grad()
def beam_search(
    model: Seq2Seq,
    src: Tensor,
    src_lengths: Tensor,
    *,
    beam: int = 5,
    max_len: int | None = None,
    len_penalty: float = 1.0,
    min_len: int = 1,
    return_attention: bool = False,
) -> Decoded:
    """Batched beam search; the best hypothesis of each sentence by ``log P / lp``.

    ``beam=1`` gives exactly the greedy output. Call ``model.eval()`` first if the model
    has dropout.

    Args:
        model: the encoder-decoder.
        src: ``(B, S)`` source ids (moved to the model's device).
        src_lengths: ``(B,)`` source lengths.
        beam: hypotheses kept per sentence ``K``.
        max_len: the most tokens per output, EOS included; None: ``2 * src_len + 10``.
        len_penalty: the GNMT exponent ``alpha`` (module docstring); 0 turns it off.
        min_len: the fewest tokens before EOS (0: EOS may come first, an empty output).
        return_attention: also return the attention weights ``(B, T, S)`` of the best
            hypotheses.

    Returns:
        A [`Decoded`][seqdata.decoding.Decoded]; ``scores`` is the best hypotheses' total
        log-probability (not length-normalised).
    """
    k = check_int("beam", beam)
    alpha = check_float("len_penalty", len_penalty, low=0.0)
    shortest = check_int("min_len", min_len, low=0)
    cfg, dec = model.config, model.decoder
    limits = _limits(src_lengths, max_len)  # (B,) CPU
    device = _model_device(model)
    memory, mask, state = model.encode(src.to(device), src_lengths)  # (B, S, E), (B, S)
    batch, src_len = mask.shape
    rows = torch.arange(batch, device=device).repeat_interleave(k)  # (B*K,)
    memory, mask = memory.index_select(0, rows), mask.index_select(0, rows)  # (B*K, S, ·)
    keys = dec.attention_keys(memory)  # (B*K, S, H) or None: once, not per step
    beam_state = select_state(state, rows)
    vocab = dec.config.vocab_size
    scores = torch.full((batch, k), float("-inf"), device=device)  # (B, K) sum of log P
    scores[:, 0] = 0.0  # one live hypothesis per sentence at the start
    finished = torch.zeros(batch, k, dtype=torch.bool, device=device)  # (B, K)
    hyp_len = torch.zeros(batch, k, dtype=torch.long, device=device)  # (B, K)
    limit_dev = limits.to(device)[:, None]  # (B, 1)
    offset = (torch.arange(batch, device=device) * k)[:, None]  # (B, 1)
    frozen = torch.full((vocab,), float("-inf"), device=device)  # a finished row: only PAD
    frozen[cfg.decoder.pad_id] = 0.0
    inp = torch.full((batch * k, 1), cfg.sos_id, dtype=torch.long, device=device)  # (B*K, 1)
    tokens, parents, atts = [], [], []
    for t in range(int(limits.max())):
        out = dec.run(inp, beam_state, memory, mask, keys=keys)
        logits = dec.project(out.features[:, 0]).float()  # (B*K, V)
        logp = F.log_softmax(logits, -1).view(batch, k, vocab)  # (B, K, V)
        if t < shortest:
            logp[..., cfg.eos_id] = float("-inf")
        logp = torch.where(finished[..., None], frozen, logp)
        cand = scores[..., None] + logp  # (B, K, V)
        new_len = hyp_len + (~finished).long()  # (B, K)
        key = cand / _penalty(new_len, alpha)[..., None]  # (B, K, V)
        flat = key.view(batch, k * vocab).topk(k, dim=-1).indices  # (B, K)
        parent, token = flat // vocab, flat % vocab  # (B, K)
        scores = cand.view(batch, k * vocab).gather(1, flat)  # (B, K)
        hyp_len = new_len.gather(1, parent)  # (B, K)
        finished = finished.gather(1, parent) | (token == cfg.eos_id) | (hyp_len >= limit_dev)
        beam_state = select_state(out.state, (offset + parent).view(-1))
        tokens.append(token)
        parents.append(parent)
        if return_attention and out.attention is not None:
            atts.append(out.attention[:, 0].view(batch, k, src_len))  # (B, K, S) by parent
        inp = token.view(-1, 1)  # (B*K, 1)
        if (t + 1) % SYNC_EVERY == 0 and bool(finished.all()):
            break
    best = (scores / _penalty(hyp_len, alpha)).argmax(dim=1, keepdim=True)  # (B, 1)
    return _backtrack(tokens, parents, atts, best, scores, hyp_len, cfg.decoder.pad_id)


def _backtrack(
    tokens: list[Tensor],
    parents: list[Tensor],
    atts: list[Tensor],
    best: Tensor,
    scores: Tensor,
    hyp_len: Tensor,
    pad_id: int,
) -> Decoded:
    """Follow the parent pointers of hypothesis ``best`` ``(B, 1)`` back to the first step."""
    lengths = hyp_len.gather(1, best)[:, 0].cpu()  # (B,) CPU
    width = int(lengths.max())
    out_ids, out_att = [], []
    cur = best  # (B, 1) beam index at step t
    for t in range(len(tokens) - 1, -1, -1):
        parent = parents[t].gather(1, cur)  # (B, 1) its beam at step t - 1
        if t < width:
            out_ids.append(tokens[t].gather(1, cur)[:, 0])  # (B,)
            if atts:
                size = atts[t].shape[-1]
                out_att.append(atts[t].gather(1, parent[..., None].expand(-1, 1, size))[:, 0])
        cur = parent
    ids = torch.stack(out_ids[::-1], dim=1)  # (B, T)
    attention = None
    if out_att:
        real = torch.arange(width, device=ids.device)[None, :] < lengths.to(ids.device)[:, None]
        attention = torch.stack(out_att[::-1], dim=1) * real[..., None]  # (B, T, S)
    return Decoded(ids, lengths, scores.gather(1, best)[:, 0], attention)
