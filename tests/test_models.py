"""Reference models: the notes' shapes, packing, bridge, decoding, gradients and learning."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.utils.rnn import pad_sequence

from seqdata.collate import Batch
from seqdata.errors import ConfigError, ShapeError
from seqdata.models import (
    CharLM,
    Decoder,
    Encoder,
    Seq2Seq,
    SequenceClassifier,
    SequenceTagger,
)
from seqdata.train import evaluate, exact_match, fit

CELLS = ["gru", "lstm", "rnn"]
PAD, SOS, EOS = 0, 2, 3


def h_of(state):
    return state[0] if isinstance(state, tuple) else state


def padded(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    src = pad_sequence([torch.tensor(s) for s in seqs], batch_first=True, padding_value=PAD)
    return src, torch.tensor([len(s) for s in seqs])


def reverse_task(n: int, seed: int) -> tuple[list[list[int]], list[list[int]]]:
    """Digit strings of length 3-8 (ids 4..13) and their reversals framed [SOS] ... [EOS]."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(3, 9, (n,), generator=g).tolist()
    src = [torch.randint(4, 14, (k,), generator=g).tolist() for k in lengths]
    return src, [[SOS, *s[::-1], EOS] for s in src]


def batches(src, tgt, batch_size: int, seed: int | None = None) -> list[Batch]:
    order = (
        torch.randperm(len(src), generator=torch.Generator().manual_seed(seed))
        if seed is not None
        else torch.arange(len(src))
    ).tolist()
    out = []
    for i in range(0, len(src), batch_size):
        idx = order[i : i + batch_size]
        s, sl = padded([src[k] for k in idx])
        t, tl = padded([tgt[k] for k in idx])
        out.append(Batch(src=s, src_lengths=sl, tgt=t, tgt_lengths=tl))
    return out


# ---------------------------------------------------------------- encoder shapes and packing


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_encoder_shapes_match_the_notes(cell, num_layers, bidirectional):
    dirs, hidden = (2 if bidirectional else 1), 6
    enc = Encoder(30, 5, hidden, cell, num_layers, bidirectional)
    src, lengths = padded([[4, 5, 6, 7], [8, 9], [10, 11, 12]])
    outputs, state = enc(src, lengths)
    assert outputs.shape == (3, 4, dirs * hidden)  # the notes' (L, B, dirs*d_h), batch first
    assert h_of(state).shape == (num_layers * dirs, 3, hidden)  # (layers*dirs, B, d_h)
    if cell == "lstm":
        assert isinstance(state, tuple) and state[1].shape == (num_layers * dirs, 3, hidden)
    else:
        assert isinstance(state, torch.Tensor)
    assert outputs[1, 2:].abs().sum() == 0 and outputs[2, 3:].abs().sum() == 0  # padding


