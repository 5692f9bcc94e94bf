"""``seqdata stats``: lengths, padding per batching strategy, and the buckets of a corpus."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from seqdata.cli import COMMANDS, UsageError, positive_int, say
from seqdata.cli._prepared import load_prepared
from seqdata.stats import length_summary

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``seqdata stats``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "stats",
        help=COMMANDS["stats"],
        description="Length percentiles, padding efficiency of random / bucketed / "
        "token-budget batches, and the length buckets of a prepared corpus.",
    )
    p.add_argument("dir", help="a folder written by seqdata prepare")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--batch-size", type=positive_int, help="examples per batch (default 64)")
    size.add_argument("--max-tokens", type=positive_int, help="token budget per batch and side")
    p.add_argument(
        "--bucket-width",
        type=positive_int,
        default=5,
        help="lengths within this many tokens share a bucket (default 5)",
    )
    p.add_argument(
        "--max-rows", type=positive_int, default=20, help="bucket table rows to show (default 20)"
    )
    p.add_argument("--plot", help="write a length histogram with the bucket edges to this .png")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Print the corpus's lengths, padding efficiencies and buckets; draw ``--plot``."""
    from seqdata.cli._batching import matching_batch_size, matching_max_tokens

    corpus, pipeline, _ = load_prepared(args.dir)
    if args.max_tokens is not None:
        max_tokens, batch_size = args.max_tokens, matching_batch_size(corpus, args.max_tokens)
    else:
        batch_size = args.batch_size or 64
        max_tokens = matching_max_tokens(corpus, batch_size)
    say(
        f"{args.dir}: {len(corpus):,} pairs, {corpus.src.num_tokens:,} source / "
        f"{corpus.tgt.num_tokens:,} target tokens; vocab {len(pipeline.src_vocab):,} / "
        f"{len(pipeline.tgt_vocab):,}"
    )
    say()
    _lengths(corpus)
    say()
    _padding(corpus, batch_size, max_tokens, args.bucket_width)
    say()
    _buckets(corpus, batch_size, args.bucket_width, args.max_rows)
    if args.plot is not None:
        _plot(args, corpus)
    return 0


def _lengths(corpus: Any) -> None:
    say(f"{'lengths':<10}{'mean':>8}{'p5':>7}{'p50':>7}{'p95':>7}{'p99':>7}{'max':>7}")
    for side, lengths in (("source", corpus.src_lengths), ("target", corpus.tgt_lengths)):
        s = length_summary(lengths)
        say(
            f"{side:<10}{s['mean']:>8.2f}{s['p5']:>7g}{s['p50']:>7g}{s['p95']:>7g}"
            f"{s['p99']:>7g}{s['max']:>7}"
        )
    say("(target lengths include SOS and EOS)")


def _padding(corpus: Any, batch_size: int, max_tokens: int, bucket_width: int) -> None:
    from seqdata import padding_stats
    from seqdata.cli._batching import batching_strategies

    strategies = batching_strategies(
        corpus, batch_size=batch_size, max_tokens=max_tokens, bucket_width=bucket_width, seed=0
    )
    say("padding efficiency (real tokens / padded tokens):")
    say(
        f"  {'strategy':<14}{'batches':>8}{'per batch':>11}{'src':>7}{'tgt':>7}{'both':>7}  setting"
    )
    for strategy in strategies:
        st = padding_stats(strategy.sampler, corpus)
        tgt_eff = st.tgt.efficiency if st.tgt is not None else 1.0
        say(
            f"  {strategy.name:<14}{st.batches:>8}{st.mean_batch_size:>11.1f}"
            f"{st.src.efficiency:>7.2f}{tgt_eff:>7.2f}{st.efficiency:>7.2f}  "
            f"{strategy.description}"
        )


def _buckets(corpus: Any, batch_size: int, bucket_width: int, max_rows: int) -> None:
    import polars as pl

    from seqdata.bucketing import bucket_keys

    ks, kt = bucket_keys(corpus.src_lengths, corpus.tgt_lengths, bucket_width)
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
    say(f"buckets (keys (len - min + 1) // width, width {bucket_width}), {table.height} non-empty:")
    say(f"  {'key':>9}  {'source':>9}  {'target':>9}{'examples':>10}{'batches':>9}")
    shown = table.sort("examples", descending=True).head(max_rows).sort("ks", "kt")
    for r in shown.iter_rows(named=True):
        key = f"({r['ks']}, {r['kt']})"
        say(
            f"  {key:>9}  {r['src_min']:>4}-{r['src_max']:<4}  {r['tgt_min']:>4}-{r['tgt_max']:<4}"
            f"{r['examples']:>10,}{r['batches']:>9,}"
        )
    if table.height > shown.height:
        rest = table.height - shown.height
        say(f"  … {rest} smaller buckets not shown (--max-rows)")


def _plot(args: argparse.Namespace, corpus: Any) -> None:
    from seqdata.plots import plot_lengths

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
    say(f"wrote {plot}")
