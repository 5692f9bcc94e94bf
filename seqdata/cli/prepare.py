"""``seqdata prepare``: read, tokenize, index and store a parallel corpus.

The corpus is read in chunks with polars (two line-aligned files, or one pairs file), the
tokenizers and vocabularies are built (or taken from an earlier prepared folder with
``--vocab-from DIR``), and the encoded pairs are written as the memory-mappable store with
its manifest. The folder ``--out DIR``:

    DIR/
      manifest.json                 the store: counts, dtypes, vocabulary and file checksums
      src.values.npy  src.offsets.npy   source ids (flat) and where each example starts
      tgt.values.npy  tgt.offsets.npy   target ids, SOS/EOS included
      pipeline.json                 tokenizers + vocabularies (``--vocab-from DIR`` reuses it)
      summary.json                  counts, UNK rates, lengths, literal specials seen
      seqdata-output.json           written last: this folder is complete, and what prepare wrote
      valid/                        ``--valid-src/--valid-tgt``: the same store files and
      test/                         summary.json, encoded with the training vocabulary

``ParallelCorpus.load(DIR)``, ``ParallelCorpus.load(DIR / "valid")`` open the stores. An
existing ``DIR`` is refused unless ``--overwrite``; then only these entries are replaced.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqdata.cli import COMMANDS, UsageError, positive_int, progress, say
from seqdata.cli._prepared import PIPELINE_FILE, PREPARED, SUMMARY_FILE, pipeline_from_file
from seqdata.stats import length_summary

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``seqdata prepare``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "prepare",
        help=COMMANDS["prepare"],
        description="Read a parallel corpus with polars (two line-aligned files, or one pairs "
        "file: .txt 'src<TAB>tgt', .tsv/.csv with a header, .parquet, .jsonl), build tokenizers "
        "and vocabularies, encode, and write the memory-mappable store with its manifest.",
    )
    p.add_argument("--src", help="source-language file, one sentence per line")
    p.add_argument("--tgt", help="target-language file, as many lines")
    p.add_argument("--pairs", help="one file of pairs instead of --src/--tgt")
    p.add_argument("--src-col", default="src", help="source column of --pairs (default src)")
    p.add_argument("--tgt-col", default="tgt", help="target column of --pairs (default tgt)")
    p.add_argument(
        "--tokenizer",
        choices=("whitespace", "words", "char", "spm"),
        default="whitespace",
        help="whitespace-separated tokens; words with punctuation split off (translations are "
        "detokenized back to normal text); characters; or a sentencepiece model trained per "
        "side (default whitespace)",
    )
    p.add_argument(
        "--vocab-size",
        type=positive_int,
        default=None,
        help="largest vocabulary (spm: pieces per side, default 8000; else: most frequent tokens)",
    )
    p.add_argument(
        "--min-freq", type=positive_int, default=1, help="drop rarer tokens to UNK (default 1)"
    )
    p.add_argument(
        "--max-len",
        type=positive_int,
        default=None,
        help="truncate: source to N, target to N with SOS/EOS",
    )
    p.add_argument(
        "--lower", action="store_true", help="lower-case (whitespace and words tokenizers)"
    )
    p.add_argument(
        "--skip-empty", action="store_true", help="drop pairs with an empty side instead of failing"
    )
    p.add_argument("--valid-src", help="validation source file, encoded into OUT/valid/")
    p.add_argument("--valid-tgt", help="validation target file (with --valid-src)")
    p.add_argument("--test-src", help="test source file, encoded into OUT/test/")
    p.add_argument("--test-tgt", help="test target file (with --test-src)")
    p.add_argument(
        "--vocab-from",
        metavar="DIR",
        help="encode with the pipeline of an earlier prepared folder (no new vocabulary)",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier prepare output in --out (files you added there are kept)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


SPLITS = ("valid", "test")
#: Every entry prepare writes in --out (what --overwrite may replace).
OWNED = (
    "manifest.json",
    *(f"{side}.{part}.npy" for side in ("src", "tgt") for part in ("values", "offsets")),
    PIPELINE_FILE,
    SUMMARY_FILE,
    *SPLITS,
)
CHUNK_ROWS = 100_000  # rows per chunk: prepare's memory is bounded by this, not the corpus
SPM_SAMPLE = 1_000_000  # sentences per side sentencepiece trains on (its own default cap)


def _chunks(args: argparse.Namespace) -> Callable[[], Iterator[Any]]:
    """A re-iterable source of checked ``src``/``tgt`` chunks (read with polars)."""
    from seqdata import iter_pair_chunks, iter_parallel_chunks

    empty = "skip" if args.skip_empty else "error"
    if args.pairs is not None:
        return lambda: iter_pair_chunks(
            args.pairs, CHUNK_ROWS, src_col=args.src_col, tgt_col=args.tgt_col, empty=empty
        )
    return lambda: iter_parallel_chunks(args.src, args.tgt, CHUNK_ROWS, empty=empty)


def _tokenizers(args: argparse.Namespace, chunks: Callable[[], Iterator[Any]]) -> tuple[Any, Any]:
    from seqdata import SentencePieceTokenizer, make_tokenizer

    if args.tokenizer == "spm":
        size = args.vocab_size or 8000
        src: list[str] = []
        tgt: list[str] = []
        for chunk in chunks():  # the first SPM_SAMPLE pairs
            src.extend(chunk["src"].to_list())
            tgt.extend(chunk["tgt"].to_list())
            if len(src) >= SPM_SAMPLE:
                break
        # A soft limit: a side with fewer distinct pieces (digits, say) gets a smaller model.
        return (
            SentencePieceTokenizer.train(src[:SPM_SAMPLE], vocab_size=size, hard_vocab_limit=False),
            SentencePieceTokenizer.train(tgt[:SPM_SAMPLE], vocab_size=size, hard_vocab_limit=False),
        )
    lowerable = args.tokenizer in ("whitespace", "words")
    kwargs = {"lower": True} if args.lower and lowerable else {}
    if args.lower and not lowerable:
        raise UsageError("--lower applies to --tokenizer whitespace or words only")
    tok = make_tokenizer(args.tokenizer, **kwargs)
    return tok, tok


def _build_pipeline(
    args: argparse.Namespace,
    chunks: Callable[[], Iterator[Any]],
    src_tok: Any,
    tgt_tok: Any,
    steps: _Steps,
) -> Any:
    from seqdata import PairPipeline, Vocab

    if args.tokenizer == "spm":
        return PairPipeline(
            src_tok,
            tgt_tok,
            Vocab.from_sentencepiece(src_tok),
            Vocab.from_sentencepiece(tgt_tok),
            max_len=args.max_len,
        )
    from seqdata.prepare import count_corpus

    # Pass 1, overlapped: the next chunk is read while both sides are counted on two threads.
    src_counts, tgt_counts = count_corpus(chunks, (src_tok, tgt_tok), progress=steps.pairs)
    src_vocab = Vocab.from_counts(src_counts, min_freq=args.min_freq, max_size=args.vocab_size)
    tgt_vocab = Vocab.from_counts(tgt_counts, min_freq=args.min_freq, max_size=args.vocab_size)
    return PairPipeline(src_tok, tgt_tok, src_vocab, tgt_vocab, max_len=args.max_len)


def _check_args(args: argparse.Namespace) -> None:
    if args.pairs is None and (args.src is None or args.tgt is None):
        raise UsageError("give --src FILE and --tgt FILE (line-aligned), or --pairs FILE")
    if args.pairs is not None and (args.src is not None or args.tgt is not None):
        raise UsageError("give either --src/--tgt or --pairs, not both")
    if args.tokenizer == "spm" and args.min_freq != 1:
        raise UsageError("--min-freq applies to whitespace/char vocabularies, not to spm")
    for split in SPLITS:
        src, tgt = getattr(args, f"{split}_src"), getattr(args, f"{split}_tgt")
        if (src is None) != (tgt is None):
            raise UsageError(f"give both --{split}-src and --{split}-tgt, or neither")
    custom = args.tokenizer != "whitespace" or args.vocab_size or args.min_freq != 1 or args.lower
    if args.vocab_from is not None and custom:
        raise UsageError(
            "--vocab-from reuses that folder's tokenizers and vocabularies; drop "
            "--tokenizer/--vocab-size/--min-freq/--lower"
        )
    if args.max_len is not None and args.max_len < 3:
        raise UsageError(f"--max-len should be >= 3 (SOS, one token, EOS), but got {args.max_len}")


class _Steps:
    """Seconds per step of ``prepare``, shown on a progress bar."""

    def __init__(self, args: argparse.Namespace) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(
            desc="prepare", unit="pairs", unit_scale=True, disable=not progress(args), leave=False
        )
        self.timings: dict[str, float] = {}
        self.clock = time.perf_counter()

    def start(self, name: str) -> None:
        self.bar.set_description(f"prepare: {name}")

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self.clock, 3)
        self.clock = now

    def pairs(self, count: int) -> None:
        """``count`` more pairs read (each pass counts them: the bar shows pairs/s)."""
        self.bar.update(count)


def _summary(
    args: argparse.Namespace,
    pipeline: Any,
    written: Any,
    lengths: dict[str, np.ndarray],
    skipped: set[int],
) -> dict[str, Any]:
    return {
        "pairs": written.examples,
        "skipped_empty_lines": sorted(skipped),
        "input": {"pairs": args.pairs, "src": args.src, "tgt": args.tgt},
        "tokenizer": args.tokenizer,
        "vocab": {"src": len(pipeline.src_vocab), "tgt": len(pipeline.tgt_vocab)},
        "tokens": {"src": written.src_tokens, "tgt": written.tgt_tokens},
        "unk_rate": {"src": written.src_unk_rate, "tgt": written.tgt_unk_rate},
        "max_len": args.max_len,
        "truncated": {"src": written.src_truncated, "tgt": written.tgt_truncated},
        "specials_in_text": written.specials_in_text,
        "lengths": {side: length_summary(lengths[side]) for side in ("src", "tgt")},
    }


def run(args: argparse.Namespace) -> int:
    """Prepare the corpus into ``--out`` and print what was written."""
    from seqdata.outputs import check_output_dir, output_dir
    from seqdata.prepare import write_corpus
    from seqdata.readers import SkippedLinesWarning

    _check_args(args)
    check_output_dir(args.out, PREPARED, overwrite=args.overwrite)
    steps = _Steps(args)
    chunks = _chunks(args)
    skipped: set[int] = set()
    with steps.bar, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkippedLinesWarning)
        steps.start("tokenizers")
        if args.vocab_from is not None:
            pipeline = _reused_pipeline(args)
            steps.done("tokenizers")
        else:
            src_tok, tgt_tok = _tokenizers(args, chunks)
            steps.done("tokenizers")
            steps.start("vocabularies")
            pipeline = _build_pipeline(args, chunks, src_tok, tgt_tok, steps)
        steps.done("vocabularies")
        steps.start("encode and write")
        with output_dir(args.out, marker=PREPARED, overwrite=args.overwrite, owned=OWNED) as work:
            # Pass 2, overlapped: read ahead, encode on every core, write on a thread.
            written = write_corpus(work, chunks, pipeline, progress=steps.pairs)
            steps.done("encode and write")
            for warning in caught:
                if isinstance(warning.message, SkippedLinesWarning):
                    skipped.update(warning.message.lines)
            summary = _store_summary(args, pipeline, work, written, skipped)
            summary["splits"] = _write_splits(args, pipeline, work)
            pipeline_state = {"class": type(pipeline).__name__, "state": pipeline.to_dict()}
            (work / PIPELINE_FILE).write_text(json.dumps(pipeline_state) + "\n", encoding="utf-8")
            summary["seconds"] = steps.timings
            _write_summary(work, summary)
    for warning in caught:  # anything else the readers said reaches the user
        if not isinstance(warning.message, SkippedLinesWarning):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    _report(args, summary)
    return 0


def _reused_pipeline(args: argparse.Namespace) -> Any:
    """The pipeline of the prepared folder ``--vocab-from`` (its ``max_len`` unless given)."""
    from seqdata.outputs import finish_interrupted_merge

    finish_interrupted_merge(args.vocab_from)  # a killed `prepare --overwrite` left it halfway
    path = Path(args.vocab_from) / PIPELINE_FILE
    if not path.is_file():
        raise UsageError(
            f"--vocab-from {args.vocab_from} should be a folder written by `seqdata prepare` "
            f"(with {PIPELINE_FILE}), but {path} does not exist"
        )
    pipeline = pipeline_from_file(path)
    if args.max_len is not None:
        pipeline.max_len = args.max_len
    else:
        args.max_len = pipeline.max_len
    args.tokenizer = f"{type(pipeline.src_tokenizer).__name__} from {args.vocab_from}"
    return pipeline


def _store_summary(
    args: argparse.Namespace, pipeline: Any, work: Path, written: Any, skipped: set[int]
) -> dict[str, Any]:
    # the store's own reader, not ParallelCorpus (a torch Dataset): prepare never loads torch
    from seqdata.storage import load_field, read_manifest

    manifest = read_manifest(work, "parallel")
    lengths = {  # just written and hashed: no check again
        side: np.asarray(load_field(work, manifest, side, True, "none").lengths)
        for side in ("src", "tgt")
    }
    return _summary(args, pipeline, written, lengths, skipped)


def _write_summary(folder: Path, summary: dict[str, Any]) -> None:
    text = json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
    (folder / SUMMARY_FILE).write_text(text, encoding="utf-8")


def _write_splits(args: argparse.Namespace, pipeline: Any, work: Path) -> dict[str, Any]:
    """Encode ``--valid-*``/``--test-*`` with the training pipeline into ``work/<split>/``."""
    from seqdata.prepare import write_corpus
    from seqdata.readers import iter_parallel_chunks

    done: dict[str, Any] = {}
    empty = "skip" if args.skip_empty else "error"
    for split in SPLITS:
        src, tgt = getattr(args, f"{split}_src"), getattr(args, f"{split}_tgt")
        if src is None:
            continue

        def chunks(src: str = src, tgt: str = tgt) -> Iterator[Any]:
            return iter_parallel_chunks(src, tgt, CHUNK_ROWS, empty=empty)

        written = write_corpus(work / split, chunks, pipeline)
        summary = _store_summary(args, pipeline, work / split, written, set())
        summary["input"] = {"src": src, "tgt": tgt}
        _write_summary(work / split, summary)
        done[split] = {"pairs": written.examples, "unk_rate": summary["unk_rate"]}
    return done


def _report(args: argparse.Namespace, summary: dict[str, Any]) -> None:
    truncated = summary["truncated"]
    skipped_lines = summary["skipped_empty_lines"]
    s, t = summary["lengths"]["src"], summary["lengths"]["tgt"]
    seconds = sum(summary["seconds"].values())
    say(f"prepared {summary['pairs']:,} pairs into {args.out}/ ({seconds:.1f} s)")
    if skipped_lines:
        plural = "s" if len(skipped_lines) > 1 else ""
        say(
            f"  skipped {len(skipped_lines)} pair{plural} with an empty side "
            f"(line{plural} {_lines(skipped_lines)})"
        )
    say(
        f"  vocab: {summary['vocab']['src']:,} source / {summary['vocab']['tgt']:,} target "
        f"({args.tokenizer} tokens)"
    )
    say(
        f"  UNK rate: {summary['unk_rate']['src']:.2%} source, "
        f"{summary['unk_rate']['tgt']:.2%} target"
    )
    say(
        f"  lengths: source mean {s['mean']}, p95 {s['p95']:g}, max {s['max']}; target (with "
        f"SOS/EOS) mean {t['mean']}, p95 {t['p95']:g}, max {t['max']}"
    )
    if summary["specials_in_text"]:
        say(
            f"  {summary['specials_in_text']:,} literal special token(s) in the text (like "
            "<pad>, </s>) were stored as UNK: text never produces PAD/SOS/EOS ids"
        )
    for split, info in summary.get("splits", {}).items():
        say(
            f"  {split}: {info['pairs']:,} pairs into {args.out}/{split}/ (UNK rate "
            f"{info['unk_rate']['src']:.2%} source, {info['unk_rate']['tgt']:.2%} target)"
        )
    if args.max_len is not None:
        say(
            f"  truncated to --max-len {args.max_len}: {truncated['src']} source, "
            f"{truncated['tgt']} target examples"
        )


def _lines(lines: Sequence[int], limit: int = 10) -> str:
    shown = ", ".join(str(x) for x in lines[:limit])
    return shown + (f", … {len(lines) - limit} more" if len(lines) > limit else "")