@settings(max_examples=15, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 7), min_size=1, max_size=5),
    cell=st.sampled_from(CELLS),
    bidirectional=st.booleans(),
    num_layers=st.integers(1, 2),
)
def test_packed_batch_equals_each_sequence_run_alone(lengths, cell, bidirectional, num_layers):
    torch.manual_seed(1)
    enc = Encoder(20, 4, 5, cell, num_layers, bidirectional).eval()
    seqs = [torch.randint(1, 20, (k,)).tolist() for k in lengths]  # unsorted lengths
    src, lens = padded(seqs)
    src = torch.cat([src, torch.full((len(seqs), 2), PAD)], dim=1)  # extra padding columns
    outputs, state = enc(src, lens)
    for b, seq in enumerate(seqs):
        alone_out, alone_state = enc(torch.tensor([seq]), torch.tensor([len(seq)]))
        k = len(seq)
        torch.testing.assert_close(outputs[b, :k], alone_out[0], atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(h_of(state)[:, b], h_of(alone_state)[:, 0], atol=1e-6, rtol=1e-5)
        assert outputs[b, k:].abs().sum() == 0


@pytest.mark.parametrize("cell", CELLS)
def test_final_state_is_taken_at_each_sequences_last_real_token(cell):
    enc = Encoder(20, 4, 5, cell, num_layers=2, bidirectional=True)
    src, lens = padded([[4, 5], [6, 7, 8, 9, 10], [11, 12, 13]])
    outputs, state = enc(src, lens)  # (B, L, 2H)
    top = h_of(state).view(2, 2, 3, 5)[-1]  # (dirs, B, H) of the top layer
    for b, k in enumerate(lens.tolist()):
        torch.testing.assert_close(top[0, b], outputs[b, k - 1, :5])  # forward: last real token
        torch.testing.assert_close(top[1, b], outputs[b, 0, 5:])  # backward: first token
    # ... and not at the padding: a unidirectional run over the padded batch without packing
    # ends at the padding, which gives a different state for the shorter sequences.
    uni = Encoder(20, 4, 5, cell)
    _, packed_state = uni(src, lens)
    _, unpacked_state = uni.rnn(uni.embedding(src))
    assert torch.allclose(h_of(packed_state)[0, 1], h_of(unpacked_state)[0, 1])  # full length
    assert not torch.allclose(h_of(packed_state)[0, 0], h_of(unpacked_state)[0, 0])


def test_encoder_accepts_lengths_of_any_integer_dtype_and_order():
    enc = Encoder(20, 4, 5)
    src, lens = padded([[4, 5], [6, 7, 8]])
    a, _ = enc(src, lens)
    b, _ = enc(src, lens.to(torch.int32))
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    ("src", "lengths", "match"),
    [
        (torch.tensor([[4, 25, 6]]), torch.tensor([3]), r"id 25 at \(row 0, position 1\)"),
        (torch.tensor([[4, -1, 6]]), torch.tensor([3]), r"id -1"),
        (torch.tensor([[4, 5], [6, 7]]), torch.tensor([2]), r"shape \(B,\) = \(2,\)"),
        (torch.tensor([[4, 5]]), torch.tensor([3]), r"in \[1, 2\]"),
        (torch.tensor([[4, 5]]), torch.tensor([0]), r"in \[1, 2\]"),
        (torch.tensor([4, 5]), torch.tensor([2]), r"2-D \(B, L\)"),
        (torch.tensor([[4.0, 5.0]]), torch.tensor([2]), r"integer ids"),
        (torch.tensor([[4, 5]]), torch.tensor([2.0]), r"integer tensor"),
    ],
)
def test_encoder_rejects_bad_input_with_a_message(src, lengths, match):
    with pytest.raises(ShapeError, match=match):
        Encoder(20, 4, 5)(src, lengths)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cell": "lstmx"}, r"cell should be one of"),
        ({"hidden_size": 0}, r"hidden_size should be a positive integer, but got hidden_size=0"),
        ({"num_layers": 1.5}, r"num_layers should be a positive integer"),
        ({"dropout": 1.5}, r"dropout should be a number in \[0, 1\]"),
        ({"pad_id": 20}, r"pad_id should be an id in \[0, vocab_size=20\)"),
    ],
)
def test_model_configs_reject_bad_arguments(kwargs, match):
    args = {"vocab_size": 20, "embed_dim": 4, "hidden_size": 5, **kwargs}
    with pytest.raises(ConfigError, match=match):
        Encoder(**args)
    if "pad_id" not in kwargs:
        with pytest.raises(ConfigError, match=match):
            CharLM(**args)


# ---------------------------------------------------------------- seq2seq: bridge, forward


