"""``seqdata evaluate`` on a Seq2Seq trained here for a few seconds (reverse a string of
letters): its BLEU/chrF equal sacrebleu called directly on the same hypotheses, its
perplexity equals a hand-computed teacher-forced NLL, beam search scores at least greedy,
and bad inputs are one-line errors (exit status 2)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sacrebleu
import torch
from toy_translation import reversal_pairs, train_reversal

from seqdata import PairPipeline
from seqdata.checkpoint import save_checkpoint
from seqdata.cli import main
from seqdata.collate import PadCollate
from seqdata.models import CharLM, Seq2Seq
from seqdata.translation import translate


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("evaluate")
    model, pipe = train_reversal()
    checkpoint = save_checkpoint(root / "ckpt", model, pipeline=pipe)
    test = reversal_pairs(200, seed=7)
    src, ref = root / "test.src", root / "test.ref"
    src.write_text("".join(s + "\n" for s, _ in test), encoding="utf-8")
    ref.write_text("".join(t + "\n" for _, t in test), encoding="utf-8")
    return {
        "model": model,
        "pipeline": pipe,
        "checkpoint": str(checkpoint),
        "src": str(src),
        "ref": str(ref),
        "root": root,
    }


def evaluate(
    trained: dict[str, Any], capsys: pytest.CaptureFixture[str], *flags: str
) -> dict[str, Any]:
    argv = ["evaluate", "--checkpoint", trained["checkpoint"], "--src", trained["src"]]
    assert main([*argv, "--ref", trained["ref"], "--json", *flags]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1
    result: dict[str, Any] = json.loads(out)
    return result


def lines(path: str | Path) -> list[str]:
    return Path(path).read_text(encoding="utf-8").splitlines()


def teacher_forced_nll(model: Seq2Seq, pipe: PairPipeline, pairs: list[tuple[str, str]]) -> float:
    """Mean -log p(reference token | source, gold prefix), one pair at a time."""
    total, count = 0.0, 0
    with torch.no_grad():
        for s, t in pairs:
            batch = PadCollate()([pipe.encode_pair(s, t)])
            logp = model(batch).log_softmax(-1)[0]  # (Lt-1, V)
            gold = batch.tgt[0, 1:]  # (Lt-1,)
            total -= float(logp.gather(1, gold[:, None]).sum())
            count += len(gold)
    return total / count


@pytest.mark.slow
def test_the_command_scores_like_sacrebleu_on_its_own_hypotheses(
    trained: dict[str, Any], tmp_path: Path
) -> None:
    hyp_out = tmp_path / "out" / "test.hyp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    argv = ["evaluate", "--checkpoint", trained["checkpoint"], "--src", trained["src"]]
    argv += ["--ref", trained["ref"], "--beam", "3", "--json", "--hyp-out", str(hyp_out)]
    done = subprocess.run(
        [sys.executable, "-m", "seqdata", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    hyps, refs = lines(hyp_out), lines(trained["ref"])
    assert len(hyps) == len(refs) == result["sentences"] == 200
    srcs = lines(trained["src"])
    assert hyps == translate(trained["model"], trained["pipeline"], srcs, beam=3)
    bleu = sacrebleu.metrics.BLEU()
    chrf = sacrebleu.metrics.CHRF()
    assert result["bleu"]["score"] == pytest.approx(bleu.corpus_score(hyps, [refs]).score)
    assert result["bleu"]["signature"] == str(bleu.get_signature())
    assert result["chrf"]["score"] == pytest.approx(chrf.corpus_score(hyps, [refs]).score)
    assert result["chrf"]["signature"] == str(chrf.get_signature())
    # trained, not perfect: the comparison means something
    assert 50 < result["bleu"]["score"] < 100
    nll = teacher_forced_nll(
        trained["model"], trained["pipeline"], list(zip(srcs, refs, strict=True))
    )
    assert result["nll"] == pytest.approx(nll, rel=1e-5)
    assert result["perplexity"] == pytest.approx(math.exp(nll), rel=1e-5)
    assert result["ref_tokens"] == sum(len(r.split()) + 1 for r in refs)  # tokens + EOS


def test_beam_search_scores_at_least_greedy(
    trained: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    greedy = evaluate(trained, capsys)
    beam = evaluate(trained, capsys, "--beam", "5")
    assert greedy["beam"] == 1 and beam["beam"] == 5
    assert beam["bleu"]["score"] >= greedy["bleu"]["score"]
    assert beam["chrf"]["score"] >= greedy["chrf"]["score"] - 0.5
    assert beam["perplexity"] == pytest.approx(greedy["perplexity"])  # decoding-independent


def test_lowercase_and_tokenize_reach_the_signature(
    trained: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    result = evaluate(trained, capsys, "--lowercase", "--tokenize", "char", "--max-len", "4")
    assert "case:lc" in result["bleu"]["signature"] and "tok:char" in result["bleu"]["signature"]
    assert "case:lc" in result["chrf"]["signature"]
    assert result["max_len"] == 4 and result["lowercase"] is True


def test_the_text_report(trained: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["evaluate", "--checkpoint", trained["checkpoint"], "--src", trained["src"]]
    assert main([*argv, "--ref", trained["ref"]]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("200 sentences, beam 1 (len-penalty 1), max-len 2 x source + 10")
    assert out[1].startswith("BLEU = ") and "|tok:13a|" in out[1]
    assert out[2].startswith("chrF2 = ") and "nrefs:1" in out[2]
    assert out[3].strip().startswith("BLEU = ") and "BP = " in out[3]
    assert out[4].startswith("perplexity = ") and "reference tokens" in out[4]


def test_an_unencodable_source_line_is_scored_as_an_empty_translation(
    trained: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src, ref = tmp_path / "s", tmp_path / "r"
    src.write_text("a b c\n\nd e\n", encoding="utf-8")
    ref.write_text("c b a\nnothing here\ne d\n", encoding="utf-8")
    argv = ["evaluate", "--checkpoint", trained["checkpoint"], "--src", str(src)]
    assert main([*argv, "--ref", str(ref), "--json", "--hyp-out", str(tmp_path / "h")]) == 0
    result = json.loads(capsys.readouterr().out)
    hyps = lines(tmp_path / "h")
    assert len(hyps) == 3 and hyps[1] == ""
    refs = lines(ref)
    assert result["bleu"]["score"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert result["ref_tokens"] == 4 + 3  # the empty source's pair is not scored


def one_line_error(capsys: pytest.CaptureFixture[str], code: int, *needles: str) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("seqdata evaluate: error: ")
    for needle in needles:
        assert needle in err
    return err


def test_bad_inputs_are_one_line_errors(
    trained: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    short = tmp_path / "short.ref"
    short.write_text("a\nb\n", encoding="utf-8")
    ckpt, src = trained["checkpoint"], trained["src"]
    code = main(["evaluate", "--checkpoint", ckpt, "--src", src, "--ref", str(short)])
    one_line_error(capsys, code, src, "200 lines", str(short), "has 2")
    missing = str(tmp_path / "nope.ref")
    code = main(["evaluate", "--checkpoint", ckpt, "--src", src, "--ref", missing])
    one_line_error(capsys, code, "--ref", missing, "no such file")
    empty = tmp_path / "empty"
    empty.write_text("", encoding="utf-8")
    code = main(["evaluate", "--checkpoint", ckpt, "--src", str(empty), "--ref", str(empty)])
    one_line_error(capsys, code, str(empty), "has no lines")
    lm = save_checkpoint(tmp_path / "lm", CharLM(vocab_size=5, embed_dim=4, hidden_size=4))
    code = main(["evaluate", "--checkpoint", str(lm), "--src", src, "--ref", trained["ref"]])
    one_line_error(capsys, code, str(lm), "CharLM", "Seq2Seq")
    code = main(["evaluate", "--checkpoint", str(tmp_path), "--src", src, "--ref", trained["ref"]])
    one_line_error(capsys, code, str(tmp_path))
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", "--checkpoint", ckpt, "--src", src, "--ref", src, "--beam", "0"])
    assert exit_.value.code == 2
    assert "--beam: should be a positive integer" in capsys.readouterr().err
    # --hyp-out naming an input file is refused before anything is written
    ref = tmp_path / "copy.ref"
    ref.write_bytes(Path(trained["ref"]).read_bytes())
    argv = ["evaluate", "--checkpoint", ckpt, "--src", src, "--ref", str(ref)]
    code = main([*argv, "--hyp-out", str(ref)])
    one_line_error(capsys, code, f"--hyp-out {ref} is the --ref file", "another file")
    assert ref.read_bytes() == Path(trained["ref"]).read_bytes()
    code = main([*argv, "--hyp-out", str(tmp_path)])
    one_line_error(capsys, code, "is a folder")


@pytest.mark.cuda
@pytest.mark.parametrize("flags", [[], ["--replace-unk", "--min-len", "2"]])
def test_evaluate_on_cuda_matches_the_cpu(
    trained: dict[str, Any], capsys: pytest.CaptureFixture[str], flags: list[str]
) -> None:
    cpu = evaluate(trained, capsys, "--beam", "4", "--device", "cpu", *flags)
    gpu = evaluate(trained, capsys, "--beam", "4", "--device", "cuda", *flags)
    assert gpu["device"].startswith("cuda")
    assert gpu["bleu"]["score"] == pytest.approx(cpu["bleu"]["score"], abs=0.5)
    assert gpu["perplexity"] == pytest.approx(cpu["perplexity"], rel=1e-3)
