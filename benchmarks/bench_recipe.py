"""Which ingredient of ``seqdata train --recipe rnn-attention`` buys how much BLEU.

The ablation runs on the shipped ``bible`` task (ASV → WEB English, by verse), through the
command line a user runs (``seqdata prepare``, ``seqdata train``, ``seqdata evaluate``), one
ingredient added per row:

1. today's defaults (GRU, embed 64, hidden 128, Luong "general" attention, no dropout,
   Adam 2e-3, batches of 64);
2. + size: embed 256, hidden 512;
3. + dropout 0.3 (embeddings and outputs);
4. + label smoothing 0.1;
5. + additive (Bahdanau) attention;
6. + beam 5 at test time (run 5's ``best/``, decoded again);
7. the whole preset, ``--recipe rnn-attention`` (adds the plateau decay of the learning
   rate, token-budget batches — ``--max-tokens auto``, 1,024 tokens on this corpus — and
   early stopping), beam 5;
8. the preset as first written (Adam 1e-3, 4,096-token batches), beam 5 — the row that
   moved the preset to 2e-3 and 1,024 tokens;
9. the preset with 2,048-token batches, beam 5 — half the updates of row 7: the row behind
   ``--max-tokens auto`` (1,024 tokens for a corpus this small);
10. row 7's ``best/`` decoded again with beam 5 and ``--replace-unk`` (each ``<unk>``
    written as the source word the model attended to most).

Every row prints test BLEU and chrF (sacrebleu, 13a; lowercased and cased) and the training
seconds per epoch. ``best/`` (selected by validation BLEU) is the checkpoint scored.

For a 2-core CPU the setting is reduced: ``--pairs`` training verses (default 8,000) whose
both sides have at most ``--max-len`` whitespace words (default 20), at most ``--valid`` and
``--test`` verses of the same length from the task's validation and test splits,
``--epochs`` epochs (default 20; the recipe's patience may stop it earlier) and model sizes
multiplied by ``--scale`` (default 0.25: the "256/512" of rows 2–8 become 64/128, the
defaults' 64/128 become 16/32). The tokenizer is whitespace with ``--lower`` and a
``--vocab-size`` of 4,000 per side, so the cased scores are those of a lowercasing system.
Training uses one thread (``--threads 1``): on a shared 2-core machine two torch threads
were ~10x slower for these small models. The absolute numbers belong to this reduced
setting; the full run (``--scale 1 --pairs 0 --max-len 0 --epochs 15``, all ~29k training
verses) is the GPU one.

    python benchmarks/bench_recipe.py [--pairs 8000] [--max-len 20] [--test 500] [--epochs 20]
        [--scale 0.25] [--threads 1] [--work DIR] [--runs 1,2,3,4,5,6,7,8,9,10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

from seqdata.metrics import corpus_bleu, corpus_chrf
from seqdata.tasks import load_task

BASE = {"embed_dim": 64, "hidden_size": 128}
BIG = {"embed_dim": 256, "hidden_size": 512}

# row: (label, flags besides the sizes, sizes, beam, trained by row)
ROWS: dict[int, tuple[str, list[str], dict[str, int], int, int]] = {
    1: ("(1) today's defaults", [], BASE, 1, 1),
    2: ("(2) + size 256/512", [], BIG, 1, 2),
    3: ("(3) + dropout 0.3", ["--dropout", "0.3"], BIG, 1, 3),
    4: (
        "(4) + label smoothing 0.1",
        ["--dropout", "0.3", "--label-smoothing", "0.1"],
        BIG,
        1,
        4,
    ),
    5: (
        "(5) + additive attention",
        ["--dropout", "0.3", "--label-smoothing", "0.1", "--attention", "additive"],
        BIG,
        1,
        5,
    ),
    6: ("(6) + beam 5", [], BIG, 5, 5),
    7: ("(7) --recipe rnn-attention, beam 5", ["--recipe", "rnn-attention"], BIG, 5, 7),
    8: (
        "(8) recipe as first: lr 1e-3, 4,096 tok",
        ["--recipe", "rnn-attention", "--lr", "1e-3", "--max-tokens", "4096"],
        BIG,
        5,
        8,
    ),
    9: (
        "(9) recipe, 2,048-token batches",
        ["--recipe", "rnn-attention", "--max-tokens", "2048"],
        BIG,
        5,
        9,
    ),
    10: ("(10) (7) + --replace-unk", [], BIG, 5, 7),
}
# row: flags of `seqdata evaluate` besides --beam
DECODE: dict[int, list[str]] = {10: ["--replace-unk"]}


def _seqdata(*argv: str, env: dict[str, str]) -> str:
    """Run ``python -m seqdata ARGV``; its stdout (stderr passes through on failure)."""
    done = subprocess.run(
        [sys.executable, "-m", "seqdata", *argv], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"seqdata {' '.join(argv)} failed ({done.returncode})")
    return done.stdout


def write_splits(work: Path, pairs: int, valid: int, test: int, max_len: int) -> dict[str, int]:
    """Write ``{train,valid,test}.{src,tgt}`` of short bible verses; their sizes."""
    frame = load_task("bible")
    if max_len > 0:
        frame = frame.filter(
            (pl.col("src").str.split(" ").list.len() <= max_len)
            & (pl.col("tgt").str.split(" ").list.len() <= max_len)
        )
    sizes = {}
    for split, n in (("train", pairs), ("valid", valid), ("test", test)):
        part = frame.filter(pl.col("split") == split)
        part = part.head(n) if n > 0 else part
        sizes[split] = part.height
        for side in ("src", "tgt"):
            lines = "".join(line + "\n" for line in part[side].to_list())
            (work / f"{split}.{side}").write_text(lines, encoding="utf-8")
    return sizes


def _sizes(sizes: dict[str, int], scale: float) -> list[str]:
    return [
        "--embed-dim",
        str(max(8, round(sizes["embed_dim"] * scale))),
        "--hidden-size",
        str(max(8, round(sizes["hidden_size"] * scale))),
    ]


def train(row: int, args: argparse.Namespace, work: Path, env: dict[str, str]) -> Path:
    """Train row ``row``'s model into ``work/runN``; the run folder."""
    _, flags, sizes, _, _ = ROWS[row]
    out = work / f"run{row}"
    _seqdata(
        "train",
        str(work / "data"),
        "--out",
        str(out),
        "--overwrite",
        "--epochs",
        str(args.epochs),
        "--threads",
        str(args.threads),
        "--bleu-pairs",
        str(args.bleu_pairs),
        "--quiet",
        *flags,
        *_sizes(sizes, args.scale),
        env=env,
    )
    return out