@pytest.mark.parametrize("enc_cell", CELLS)
@pytest.mark.parametrize("dec_cell", CELLS)
@pytest.mark.parametrize(("enc_layers", "dec_layers"), [(1, 1), (2, 1), (1, 2), (3, 2)])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_any_encoder_pairs_with_any_decoder(
    enc_cell, dec_cell, enc_layers, dec_layers, bidirectional
):
    enc = Encoder(15, 4, 6, enc_cell, enc_layers, bidirectional)
    dec = Decoder(16, 4, 7, dec_cell, dec_layers, attention="general", memory_size=enc.output_size)
    model = Seq2Seq(enc, dec)
    batch = batches(*reverse_task(3, seed=0), batch_size=3)[0]
    _, state = enc(batch.src, batch.src_lengths)
    init = model.bridge(state)
    assert h_of(init).shape == (dec_layers, 3, 7)
    assert isinstance(init, tuple) == (dec_cell == "lstm")
    assert model(batch).shape == (3, batch.tgt.shape[1] - 1, 16)


def test_bridge_maps_layers_as_documented():
    # Shallower decoder: only the encoder's top layer matters.
    model = Seq2Seq(Encoder(15, 4, 6, num_layers=3, bidirectional=True), Decoder(15, 4, 6))
    h = torch.randn(3 * 2, 2, 6)
    changed = h.clone()
    changed[:4] = torch.randn(4, 2, 6)  # layers 0 and 1, both directions
    torch.testing.assert_close(model.bridge(h), model.bridge(changed))
    changed[5] += 1.0  # top layer, backward direction
    assert not torch.allclose(model.bridge(h), model.bridge(changed))
    # Deeper decoder: the top encoder layer is repeated.
    deep = Seq2Seq(Encoder(15, 4, 6, num_layers=1), Decoder(15, 4, 6, num_layers=3))
    h0 = deep.bridge(torch.randn(1, 2, 6))
    torch.testing.assert_close(h0[0], h0[2])


def test_teacher_forced_single_call_equals_the_step_by_step_loop():
    model = Seq2Seq.build(15, 15, embed_dim=8, hidden_size=12, cell="lstm", num_layers=2)
    batch = batches(*reverse_task(6, seed=1), batch_size=6)[0]
    fast = model(batch, teacher_forcing_ratio=1.0)  # (B, Lt-1, V), one packed call
    memory, mask, state = model.encode(batch.src, batch.src_lengths)
    steps = []
    for t in range(batch.tgt.shape[1] - 1):  # the notes' loop, feeding the gold token
        logits, state = model.decoder(batch.tgt[:, t : t + 1], state, memory, mask)
        steps.append(logits)
    slow = torch.cat(steps, dim=1)
    real = batch.tgt[:, 1:] != PAD
    torch.testing.assert_close(fast[real], slow[real], atol=1e-5, rtol=1e-4)


def test_loss_ignores_padding_of_the_target():
    model = Seq2Seq.build(15, 15, embed_dim=8, hidden_size=12)
    batch = batches(*reverse_task(5, seed=2), batch_size=5)[0]
    wider = Batch(
        src=batch.src,
        src_lengths=batch.src_lengths,
        tgt=torch.cat([batch.tgt, torch.full((5, 3), PAD)], dim=1),
        tgt_lengths=batch.tgt_lengths,
    )
    torch.testing.assert_close(model.loss(batch), model.loss(wider))
    assert model.num_targets(batch) == int(batch.tgt_lengths.sum()) - 5


def test_seq2seq_rejects_bad_pairs_and_batches():
    enc = Encoder(15, 4, 6, bidirectional=True)
    with pytest.raises(ConfigError, match=r"memory_size=12"):
        Seq2Seq(enc, Decoder(15, 4, 6, attention="general"))
    with pytest.raises(ConfigError, match=r"attention='dot' .* memory_size should equal"):
        Decoder(15, 4, 6, attention="dot", memory_size=12)
    with pytest.raises(ConfigError, match=r"eos_id should be an id in \[0, vocab_size=15\)"):
        Seq2Seq(enc, Decoder(15, 4, 6), eos_id=15)
    model = Seq2Seq(enc, Decoder(15, 4, 6))
    batch = batches(*reverse_task(2, seed=3), batch_size=2)[0]
    with pytest.raises(ShapeError, match=r"needs a target"):
        model(Batch(src=batch.src, src_lengths=batch.src_lengths))
    short = Batch(batch.src, batch.src_lengths, batch.tgt, torch.tensor([1, 2]))
    with pytest.raises(ShapeError, match=r"at least \[SOS, EOS\]"):
        model(short)
    with pytest.raises(ConfigError, match=r"max_len should be a positive integer"):
        model.greedy_decode(batch.src, batch.src_lengths, max_len=0)


