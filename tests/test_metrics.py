"""Metrics: sacrebleu's numbers exactly, typed errors for bad input, safe perplexity."""

from __future__ import annotations

import math

import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st

from seqdata.errors import ConfigError, InputTypeError, SeqdataError, ShapeError
from seqdata.metrics import Score, corpus_bleu, corpus_chrf, exact_match, perplexity

HYPS = ["A white fence is flying.", "the dog runs in the park", "Two men , one ball .", "hi"]
REFS = ["A white fence.", "The dog is running in the park.", "Two men, one ball.", "hello"]


@pytest.mark.parametrize("lowercase", [False, True])
@pytest.mark.parametrize("tokenize", ["13a", "intl", "none"])
def test_bleu_equals_sacrebleu_called_directly(lowercase, tokenize):
    ours = corpus_bleu(HYPS, REFS, lowercase=lowercase, tokenize=tokenize)
    theirs = sacrebleu.corpus_bleu(HYPS, [REFS], lowercase=lowercase, tokenize=tokenize)
    assert ours.score == theirs.score
    metric = sacrebleu.metrics.BLEU(lowercase=lowercase, tokenize=tokenize)
    metric.corpus_score(HYPS, [REFS])
    assert ours.signature == str(metric.get_signature())
    assert ("case:lc" in ours.signature) == lowercase
    assert ours.format().startswith(f"BLEU = {theirs.score:.2f} (nrefs:1|")


@pytest.mark.parametrize("word_order", [0, 2])
def test_chrf_equals_sacrebleu_called_directly(word_order):
    ours = corpus_chrf(HYPS, REFS, word_order=word_order)
    theirs = sacrebleu.corpus_chrf(HYPS, [REFS], word_order=word_order)
    assert ours.score == theirs.score
    assert ours.name == ("chrF2++" if word_order else "chrF2")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=30), st.text(max_size=30)), min_size=1, max_size=8))
def test_bleu_and_chrf_match_sacrebleu_on_any_text(pairs):
    hyps, refs = [h for h, _ in pairs], [r for _, r in pairs]
    assert corpus_bleu(hyps, refs).score == sacrebleu.corpus_bleu(hyps, [refs]).score
    assert corpus_chrf(hyps, refs).score == sacrebleu.corpus_chrf(hyps, [refs]).score


def test_identical_text_scores_100_and_score_is_frozen():
    score = corpus_bleu(REFS, REFS)
    assert score.score == pytest.approx(100.0)
    assert isinstance(score, Score)
    with pytest.raises(AttributeError):
        score.score = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("fn", [corpus_bleu, corpus_chrf, exact_match])
def test_empty_and_mismatched_inputs_raise_typed_errors(fn):
    with pytest.raises(ConfigError, match="hyps should hold at least one"):
        fn([], [])
    with pytest.raises(ShapeError, match=r"len\(hyps\)=2 and len\(refs\)=1"):
        fn(["a", "b"], ["a"])
    with pytest.raises(InputTypeError, match=r"hyps\[1\] should be a str"):
        fn(["a", 3], ["a", "b"])
    with pytest.raises(InputTypeError, match="refs should be a sequence"):
        fn(["a"], "a")


def test_unknown_tokenizer_is_a_config_error():
    with pytest.raises(ConfigError, match="tokenize should be one of"):
        corpus_bleu(["a"], ["a"], tokenize="moses")


def test_perplexity_is_exp_and_overflow_safe():
    assert perplexity(math.log(50.0)) == pytest.approx(50.0)
    assert perplexity(0) == 1.0
    assert perplexity(800.0) == math.inf
    for bad in (-0.1, float("nan"), float("inf"), "1.0"):
        with pytest.raises(SeqdataError, match="mean_nll_nats should be"):
            perplexity(bad)  # type: ignore[arg-type]


def test_exact_match_counts_identical_lines():
    assert exact_match(["2024-01-02", "1999-12-31 "], ["2024-01-02", "1999-12-30"]) == 0.5
    assert exact_match(REFS, REFS) == 1.0
