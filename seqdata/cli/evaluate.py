"""``seqdata evaluate``: translate a test set and score it with sacrebleu.

Usage:

    seqdata evaluate --checkpoint ckpt/ --src test.de --ref test.en --beam 5 --lowercase

The source file is translated as ``seqdata translate`` would (same flags: ``--beam``,
``--len-penalty``, ``--max-len``, ``--replace-unk``, ``--device``), the detokenized
hypotheses are scored against the *raw* reference lines — corpus BLEU and chrF through
sacrebleu, each printed with its signature so two runs can be compared — and, when the
references can be encoded with the checkpoint's pipeline, the model's perplexity on them
(teacher-forced, no label smoothing). ``--json`` prints one JSON object instead of the
report; ``--hyp-out`` keeps the hypotheses, one per line, to rescore with ``sacrebleu``
itself.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from seqdata.cli import COMMANDS, UsageError, add_device_option, say
from seqdata.cli.translate import add_decoding_options, load_translator, read_lines

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``seqdata evaluate``."""
    from seqdata.metrics import BLEU_TOKENIZERS

    p: argparse.ArgumentParser = subparsers.add_parser(
        "evaluate",
        help=COMMANDS["evaluate"],
        description="Translate --src with a checkpoint and score the detokenized output "
        "against the raw --ref lines with sacrebleu (corpus BLEU and chrF, with their "
        "signatures), plus the model's perplexity on the references.",
    )
    p.add_argument("--checkpoint", required=True, help="checkpoint folder (a Seq2Seq)")
    p.add_argument("--src", required=True, help="source sentences, one per line")
    p.add_argument("--ref", required=True, help="reference translations, aligned line by line")
    add_decoding_options(p)
    p.add_argument(
        "--lowercase", action="store_true", help="case-insensitive BLEU and chrF (sacrebleu -lc)"
    )
    p.add_argument(
        "--tokenize",
        choices=BLEU_TOKENIZERS,
        default="13a",
        help="sacrebleu's BLEU tokenizer (default 13a, the WMT standard)",
    )
    add_device_option(p)
    p.add_argument("--hyp-out", default=None, help="also write the hypotheses to this file")
    p.add_argument("--json", action="store_true", help="print one JSON object, not the report")
    p.set_defaults(func=run)
    return p


def _read_aligned(src: str, ref: str) -> tuple[list[str], list[str]]:
    """The source and reference lines; one line each, the same count, at least one."""
    from seqdata.errors import EmptyCorpusError, ParallelMismatchError

    for flag, name in (("--src", src), ("--ref", ref)):
        if name != "-" and not Path(name).is_file():
            raise UsageError(f"{flag} {name}: no such file")
    sources, references = read_lines(src), read_lines(ref)
    if len(sources) != len(references):
        raise ParallelMismatchError(
            f"--src {src} has {len(sources)} lines but --ref {ref} has {len(references)}; "
            "the files should be aligned line by line"
        )
    if not sources:
        raise EmptyCorpusError("has no lines; nothing to evaluate", path=src)
    return sources, references


def _perplexity(
    model: Any, pipeline: Any, texts: tuple[list[str], list[str]], batch_size: int, device: Any
) -> dict[str, Any]:
    """``{"perplexity", "nll", "ref_tokens"}``, or ``{"perplexity": None, "why": …}``."""
    from seqdata.errors import SeqdataError
    from seqdata.metrics import perplexity
    from seqdata.translation import reference_nll

    try:
        nll, tokens = reference_nll(model, pipeline, *texts, batch_size=batch_size, device=device)
    except SeqdataError as err:
        return {"perplexity": None, "why": f"the references cannot be encoded: {err}"}
    if tokens == 0 or math.isnan(nll):
        return {"perplexity": None, "why": "no line has a source token"}
    ppl = perplexity(nll)
    if not math.isfinite(ppl):
        return {"perplexity": None, "why": f"it overflows (mean NLL {nll:.1f} nats)"}
    return {"perplexity": ppl, "nll": nll, "ref_tokens": tokens}


