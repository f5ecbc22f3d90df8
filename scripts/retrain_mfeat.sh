#!/usr/bin/env bash
# Retrain the shipped runs of the example dataset mfeat (assets/datasets/mfeat): aecf, late_fusion and moddrop
# with seeds 0, 1, 2 and the specialists (a documented sample of 15 of its 63 subsets), each with its default
# budget (about 940 steps), into checkpoints/datasets/mfeat/, then evaluate into results/mfeat/results.json.
# The app shows them as the example's shipped runs; docs/data-format.md's tables are rendered from the JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
FEATURES=assets/datasets/mfeat OUT=checkpoints/datasets/mfeat RESULTS=results/mfeat FIGURES= SINGLE= EPOCHS=auto \
  LOGS=runs/retrain_logs/mfeat exec bash scripts/retrain_all.sh "$@"
