"""Nothing lost, nothing silently wrong (issue #12, the data side): one test per item."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from torch.utils.data import DataLoader

from seqdata.cli import main
from seqdata.collate import PadCollate
from seqdata.corpus import ParallelCorpus
from seqdata.errors import (
    ConfigError,
    CorpusError,
    InputTypeError,
    ManifestError,
    OutputError,
    SeqdataError,
    StateDictError,
    UndecodableInputError,
)
from seqdata.outputs import MARKER_FILE, OWNER_FILE, clean_stale, describe_folder, output_dir
from seqdata.pipeline import PairPipeline
from seqdata.readers import read_pairs, read_parallel
from seqdata.samplers import BucketBatchSampler
from seqdata.sentencepiece import SentencePieceTokenizer
from seqdata.streaming import StreamingBucketer
from seqdata.tokenizers import CharTokenizer

SRC = ["ich sah einen hund", "der hund lief", "ein kleiner hund", "ich lief"] * 5
TGT = ["i saw a dog", "the dog ran", "a small dog", "i ran"] * 5


def corpus_files(folder: Path, n: int = 20) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    src, tgt = folder / "train.de", folder / "train.en"
    src.write_text("\n".join(SRC[:n]) + "\n", encoding="utf-8")
    tgt.write_text("\n".join(TGT[:n]) + "\n", encoding="utf-8")
    return src, tgt


def prepare(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["prepare", "--quiet", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def store(tmp_path: Path) -> Path:
    pipe = PairPipeline.build(SRC, TGT)
    ParallelCorpus.from_texts(SRC, TGT, pipe).save(tmp_path / "store", pipeline=pipe)
    return tmp_path / "store"


# -- 1. an existing --out is refused unless --overwrite; user files survive -----------------


def test_prepare_refuses_an_existing_out_and_overwrite_keeps_user_files(tmp_path, capsys):
    src, tgt = corpus_files(tmp_path)
    out = tmp_path / "data"
    assert prepare(capsys, "--src", str(src), "--tgt", str(tgt), "--out", str(out))[0] == 0
    (out / "NOTES.txt").write_text("mine", encoding="utf-8")
    code, _, err = prepare(capsys, "--src", str(src), "--tgt", str(tgt), "--out", str(out))
    assert code == 2 and "--overwrite" in err
    args = ["--src", str(src), "--tgt", str(tgt), "--out", str(out), "--overwrite"]
    assert prepare(capsys, *args, "--max-len", "3")[0] == 0
    assert (out / "NOTES.txt").read_text(encoding="utf-8") == "mine"
    assert int(ParallelCorpus.load(out).src_lengths.max()) == 3  # the new output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "train.de", "train.en"]


def test_a_folder_seqdata_did_not_write_is_never_overwritten(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("x", encoding="utf-8")
    refused = pytest.raises(ConfigError, match="not an earlier `seqdata t` output")
    with refused, output_dir(tmp_path / "mine", marker="t", overwrite=True):
        pass
    assert (tmp_path / "mine" / "thesis.tex").exists()


# -- 4. stale temp folders, SIGTERM, permissions --------------------------------------------


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temp_folders_of_dead_runs_are_cleaned_and_only_those(tmp_path):
    def temp(name: str, pid: int | None) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "big.npy").write_bytes(b"x" * 100)
        if pid is not None:
            owner = {"pid": pid, "host": socket.gethostname()}
            (folder / OWNER_FILE).write_text(json.dumps(owner), encoding="utf-8")
        return folder

    dead = temp(".out.abc.tmp", _dead_pid())
    alive = temp(".out.def.tmp", os.getpid())
    foreign = temp(".out.ghi.tmp", None)  # no owner file: not ours
    other = temp(".other.jkl.tmp", _dead_pid())  # another output's
    with output_dir(tmp_path / "out", marker="t") as work:
        (work / "a").write_text("1")
    assert not dead.exists()
    assert alive.exists() and foreign.exists() and other.exists()
    assert clean_stale(tmp_path / "other") == [other]


def test_sigterm_during_prepare_leaves_no_temp_folder(tmp_path):
    script = (
        "import os, signal, sys\n"
        "from seqdata.outputs import output_dir\n"
        "with output_dir(sys.argv[1], marker='t') as work:\n"
        "    (work / 'half').write_text('x')\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "out")], env=env, capture_output=True
    )
    assert proc.returncode != 0
    assert list(tmp_path.iterdir()) == []


def test_output_folders_get_the_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with output_dir(tmp_path / "out", marker="t") as work:
            (work / "a").write_text("1")
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755


# -- 5. checksums ------------------------------------------------------------------------------


def test_a_changed_id_or_offset_or_swapped_files_are_refused(store):
    good = ParallelCorpus.load(store)
    assert len(good) == len(SRC)
    values = np.load(store / "src.values.npy")
    values[3] = 65535 if values.dtype == np.uint16 else 10**6
    np.save(store / "src.values.npy", values)
    with pytest.raises(ManifestError, match=r"src.values.npy: ids should be in \[0, "):
        ParallelCorpus.load(store)
    values[3] = 1
    np.save(store / "src.values.npy", values)  # same size, other contents
    ParallelCorpus.load(store)  # "fast" checks sizes and ranges only
    with pytest.raises(ManifestError, match=r"src.values.npy: its contents do not match"):
        ParallelCorpus.load(store, verify="full")


def test_a_shifted_offset_is_caught_by_the_full_check(store):
    offsets = np.load(store / "tgt.offsets.npy")
    offsets[2] += 1
    np.save(store / "tgt.offsets.npy", offsets)
    with pytest.raises(ManifestError, match=r"tgt.offsets.npy: its contents do not match"):
        ParallelCorpus.load(store, verify="full")


@pytest.mark.parametrize("record", ["drop", None, {}, "drop files"])
def test_a_manifest_without_a_files_record_is_refused_not_trusted(store, record):
    # found by test_fuzz: with src's record gone, a flipped id loaded under verify="full"
    manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
    spec = manifest["fields"]["src"]
    if record == "drop files":
        del spec["files"]
    elif record == "drop":
        del spec["files"]["values"]
    else:
        spec["files"] = record
    (store / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    for verify in ("fast", "full"):
        with pytest.raises(ManifestError, match=r"src.values.npy: the manifest should record"):
            ParallelCorpus.load(store, verify=verify)
    assert len(ParallelCorpus.load(store, verify="none")) == len(SRC)


def test_a_manifest_naming_the_other_sides_files_is_refused(store):
    manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
    src, tgt = manifest["fields"]["src"], manifest["fields"]["tgt"]
    manifest["fields"]["src"], manifest["fields"]["tgt"] = tgt, src
    (store / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ManifestError, match=r"should keep its values in src.values.npy"):
        ParallelCorpus.load(store)
    with pytest.raises(ConfigError, match="verify should be one of"):
        ParallelCorpus.load(store, verify="yes")


# -- 6. literal specials -----------------------------------------------------------------------


def test_literal_special_tokens_never_become_special_ids():
    pipe = PairPipeline.build(["x <eos> y", "<pad> z"], ["a </s> <s> b", "c"])
    src, tgt = pipe.encode_pair("x <eos> y", "a <eos> b")
    assert src == [pipe.src_vocab["x"], pipe.src_vocab.unk_id, pipe.src_vocab["y"]]
    assert tgt[0] == pipe.sos_id and tgt[-1] == pipe.eos_id
    assert pipe.eos_id not in tgt[1:-1]
    out = pipe.encode_chunk(["x <eos> y", "<pad> z"], ["a <eos> b", "c"])
    specials = {pipe.src_vocab.pad_id, pipe.src_vocab.sos_id, pipe.src_vocab.eos_id}
    assert not specials & set(out.src[0].tolist())
    assert out.specials_in_text == 3


def test_literal_special_tokens_in_single_texts_become_unk():
    from seqdata.text_pipeline import TextPipeline

    pipe = TextPipeline.build(["a <eos> b", "<pad> c"])
    ids = pipe.encode("a <eos> b")
    assert ids == [pipe.vocab["a"], pipe.vocab.unk_id, pipe.vocab["b"]]
    values, _ = pipe.encode_flat(["<pad> c"])
    assert values.tolist() == [pipe.vocab.unk_id, pipe.vocab["c"]]


def test_prepare_reports_literal_specials(tmp_path, capsys):
    src, tgt = corpus_files(tmp_path)
    src.write_text("a <eos> b\nc\n", encoding="utf-8")
    tgt.write_text("x\n<pad> y\n", encoding="utf-8")
    code, out, _ = prepare(
        capsys, "--src", str(src), "--tgt", str(tgt), "--out", str(tmp_path / "o")
    )
    assert code == 0 and "2 literal special token(s)" in out
    summary = json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))
    assert summary["specials_in_text"] == 2


# -- 7, 8, 14: readers -------------------------------------------------------------------------


def test_cr_only_line_endings_are_an_error_naming_the_file(tmp_path):
    (tmp_path / "a.de").write_bytes(b"a b\rc d\r")
    (tmp_path / "a.en").write_bytes(b"x\ry\r")
    with pytest.raises(CorpusError, match=r"a.de: uses CR-only line endings"):
        read_parallel(tmp_path / "a.de", tmp_path / "a.en")


def test_jsonl_non_text_fields_bom_and_blank_lines(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"src": "a", "tgt": "b"}\n\n{"src": 5, "tgt": "c"}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"p.jsonl, line 3: field 'src' should be a string"):
        read_pairs(path)
    path.write_text('{"src": "a", "tgt": "b"}\n{"src": ["x"], "tgt": "c"}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"line 2: field 'src' should be a string.*list"):
        read_pairs(path)
    path.write_bytes(b'\xef\xbb\xbf{"src": "a", "tgt": "b"}\n\n{"src": "q", "tgt": "c"}\n')
    assert read_pairs(path).rows() == [("a", "b", 1), ("q", "c", 3)]
    path.write_text('{"src": "a", "tgt": "b"}\n{"src": "q", "tgt": \n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"line 2: is not valid JSON"):
        read_pairs(path)


def test_utf16_is_reported_as_utf16(tmp_path):
    (tmp_path / "a.de").write_text("a b\nc d\n", encoding="utf-16")
    (tmp_path / "a.en").write_text("x\ny\n", encoding="utf-8")
    with pytest.raises(UndecodableInputError, match=r"a.de: is UTF-16 text"):
        read_parallel(tmp_path / "a.de", tmp_path / "a.en")
    rows = read_parallel(tmp_path / "a.de", tmp_path / "a.de", encoding="utf-16").rows()
    assert rows == [("a b", "a b", 1), ("c d", "c d", 2)]


def test_unknown_extension_suggests_what_the_cli_has(tmp_path):
    (tmp_path / "p.dat").write_text("a\tb\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rename the file to end in one of .txt"):
        read_pairs(tmp_path / "p.dat")


# -- 10. sampler and pipeline fingerprints ----------------------------------------------------


def test_sampler_state_from_another_corpus_of_the_same_size_is_refused():
    a = BucketBatchSampler([3, 1, 4, 1, 5, 9], batch_size=2, seed=1)
    b = BucketBatchSampler([2, 7, 1, 8, 2, 8], batch_size=2, seed=1)
    with pytest.raises(StateDictError, match="lengths="):
        b.load_state_dict(a.state_dict())
    with pytest.raises(StateDictError, match="should get the dict that state_dict"):
        b.load_state_dict(None)  # type: ignore[arg-type]
    BucketBatchSampler([3, 1, 4, 1, 5, 9], batch_size=2, seed=1).load_state_dict(a.state_dict())


def test_pipeline_fingerprint_ties_ids_to_tokens():
    a = PairPipeline.build(SRC, TGT)
    assert a.fingerprint() == PairPipeline.from_dict(a.to_dict()).fingerprint()
    assert a.fingerprint() != PairPipeline.build([*SRC, "neu"], [*TGT, "new"]).fingerprint()


# -- 11. a trained tokenizer is not reused for the target -------------------------------------


def test_a_sentencepiece_source_tokenizer_is_not_reused_for_the_target():
    spm = SentencePieceTokenizer.train(SRC, vocab_size=30, hard_vocab_limit=False)
    with pytest.raises(ConfigError, match="tgt_tokenizer should be given"):
        PairPipeline.build(SRC, TGT, src_tokenizer=spm)
    PairPipeline.build(SRC, TGT, src_tokenizer=spm, tgt_tokenizer=spm)  # explicit: allowed
    pipe = PairPipeline.build(SRC, TGT, src_tokenizer=CharTokenizer())
    assert pipe.tgt_tokenizer is pipe.src_tokenizer  # language-independent: shared


# -- 12. RaggedBatch.indices ------------------------------------------------------------------


def test_ragged_batch_indices_are_corpus_indices_with_and_without_workers(store):
    corpus = ParallelCorpus.load(store)
    batch = corpus.__getitems__([5, 2, 7])
    copy = pickle.loads(pickle.dumps(batch))  # what a worker sends back
    assert batch.indices.tolist() == copy.indices.tolist() == [5, 2, 7]
    assert copy[0][0].tolist() == corpus[5][0].tolist()
    loader = DataLoader(corpus, batch_sampler=[[5, 2, 7]], collate_fn=_same, num_workers=1)
    assert next(iter(loader)).indices.tolist() == [5, 2, 7]


def _same(batch):
    return batch


# -- 13. tracebacks become typed errors -------------------------------------------------------


def test_damaged_stores_are_typed_errors_naming_the_file(store, tmp_path):
    for damage, needle in [
        (lambda d: (d / "src.values.npy").write_bytes(b""), "src.values.npy: not a readable"),
        (
            lambda d: (d / "src.values.npy").write_bytes(b"\x93NUMPY\x01\x00v\x00{'descr': '<u2"),
            "src.values.npy: not a readable",
        ),
    ]:
        copy = tmp_path / "copy"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(store, copy)
        damage(copy)
        with pytest.raises(ManifestError, match=needle):
            ParallelCorpus.load(copy)
    manifest = json.loads((store / "manifest.json").read_text(encoding="utf-8"))
    (store / "manifest.json").write_text(json.dumps({**manifest, "fields": None}))
    with pytest.raises(ManifestError, match=r"manifest.json: fields should be an object"):
        ParallelCorpus.load(store)


def test_collate_and_streaming_name_bad_examples():
    with pytest.raises(InputTypeError, match="example 1 is a sequence of ids"):
        PadCollate()([([1, 2], [3]), [4, 5]])
    bucketer = StreamingBucketer([1, 2, 3], batch_size=2)
    with pytest.raises(InputTypeError, match=r"sequences of token ids.*int"):
        list(bucketer)


# -- 14. messages -----------------------------------------------------------------------------


def test_out_dot_is_refused_without_junk(tmp_path, monkeypatch, capsys):
    src, tgt = corpus_files(tmp_path / "in")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, _, err = prepare(capsys, "--src", str(src), "--tgt", str(tgt), "--out", ".")
    assert code == 2 and "current directory" in err
    assert list(work.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == [
        "in",
        "work",
    ]


def test_an_unwritable_out_names_the_users_path(tmp_path):
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    refused = pytest.raises(OutputError, match=str(tmp_path / "file" / "out"))
    with refused, output_dir(tmp_path / "file" / "out", marker="t"):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_describe_folder_recognises_a_prepared_corpus(tmp_path, capsys):
    src, tgt = corpus_files(tmp_path)
    prepare(capsys, "--src", str(src), "--tgt", str(tgt), "--out", str(tmp_path / "d"))
    assert "prepared corpus" in describe_folder(tmp_path / "d")
    assert describe_folder(tmp_path) is None


def test_pipeline_json_errors_name_the_file(tmp_path, capsys):
    src, tgt = corpus_files(tmp_path)
    out = tmp_path / "d"
    prepare(capsys, "--src", str(src), "--tgt", str(tgt), "--out", str(out))
    state = json.loads((out / "pipeline.json").read_text(encoding="utf-8"))
    state["state"]["version"] = 99
    (out / "pipeline.json").write_text(json.dumps(state), encoding="utf-8")
    code, _, err = prepare(
        capsys,
        "--src",
        str(src),
        "--tgt",
        str(tgt),
        "--vocab-from",
        str(out),
        "--out",
        str(tmp_path / "e"),
    )
    assert code == 2 and "pipeline.json" in err


# -- #13: validation and test splits ----------------------------------------------------------


def test_prepare_encodes_valid_and_test_splits_and_vocab_from(tmp_path, capsys):
    src, tgt = corpus_files(tmp_path)
    vs, vt = tmp_path / "v.de", tmp_path / "v.en"
    vs.write_text("der hund\nunbekannt wort\n", encoding="utf-8")
    vt.write_text("the dog\nunknown word\n", encoding="utf-8")
    out = tmp_path / "d"
    code, text, _ = prepare(
        capsys,
        "--src",
        str(src),
        "--tgt",
        str(tgt),
        "--valid-src",
        str(vs),
        "--valid-tgt",
        str(vt),
        "--test-src",
        str(vs),
        "--test-tgt",
        str(vt),
        "--out",
        str(out),
    )
    assert code == 0 and "valid: 2 pairs" in text
    pipe = PairPipeline.from_dict(json.loads((out / "pipeline.json").read_text())["state"])
    valid = ParallelCorpus.load(out / "valid", pipeline=pipe)
    assert valid[0][0].tolist() == pipe.encode_source("der hund")
    assert valid[1][0].tolist() == [pipe.src_vocab.unk_id] * 2
    assert len(ParallelCorpus.load(out / "test")) == 2
    code, _, _ = prepare(
        capsys,
        "--src",
        str(vs),
        "--tgt",
        str(vt),
        "--vocab-from",
        str(out),
        "--out",
        str(tmp_path / "later"),
    )
    assert code == 0
    later = ParallelCorpus.load(tmp_path / "later", pipeline=pipe)
    assert later[0][1].tolist() == valid[0][1].tolist()
    code, _, err = prepare(
        capsys,
        "--src",
        str(src),
        "--tgt",
        str(tgt),
        "--valid-src",
        str(vs),
        "--out",
        str(tmp_path / "x"),
    )
    assert code == 2 and "--valid-tgt" in err


def test_every_error_here_is_a_seqdata_error():
    assert issubclass(OutputError, SeqdataError) and MARKER_FILE == "seqdata-output.json"


def test_a_prepared_folder_given_as_a_checkpoint_says_what_it_is(tmp_path: Path) -> None:
    from seqdata.checkpoint import load_checkpoint
    from seqdata.errors import CheckpointError

    pipe = PairPipeline.build(["a b", "c"], ["x y", "z"])
    ParallelCorpus.from_texts(["a b", "c"], ["x y", "z"], pipe).save(tmp_path / "data")
    (tmp_path / "data" / "pipeline.json").write_text("{}", encoding="utf-8")
    with pytest.raises(CheckpointError, match=r"is a prepared corpus .*not a checkpoint"):
        load_checkpoint(tmp_path / "data")


def test_a_csv_parse_error_names_the_line_of_the_bad_record(tmp_path: Path) -> None:
    bad = tmp_path / "pairs.csv"
    bad.write_text('src,tgt\n"a b",c\nd,e\n"broken,f\ng,h\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"pairs\.csv, line 4: is not valid CSV") as info:
        read_pairs(bad)
    assert info.value.line == 4
