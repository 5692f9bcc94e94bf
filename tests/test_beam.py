"""Beam search and greedy decoding: a hand-built model where greedy provably loses, beam=1 is
greedy, beams stop at EOS, batching changes nothing, attention weights are returned."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn.utils.rnn import pad_sequence

from seqdata.decoding import Decoded, beam_search, default_max_len, greedy_search
from seqdata.errors import ConfigError
from seqdata.models import Seq2Seq

PAD, UNK, SOS, EOS, A, B = 0, 1, 2, 3, 4, 5
VARIANTS = [
    ("gru", None, False),
    ("lstm", "dot", False),
    ("rnn", "general", False),
    ("gru", "additive", False),
    ("lstm", "general", True),
    ("gru", "additive", True),
]


def padded(seqs):
    src = pad_sequence([torch.tensor(s) for s in seqs], batch_first=True, padding_value=PAD)
    return src, torch.tensor([len(s) for s in seqs])


def random_model(cell, attention, input_feed, seed=0, vocab=12):
    torch.manual_seed(seed)
    model = Seq2Seq.build(
        vocab,
        vocab,
        embed_dim=8,
        hidden_size=8,
        cell=cell,
        attention=attention,
        input_feed=input_feed,
        bidirectional=attention != "dot",
    ).eval()
    with torch.no_grad():
        model.decoder.out.bias[EOS] += 1.5  # most outputs end within the limit
    return model


def markov_model(table: dict[int, dict[int, float]]) -> Seq2Seq:
    """A real Seq2Seq whose decoder is a first-order Markov chain P(next | previous token).

    Elman cell with embedding = one-hot, W_ih = 10·I, W_hh = 0: h_t = tanh(10·onehot(y_{t-1})),
    ≈ onehot to 1e-8; the output layer holds log P(next | prev) in column prev. The bridge is
    zeroed, so the source does not matter.
    """
    v = 6
    model = Seq2Seq.build(v, v, embed_dim=v, hidden_size=v, cell="rnn", attention=None).eval()
    logp = torch.full((v, v), math.log(1e-6))  # (next, prev)
    for prev, nexts in table.items():
        for nxt, p in nexts.items():
            logp[nxt, prev] = math.log(p)
    dec = model.decoder
    with torch.no_grad():
        for p in model.bridge_h.parameters():
            p.zero_()
        dec.embedding.weight.copy_(torch.eye(v))
        dec.rnn.weight_ih_l0.copy_(10 * torch.eye(v))
        dec.rnn.weight_hh_l0.zero_()
        dec.rnn.bias_ih_l0.zero_()
        dec.rnn.bias_hh_l0.zero_()
        dec.out.weight.copy_(logp / math.tanh(10.0))
        dec.out.bias.zero_()
    return model


# From SOS, A is likelier (0.55) but leads nowhere good: after A every token is ~1/3 and A
# loops. B (0.45) is followed by EOS with 0.95: P(B EOS) = 0.4275 > P(A ·) <= 0.55 * 0.34.
TRAP = {
    SOS: {A: 0.55, B: 0.45},
    A: {A: 0.34, B: 0.33, EOS: 0.33},
    B: {EOS: 0.95, A: 0.05},
}


def test_greedy_falls_into_the_trap_and_beam_finds_the_likelier_output():
    model = markov_model(TRAP)
    src, lengths = padded([[4, 5, 4]])
    greedy = greedy_search(model, src, lengths, max_len=6)
    assert greedy.ids[0].tolist() == [A] * 6  # loops A A A … to the limit
    assert greedy.lengths.tolist() == [6]
    beam = beam_search(model, src, lengths, beam=2, max_len=6)
    assert beam.ids[0].tolist() == [B, EOS]
    assert beam.lengths.tolist() == [2]
    assert beam.scores[0].item() == pytest.approx(math.log(0.45 * 0.95), abs=1e-4)
    assert greedy.scores[0].item() == pytest.approx(math.log(0.55 * 0.34**5), abs=1e-4)
    assert beam.scores[0] > greedy.scores[0]
    # The greedy output also loses under the length-normalised ranking the beam uses.
    assert beam_search(model, src, lengths, beam=1, max_len=6).ids[0].tolist() == [A] * 6


def test_length_penalty_zero_prefers_the_shorter_of_two_outputs():
    # SOS→A→EOS (0.5·0.9=0.45) vs SOS→B→A→EOS: B then a long, sure tail. lp=0 takes the short.
    table = {SOS: {A: 0.5, B: 0.5}, A: {EOS: 0.9, B: 0.1}, B: {A: 0.99, EOS: 0.01}}
    model = markov_model(table)
    src, lengths = padded([[4]])
    short = beam_search(model, src, lengths, beam=3, max_len=5, len_penalty=0.0)
    assert short.ids[0].tolist() == [A, EOS]
    assert short.scores[0].item() == pytest.approx(math.log(0.45), abs=1e-4)


@pytest.mark.parametrize(("cell", "attention", "input_feed"), VARIANTS)
def test_beam_of_one_equals_greedy_exactly(cell, attention, input_feed):
    model = random_model(cell, attention, input_feed)
    g = torch.Generator().manual_seed(1)
    src, lengths = padded([torch.randint(4, 12, (n,), generator=g).tolist() for n in (5, 2, 7, 3)])
    greedy = greedy_search(model, src, lengths, return_attention=True)
    beam = beam_search(model, src, lengths, beam=1, return_attention=True)
    assert torch.equal(beam.ids, greedy.ids)
    assert torch.equal(beam.lengths, greedy.lengths)
    torch.testing.assert_close(beam.scores, greedy.scores)
    if attention is None:
        assert beam.attention is None and greedy.attention is None
    else:
        torch.testing.assert_close(beam.attention, greedy.attention)
    ids, lens = model.greedy_decode(src, lengths, max_len=9)
    fixed = greedy_search(model, src, lengths, max_len=9)
    assert torch.equal(ids, fixed.ids) and torch.equal(lens, fixed.lengths)


@pytest.mark.parametrize(("cell", "attention", "input_feed"), VARIANTS)
def test_beams_stop_at_eos_and_respect_the_length_limit(cell, attention, input_feed):
    model = random_model(cell, attention, input_feed, seed=2)
    src, lengths = padded([[4, 5, 6], [7], [8, 9, 10, 11, 4, 5]])
    out = beam_search(model, src, lengths, beam=4)
    limits = default_max_len(lengths)
    assert bool((out.lengths <= limits).all())
    assert out.ids.shape[1] == int(out.lengths.max())
    for row, n in zip(out.ids.tolist(), out.lengths.tolist(), strict=True):
        body = row[:n]
        if EOS in body:
            assert body.index(EOS) == n - 1  # nothing grows after EOS
        assert all(tok == PAD for tok in row[n:])


def test_a_model_that_never_stops_runs_to_two_source_lengths_plus_ten():
    model = random_model("gru", "general", False)
    with torch.no_grad():
        model.decoder.out.bias[EOS] = -1e4
    src, lengths = padded([[4, 5, 6], [7]])
    for out in (beam_search(model, src, lengths, beam=3), greedy_search(model, src, lengths)):
        assert out.lengths.tolist() == [16, 12]
        assert not bool((out.ids == EOS).any())


# From SOS the model's first choice is EOS (an empty output); then A, then EOS again.
EAGER = {SOS: {EOS: 0.6, A: 0.4}, A: {EOS: 0.6, A: 0.25, B: 0.15}, B: {EOS: 0.9, B: 0.1}}


@pytest.mark.parametrize("min_len", [0, 1, 3])
def test_eos_waits_for_min_len_tokens_in_both_loops(min_len):
    model = markov_model(EAGER)
    src, lengths = padded([[4, 5], [4]])
    greedy = greedy_search(model, src, lengths, min_len=min_len)
    beams = [beam_search(model, src, lengths, beam=k, min_len=min_len) for k in (1, 3)]
    assert greedy.ids.tolist() == beams[0].ids.tolist()  # beam 1 is still greedy
    torch.testing.assert_close(greedy.scores, beams[0].scores)
    for out in (greedy, *beams):
        words = out.lengths - 1  # every row ends with EOS here
        assert out.ids[:, min_len].tolist() == [EOS, EOS]  # the first EOS allowed is taken
        assert words.tolist() == [min_len, min_len]
    if min_len == 0:
        assert greedy.ids[:, 0].tolist() == [EOS, EOS]  # the empty output it would give
    else:  # forced words: A first (0.4 beats UNK, B, ...), then the likeliest continuation
        assert greedy.ids[:, 0].tolist() == [A, A]


@pytest.mark.parametrize(("cell", "attention", "input_feed"), VARIANTS[1:4])
def test_batched_beam_search_equals_one_sentence_at_a_time(cell, attention, input_feed):
    model = random_model(cell, attention, input_feed, seed=3)
    g = torch.Generator().manual_seed(4)
    seqs = [torch.randint(4, 12, (n,), generator=g).tolist() for n in (6, 1, 4, 9, 2)]
    src, lengths = padded(seqs)
    batched = beam_search(model, src, lengths, beam=3, return_attention=True)
    for i, seq in enumerate(seqs):
        one = beam_search(model, *padded([seq]), beam=3, return_attention=True)
        n = int(one.lengths[0])
        assert batched.lengths[i].item() == n
        assert batched.ids[i, :n].tolist() == one.ids[0, :n].tolist()
        torch.testing.assert_close(batched.scores[i], one.scores[0], atol=1e-5, rtol=1e-5)
        assert batched.attention is not None and one.attention is not None
        torch.testing.assert_close(
            batched.attention[i, :n, : len(seq)], one.attention[0, :n], atol=1e-5, rtol=1e-5
        )


@pytest.mark.parametrize("attention", ["dot", "general", "additive"])
def test_attention_weights_are_distributions_over_the_real_source(attention):
    model = random_model("gru", attention, False, seed=5)
    src, lengths = padded([[4, 5, 6, 7], [8, 9]])
    for out in (
        greedy_search(model, src, lengths, return_attention=True),
        beam_search(model, src, lengths, beam=3, return_attention=True),
    ):
        assert isinstance(out, Decoded) and out.attention is not None
        assert out.attention.shape == (2, out.ids.shape[1], 4)  # (B, T, S)
        assert out.attention[1, :, 2:].abs().sum() == 0  # padded source positions
        for row, n in enumerate(out.lengths.tolist()):
            sums = out.attention[row].sum(-1)
            torch.testing.assert_close(sums[:n], torch.ones(n))
            assert sums[n:].abs().sum() == 0


def test_bad_decoding_arguments_are_config_errors():
    model = random_model("gru", "general", False)
    src, lengths = padded([[4, 5]])
    with pytest.raises(ConfigError, match="beam should be a positive integer"):
        beam_search(model, src, lengths, beam=0)
    with pytest.raises(ConfigError, match="len_penalty should be"):
        beam_search(model, src, lengths, len_penalty=-1.0)
    with pytest.raises(ConfigError, match="max_len should be"):
        greedy_search(model, src, lengths, max_len=0)
    for search in (greedy_search, beam_search):
        with pytest.raises(ConfigError, match="min_len should be"):
            search(model, src, lengths, min_len=-1)


def test_seq2seq_methods_delegate_to_the_loops():
    model = random_model("lstm", "additive", True)
    src, lengths = padded([[4, 5, 6], [7, 8]])
    a = model.beam_search(src, lengths, beam=2, max_len=7)
    b = beam_search(model, src, lengths, beam=2, max_len=7)
    assert torch.equal(a.ids, b.ids)
    assert torch.equal(model.greedy(src, lengths).ids, greedy_search(model, src, lengths).ids)


@pytest.mark.parametrize(("cell", "attention", "input_feed"), VARIANTS)
def test_the_attention_keys_are_projected_once_per_search_not_per_step(cell, attention, input_feed):
    model = random_model(cell, attention, input_feed)
    proj = model.decoder.attn_proj
    if proj is None:  # no attention, or "dot": the memory itself is the keys
        assert model.decoder.attention_keys(torch.randn(2, 3, 8)) is None
        return
    with torch.no_grad():
        model.decoder.out.bias[EOS] -= 20.0  # no EOS: every search runs all 9 steps
    calls = []
    proj.register_forward_hook(lambda *_: calls.append(1))
    src, lengths = padded([[A, B, A], [B, A]])
    for search, kwargs in ((greedy_search, {}), (beam_search, {"beam": 3})):
        calls.clear()
        out = search(model, src, lengths, max_len=9, **kwargs)
        assert out.ids.shape[1] == 9 and len(calls) == 1


@pytest.mark.parametrize(("cell", "attention", "input_feed"), VARIANTS)
def test_precomputed_keys_give_the_same_outputs(cell, attention, input_feed):
    model = random_model(cell, attention, input_feed)
    src, lengths = padded([[A, B, A], [B, A]])
    memory, mask, state = model.encode(src, lengths)
    tgt_in = torch.tensor([[SOS, A, B], [SOS, B, B]])
    plain = model.decoder.run(tgt_in, state, memory, mask)
    keyed = model.decoder.run(
        tgt_in, state, memory, mask, keys=model.decoder.attention_keys(memory)
    )
    torch.testing.assert_close(keyed.features, plain.features, rtol=0, atol=0)
    if plain.attention is not None:
        torch.testing.assert_close(keyed.attention, plain.attention, rtol=0, atol=0)
