#!/usr/bin/env bash
# One command that checks seqdata's GPU path on a machine with a CUDA GPU (≤ 5 minutes on one):
#   the cuda-marked tests, the whole suite, `seqdata demo --device cuda` with the batching
#   comparison, tutorial 07's DDP commands (2 ranks: gloo fallback on one GPU; 1 rank per GPU:
#   nccl), `seqdata prepare/train/translate --device cuda` on a generated corpus, the seconds an
#   epoch of `train --recipe rnn-attention` against 256/512 in batches of 128 on 30,000
#   generated pairs, and `benchmarks/bench_train.py --device cuda`; then one summary table.
# Without CUDA it says so, runs the CPU parts (the device tests and the DDP fallback) and exits 0.
#
#   bash scripts/gpu_check.sh            # from the repository root
#
# On a machine whose Python lacks polars/datasets/babel: put their wheels in .whl/ (and babel, if
# pruned, as a folder .babel/); they are installed to /tmp/site and put on PYTHONPATH, and the
# project itself is used from the working tree (PYTHONPATH), not pip-installed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 MPLBACKEND=Agg
if compgen -G ".whl/*.whl" >/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH="$ROOT:/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
[ -d .babel ] && export PYTHONPATH="$PYTHONPATH:$ROOT/.babel"
WORK=$(mktemp -d)
LOG=${OUT:-$WORK}/gpu_check.log
: >"$LOG"
declare -a ROWS=()
FAILED=0

step() {  # step NAME COMMAND...: run, time, keep the tail of its output in the log
  local name=$1; shift
  local t0=$SECONDS status
  echo "== $name: $*" | tee -a "$LOG"
  if "$@" >>"$LOG" 2>&1; then status=ok; else status=FAILED; FAILED=1; fi
  ROWS+=("$(printf '%-34s %-7s %5ds' "$name" "$status" $((SECONDS - t0)))")
  tail -n 6 "$LOG" | sed 's/^/   /'
}

CUDA=$($PY -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null || echo 0)
$PY - <<'PY' | tee -a "$LOG"
import torch
n = torch.cuda.device_count() if torch.cuda.is_available() else 0
names = ", ".join(torch.cuda.get_device_name(i) for i in range(n)) or "none"
print(f"torch {torch.__version__}, CUDA available: {bool(n)}, GPUs: {n} ({names})")
PY

corpus() {  # corpus N: N generated pairs, digit strings and their reversals
  $PY - "$WORK" "$1" <<'PY'
import random, sys
out, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(0)
src = [" ".join(str(rng.randrange(10)) for _ in range(rng.randint(3, 14))) for _ in range(n)]
with open(f"{out}/train.src", "w") as s, open(f"{out}/train.tgt", "w") as t:
    for line in src:
        s.write(line + "\n")
        t.write(" ".join(reversed(line.split())) + "\n")
with open(f"{out}/test.src", "w") as s:
    s.write("1 2 3 4\n9 8 7\n")
PY
}
ddp() {  # ddp NPROC [options]: tutorial 07's command
  local n=$1; shift
  $PY -m torch.distributed.run --standalone --nproc_per_node="$n" examples/ddp_train.py \
    --out "$WORK/ddp$n" --epochs 2 --num-examples 256 --batch-size 16 "$@"
}
cli_run() {  # cli_run DEVICE PAIRS EPOCHS: prepare → train → translate on a generated corpus
  local dev=$1
  corpus "$2" &&
  $PY -m seqdata prepare --src "$WORK/train.src" --tgt "$WORK/train.tgt" --out "$WORK/data-$dev" &&
  $PY -m seqdata train "$WORK/data-$dev" --out "$WORK/ckpt-$dev" --epochs "$3" --device "$dev" &&
  $PY -m seqdata translate --checkpoint "$WORK/ckpt-$dev" --device "$dev" <"$WORK/test.src" &&
  $PY -m seqdata translate --checkpoint "$WORK/ckpt-$dev" --device "$dev" --beam 5 \
    --replace-unk --min-len 2 <"$WORK/test.src"
}
recipe_time() {  # recipe_time DEVICE PAIRS: s/epoch of --recipe rnn-attention vs 256/512 in batches of 128
  local dev=$1 data="$WORK/data-recipe"
  corpus "$2" &&
  $PY -m seqdata prepare --src "$WORK/train.src" --tgt "$WORK/train.tgt" --out "$data" --quiet &&
  $PY -m seqdata train "$data" --out "$WORK/run-recipe" --recipe rnn-attention --epochs 3 \
    --patience 3 --device "$dev" --quiet &&
  $PY -m seqdata train "$data" --out "$WORK/run-b128" --embed-dim 256 --hidden-size 512 \
    --batch-size 128 --bleu-pairs 0 --epochs 3 --device "$dev" --quiet &&
  $PY - "$WORK" <<'PY'
import json, sys
def epochs(run):
    lines = open(f"{sys.argv[1]}/{run}/metrics.jsonl", encoding="utf-8").read().splitlines()
    return [e for e in map(json.loads, lines) if e.get("kind") == "epoch"][1:]  # after warm-up
def mean(rows, key):
    return sum(r.get(key, 0.0) for r in rows) / len(rows)
recipe, base = epochs("run-recipe"), epochs("run-b128")
r_all = mean(recipe, "seconds") + mean(recipe, "valid_seconds")
b_all = mean(base, "seconds") + mean(base, "valid_seconds")
print(f"recipe: train {mean(recipe, 'seconds'):.2f} s + validation (loss, BLEU on 1,000 pairs) "
      f"{mean(recipe, 'valid_seconds'):.2f} s an epoch; batch 128: train {mean(base, 'seconds'):.2f} s "
      f"+ validation (loss) {mean(base, 'valid_seconds'):.2f} s; recipe / batch 128 = "
      f"{r_all / b_all:.2f}x (the recipe's cap: 2x)")
PY
}

if [ "$CUDA" = 1 ]; then
  step "cuda-marked tests" $PY -m pytest -q -m cuda -p no:cacheprovider
  step "whole test suite" $PY -m pytest -q -x -p no:cacheprovider
  step "seqdata demo --device cuda" $PY -m seqdata demo --device cuda --out "$WORK/demo"
  step "DDP 2 ranks (tutorial 07)" ddp 2 --backend gloo
  step "DDP 1 rank per GPU (nccl)" ddp "$($PY -c 'import torch; print(torch.cuda.device_count())')"
  step "prepare/train/translate cuda" cli_run cuda 6000 2
  step "recipe vs batch 128, s/epoch" recipe_time cuda 30000
  step "bench_train.py --device cuda" $PY benchmarks/bench_train.py --device cuda --pairs 20000
  step "bench_decode.py --device cuda" $PY benchmarks/bench_decode.py --device cuda --quick
else
  echo "no CUDA GPU here (torch.cuda.is_available() is False): running the CPU parts only" | tee -a "$LOG"
  step "device tests (CPU)" $PY -m pytest -q -p no:cacheprovider tests/test_device.py
  step "DDP 2 ranks, gloo (tutorial 07)" ddp 2
  step "prepare/train/translate cpu" cli_run cpu 1000 1
fi

echo
echo "seqdata GPU check — $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-34s %-7s %6s\n' "step" "status" "time"
printf '%s\n' "${ROWS[@]}"
[ "$CUDA" = 1 ] || echo "(no CUDA: CPU parts only)"
echo "full log: $LOG"
exit $FAILED
