"""Translation metrics: corpus BLEU and chrF through sacrebleu, perplexity, exact match.

BLEU and chrF are computed by `sacrebleu` (never re-implemented here), so the numbers equal
what a reader gets from the `sacrebleu` command line on the same detokenized text, and every
score carries sacrebleu's signature (tokenizer, casing, smoothing, version) so two runs can be
compared honestly.

>>> hyps = ["a white fence .", "the dog runs"]
>>> refs = ["a white fence .", "the dog is running"]
>>> score = corpus_bleu(hyps, refs)
>>> round(score.score, 1), score.name
(71.3, 'BLEU')
>>> score.signature.startswith("nrefs:1|case:mixed|eff:no|tok:13a")
True
>>> round(perplexity(0.0), 1), exact_match(hyps, refs)
(1.0, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from seqdata._checks import check_choice, check_float
from seqdata.errors import ConfigError, InputTypeError, ShapeError

__all__ = ["BLEU_TOKENIZERS", "Score", "corpus_bleu", "corpus_chrf", "exact_match", "perplexity"]

#: The tokenizers sacrebleu's BLEU accepts (``"13a"`` is the WMT default).
BLEU_TOKENIZERS = ("13a", "none", "intl", "char", "zh", "ja-mecab", "ko-mecab", "flores101")


@dataclass(frozen=True)
class Score:
    """One corpus-level score.

    Attributes:
        name: ``"BLEU"`` or ``"chrF2"`` (sacrebleu's name for the metric).
        score: the corpus score, 0–100.
        signature: sacrebleu's signature string, e.g.
            ``"nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"``.
        detail: sacrebleu's own one-line summary (n-gram precisions, brevity penalty …).
    """

    name: str
    score: float
    signature: str
    detail: str

    def format(self, digits: int = 2) -> str:
        """``"BLEU = 31.20 (nrefs:1|case:lc|…)"``: the score with its signature, for logs.

        >>> Score("BLEU", 31.2, "nrefs:1|case:lc", "").format()
        'BLEU = 31.20 (nrefs:1|case:lc)'
        """
        return f"{self.name} = {self.score:.{digits}f} ({self.signature})"


def _check_pairs(hyps: Sequence[str], refs: Sequence[str]) -> tuple[list[str], list[str]]:
    for name, texts in (("hyps", hyps), ("refs", refs)):
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise InputTypeError(
                f"{name} should be a sequence of strings (one per sentence), but got "
                f"{type(texts).__name__}"
            )
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InputTypeError(
                    f"{name}[{i}] should be a str, but got {type(text).__name__}; "
                    "detokenize the ids into text before scoring",
                    index=i,
                )
    if len(hyps) == 0:
        raise ConfigError("hyps should hold at least one sentence, but got an empty sequence")
    if len(hyps) != len(refs):
        raise ShapeError(
            f"hyps and refs should have one reference per hypothesis, but got len(hyps)="
            f"{len(hyps)} and len(refs)={len(refs)}; align the files line by line"
        )
    return list(hyps), list(refs)


def _score(metric: Any, name: str, hyps: list[str], refs: list[str]) -> Score:
    result = metric.corpus_score(hyps, [refs])
    return Score(name, float(result.score), str(metric.get_signature()), str(result))


def corpus_bleu(
    hyps: Sequence[str], refs: Sequence[str], *, lowercase: bool = False, tokenize: str = "13a"
) -> Score:
    """Corpus BLEU of detokenized hypotheses against one reference each (sacrebleu).

    Args:
        hyps: ``N`` system outputs, plain text.
        refs: ``N`` references, plain text, aligned with ``hyps``.
        lowercase: compare lower-cased text (sacrebleu ``-lc``).
        tokenize: sacrebleu's tokenizer, one of `BLEU_TOKENIZERS`.

    Raises:
        ConfigError: no hypotheses, or an unknown ``tokenize``.
        ShapeError: ``len(hyps) != len(refs)``.
        InputTypeError: an item that is not a string.
    """
    from sacrebleu.metrics import BLEU

    check_choice("tokenize", tokenize, BLEU_TOKENIZERS)
    hyp_list, ref_list = _check_pairs(hyps, refs)
    metric = BLEU(lowercase=bool(lowercase), tokenize=tokenize)
    return _score(metric, "BLEU", hyp_list, ref_list)


def corpus_chrf(
    hyps: Sequence[str], refs: Sequence[str], *, lowercase: bool = False, word_order: int = 0
) -> Score:
    """Corpus chrF (``word_order=2``: chrF++) against one reference each (sacrebleu).

    Args:
        hyps: ``N`` system outputs, plain text.
        refs: ``N`` references, aligned with ``hyps``.
        lowercase: compare lower-cased text.
        word_order: word n-gram order (0 = chrF, 2 = chrF++).

    >>> round(corpus_chrf(["a fence ."], ["a fence ."]).score, 1)
    100.0
    """
    from sacrebleu.metrics import CHRF

    check_choice("word_order", word_order, (0, 1, 2))
    hyp_list, ref_list = _check_pairs(hyps, refs)
    metric = CHRF(lowercase=bool(lowercase), word_order=word_order)
    name = "chrF2++" if word_order == 2 else ("chrF2+" if word_order == 1 else "chrF2")
    return _score(metric, name, hyp_list, ref_list)


def perplexity(mean_nll_nats: float) -> float:
    """``exp(mean_nll)``: perplexity from a mean negative log-likelihood in nats per token.

    Overflow-safe: a loss above ~709 nats gives ``inf`` instead of raising.

    >>> round(perplexity(math.log(8)), 6)
    8.0
    >>> perplexity(1000.0)
    inf
    """
    nll = check_float("mean_nll_nats", mean_nll_nats, low=0.0)
    try:
        return math.exp(nll)
    except OverflowError:
        return math.inf


def exact_match(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Fraction (0–1) of hypotheses identical to their reference (after stripping ends).

    Meaningful where a single output is right (dates, reversal); for translation use BLEU.
    """
    hyp_list, ref_list = _check_pairs(hyps, refs)
    hits = sum(h.strip() == r.strip() for h, r in zip(hyp_list, ref_list, strict=True))
    return hits / len(hyp_list)