# ---------------------------------------------------------------- greedy decoding


def _free_running_chain(model, src, lens, max_len):
    """The notes' loop run for ``max_len`` steps without ever stopping: (B, max_len) argmaxes."""
    memory, mask, state = model.encode(src, lens)
    inp, chain = torch.full((src.shape[0], 1), SOS), []
    with torch.no_grad():
        for _ in range(max_len):
            logits, state = model.decoder(inp, state, memory, mask)
            inp = logits.argmax(-1)  # (B, 1)
            chain.append(inp)
    return torch.cat(chain, dim=1)


def _first_eos_stops(chain, max_len):
    rows = chain.tolist()
    return [row.index(EOS) + 1 if EOS in row else max_len for row in rows]


@pytest.mark.parametrize("cell", CELLS)
def test_greedy_decode_stops_each_sequence_at_its_own_eos(cell):
    torch.manual_seed(4)
    model = Seq2Seq.build(15, 10, embed_dim=8, hidden_size=16, cell=cell).eval()
    src, lens = padded(reverse_task(40, seed=5)[0])
    max_len = 12
    # An untrained model rarely says EOS; shift its EOS bias until rows stop at many different
    # steps, so that the check below is meaningful.
    base = model.decoder.out.bias[EOS].item()
    best = (-1, 0.0)
    for shift in torch.linspace(-1, 2, 61).tolist():
        with torch.no_grad():
            model.decoder.out.bias[EOS] = base + shift
        spread = len(set(_first_eos_stops(_free_running_chain(model, src, lens, max_len), max_len)))
        best = max(best, (spread, shift))
    with torch.no_grad():
        model.decoder.out.bias[EOS] = base + best[1]
    chain = _free_running_chain(model, src, lens, max_len)
    stops = _first_eos_stops(chain, max_len)
    assert len(set(stops)) >= 3, "the check needs rows that stop at different steps"

    ids, lengths = model.greedy_decode(src, lens, max_len, min_len=0)  # the plain argmax chain
    assert lengths.tolist() == stops
    for b, k in enumerate(stops):
        assert ids[b, :k].tolist() == chain[b, :k].tolist()
        assert (ids[b, k:] == PAD).all()
    assert ids.shape[1] == max(stops)  # the loop ends once every row has its EOS


# ---------------------------------------------------------------- training signals


@pytest.mark.parametrize("ratio", [0.0, 1.0])
def test_teacher_forcing_ratio_zero_and_one_both_train(ratio):
    torch.manual_seed(6)
    model = Seq2Seq.build(14, 14, embed_dim=16, hidden_size=32, teacher_forcing_ratio=ratio)
    train = batches(*reverse_task(256, seed=7), batch_size=32)
    before = evaluate(model, train)  # teacher-forced loss, eval mode
    fit(model, train, epochs=4, lr=1e-2)
    after = evaluate(model, train)
    assert after < 0.75 * before


def _log10_gradient_ratio(cell: str, seed: int, steps: int = 50) -> float:
    """log10 of |dL/dx_0| / |dL/dx_{T-1}| for a loss on the encoder's final state."""
    torch.manual_seed(seed)
    enc = Encoder(30, 16, 32, cell).double()
    inputs = {}

    def keep(_module, _args, output):
        output.retain_grad()
        inputs["emb"] = output

    enc.embedding.register_forward_hook(keep)
    src = torch.randint(1, 30, (8, steps))
    _, state = enc(src, torch.full((8,), steps))
    h_of(state).sum().backward()
    grad = inputs["emb"].grad.norm(dim=(0, 2))  # (T,) gradient norm per time step
    return float(torch.log10(grad[0] / grad[-1]))