def _check_hyp_out(args: argparse.Namespace) -> None:
    """Refuse a ``--hyp-out`` that is one of the input files (it would be overwritten)."""
    target = Path(args.hyp_out)
    if target.is_dir():
        raise UsageError(f"--hyp-out {target} is a folder; name a file")
    for flag, name in (("--src", args.src), ("--ref", args.ref)):
        if name != "-" and target.exists() and os.path.samefile(target, name):
            raise UsageError(
                f"--hyp-out {target} is the {flag} file; it would be overwritten — name "
                "another file"
            )


def _write_hyps(path: str, hyps: list[str]) -> None:
    from seqdata.errors import OutputError
    from seqdata.outputs import write_file_atomic

    target = Path(path)
    text = "".join(h.replace("\n", " ") + "\n" for h in hyps)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_file_atomic(target, text.encode("utf-8"))
    except OSError as err:
        raise OutputError(f"cannot write the hypotheses ({err.strerror})", path=target) from None


def _score(score: Any) -> dict[str, Any]:
    return {
        "name": score.name,
        "score": score.score,
        "signature": score.signature,
        "detail": score.detail,
    }


def _report(result: dict[str, Any]) -> None:
    say(
        f"{result['sentences']} sentences, beam {result['beam']} (len-penalty "
        f"{result['len_penalty']:g}{', <unk> replaced' if result['replace_unk'] else ''}), "
        f"max-len {result['max_len'] or '2 x source + 10'}, min-len {result['min_len']}, "
        f"{result['device']}: {result['seconds']:.1f} s "
        f"({result['sentences'] / max(result['seconds'], 1e-9):.1f} sentences/s)"
    )
    for key in ("bleu", "chrf"):
        s = result[key]
        say(f"{s['name']} = {s['score']:.2f} ({s['signature']})")
    say(f"  {result['bleu']['detail']}")
    if result["perplexity"] is None:
        say(f"perplexity: not computed ({result['why']})")
    else:
        say(
            f"perplexity = {result['perplexity']:.2f} (mean NLL {result['nll']:.4f} nats over "
            f"{result['ref_tokens']:,} reference tokens, teacher-forced)"
        )
    if result["hyp_out"]:
        say(f"hypotheses: {result['hyp_out']}")


def run(args: argparse.Namespace) -> int:
    """Translate ``--src``, score against ``--ref``, print the report (or ``--json``)."""
    from seqdata.device import resolve_device
    from seqdata.metrics import corpus_bleu, corpus_chrf
    from seqdata.translation import translate

    sources, references = _read_aligned(args.src, args.ref)
    if args.hyp_out:
        _check_hyp_out(args)  # before the long part
    device = resolve_device(args.device)
    model, pipeline, _ = load_translator(args.checkpoint, device)
    start = time.perf_counter()
    hyps = translate(
        model,
        pipeline,
        sources,
        beam=args.beam,
        len_penalty=args.len_penalty,
        max_len=args.max_len,
        min_len=args.min_len,
        batch_size=args.batch_size,
        device=device,
        replace_unk=args.replace_unk,
    )
    seconds = time.perf_counter() - start
    if args.hyp_out:
        _write_hyps(args.hyp_out, hyps)
    bleu = corpus_bleu(hyps, references, lowercase=args.lowercase, tokenize=args.tokenize)
    chrf = corpus_chrf(hyps, references, lowercase=args.lowercase)
    result: dict[str, Any] = {
        "checkpoint": args.checkpoint,
        "src": args.src,
        "ref": args.ref,
        "sentences": len(sources),
        "beam": args.beam,
        "len_penalty": args.len_penalty,
        "max_len": args.max_len,
        "min_len": args.min_len,
        "replace_unk": args.replace_unk,
        "lowercase": args.lowercase,
        "device": str(device),
        "seconds": seconds,
        "bleu": _score(bleu),
        "chrf": _score(chrf),
        **_perplexity(model, pipeline, (sources, references), args.batch_size, device),
        "hyp_out": args.hyp_out,
    }
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    else:
        _report(result)
    return 0
