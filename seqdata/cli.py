"""The ``seqdata`` command: the demo, and the same stages on your own parallel corpus.

::

    seqdata demo                                   # built-in data, end to end
    seqdata tasks                                  # the built-in tasks
    seqdata prepare --src train.de --tgt train.en --out data/
    seqdata stats data/ --plot lengths.png
    seqdata train data/ --epochs 5 --out ckpt/
    seqdata translate --checkpoint ckpt/ < test.de > test.hyp.en

Every command has ``--help``. A bad input (a missing file, mismatched line counts, an empty
corpus, a checkpoint from another vocabulary, ``--device cuda`` without a GPU) prints one
line on stderr, ``seqdata <command>: error: …``, and exits with status 2; output folders
appear only when complete (written to a temporary folder, then renamed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from seqdata.errors import SeqdataError
from seqdata.stats import length_summary

__all__ = ["build_parser", "main"]

PREPARED = "prepare"
PIPELINE_FILE = "pipeline.json"
SUMMARY_FILE = "summary.json"


class UsageError(Exception):
    """A bad command line that argparse cannot see (reported like argparse's own errors)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(kind: Callable[[str], Any], ok: Callable[[Any], bool], what: str) -> Any:
    """An argparse ``type=``: parse with ``kind``, accept when ``ok``, else say ``what``."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"should be {what}, but got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"should be {what}, but got {value}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_nonnegative_int = _number(int, lambda v: v >= 0, "an integer >= 0")
_positive_float = _number(float, lambda v: v > 0, "a positive number")


def _progress(args: argparse.Namespace) -> bool:
    """Progress bars on a terminal only (a log file gets the per-epoch lines), never --quiet."""
    return not args.quiet and sys.stderr.isatty()


def _say(line: str = "") -> None:
    print(line, flush=True)


def _note(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- seqdata tasks


def cmd_tasks(args: argparse.Namespace) -> int:
    from seqdata.tasks import TASKS

    for task in TASKS.values():
        bar = f"bar: test exact match >= {task.bar:.0%}" if task.bar is not None else "no bar"
        size = "all" if task.default_size is None else f"{task.default_size:,}"
        _say(f"{task.name:<8}{task.summary}")
        _say(f"{'':<8}tokenizer {task.tokenizer}, demo size {size} training pairs, {bar}")
    return 0


# --------------------------------------------------------------------------- seqdata demo


def cmd_demo(args: argparse.Namespace) -> int:
    from seqdata.tasks.demo import DemoConfig, run_demo

    config = DemoConfig(
        task=args.task,
        size=args.size,
        epochs=args.epochs,
        cell=args.cell,
        device=args.device,
        seed=args.seed,
        out=args.out,
        batch_size=args.batch_size,
        hidden_size=args.hidden_size,
        embed_dim=args.embed_dim,
        compare=not args.no_compare,
        progress=_progress(args),
        threads=args.threads,
    )
    run_demo(config, echo=_say)
    return 0


# --------------------------------------------------------------------------- seqdata prepare


CHUNK_ROWS = 200_000  # rows per chunk: prepare's memory is bounded by this, not the corpus
SPM_SAMPLE = 1_000_000  # sentences per side sentencepiece trains on (its own default cap)


def _chunks(args: argparse.Namespace) -> Callable[[], Iterator[Any]]:
    """A re-iterable source of checked ``src``/``tgt`` chunks (read with polars)."""
    from seqdata.readers import iter_pair_chunks, iter_parallel_chunks

    empty = "skip" if args.skip_empty else "error"
    if args.pairs is not None:
        return lambda: iter_pair_chunks(
            args.pairs, CHUNK_ROWS, src_col=args.src_col, tgt_col=args.tgt_col, empty=empty
        )
    return lambda: iter_parallel_chunks(args.src, args.tgt, CHUNK_ROWS, empty=empty)


def _tokenizers(args: argparse.Namespace, chunks: Callable[[], Iterator[Any]]) -> tuple[Any, Any]:
    from seqdata.tokenizers import SentencePieceTokenizer, make_tokenizer

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
    kwargs = {"lower": True} if args.lower and args.tokenizer == "whitespace" else {}
    if args.lower and args.tokenizer != "whitespace":
        raise UsageError("--lower applies to --tokenizer whitespace only")
    tok = make_tokenizer(args.tokenizer, **kwargs)
    return tok, tok


def _build_pipeline(
    args: argparse.Namespace, chunks: Callable[[], Iterator[Any]], src_tok: Any, tgt_tok: Any
) -> Any:
    from seqdata.pipeline import PairPipeline
    from seqdata.vocab import Vocab

    if args.tokenizer == "spm":
        return PairPipeline(
            src_tok,
            tgt_tok,
            Vocab.from_sentencepiece(src_tok),
            Vocab.from_sentencepiece(tgt_tok),
            max_len=args.max_len,
        )
    return PairPipeline.build_from_chunks(
        chunks,
        src_tok,
        tgt_tok,
        min_freq=args.min_freq,
        max_size=args.vocab_size,
        max_len=args.max_len,
    )


def cmd_prepare(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from seqdata.readers import SkippedLinesWarning
    from seqdata.store import ParallelCorpus
    from seqdata.tasks.workflow import check_output_dir, output_dir

    if args.pairs is None and (args.src is None or args.tgt is None):
        raise UsageError("give --src FILE and --tgt FILE (line-aligned), or --pairs FILE")
    if args.pairs is not None and (args.src is not None or args.tgt is not None):
        raise UsageError("give either --src/--tgt or --pairs, not both")
    if args.tokenizer == "spm" and args.min_freq != 1:
        raise UsageError("--min-freq applies to whitespace/char vocabularies, not to spm")
    if args.max_len is not None and args.max_len < 3:
        raise UsageError(f"--max-len should be >= 3 (SOS, one token, EOS), but got {args.max_len}")
    check_output_dir(args.out, PREPARED)
    steps = ["tokenizers", "vocabularies", "encode and write"]
    bar = tqdm(
        total=len(steps), desc="prepare", unit="step", disable=not _progress(args), leave=False
    )
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def step(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now
        bar.update(1)

    chunks = _chunks(args)
    skipped: set[int] = set()
    with bar, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkippedLinesWarning)
        bar.set_description("prepare: tokenizers")
        src_tok, tgt_tok = _tokenizers(args, chunks)
        step("tokenizers")
        bar.set_description("prepare: vocabularies")
        pipeline = _build_pipeline(args, chunks, src_tok, tgt_tok)
        step("vocabularies")
        bar.set_description("prepare: encode and write")
        with output_dir(args.out, marker=PREPARED) as work:
            written = ParallelCorpus.write_chunks(work, chunks, pipeline)
            step("encode and write")
            for warning in caught:
                if isinstance(warning.message, SkippedLinesWarning):
                    skipped.update(warning.message.lines)
            corpus = ParallelCorpus.load(work, mmap=True)
            summary = {
                "pairs": written.examples,
                "skipped_empty_lines": sorted(skipped),
                "input": {"pairs": args.pairs, "src": args.src, "tgt": args.tgt},
                "tokenizer": args.tokenizer,
                "vocab": {"src": len(pipeline.src_vocab), "tgt": len(pipeline.tgt_vocab)},
                "tokens": {"src": written.src_tokens, "tgt": written.tgt_tokens},
                "unk_rate": {"src": written.src_unk_rate, "tgt": written.tgt_unk_rate},
                "max_len": args.max_len,
                "truncated": {"src": written.src_truncated, "tgt": written.tgt_truncated},
                "lengths": {
                    "src": length_summary(np.asarray(corpus.src_lengths)),
                    "tgt": length_summary(np.asarray(corpus.tgt_lengths)),
                },
            }
            del corpus  # release the memory maps before the folder is renamed
            pipeline_state = {"class": type(pipeline).__name__, "state": pipeline.to_dict()}
            (work / PIPELINE_FILE).write_text(json.dumps(pipeline_state) + "\n", encoding="utf-8")
            summary["seconds"] = timings
            (work / SUMMARY_FILE).write_text(
                json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
    for warning in caught:  # anything else the readers said reaches the user
        if not isinstance(warning.message, SkippedLinesWarning):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    truncated = summary["truncated"]
    skipped_lines = summary["skipped_empty_lines"]
    s, t = summary["lengths"]["src"], summary["lengths"]["tgt"]
    _say(f"prepared {summary['pairs']:,} pairs into {args.out}/ ({sum(timings.values()):.1f} s)")
    if skipped_lines:
        plural = "s" if len(skipped_lines) > 1 else ""
        _say(
            f"  skipped {len(skipped_lines)} pair{plural} with an empty side "
            f"(line{plural} {_lines(skipped_lines)})"
        )
    _say(
        f"  vocab: {len(pipeline.src_vocab):,} source / {len(pipeline.tgt_vocab):,} target "
        f"({args.tokenizer} tokens)"
    )
    _say(
        f"  UNK rate: {summary['unk_rate']['src']:.2%} source, "
        f"{summary['unk_rate']['tgt']:.2%} target"
    )
    _say(
        f"  lengths: source mean {s['mean']}, p95 {s['p95']:g}, max {s['max']}; target (with "
        f"SOS/EOS) mean {t['mean']}, p95 {t['p95']:g}, max {t['max']}"
    )
    if args.max_len is not None:
        _say(
            f"  truncated to --max-len {args.max_len}: {truncated['src']} source, "
            f"{truncated['tgt']} target examples"
        )
    return 0


def _lines(lines: Sequence[int], limit: int = 10) -> str:
    shown = ", ".join(str(x) for x in lines[:limit])
    return shown + (f", … {len(lines) - limit} more" if len(lines) > limit else "")


# --------------------------------------------------------------------------- prepared folders


def _load_prepared(directory: str, pipeline: Any = None) -> tuple[Any, Any, dict[str, Any]]:
    """``(corpus, pipeline, summary)`` of a ``seqdata prepare`` folder."""
    from seqdata.store import ParallelCorpus

    root = Path(directory)
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder; run `seqdata prepare ... --out {root}` first")
    path = root / PIPELINE_FILE
    if not path.is_file():
        raise UsageError(
            f"{root} is not a folder written by `seqdata prepare` (no {PIPELINE_FILE}); run "
            "seqdata prepare first"
        )
    if pipeline is None:
        pipeline = _pipeline_from_file(path)
    corpus = ParallelCorpus.load(root, pipeline=pipeline)
    try:
        summary = json.loads((root / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        summary = {}
    return corpus, pipeline, summary


def _pipeline_from_file(path: Path) -> Any:
    import seqdata.pipeline

    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        cls = getattr(seqdata.pipeline, entry["class"])
        return cls.from_dict(entry["state"])
    except SeqdataError:
        raise
    except Exception as err:
        raise UsageError(f"{path} cannot be read as a seqdata pipeline ({err!r})") from err


# --------------------------------------------------------------------------- seqdata stats


def cmd_stats(args: argparse.Namespace) -> int:
    import polars as pl

    from seqdata.samplers import bucket_keys
    from seqdata.stats import padding_stats
    from seqdata.tasks.workflow import (
        batching_strategies,
        matching_batch_size,
        matching_max_tokens,
        plot_lengths,
    )

    corpus, pipeline, _ = _load_prepared(args.dir)
    if args.max_tokens is not None:
        max_tokens, batch_size = args.max_tokens, matching_batch_size(corpus, args.max_tokens)
    else:
        batch_size = args.batch_size or 64
        max_tokens = matching_max_tokens(corpus, batch_size)
    _say(
        f"{args.dir}: {len(corpus):,} pairs, {corpus.src.num_tokens:,} source / "
        f"{corpus.tgt.num_tokens:,} target tokens; vocab {len(pipeline.src_vocab):,} / "
        f"{len(pipeline.tgt_vocab):,}"
    )
    _say()
    _say(f"{'lengths':<10}{'mean':>8}{'p5':>7}{'p50':>7}{'p95':>7}{'p99':>7}{'max':>7}")
    for side, lengths in (("source", corpus.src_lengths), ("target", corpus.tgt_lengths)):
        s = length_summary(lengths)
        _say(
            f"{side:<10}{s['mean']:>8.2f}{s['p5']:>7g}{s['p50']:>7g}{s['p95']:>7g}"
            f"{s['p99']:>7g}{s['max']:>7}"
        )
    _say("(target lengths include SOS and EOS)")
    _say()
    strategies = batching_strategies(
        corpus,
        batch_size=batch_size,
        max_tokens=max_tokens,
        bucket_width=args.bucket_width,
        seed=0,
    )
    _say("padding efficiency (real tokens / padded tokens):")
    _say(
        f"  {'strategy':<14}{'batches':>8}{'per batch':>11}{'src':>7}{'tgt':>7}{'both':>7}  setting"
    )
    for strategy in strategies:
        st = padding_stats(strategy.sampler, corpus)
        tgt_eff = st.tgt.efficiency if st.tgt is not None else 1.0
        _say(
            f"  {strategy.name:<14}{st.batches:>8}{st.mean_batch_size:>11.1f}"
            f"{st.src.efficiency:>7.2f}{tgt_eff:>7.2f}{st.efficiency:>7.2f}  "
            f"{strategy.description}"
        )
    _say()
    ks, kt = bucket_keys(corpus.src_lengths, corpus.tgt_lengths, args.bucket_width)
    table = (
        pl.DataFrame({"ks": ks, "kt": kt, "src": corpus.src_lengths, "tgt": corpus.tgt_lengths})
        .group_by("ks", "kt")
        .agg(
            pl.len().alias("examples"),
            pl.col("src").min().alias("src_min"),
            pl.col("src").max().alias("src_max"),
            pl.col("tgt").min().alias("tgt_min"),
            pl.col("tgt").max().alias("tgt_max"),
        )
        .with_columns(((pl.col("examples") + batch_size - 1) // batch_size).alias("batches"))
        .sort("ks", "kt")
    )
    _say(
        f"buckets (the notes' keys, width {args.bucket_width}: (len - min + 1) // width), "
        f"{table.height} non-empty:"
    )
    _say(f"  {'key':>9}  {'source':>9}  {'target':>9}{'examples':>10}{'batches':>9}")
    shown = table.sort("examples", descending=True).head(args.max_rows).sort("ks", "kt")
    for r in shown.iter_rows(named=True):
        key = f"({r['ks']}, {r['kt']})"
        _say(
            f"  {key:>9}  {r['src_min']:>4}-{r['src_max']:<4}  {r['tgt_min']:>4}-{r['tgt_max']:<4}"
            f"{r['examples']:>10,}{r['batches']:>9,}"
        )
    if table.height > shown.height:
        rest = table.height - shown.height
        _say(f"  … {rest} smaller buckets not shown (--max-rows)")
    if args.plot is not None:
        plot = Path(args.plot)
        if plot.suffix.lower() != ".png":
            raise UsageError(f"--plot should name a .png file, but got {args.plot!r}")
        plot.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{plot.name}.", suffix=".png", dir=plot.parent)
        os.close(fd)
        try:
            plot_lengths(
                tmp,
                corpus.src_lengths,
                corpus.tgt_lengths,
                bucket_width=args.bucket_width,
                title=f"{args.dir}: {len(corpus):,} pairs",
            )
            os.replace(tmp, plot)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        _say(f"wrote {plot}")
    return 0


# --------------------------------------------------------------------------- seqdata train


def _check_checkpoint_out(path: str) -> None:
    out = Path(path)
    if out.exists() and (
        out.is_file() or (any(out.iterdir()) and not (out / "config.json").is_file())
    ):
        raise UsageError(
            f"--out {out} exists and is not a seqdata checkpoint; refusing to overwrite it — "
            "choose a new folder"
        )


def _resume(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """Load ``--resume CKPT`` and the prepared corpus, checking they share vocabularies."""
    from seqdata.errors import ManifestError
    from seqdata.train import load_checkpoint

    model, pipeline, _ = load_checkpoint(args.resume)
    if pipeline is None:
        raise UsageError(
            f"--resume {args.resume} holds no pipeline; it cannot be trained on {args.dir}"
        )
    try:
        corpus, _, _ = _load_prepared(args.dir, pipeline=pipeline)
    except ManifestError as err:
        raise UsageError(
            f"checkpoint {args.resume} was trained with another vocabulary than {args.dir} "
            f"({err.message}); train from scratch, or prepare the corpus with the checkpoint's "
            "pipeline"
        ) from err
    return model, pipeline, corpus


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from seqdata.models import Seq2Seq
    from seqdata.samplers import BucketBatchSampler
    from seqdata.tasks.workflow import check_device, loader, split_holdout
    from seqdata.train import exact_match, fit, save_checkpoint

    device = check_device(args.device)
    _check_checkpoint_out(args.out)
    torch.manual_seed(args.seed)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.resume is not None:
        model, pipeline, corpus = _resume(args)
        _say(f"resuming {args.resume}: the model's architecture comes from the checkpoint")
    else:
        corpus, pipeline, _ = _load_prepared(args.dir)
        model = Seq2Seq.build(
            len(pipeline.src_vocab),
            len(pipeline.tgt_vocab),
            embed_dim=args.embed_dim,
            hidden_size=args.hidden_size,
            cell=args.cell,
            num_layers=args.num_layers,
            attention=None if args.attention == "none" else args.attention,
            dropout=args.dropout,
            pad_id=pipeline.tgt_vocab.pad_id,
            sos_id=pipeline.tgt_vocab.sos_id,
            eos_id=pipeline.tgt_vocab.eos_id,
        )
    valid_size = args.valid if args.valid is not None else min(1000, len(corpus) // 20)
    train, valid = split_holdout(corpus, valid_size, seed=args.seed)
    pad = pipeline.tgt_vocab.pad_id
    sampler = BucketBatchSampler(
        train.src_lengths,
        train.tgt_lengths,
        batch_size=args.batch_size,
        bucket_width=args.bucket_width,
        seed=args.seed,
    )
    valid_loader = None
    if valid is not None:
        valid_loader = loader(
            valid,
            BucketBatchSampler(valid.src_lengths, valid.tgt_lengths, batch_size=256, shuffle=False),
            pad_id=pad,
        )
    n_params = sum(p.numel() for p in model.parameters())
    _say(
        f"training on {len(train):,} pairs ({0 if valid is None else len(valid):,} held out), "
        f"{n_params:,} parameters, {args.epochs} epoch{'' if args.epochs == 1 else 's'} on {device}"
    )
    history: list[dict[str, Any]] = []

    def on_epoch_end(stats: Any) -> None:
        entry = {
            "epoch": stats.epoch + 1,
            "train_loss": stats.train_loss,
            "valid_loss": stats.valid_loss,
            "seconds": stats.seconds,
            "samples_per_s": stats.samples_per_s,
        }
        line = f"epoch {stats.epoch + 1}/{args.epochs}: train loss {stats.train_loss:.4f}"
        if valid_loader is not None:
            em = exact_match(model, valid_loader)
            entry["valid_exact_match"] = em
            line += f", valid loss {stats.valid_loss:.4f}, valid exact match {em:.1%}"
        history.append(entry)
        _say(line + f", {stats.seconds:.1f} s ({stats.samples_per_s:,.0f} samples/s)")

    fit(
        model,
        loader(train, sampler, pad_id=pad),
        epochs=args.epochs,
        lr=args.lr,
        device=device,
        valid_loader=valid_loader,
        progress=_progress(args),
        on_epoch_end=on_epoch_end,
    )
    path = save_checkpoint(
        args.out,
        model.cpu(),
        pipeline=pipeline,
        extra={
            "corpus": str(Path(args.dir).resolve()),
            "history": history,
            "max_tgt_len": int(corpus.tgt_lengths.max()),
        },
    )
    _say(f"wrote checkpoint {path}/ — translate with: seqdata translate --checkpoint {path} FILE")
    return 0


# --------------------------------------------------------------------------- seqdata translate


def _read_lines(source: str) -> list[str]:
    from seqdata.errors import UndecodableInputError

    if source == "-":
        data, name = sys.stdin.buffer.read(), "<stdin>"
    else:
        path = Path(source)
        if not path.is_file():
            raise UsageError(f"{source}: no such file")
        data, name = path.read_bytes(), source
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for number, raw in enumerate(lines, start=1):
        try:
            out.append(raw.decode("utf-8").removesuffix("\r"))
        except UnicodeDecodeError as err:
            raise UndecodableInputError(
                f"is not valid UTF-8 ({err.reason} at byte {err.start}); convert the file to "
                "UTF-8 first",
                path=name,
                line=number,
            ) from None
    if out and out[0].startswith("\ufeff"):
        out[0] = out[0][1:]
    return out


def cmd_translate(args: argparse.Namespace) -> int:
    from seqdata.errors import CheckpointError
    from seqdata.models import Seq2Seq
    from seqdata.tasks.workflow import check_device, translate_texts
    from seqdata.train import load_checkpoint

    device = check_device(args.device)
    model, pipeline, extra = load_checkpoint(args.checkpoint, map_location=device)
    if not isinstance(model, Seq2Seq):
        raise CheckpointError(
            f"holds a {type(model).__name__}; translate needs a Seq2Seq checkpoint "
            "(from seqdata train or seqdata demo)",
            path=args.checkpoint,
        )
    if pipeline is None or not hasattr(pipeline, "decode_target"):
        raise CheckpointError(
            "holds no PairPipeline (tokenizers and vocabularies); save it with "
            "save_checkpoint(..., pipeline=pipeline)",
            path=args.checkpoint,
        )
    sizes = (model.config.encoder.vocab_size, model.config.decoder.vocab_size)
    vocabs = (len(pipeline.src_vocab), len(pipeline.tgt_vocab))
    if sizes != vocabs:
        raise CheckpointError(
            f"the model was built for vocabularies of {sizes[0]} source / {sizes[1]} target "
            f"tokens, but its pipeline has {vocabs[0]} / {vocabs[1]}: the pipeline comes from "
            "another vocabulary; use the pipeline the model was trained with",
            path=args.checkpoint,
        )
    texts = _read_lines(args.input)
    max_len = args.max_len
    if max_len is None and isinstance(extra, dict) and isinstance(extra.get("max_tgt_len"), int):
        max_len = 2 * int(extra["max_tgt_len"])
    hyps = translate_texts(
        model, pipeline, texts, max_len=max_len, batch_size=args.batch_size, device=device
    )
    sys.stdout.write("".join(h.replace("\n", " ") + "\n" for h in hyps))
    sys.stdout.flush()
    return 0


# --------------------------------------------------------------------------- the parser


def _add_model_options(p: argparse.ArgumentParser, *, epochs: int) -> None:
    p.add_argument(
        "--cell", choices=("gru", "lstm", "rnn"), default="gru", help="RNN cell (default gru)"
    )
    p.add_argument(
        "--epochs", type=_positive_int, default=epochs, help=f"training epochs (default {epochs})"
    )
    p.add_argument(
        "--device", default="cpu", help="cpu or cuda (default cpu); cuda needs a GPU build of torch"
    )
    p.add_argument("--seed", type=_nonnegative_int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--batch-size", type=_positive_int, default=64, help="examples per batch (default 64)"
    )
    p.add_argument(
        "--embed-dim", type=_positive_int, default=64, help="embedding size (default 64)"
    )
    p.add_argument(
        "--hidden-size",
        type=_positive_int,
        default=128,
        help="hidden size per direction (default 128)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars (shown on a terminal)")


def build_parser() -> argparse.ArgumentParser:
    """The ``seqdata`` argument parser (every subcommand has ``--help``)."""
    parser = _Parser(
        prog="seqdata",
        description="Text to length-bucketed batches for RNN/LSTM/GRU models: the demo, and "
        "the same stages on your own parallel corpus.",
        epilog="Start with `seqdata demo`; then prepare → stats → train → translate.",
    )
    from seqdata import __version__
    from seqdata.tasks.demo import DemoConfig

    parser.add_argument("--version", action="version", version=f"seqdata {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "tasks", help="list the built-in tasks", description="List the built-in tasks."
    )
    p.set_defaults(func=cmd_tasks)

    p = sub.add_parser(
        "demo",
        help="run the whole pipeline on built-in data",
        description="Build a built-in task, compare batching strategies, train the GRU "
        "encoder-decoder with attention on bucketed batches, evaluate exact match on the test "
        "split, and write a report folder with plots, sample translations and a checkpoint.",
    )
    p.add_argument(
        "--task", default="dates", help="built-in task (see `seqdata tasks`; default dates)"
    )
    p.add_argument(
        "--size",
        type=_positive_int,
        default=None,
        help="training pairs (default: the task's; small for a quick try)",
    )
    p.add_argument("--out", default="seqdata-demo", help="report folder (default ./seqdata-demo)")
    p.add_argument(
        "--no-compare", action="store_true", help="skip timing one epoch of each batching strategy"
    )
    _add_model_options(p, epochs=DemoConfig.epochs)
    p.add_argument(
        "--threads",
        type=_positive_int,
        default=DemoConfig.threads,
        help="torch CPU threads (default 1: the demo's model is small, and one thread is not "
        "slowed down by other busy processes)",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "prepare",
        help="read, tokenize, index and store a parallel corpus",
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
        choices=("whitespace", "char", "spm"),
        default="whitespace",
        help="whitespace words, characters, or a sentencepiece BPE per side (default whitespace)",
    )
    p.add_argument(
        "--vocab-size",
        type=_positive_int,
        default=None,
        help="largest vocabulary (spm: pieces per side, default 8000; else: most frequent tokens)",
    )
    p.add_argument(
        "--min-freq", type=_positive_int, default=1, help="drop rarer tokens to UNK (default 1)"
    )
    p.add_argument(
        "--max-len",
        type=_positive_int,
        default=None,
        help="truncate: source to N, target to N with SOS/EOS",
    )
    p.add_argument("--lower", action="store_true", help="lower-case (whitespace tokenizer)")
    p.add_argument(
        "--skip-empty", action="store_true", help="drop pairs with an empty side instead of failing"
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser(
        "stats",
        help="length percentiles, padding efficiency per batching strategy, bucket table",
        description="Length percentiles, padding efficiency of random / bucketed / "
        "token-budget batches, and the notes' bucket table of a prepared corpus.",
    )
    p.add_argument("dir", help="a folder written by seqdata prepare")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--batch-size", type=_positive_int, help="examples per batch (default 64)")
    size.add_argument("--max-tokens", type=_positive_int, help="token budget per batch and side")
    p.add_argument(
        "--bucket-width", type=_positive_int, default=5, help="the notes' max_pad_len (default 5)"
    )
    p.add_argument(
        "--max-rows", type=_positive_int, default=20, help="bucket table rows to show (default 20)"
    )
    p.add_argument("--plot", help="write a length histogram with the bucket edges to this .png")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser(
        "train",
        help="train the encoder-decoder on a prepared corpus",
        description="Train the reference Seq2Seq (bidirectional encoder, attention) on bucketed "
        "batches of a prepared corpus, holding out a validation set; write a checkpoint that "
        "seqdata translate reloads.",
    )
    p.add_argument("dir", help="a folder written by seqdata prepare")
    p.add_argument("--out", required=True, help="checkpoint folder")
    _add_model_options(p, epochs=5)
    p.add_argument(
        "--threads", type=_positive_int, default=None, help="torch CPU threads (default: torch's)"
    )
    p.add_argument("--num-layers", type=_positive_int, default=1, help="RNN layers (default 1)")
    p.add_argument(
        "--attention",
        choices=("general", "dot", "none"),
        default="general",
        help="attention over the encoder outputs (default general)",
    )
    p.add_argument("--dropout", type=float, default=0.0, help="dropout between layers (default 0)")
    p.add_argument(
        "--lr", type=_positive_float, default=2e-3, help="Adam learning rate (default 0.002)"
    )
    p.add_argument(
        "--bucket-width", type=_positive_int, default=5, help="the notes' max_pad_len (default 5)"
    )
    p.add_argument(
        "--valid",
        type=_nonnegative_int,
        default=None,
        help="pairs held out for validation (default 5%%, at most 1000)",
    )
    p.add_argument("--resume", help="continue training this checkpoint (same vocabularies)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "translate",
        help="translate lines with a checkpoint (stdin to stdout)",
        description="Greedy-translate one sentence per line with a checkpoint from seqdata "
        "train or seqdata demo; output has one line per input line.",
    )
    p.add_argument("input", nargs="?", default="-", help="input file, or - for stdin (default)")
    p.add_argument("--checkpoint", required=True, help="checkpoint folder")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument(
        "--batch-size", type=_positive_int, default=128, help="sentences per batch (default 128)"
    )
    p.add_argument(
        "--max-len", type=_positive_int, default=None, help="most target tokens to generate"
    )
    p.set_defaults(func=cmd_translate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``seqdata`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = f"seqdata {args.command}"
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except UsageError as err:
        _note(f"{prog}: error: {err}")
        return 2
    except SeqdataError as err:
        _note(f"{prog}: error: {err}")
        return 2
    except BrokenPipeError:
        # `seqdata translate ... | head`: the reader left; stop quietly, like other tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as err:
        _note(f"{prog}: error: {err}")
        return 2
    except KeyboardInterrupt:
        _note(f"{prog}: interrupted")
        return 130
