"""Translate raw text with a trained [`Seq2Seq`][seqdata.models.Seq2Seq] and its pipeline.

The sentences are encoded with the pipeline, sorted by length so that each batch holds
sentences of similar length, decoded (greedily, or with a beam) to EOS on the chosen device,
detokenized, and returned in the input order. With ``replace_unk`` each UNK in an output is
replaced by the source token that the model attended to most when it wrote the UNK
(OpenNMT's ``-replace_unk``, Luong et al. 2015): names and numbers outside a word
vocabulary come through instead of ``<unk>``.

[`reference_nll`][seqdata.translation.reference_nll] scores references instead: the model's
teacher-forced negative log-likelihood of each reference given its source, the number behind
perplexity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from seqdata._checks import check_int, check_optional_int
from seqdata.collate import PadCollate
from seqdata.device import move_model
from seqdata.errors import ConfigError, ParallelMismatchError, SeqdataError
from seqdata.models import Seq2Seq
from seqdata.ragged import Ragged
from seqdata.sentencepiece import SentencePieceTokenizer

if TYPE_CHECKING:
    from seqdata.pipeline import PairPipeline

__all__ = ["reference_nll", "translate"]


def _check_model(model: object) -> None:
    if not isinstance(model, Seq2Seq):
        raise ConfigError(
            f"translation needs a Seq2Seq checkpoint, but this one holds a {type(model).__name__}"
        )


@torch.no_grad()
def translate(
    model: Seq2Seq,
    pipeline: PairPipeline,
    texts: Sequence[str],
    *,
    beam: int = 1,
    len_penalty: float = 1.0,
    max_len: int | None = None,
    min_len: int = 1,
    batch_size: int = 64,
    device: torch.device | str | None = None,
    replace_unk: bool = False,
) -> list[str]:
    """Translate raw ``texts`` with a trained model and its pipeline, in order.

    Texts are encoded with ``pipeline.encode_source``, batched by length, decoded to EOS
    and detokenized with ``pipeline.decode_target``. A text with no tokens translates to
    ``""``. The model is moved to ``device`` first, and every batch is built there.

    Args:
        model: a trained [`Seq2Seq`][seqdata.models.Seq2Seq].
        pipeline: the [`PairPipeline`][seqdata.PairPipeline] it was trained with.
        texts: one source sentence each.
        beam: beam width; 1 decodes greedily (the argmax fed back to EOS).
        len_penalty: the beam's length normalisation exponent (GNMT's alpha; 0: none).
        max_len: the most target tokens to generate (EOS included); default
            ``2 × source length + 10`` per sentence.
        min_len: the fewest tokens before EOS (default 1: a translation of a sentence with
            tokens is never empty; 0 lets the model stop at once).
        batch_size: sentences decoded at once.
        device: where to decode: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a
            ``torch.device`` (default: where the model is).
        replace_unk: write, for each UNK, the source token with the largest attention weight
            at the step that produced it (as the source tokenizer gave it, e.g. lowercased).

    Returns:
        One translation per text, in the order of ``texts``.

    Raises:
        ConfigError: ``model`` is not a Seq2Seq, a bad ``batch_size``/``max_len``, a device
            this machine does not have, or ``replace_unk`` for a model without attention.
    """
    _check_model(model)
    check_int("batch_size", batch_size)
    check_int("beam", beam)
    check_optional_int("max_len", max_len)
    check_int("min_len", min_len, low=0)
    _check_attention(model, replace_unk)
    dev = move_model(model, device)
    model.eval()
    out = [""] * len(texts)
    ids, keep = _encode_sources(pipeline, texts)
    if not ids:
        return out
    write = _Writer(pipeline, [texts[i] for i in keep], replace_unk)
    search: dict[str, Any] = {"max_len": max_len, "min_len": min_len}
    ragged = Ragged.from_sequences(ids)
    order = np.argsort(-ragged.lengths, kind="stable")
    pad = model.config.decoder.pad_id
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        src = ragged.take(chunk, pad_id=pad).to(dev)  # (B, S)
        lengths = torch.from_numpy(ragged.lengths[chunk])  # (B,)
        if beam == 1:
            decoded = model.greedy(src, lengths, return_attention=replace_unk, **search)
        else:
            decoded = model.beam_search(
                src,
                lengths,
                beam=beam,
                len_penalty=len_penalty,
                return_attention=replace_unk,
                **search,
            )
        hyp, hyp_lengths = decoded.ids.cpu(), decoded.lengths.cpu()  # (B, T), (B,)
        attention = None if decoded.attention is None else decoded.attention.cpu()  # (B, T, S)
        for row, j in enumerate(chunk.tolist()):
            hyp_ids = hyp[row, : int(hyp_lengths[row])].tolist()
            out[keep[j]] = write(j, hyp_ids, None if attention is None else attention[row])
    return out


def _check_attention(model: Seq2Seq, replace_unk: bool) -> None:
    if replace_unk and model.config.decoder.attention is None:
        raise ConfigError(
            "replace_unk copies the source token the model attended to, but this model has no "
            "attention (attention=None); translate without replace_unk"
        )


def _encode_sources(
    pipeline: PairPipeline, texts: Sequence[str]
) -> tuple[list[list[int]], list[int]]:
    """The source ids of the texts with tokens, and their positions in ``texts`` (an empty
    line has nothing to translate; any other text that cannot be encoded raises)."""
    ids: list[list[int]] = []
    keep: list[int] = []
    for i, text in enumerate(texts):
        try:
            encoded = pipeline.encode_source(text)
        except SeqdataError:
            if text.strip():
                raise
            continue
        if len(encoded):
            ids.append(list(encoded))
            keep.append(i)
    return ids, keep


class _Writer:
    """Detokenized outputs; with ``replace_unk``, each UNK replaced by the most attended
    source token.

    A sentencepiece source piece is copied as its text (``"▁Zürich"`` → ``"Zürich"``); into
    a sentencepiece target it goes as a word of its own (``" Zürich"``, which the
    detokenizer writes as is), so copies read right whichever tokenizers the pair uses."""

    def __init__(self, pipeline: PairPipeline, texts: Sequence[str], replace_unk: bool) -> None:
        self.pipeline = pipeline
        self.texts = texts
        self.replace_unk = replace_unk
        vocab = pipeline.tgt_vocab
        self.unk_id = vocab.unk_id
        self.unk_token = vocab.lookup_token(vocab.unk_id)
        self.src_pieces = isinstance(pipeline.src_tokenizer, SentencePieceTokenizer)
        self.tgt_pieces = isinstance(pipeline.tgt_tokenizer, SentencePieceTokenizer)

    def _as_target(self, token: str) -> str:
        text = token.replace("\u2581", " ").strip() if self.src_pieces else token
        return " " + text if self.tgt_pieces else text

    def __call__(self, index: int, hyp_ids: list[int], attention: torch.Tensor | None) -> str:
        """The text of ``hyp_ids`` ``(T,)`` of source ``texts[index]``; ``attention``
        ``(T', S)`` with ``T' >= T`` (row ``t`` produced ``hyp_ids[t]``), or None."""
        pipe = self.pipeline
        tokens = pipe.tgt_vocab.decode(hyp_ids, strip_specials=True)  # stops at EOS, keeps UNK
        steps = [t for t, i in enumerate(hyp_ids) if i == self.unk_id]
        if self.replace_unk and attention is not None and steps:
            source = pipe.src_tokenizer(self.texts[index])[: pipe.max_len]
            found = attention[steps, : len(source)].argmax(dim=-1).tolist()
            picks = iter(found)  # UNKs come in the same order in tokens and in hyp_ids
            tokens = [
                self._as_target(source[next(picks)]) if t == self.unk_token else t for t in tokens
            ]
        return pipe.tgt_tokenizer.detokenize(tokens)


@torch.no_grad()
def reference_nll(
    model: Seq2Seq,
    pipeline: PairPipeline,
    sources: Sequence[str],
    references: Sequence[str],
    *,
    batch_size: int = 64,
    device: torch.device | str | None = None,
) -> tuple[float, int]:
    """Teacher-forced negative log-likelihood of ``references`` given ``sources``.

    Each pair is encoded with ``pipeline.encode_pair`` (so a reference longer than the
    pipeline's ``max_len`` is cut as in training), and the model predicts every reference
    token after SOS, EOS included, from the gold prefix, without label smoothing. Pairs
    whose source has no tokens are skipped (they translate to ``""``). ``exp`` of the mean
    is the perplexity ([`perplexity`][seqdata.metrics.perplexity]).

    Args:
        model: a trained [`Seq2Seq`][seqdata.models.Seq2Seq]; moved to ``device``.
        pipeline: the [`PairPipeline`][seqdata.PairPipeline] it was trained with.
        sources: ``N`` source sentences.
        references: ``N`` reference translations, aligned with ``sources``.
        batch_size: pairs scored at once.
        device: where to run (default: where the model is).

    Returns:
        ``(mean NLL in nats per reference token, number of reference tokens)``;
        ``(nan, 0)`` when no pair has a source token.

    Raises:
        ConfigError: ``model`` is not a Seq2Seq, or a bad ``batch_size``.
        ParallelMismatchError: ``len(sources) != len(references)``.
    """
    _check_model(model)
    check_int("batch_size", batch_size)
    if len(sources) != len(references):
        raise ParallelMismatchError(
            f"sources and references should be aligned, but got {len(sources)} sources and "
            f"{len(references)} references"
        )
    pairs = []
    for src_text, ref_text in zip(sources, references, strict=True):
        try:
            pairs.append(pipeline.encode_pair(src_text, ref_text))
        except SeqdataError:
            if src_text.strip():
                raise
    dev = move_model(model, device)
    was_training = model.training
    model.eval()
    pairs.sort(key=lambda pair: len(pair[0]), reverse=True)
    collate = PadCollate(pad_id=model.config.decoder.pad_id)
    total = torch.zeros((), dtype=torch.float64, device=dev)
    tokens = 0
    for start in range(0, len(pairs), batch_size):
        batch = collate(pairs[start : start + batch_size]).to(dev, non_blocking=True)
        n = model.num_targets(batch)
        total += model.loss(batch, 1.0, label_smoothing=0.0).double() * n
        tokens += n
    model.train(was_training)
    return (float(total) / tokens if tokens else float("nan")), tokens