def test_gradients_vanish_far_faster_through_rnn_than_lstm_or_gru():
    """The notes' gradient story: W_hh multiplied in at every step vs an additive memory."""
    ratios = {c: [_log10_gradient_ratio(c, s) for s in range(3)] for c in CELLS}
    # Over 50 steps the plain RNN loses > 10 orders of magnitude; LSTM and GRU keep the
    # early gradient within ~7 orders, and every seed shows a gap of > 5 orders.
    assert max(ratios["rnn"]) < -10
    assert min(ratios["lstm"]) > -7 and min(ratios["gru"]) > -7
    assert max(ratios["rnn"]) < min(ratios["lstm"] + ratios["gru"]) - 5


# ---------------------------------------------------------------- classifier and tagger


@pytest.mark.parametrize("bidirectional", [False, True])
def test_classifier_uses_last_real_state_of_both_directions(bidirectional):
    clf = SequenceClassifier(
        20, 4, 5, num_classes=3, cell="lstm", num_layers=2, bidirectional=bidirectional
    )
    src, lens = padded([[4, 5, 6], [7, 8]])
    logits = clf(src, lens)
    assert logits.shape == (2, 3)
    outputs, _ = clf.encoder(src, lens)
    for b, k in enumerate(lens.tolist()):
        last = outputs[b, k - 1, :5]
        if bidirectional:
            last = torch.cat([last, outputs[b, 0, 5:]])
        torch.testing.assert_close(logits[b], clf.head(last))
    more_padding = torch.cat([src, torch.zeros(2, 4, dtype=torch.long)], dim=1)
    torch.testing.assert_close(clf(more_padding, lens), logits)


def test_classifier_learns_and_checks_labels():
    torch.manual_seed(8)
    seqs = [torch.randint(4, 14, (int(k),)).tolist() for k in torch.randint(2, 8, (128,))]
    labels = torch.tensor([int(9 in s) for s in seqs])  # "does the sequence contain 9?"
    src, lens = padded(seqs)
    batch = Batch(src=src, src_lengths=lens, labels=labels)
    clf = SequenceClassifier(14, 8, 16, num_classes=2)
    before = evaluate(clf, [batch])
    fit(clf, [batch], epochs=60, lr=1e-2)
    assert evaluate(clf, [batch]) < 0.5 * before
    with pytest.raises(ShapeError, match=r"needs batch.labels"):
        clf.loss(Batch(src=src, src_lengths=lens))
    with pytest.raises(ShapeError, match=r"labels should be in \[0, num_classes=2\)"):
        clf.loss(Batch(src=src, src_lengths=lens, labels=labels + 1))


def test_tagger_is_per_step_and_ignores_positions_past_the_length():
    tagger = SequenceTagger(20, 4, 5, num_tags=4, bidirectional=True)
    src, lens = padded([[4, 5, 6], [7, 8]])
    logits = tagger(src, lens)
    outputs, _ = tagger.encoder(src, lens)
    assert logits.shape == (2, 3, 4)
    torch.testing.assert_close(logits, tagger.head(outputs))
    tags = torch.tensor([[1, 2, 3], [0, 1, 0]])
    other = tags.clone()
    other[1, 2] = 3  # past the second sequence's length
    loss = tagger.loss(Batch(src=src, src_lengths=lens, tgt=tags))
    torch.testing.assert_close(loss, tagger.loss(Batch(src=src, src_lengths=lens, tgt=other)))
    assert tagger.num_targets(Batch(src=src, src_lengths=lens, tgt=tags)) == 5
    with pytest.raises(ShapeError, match=r"tags should be in \[0, num_tags=4\)"):
        tagger.loss(Batch(src=src, src_lengths=lens, tgt=tags + 2))
    with pytest.raises(ShapeError, match=r"one tag per token"):
        tagger.loss(Batch(src=src, src_lengths=lens, tgt=tags[:, :2]))


