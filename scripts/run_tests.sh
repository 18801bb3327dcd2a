#!/usr/bin/env bash
# Runs the test stages in order and prints the wall time of each and a total.
# Usage: scripts/run_tests.sh [all|setup|lint|unit|prod|notebooks|slow]
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=.venv/bin
WHAT="${1:-all}"

# Offline, account-free defaults. The test suite's network guard enforces the rest.
export WANDB_MODE=offline WANDB_SILENT=true GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1
export MPLBACKEND=Agg PYTHONDONTWRITEBYTECODE=1
# CI-sized defaults for notebooks and training tests (smaller data, same code and cells).
export TEXT_RECOGNIZER_FAST="${TEXT_RECOGNIZER_FAST:-1}"

declare -a STAGE_NAMES=() STAGE_TIMES=()
TOTAL_START=$(date +%s)

stage() {  # stage NAME COMMAND...
  local name="$1"; shift
  echo
  echo "================================================================ stage: ${name}"
  local start; start=$(date +%s)
  "$@"
  local elapsed=$(( $(date +%s) - start ))
  STAGE_NAMES+=("$name"); STAGE_TIMES+=("$elapsed")
  echo "---------------------------------------------------------------- ${name}: ${elapsed}s"
}

summary() {
  echo
  echo "================================================================ timings"
  for i in "${!STAGE_NAMES[@]}"; do
    printf '  %-12s %6ss\n' "${STAGE_NAMES[$i]}" "${STAGE_TIMES[$i]}"
  done
  printf '  %-12s %6ss\n' total "$(( $(date +%s) - TOTAL_START ))"
}
trap summary EXIT

PYTEST=("$BIN/pytest" -p no:cacheprovider)

# Tools that live outside the course venv (Label Studio has its own; Lab 06 and its
# integration test start it). Idempotent: a no-op once installed.
run_setup() { bash scripts/label_studio.sh install; }
run_lint() { "$BIN/pre-commit" run --all-files --show-diff-on-failure; }
# The unit and slow stages partition the suite by marker (tests/conftest.py marks tests by
# folder), so every test and doctest runs exactly once in `make test`.
FAST_TESTS="not slow and not integration and not training"
run_unit() {
  "${PYTEST[@]}" tests text_recognizer -m "$FAST_TESTS" \
    --cov=text_recognizer --cov-report=term --cov-report=xml:.coverage.xml
}
# The built wheel in a venv with only the production pins (no Lightning, pooch, optuna).
run_prod() { bash scripts/check_prod_install.sh; }
run_notebooks() {
  "${PYTEST[@]}" --nbmake --nbmake-timeout=600 --durations=0 lab*/*.ipynb  # a time per notebook
}
run_slow() {
  # training (fast_dev_run, memorization, DDP) and integration (servers, downloads, tools)
  "${PYTEST[@]}" tests text_recognizer -m "not ($FAST_TESTS)" --durations=15
}

case "$WHAT" in
  all)
    stage setup run_setup
    stage lint run_lint
    stage unit run_unit
    stage prod run_prod
    stage notebooks run_notebooks
    stage slow run_slow
    ;;
  setup) stage setup run_setup ;;
  lint) stage lint run_lint ;;
  unit) stage unit run_unit ;;
  prod) stage prod run_prod ;;
  notebooks) stage setup run_setup; stage notebooks run_notebooks ;;
  slow) stage slow run_slow ;;
  *) echo "unknown stage '$WHAT' (all|setup|lint|unit|prod|notebooks|slow)" >&2; exit 2 ;;
esac
