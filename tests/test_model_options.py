"""The standard recipe options of the encoder-decoder: each changes what it should, and each
round-trips through the model config (and so through a checkpoint)."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

from seqdata.collate import Batch
from seqdata.errors import ConfigError
from seqdata.models import Decoder, Seq2Seq, Seq2SeqConfig
from seqdata.models.decoder import FeedState

PAD, SOS, EOS = 0, 2, 3


def padded(seqs):
    x = pad_sequence([torch.tensor(s) for s in seqs], batch_first=True, padding_value=PAD)
    return x, torch.tensor([len(s) for s in seqs])


def toy_batch(seed: int = 0, n: int = 4) -> Batch:
    g = torch.Generator().manual_seed(seed)
    src = [torch.randint(4, 14, (k,), generator=g).tolist() for k in (5, 3, 6, 2)[:n]]
    tgt = [[SOS, *s[::-1], EOS] for s in src]
    s, sl = padded(src)
    t, tl = padded(tgt)
    return Batch(src=s, src_lengths=sl, tgt=t, tgt_lengths=tl)


OPTIONS = [
    {"attention": "additive"},
    {"attention": "general", "input_feed": True},
    {"embed_dropout": 0.2, "output_dropout": 0.3, "dropout": 0.1},
    {"label_smoothing": 0.1},
    {"teacher_forcing_ratio": 0.5},
    {"tie_embeddings": True, "embed_dim": 16, "hidden_size": 16},
    {
        "cell": "lstm",
        "attention": "additive",
        "input_feed": True,
        "tie_embeddings": True,
        "embed_dim": 16,
        "hidden_size": 16,
        "num_layers": 2,
        "label_smoothing": 0.2,
    },
]


@pytest.mark.parametrize("options", OPTIONS)
def test_every_option_round_trips_through_the_config_dict(options):
    kwargs = {"embed_dim": 8, "hidden_size": 12, **options}
    model = Seq2Seq.build(14, 14, **kwargs)
    saved = asdict(model.config)  # what a checkpoint stores
    rebuilt = Seq2Seq.from_config(saved)
    assert rebuilt.config == model.config
    assert Seq2SeqConfig.from_dict(saved) == model.config
    rebuilt.load_state_dict(model.state_dict())  # same parameters, same shapes
    model.eval(), rebuilt.eval()
    batch = toy_batch()
    torch.testing.assert_close(rebuilt.loss(batch), model.loss(batch))


def test_configs_saved_before_the_options_existed_still_load():
    saved = asdict(Seq2Seq.build(14, 14, embed_dim=8, hidden_size=12).config)
    for key in ("input_feed", "embed_dropout", "output_dropout", "tie_embeddings"):
        del saved["decoder"][key]
    del saved["encoder"]["embed_dropout"], saved["label_smoothing"]
    cfg = Seq2SeqConfig.from_dict(saved)
    assert cfg.label_smoothing == 0.0 and not cfg.decoder.input_feed
    assert cfg.decoder.embed_dropout is None and not cfg.decoder.tie_embeddings


def test_additive_attention_scores_are_v_tanh_of_query_plus_key():
    torch.manual_seed(0)
    dec = Decoder(10, 4, 6, attention="additive", memory_size=8)
    memory = torch.randn(2, 5, 8)  # (B, S, E)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    out = dec.run(torch.tensor([[2, 5], [2, 7]]), None, memory, mask)
    h, _ = dec.rnn(dec.embedding(torch.tensor([[2, 5], [2, 7]])))  # (B, T, H)
    q = h @ dec.attn_query.weight.T  # (B, T, H)
    k = memory @ dec.attn_proj.weight.T + dec.attn_proj.bias  # (B, S, H)
    scores = (torch.tanh(q[:, :, None] + k[:, None]) @ dec.attn_v.weight.T)[..., 0]  # (B, T, S)
    scores = scores.masked_fill(~mask[:, None], float("-inf"))
    torch.testing.assert_close(out.attention, torch.softmax(scores, -1))
    assert out.attention[1, :, 3:].abs().sum() == 0
    general = Decoder(10, 4, 6, attention="general", memory_size=8)
    assert not hasattr(general, "attn_v") or general.attn_v is None


def test_input_feeding_feeds_the_attentional_vector_into_the_next_step():
    torch.manual_seed(1)
    fed = Decoder(10, 4, 6, attention="general", memory_size=8, input_feed=True)
    plain = Decoder(10, 4, 6, attention="general", memory_size=8)
    assert fed.rnn.input_size == 4 + 6 and plain.rnn.input_size == 4
    memory, mask = torch.randn(2, 5, 8), torch.ones(2, 5, dtype=torch.bool)
    tgt = torch.tensor([[2, 5, 6, 7], [2, 7, 8, 0]])
    whole = fed.run(tgt, None, memory, mask)
    assert isinstance(whole.state, FeedState)
    torch.testing.assert_close(whole.state.feed, whole.features[:, -1])  # h̃ of the last step
    state, steps = None, []  # one step at a time, carrying the FeedState, gives the same
    for t in range(tgt.shape[1]):
        out = fed.run(tgt[:, t : t + 1], state, memory, mask)
        state = out.state
        steps.append(out.features)
    torch.testing.assert_close(torch.cat(steps, 1), whole.features)
    # With the fed columns of W_ih zeroed, the fed decoder is the plain one: the feed is
    # exactly what the extra columns read.
    with torch.no_grad():
        for name, p in plain.named_parameters():
            src = dict(fed.named_parameters())[name]
            p.copy_(src[:, :4] if name == "rnn.weight_ih_l0" else src)
        before = fed.run(tgt, None, memory, mask).features
        fed.rnn.weight_ih_l0[:, 4:] = 0
    after = fed.run(tgt, None, memory, mask).features
    torch.testing.assert_close(after, plain.run(tgt, None, memory, mask).features)
    assert not torch.allclose(before[:, 1:], after[:, 1:])  # the feed mattered
    torch.testing.assert_close(before[:, 0], after[:, 0])  # step 0 reads a zero feed


def test_input_feeding_needs_attention():
    with pytest.raises(ConfigError, match=r"input_feed=True .* needs attention"):
        Decoder(10, 4, 6, input_feed=True)


def test_embedding_and_output_dropout_act_where_they_should():
    torch.manual_seed(2)
    batch = toy_batch()
    default = Seq2Seq.build(14, 14, embed_dim=8, hidden_size=12, dropout=0.3)
    assert default.decoder.embed_dropout.p == 0.3 == default.decoder.output_dropout.p
    assert default.encoder.dropout.p == 0.3  # one knob, as before
    out_drop = Seq2Seq.build(14, 14, embed_dim=8, hidden_size=12, output_dropout=1.0).train()
    logits = out_drop(batch)  # every feature dropped → logits are the output bias
    torch.testing.assert_close(logits, out_drop.decoder.out.bias.expand_as(logits))
    assert out_drop.decoder.embed_dropout.p == 0.0 and out_drop.encoder.dropout.p == 0.0
    emb_drop = Seq2Seq.build(
        14, 14, embed_dim=8, hidden_size=12, attention=None, bidirectional=False, embed_dropout=1.0
    ).train()
    shuffled = torch.where(batch.tgt > EOS, (batch.tgt + 5) % 10 + 4, batch.tgt)  # new words
    other = Batch(batch.src, batch.src_lengths, shuffled, batch.tgt_lengths)
    # No target token reaches the cell: the logits ignore which words the target holds.
    torch.testing.assert_close(emb_drop(batch), emb_drop(other))
    emb_drop.eval()  # evaluation turns it off again
    assert not torch.allclose(emb_drop(batch), emb_drop(other))


def test_label_smoothing_is_torch_cross_entropy_over_the_real_tokens():
    torch.manual_seed(3)
    batch = toy_batch()
    model = Seq2Seq.build(14, 14, embed_dim=8, hidden_size=12, label_smoothing=0.1).eval()
    logits = model(batch)  # (B, Lt-1, V)
    gold = batch.tgt[:, 1:]
    real = gold != PAD
    expected = F.cross_entropy(logits[real], gold[real], label_smoothing=0.1)
    torch.testing.assert_close(model.loss(batch), expected)
    plain = F.cross_entropy(logits[real], gold[real])
    torch.testing.assert_close(model.loss(batch, label_smoothing=0.0), plain)
    assert abs(model.loss(batch).item() - plain.item()) > 1e-5  # the config's ε is used
    with pytest.raises(ConfigError, match="label_smoothing should be"):
        model.loss(batch, label_smoothing=1.5)
    with pytest.raises(ConfigError, match="label_smoothing should be"):
        Seq2Seq.build(14, 14, label_smoothing=-0.1)


def test_teacher_forcing_ratio_zero_feeds_the_models_own_argmax_back():
    torch.manual_seed(4)
    batch = toy_batch()
    model = Seq2Seq.build(14, 14, embed_dim=8, hidden_size=12, input_feed=True).eval()
    free = model(batch, teacher_forcing_ratio=0.0)  # (B, Lt-1, V)
    memory, mask, state = model.encode(batch.src, batch.src_lengths)
    inp, steps = batch.tgt[:, :1], []
    for _ in range(batch.tgt.shape[1] - 1):
        logits, state = model.decoder(inp, state, memory, mask)
        steps.append(logits)
        inp = logits.argmax(-1)
    torch.testing.assert_close(free, torch.cat(steps, 1))
    forced = model(batch, teacher_forcing_ratio=1.0)
    torch.testing.assert_close(free[:, 0], forced[:, 0])  # both start from SOS
    assert not torch.allclose(free[:, 1:], forced[:, 1:])
    model.train()
    model.teacher_forcing_ratio = 0.0  # loss() uses the model's ratio while training
    torch.testing.assert_close(
        model.loss(batch),
        F.cross_entropy(free[batch.tgt[:, 1:] != PAD], batch.tgt[:, 1:][batch.tgt[:, 1:] != PAD]),
    )


def test_weight_tying_shares_the_output_layer_with_the_embedding():
    tied = Seq2Seq.build(14, 20, embed_dim=16, hidden_size=16, tie_embeddings=True)
    untied = Seq2Seq.build(14, 20, embed_dim=16, hidden_size=16)
    assert tied.decoder.out.weight is tied.decoder.embedding.weight
    n = sum(p.numel() for p in tied.parameters())
    assert sum(p.numel() for p in untied.parameters()) - n == 20 * 16
    batch = toy_batch()
    tied.loss(batch).backward()  # both uses feed one gradient
    assert tied.decoder.embedding.weight.grad is not None
    with pytest.raises(ConfigError, match="embed_dim should equal hidden_size"):
        Seq2Seq.build(14, 14, embed_dim=8, hidden_size=12, tie_embeddings=True)