# ---------------------------------------------------------------- character LM


def test_char_lm_learns_the_notes_hello_example():
    vocab = ["h", "e", "l", "o"]  # the notes' vocabulary
    ids = torch.tensor([[vocab.index(ch) for ch in "hello"]])
    x, y = ids[:, :-1], ids[:, 1:]  # h→e, e→l, l→l, l→o
    torch.manual_seed(9)
    lm = CharLM(vocab_size=4, embed_dim=8, hidden_size=16, cell="rnn")
    opt = torch.optim.Adam(lm.parameters(), lr=0.05)
    for _ in range(60):
        logits, _ = lm(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 4), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = lm.generate([vocab.index("h")], n=4, temperature=0)
    assert "".join(vocab[i] for i in out.tolist()) == "hello"  # "l" → "l" and then "l" → "o"


def test_char_lm_carries_hidden_state_and_samples_reproducibly():
    lm = CharLM(vocab_size=10, embed_dim=4, hidden_size=8, cell="gru", num_layers=2).eval()
    x = torch.randint(0, 10, (3, 6))
    full, _ = lm(x)
    first, hidden = lm(x[:, :4])
    second, _ = lm(x[:, 4:], hidden)
    torch.testing.assert_close(torch.cat([first, second], dim=1), full)
    a = lm.generate([1, 2], 20, temperature=0.8, generator=torch.Generator().manual_seed(0))
    b = lm.generate([1, 2], 20, temperature=0.8, generator=torch.Generator().manual_seed(0))
    assert a.shape == (22,) and a[:2].tolist() == [1, 2] and torch.equal(a, b)
    with pytest.raises(ShapeError, match=r"was the batch size changed"):
        lm(x, torch.zeros(2, 5, 8))
    with pytest.raises(ConfigError, match=r"temperature should be a number >= 0"):
        lm.generate([1], 3, temperature=-1.0)
    with pytest.raises(ShapeError, match=r"outside the vocabulary \[0, 10\)"):
        lm(torch.tensor([[1, 10]]))


# ---------------------------------------------------------------- learning (slow)


@pytest.mark.slow
def test_gru_seq2seq_learns_to_reverse_digit_strings():
    """≥ 95% exact match on held-out strings; stops once a validation split is at 99%."""
    torch.manual_seed(10)
    # One pool of distinct strings, split three ways: the test strings are never trained on.
    pool_src, pool_tgt, seen = [], [], set()
    for src, tgt in zip(*reverse_task(8000, seed=11), strict=True):
        if tuple(src) not in seen:
            seen.add(tuple(src))
            pool_src.append(src)
            pool_tgt.append(tgt)
    train_src, train_tgt = pool_src[:4000], pool_tgt[:4000]
    valid = batches(pool_src[4000:4500], pool_tgt[4000:4500], batch_size=250)
    test = batches(pool_src[4500:5500], pool_tgt[4500:5500], batch_size=250)
    assert len(pool_src) >= 5500

    model = Seq2Seq.build(14, 14, embed_dim=32, hidden_size=64, cell="gru")
    best = {"score": -1.0, "state": None}

    def on_epoch_end(stats) -> bool:
        score = exact_match(model, valid)
        if score > best["score"]:
            best.update(score=score, state={k: v.clone() for k, v in model.state_dict().items()})
        return score >= 0.99  # else fit stops after its 40 epochs

    class Shuffled:
        epoch = 0

        def __iter__(self):
            self.epoch += 1
            return iter(batches(train_src, train_tgt, 64, seed=self.epoch))

    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    fit(model, Shuffled(), epochs=40, optimizer=opt, on_epoch_end=on_epoch_end)
    model.load_state_dict(best["state"])
    assert exact_match(model, test) >= 0.95
