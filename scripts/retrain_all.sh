#!/usr/bin/env bash
# Retrain every shipped fusion checkpoint from the embedding cache (assets/features), then evaluate.
#
#   bash scripts/retrain_all.sh            # all methods, 2 runs at a time, 1 thread each
#   JOBS=1 bash scripts/retrain_all.sh     # one run at a time
#   NO_EVAL=1 bash scripts/retrain_all.sh  # checkpoints only
#   EPOCHS=1 OUT=/tmp/ck RESULTS=/tmp/res FIGURES=/tmp/fig bash scripts/retrain_all.sh   # a smoke run
#   bash scripts/retrain_mfeat.sh          # the same for the example dataset mfeat (its own outputs)
#
# aecf, late_fusion and moddrop: seeds 0, 1, 2 (aecf.safetensors, aecf.seed1.safetensors, ...); the other
# methods seed 0; the specialists (one model per modality subset, the reference limit) in
# checkpoints/fusion/specialists. Defaults of each method preset (aecf/train.py METHODS), 20 epochs.
# Then `python -m aecf evaluate` writes results/results.json + results.md and docs/figures/*.png.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
JOBS=${JOBS:-2}
OUT=${OUT:-checkpoints/fusion}
EPOCHS=${EPOCHS:-20}                  # "auto": each method's default budget (about 940 steps)
FEATURES=${FEATURES:-assets/features}
SEEDED=${SEEDED-aecf late_fusion moddrop}  # trained with seeds 0, 1, 2
SINGLE=${SINGLE-mean gate fixed_lambda authors_recipe aecf_no_adaptive_lambda aecf_no_cec aecf_no_acm aecf_paper_fusion}
RESULTS=${RESULTS:-results}
FIGURES=${FIGURES-docs/figures}  # empty: no copy
LOGS=${LOGS:-runs/retrain_logs}
mkdir -p "$OUT" "$LOGS"

runs=()
for method in $SEEDED; do
  for seed in 0 1 2; do
    name=$method; [ "$seed" = 0 ] || name=$method.seed$seed
    runs+=("$method $seed $name")
  done
done
for method in $SINGLE; do
  runs+=("$method 0 $method")
done
epochs=(--epochs "$EPOCHS"); [ "$EPOCHS" = auto ] && epochs=()

train_one() {
  local method=$1 seed=$2 name=$3
  "$PY" -m aecf train --features "$FEATURES" --method "$method" --seed "$seed" "${epochs[@]}" --out "$OUT/$name" \
    --no-run-dir --quiet --threads 1 > "$LOGS/$name.log" 2>&1 \
    && tail -n 2 "$LOGS/$name.log" | head -n 1 || { echo "FAILED: $name (see $LOGS/$name.log)"; return 1; }
}

t0=$(date +%s)
pids=()
for run in "${runs[@]}"; do
  # shellcheck disable=SC2086
  train_one $run &
  pids+=($!)
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 1; done
done
"$PY" -m aecf train --features "$FEATURES" --specialists --seed 0 "${epochs[@]}" --out "$OUT/specialists" --no-run-dir --quiet \
  > "$LOGS/specialists.log" 2>&1 && tail -n 1 "$LOGS/specialists.log"
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
echo "trained in $(( $(date +%s) - t0 )) s"
[ "$status" = 0 ] || { echo "some runs failed"; exit 1; }

if [ -z "${NO_EVAL:-}" ]; then
  "$PY" -m aecf evaluate --features "$FEATURES" --checkpoints "$OUT" --json "$RESULTS/results.json" --out "$RESULTS"
  [ -n "$FIGURES" ] && mkdir -p "$FIGURES"
  [ -n "$FIGURES" ] && for fig in accuracy_vs_drop ece_vs_drop map_vs_drop reliability_drop_0.5; do
    cp "$RESULTS/$fig.png" "$FIGURES/" 2>/dev/null || echo "no $RESULTS/$fig.png (PNG export needs a Chromium)"
  done
fi
