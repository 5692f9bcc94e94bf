"""``seqdata translate --beam K --len-penalty A --max-len N --replace-unk``: the flags reach
decoding, the default length limit is ``2 * source length + 10`` per sentence, an UNK is
replaced by the attended source word, bad values are usage errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from toy_translation import reversal_pairs, train_reversal

from seqdata import PairPipeline
from seqdata.checkpoint import save_checkpoint
from seqdata.cli import main
from seqdata.errors import ConfigError
from seqdata.models import Seq2Seq
from seqdata.translation import translate

SOURCES = ["a b c", "", "d", "a b c d e f g h"]


@pytest.fixture(scope="module")
def stuck(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A model whose every step outputs the token ``x`` and never EOS: each output runs to
    its length limit, so the number of words shows the limit."""
    pipe = PairPipeline.build(["a b c d e f g h"], ["x y z"])
    torch.manual_seed(0)
    model = Seq2Seq.build(len(pipe.src_vocab), len(pipe.tgt_vocab), embed_dim=4, hidden_size=8)
    with torch.no_grad():
        model.decoder.out.bias[pipe.tgt_vocab["x"]] = 1e4
    root = tmp_path_factory.mktemp("translate")
    source = root / "in.txt"
    source.write_text("".join(s + "\n" for s in SOURCES), encoding="utf-8")
    return {"checkpoint": str(save_checkpoint(root / "ckpt", model, pipeline=pipe)), "src": source}


