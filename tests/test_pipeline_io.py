"""PairPipeline.save/load: JSON round trips (whitespace, words, characters, sentencepiece),
plain ``.model`` files that sentencepiece reads itself, the other files ``load`` accepts,
and errors that name the file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sentencepiece as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqdata import PairPipeline, TextPipeline
from seqdata.checkpoint import save_checkpoint
from seqdata.errors import ConfigError
from seqdata.models import Seq2Seq
from seqdata.pipeline_io import PIPELINE_FILE, load_pipeline, save_pipeline, write_spm_models
from seqdata.sentencepiece import SentencePieceTokenizer
from seqdata.tokenizers import CharTokenizer, WhitespaceTokenizer
from seqdata.vocab import Vocab

SRC = ["Der Hund lief.", "Ich sah einen Hund", "Die Katze, die schlief!"] * 4
TGT = ["The dog ran.", "I saw a dog", "The cat, which slept!"] * 4


@pytest.fixture(scope="module")
def spm_pipeline() -> PairPipeline:
    src_spm = SentencePieceTokenizer.train(SRC, vocab_size=40)
    tgt_spm = SentencePieceTokenizer.train(TGT, vocab_size=38)
    return PairPipeline(
        src_spm, tgt_spm, Vocab.from_sentencepiece(src_spm), Vocab.from_sentencepiece(tgt_spm), 12
    )


def same_encoding(a: PairPipeline, b: PairPipeline) -> None:
    for s, t in zip(SRC, TGT, strict=True):
        assert a.encode_pair(s, t) == b.encode_pair(s, t)
        assert a.decode_target(a.encode_target(t)) == b.decode_target(b.encode_target(t))


# WordTokenizer is left out: tokenizer_from_dict does not know its "words" state yet.
@pytest.mark.parametrize("tokenizer", [None, WhitespaceTokenizer(lower=True), CharTokenizer()])
def test_round_trip_through_a_folder(tmp_path: Path, tokenizer) -> None:
    pipe = PairPipeline.build(SRC, TGT, tokenizer, max_len=7)
    path = pipe.save(tmp_path / "pipe")
    assert path == tmp_path / "pipe" / PIPELINE_FILE
    assert sorted(p.name for p in path.parent.iterdir()) == [PIPELINE_FILE]  # no .model files
    for source in (path.parent, path):
        loaded = PairPipeline.load(source)
        assert loaded == pipe and loaded.max_len == 7
        same_encoding(pipe, loaded)


def test_sentencepiece_round_trip_writes_model_files_sentencepiece_reads(
    tmp_path: Path, spm_pipeline: PairPipeline
) -> None:
    path = spm_pipeline.save(tmp_path / "run" / "my-pipeline.json")
    assert path.name == "my-pipeline.json"
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "my-pipeline.json",
        "src.model",
        "tgt.model",
    ]
    loaded = PairPipeline.load(path)
    assert loaded == spm_pipeline
    same_encoding(spm_pipeline, loaded)
    for side, texts in (("src", SRC), ("tgt", TGT)):
        proc = sp.SentencePieceProcessor(model_file=str(path.parent / f"{side}.model"))
        ours = getattr(spm_pipeline, f"{side}_tokenizer")
        assert proc.get_piece_size() == len(getattr(spm_pipeline, f"{side}_vocab"))
        for text in texts[:3]:
            assert proc.encode(text, out_type=str) == ours(text)
            assert proc.encode(text) == ours.encode([text])[0]


def test_write_spm_models_only_for_sentencepiece_sides(
    tmp_path: Path, spm_pipeline: PairPipeline
) -> None:
    assert write_spm_models(PairPipeline.build(SRC, TGT), tmp_path / "none") == []
    assert not (tmp_path / "none").exists()
    mixed = PairPipeline(
        spm_pipeline.src_tokenizer,
        WhitespaceTokenizer(),
        spm_pipeline.src_vocab,
        Vocab.build([t.split() for t in TGT]),
    )
    written = write_spm_models(mixed, tmp_path / "mixed")
    assert written == [tmp_path / "mixed" / "src.model"]
    assert written[0].read_bytes() == spm_pipeline.src_tokenizer.model_proto


def test_load_reads_a_bare_state_a_prepared_folder_and_a_checkpoint(tmp_path: Path) -> None:
    pipe = PairPipeline.build(SRC, TGT, CharTokenizer(), max_len=9)
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(pipe.to_dict()), encoding="utf-8")
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    entry = {"class": "PairPipeline", "state": pipe.to_dict()}  # what `seqdata prepare` writes
    (prepared / PIPELINE_FILE).write_text(json.dumps(entry), encoding="utf-8")
    model = Seq2Seq.build(len(pipe.src_vocab), len(pipe.tgt_vocab), embed_dim=4, hidden_size=4)
    checkpoint = save_checkpoint(tmp_path / "ckpt", model, pipeline=pipe)
    for source in (bare, prepared, checkpoint):
        assert load_pipeline(source) == pipe


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing.*pipeline\.json.*cannot read"):
        PairPipeline.load(tmp_path / "missing")
    broken = tmp_path / "broken.json"
    broken.write_text('{"class": "PairPipeline", "st', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.json: is not a JSON pipeline file"):
        PairPipeline.load(broken)
    text = TextPipeline.build(SRC)
    other = tmp_path / "text.json"
    other.write_text(json.dumps({"class": "TextPipeline", "state": text.to_dict()}), "utf-8")
    with pytest.raises(ConfigError, match=r"text\.json: holds a TextPipeline"):
        PairPipeline.load(other)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"format": "something else", "version": 1}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"wrong\.json: .*format"):
        PairPipeline.load(wrong)
    model = Seq2Seq.build(9, 9, embed_dim=4, hidden_size=4)
    with pytest.raises(ConfigError, match=r"config\.json: the checkpoint holds no pipeline"):
        PairPipeline.load(save_checkpoint(tmp_path / "ckpt", model))


def test_save_replaces_an_older_pipeline_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    first = PairPipeline.build(SRC, TGT)
    second = PairPipeline.build(TGT, SRC, max_len=5)
    first.save(tmp_path)
    second.save(tmp_path)
    assert PairPipeline.load(tmp_path) == second != first
    assert [p.name for p in tmp_path.iterdir()] == [PIPELINE_FILE]
    umask = os.umask(0)
    os.umask(umask)
    # your usual permissions (others can read it), not a temporary file's owner-only 0600
    assert (tmp_path / PIPELINE_FILE).stat().st_mode & 0o777 == 0o666 & ~umask


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(src=st.lists(TEXT, min_size=1, max_size=6), tgt=st.lists(TEXT, min_size=1, max_size=6))
def test_any_unicode_vocabulary_round_trips(tmp_path: Path, src: list[str], tgt: list[str]) -> None:
    n = min(len(src), len(tgt))
    pipe = PairPipeline.build(src[:n], tgt[:n], CharTokenizer())
    loaded = load_pipeline(save_pipeline(pipe, tmp_path / "p.json"))
    assert loaded == pipe
    assert loaded.src_vocab.tokens == pipe.src_vocab.tokens
    assert loaded.tgt_vocab.tokens == pipe.tgt_vocab.tokens