def score(
    run: Path, beam: int, work: Path, env: dict[str, str], flags: list[str]
) -> dict[str, Any]:
    """Test BLEU/chrF (lowercased and cased) of ``run``'s ``best/`` decoded with ``beam``
    and the evaluate ``flags``."""
    hyp = work / f"{run.name}.beam{beam}{''.join(flags).replace('--', '.')}.hyp"
    got = json.loads(
        _seqdata(
            "evaluate",
            "--checkpoint",
            str(run),
            "--src",
            str(work / "test.src"),
            "--ref",
            str(work / "test.tgt"),
            "--beam",
            str(beam),
            "--hyp-out",
            str(hyp),
            "--device",
            "cpu",
            "--json",
            *flags,
            env=env,
        )
    )
    hyps = hyp.read_text(encoding="utf-8").splitlines()
    refs = (work / "test.tgt").read_text(encoding="utf-8").splitlines()
    epochs = [
        json.loads(line)
        for line in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    seconds = [e["seconds"] for e in epochs if e.get("kind") == "epoch"]
    return {
        "bleu_lc": corpus_bleu(hyps, refs, lowercase=True).score,
        "chrf_lc": corpus_chrf(hyps, refs, lowercase=True).score,
        "bleu": corpus_bleu(hyps, refs).score,
        "chrf": corpus_chrf(hyps, refs).score,
        "s_per_epoch": sum(seconds) / max(len(seconds), 1),
        "decode_s": got["seconds"],
        "signature": got["bleu"]["signature"],
    }


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", type=int, default=8000, help="training verses (0: all)")
    p.add_argument("--valid", type=int, default=500, help="validation verses")
    p.add_argument("--test", type=int, default=500, help="test verses")
    p.add_argument("--max-len", type=int, default=20, help="longest verse kept, in words (0: all)")
    p.add_argument("--vocab-size", type=int, default=4000, help="largest vocabulary per side")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--scale", type=float, default=0.25, help="multiplies the model sizes")
    p.add_argument("--bleu-pairs", type=int, default=200, help="validation BLEU pairs")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", default="1,2,3,4,5,6,7,8,9,10", help="rows to run, comma-separated")
    p.add_argument("--work", default=None, help="keep the data and runs here")
    return p.parse_args()


def main() -> None:
    args = _parse()
    work = Path(args.work or tempfile.mkdtemp(prefix="bench_recipe_"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}
    sizes = write_splits(work, args.pairs, args.valid, args.test, args.max_len)
    _seqdata(
        "prepare",
        *("--src", str(work / "train.src"), "--tgt", str(work / "train.tgt")),
        *("--valid-src", str(work / "valid.src"), "--valid-tgt", str(work / "valid.tgt")),
        *("--tokenizer", "whitespace", "--lower", "--min-freq", "2"),
        *("--vocab-size", str(args.vocab_size)),
        *("--out", str(work / "data"), "--overwrite", "--quiet"),
        env=env,
    )
    print(
        f"bible task: {sizes['train']:,} train / {sizes['valid']:,} valid / {sizes['test']:,} "
        f"test verses (<= {args.max_len} words), whitespace --lower --min-freq 2 "
        f"--vocab-size {args.vocab_size}; "
        f"{args.epochs} epochs, sizes x {args.scale:g}, {args.threads} threads; work {work}",
        flush=True,
    )
    print(f"{'run':<38} {'BLEU lc':>7} {'chrF lc':>7} {'BLEU':>6} {'chrF':>6} {'s/epoch':>7}")
    trained: dict[int, Path] = {}
    for row in (int(r) for r in args.runs.split(",")):
        label, _, _, beam, by = ROWS[row]
        start = time.perf_counter()
        if by not in trained:
            trained[by] = work / f"run{by}" if by != row else train(row, args, work, env)
        got = score(trained[by], beam, work, env, DECODE.get(row, []))
        print(
            f"{label:<38} {got['bleu_lc']:7.2f} {got['chrf_lc']:7.2f} {got['bleu']:6.2f} "
            f"{got['chrf']:6.2f} {got['s_per_epoch']:7.1f}"
            f"   ({time.perf_counter() - start:.0f} s, decode {got['decode_s']:.1f} s)",
            flush=True,
        )
    print(f"BLEU: {got['signature']} (lc: case-insensitive, sacrebleu -lc)")


if __name__ == "__main__":
    main()