@pytest.fixture(scope="module")
def random_model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The toy reversal model after 30 steps: outputs of many lengths, where greedy, beam
    search and the length penalty disagree."""
    model, pipe = train_reversal(steps=30)
    root = tmp_path_factory.mktemp("translate-toy")
    source = root / "in.txt"
    texts = [s for s, _ in reversal_pairs(12, seed=5)]
    source.write_text("".join(s + "\n" for s in texts), encoding="utf-8")
    checkpoint = save_checkpoint(root / "ckpt", model, pipeline=pipe)
    return {"checkpoint": str(checkpoint), "src": source, "texts": texts, "model": model}


def run_translate(
    capsys: pytest.CaptureFixture[str], checkpoint: str, source: Path, *flags: str
) -> list[str]:
    assert main(["translate", "--checkpoint", checkpoint, str(source), *flags]) == 0
    out: list[str] = capsys.readouterr().out.split("\n")
    assert out[-1] == ""
    return out[:-1]


def test_default_limit_is_relative_to_each_source(
    stuck: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    out = run_translate(capsys, stuck["checkpoint"], stuck["src"])
    # No EOS: each output holds its whole limit, 2 * S + 10 tokens; an empty line stays empty.
    assert [len(line.split()) for line in out] == [16, 0, 12, 26]
    assert set(" ".join(out).split()) == {"x"}
    for flags in (["--max-len", "5"], ["--max-len", "5", "--beam", "3"]):
        limited = run_translate(capsys, stuck["checkpoint"], stuck["src"], *flags)
        assert [len(line.split()) for line in limited] == [5, 0, 5, 5]
    beam = run_translate(capsys, stuck["checkpoint"], stuck["src"], "--beam", "4")
    assert beam == out


@pytest.mark.parametrize("beam,len_penalty", [(1, 1.0), (2, 0.0), (5, 1.0), (5, 2.5)])
def test_flags_reach_the_decoder(
    random_model: dict[str, Any], capsys: pytest.CaptureFixture[str], beam: int, len_penalty: float
) -> None:
    flags = ["--beam", str(beam), "--len-penalty", str(len_penalty), "--batch-size", "3"]
    out = run_translate(capsys, random_model["checkpoint"], random_model["src"], *flags)
    loaded = Seq2Seq.from_config(random_model["model"].config)
    loaded.load_state_dict(random_model["model"].state_dict())
    pipe = PairPipeline.load(random_model["checkpoint"])
    expected = translate(
        loaded.eval(), pipe, random_model["texts"], beam=beam, len_penalty=len_penalty
    )
    assert out == expected
    assert len(out) == 12 and sum(1 for line in out if line) >= 10


def test_min_len_reaches_the_decoder(
    stuck: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # a model that says EOS first, then "x": an empty line with --min-len 0, x's otherwise
    ckpt = Path(stuck["checkpoint"])
    pipe = PairPipeline.load(ckpt)
    model = Seq2Seq.build(len(pipe.src_vocab), len(pipe.tgt_vocab), embed_dim=4, hidden_size=8)
    with torch.no_grad():
        model.decoder.out.bias[pipe.tgt_vocab.eos_id] = 1e4
        model.decoder.out.bias[pipe.tgt_vocab["x"]] = 1e3
    eager = str(save_checkpoint(ckpt.parent / "eager", model, pipeline=pipe))
    for beam in ("1", "3"):
        empty = run_translate(capsys, eager, stuck["src"], "--min-len", "0", "--beam", beam)
        assert empty == ["", "", "", ""]
        two = run_translate(capsys, eager, stuck["src"], "--min-len", "2", "--beam", beam)
        assert two == ["x x", "", "x x", "x x"]  # an empty input line stays empty
        assert run_translate(capsys, eager, stuck["src"], "--beam", beam) == ["x", "", "x", "x"]


def test_beam_and_length_penalty_change_the_output(
    random_model: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt, src = random_model["checkpoint"], random_model["src"]
    greedy = run_translate(capsys, ckpt, src)
    short = run_translate(capsys, ckpt, src, "--beam", "5", "--len-penalty", "0")
    long = run_translate(capsys, ckpt, src, "--beam", "5", "--len-penalty", "3")
    assert greedy != short and greedy != long and short != long
    # With no normalisation the raw log-probability favours short outputs.
    assert sum(len(s.split()) for s in short) < sum(len(s.split()) for s in long)


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--beam", "0"], "--beam: should be a positive integer, but got 0"),
        (["--beam", "two"], "--beam: should be a positive integer, but got 'two'"),
        (["--len-penalty", "-1"], "--len-penalty: should be a number >= 0, but got -1.0"),
        (["--max-len", "0"], "--max-len: should be a positive integer, but got 0"),
        (["--min-len", "-1"], "--min-len: should be an integer >= 0, but got -1"),
    ],
)
def test_bad_decoding_flags_are_usage_errors(
    stuck: dict[str, Any], capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["translate", "--checkpoint", stuck["checkpoint"], *flags])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("beam", [1, 4])
def test_replace_unk_writes_the_attended_source_word(beam: int) -> None:
    # "j" is not in the target vocabulary, so the reversal model learns to write <unk> for
    # it; its attention points at the mirrored source "j", which replace_unk copies
    model, pipe = train_reversal(steps=150, unknown="j")
    texts = [s for s, _ in reversal_pairs(200, seed=7) if "j" in s.split()]
    plain = translate(model, pipe, texts, beam=beam)
    copied = translate(model, pipe, texts, beam=beam, replace_unk=True)
    unk = pipe.tgt_vocab.lookup_token(pipe.tgt_vocab.unk_id)
    picks = []
    for text, a, b in zip(texts, plain, copied, strict=True):
        assert unk not in b.split()
        assert len(a.split()) == len(b.split())
        for x, y in zip(a.split(), b.split(), strict=True):
            if x == unk:
                assert y in text.split()  # a source word of this sentence
                picks.append(y)
            else:
                assert x == y  # every other word is untouched
    assert len(picks) >= len(texts)  # the model did write <unk> for the j's
    assert picks.count("j") >= 0.9 * len(picks)


def test_replace_unk_reaches_translate_and_evaluate_and_needs_attention(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, pipe = train_reversal(steps=60, unknown="j")
    texts = [s for s, _ in reversal_pairs(30, seed=3)]
    source, refs = tmp_path / "in.txt", tmp_path / "ref.txt"
    source.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    refs.write_text("".join(" ".join(reversed(t.split())) + "\n" for t in texts), "utf-8")
    ckpt = str(save_checkpoint(tmp_path / "ckpt", model, pipeline=pipe))
    out = run_translate(capsys, ckpt, source, "--replace-unk", "--beam", "3")
    assert out == translate(model, pipe, texts, beam=3, replace_unk=True)
    assert out != translate(model, pipe, texts, beam=3)
    args = ["evaluate", "--checkpoint", ckpt, "--src", str(source), "--ref", str(refs)]
    assert main([*args, "--json", "--replace-unk"]) == 0
    replaced = json.loads(capsys.readouterr().out)
    assert main([*args, "--json"]) == 0
    kept = json.loads(capsys.readouterr().out)
    assert replaced["replace_unk"] is True and kept["replace_unk"] is False
    assert replaced["bleu"]["score"] > kept["bleu"]["score"]
    flat = Seq2Seq.build(len(pipe.src_vocab), len(pipe.tgt_vocab), attention=None)
    with pytest.raises(ConfigError, match="no attention"):
        translate(flat, pipe, texts, replace_unk=True)


@pytest.mark.parametrize("src_spm,tgt_spm", [(False, False), (True, False), (False, True)])
def test_a_copied_token_reads_as_a_word_whichever_tokenizers(src_spm: bool, tgt_spm: bool) -> None:
    # attention one-hot on a chosen source token: the UNK written at that step becomes it
    from seqdata.sentencepiece import SentencePieceTokenizer
    from seqdata.tokenizers import WhitespaceTokenizer
    from seqdata.translation import _Writer

    lines = ["the cat sat on the mat", "a dog ran far away"] * 50
    spm = SentencePieceTokenizer.train(lines, vocab_size=40)
    words = WhitespaceTokenizer()
    pipe = PairPipeline.build(
        lines, lines, spm if src_spm else words, spm if tgt_spm else words, max_size=20
    )
    source = "the Zürich cat"
    tokens = pipe.src_tokenizer(source)
    where = next(i for i, t in enumerate(tokens) if "Z" in t)  # the first piece of Zürich
    vocab = pipe.tgt_vocab
    hyp = [*vocab.encode(pipe.tgt_tokenizer("the")), vocab.unk_id]
    hyp += [*vocab.encode(pipe.tgt_tokenizer("cat")), vocab.eos_id]
    attention = torch.zeros(len(hyp), len(tokens))
    attention[:, 0] = 1.0
    attention[hyp.index(vocab.unk_id), where] = 1.0
    attention[hyp.index(vocab.unk_id), 0] = 0.0
    text = _Writer(pipe, [source], replace_unk=True)(0, hyp, attention)
    copied = tokens[where].replace("\u2581", "")
    assert text.split() == ["the", copied, "cat"]
