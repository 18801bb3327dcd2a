#!/usr/bin/env bash
# Memorize ONE batch of synthetic paragraphs (ResnetTransformer) or lines (LineCNNTransformer).
#
# The first check of any training setup: a model that cannot drive its loss to ~0 on one
# batch it sees again and again has a bug (targets shifted wrongly, a mask that leaks or
# blocks, a loss that counts padding, a learning rate far off). Same code at every size;
# the SIZE slider only changes ordinary flags:
#
#   SIZE=cpu     ~2 min on 2 CPU cores   small pages (2 short lines) or lines, narrow models:
#                                        what tests/training/test_memorization.py runs
#   SIZE=laptop  ~10 min on a laptop GPU half-size pages (6 lines), mid-size models
#   SIZE=full    ~5-10 min on an H200    IAM-sized inputs (576x640 pages with 12 lines,
#                                        56x1024 lines) and the models' default widths
#
# Measured at SIZE=full on one H200 (2026-12-04), sharing the machine's 16 CPU cores with 10
# other training runs:
#   - paragraphs (ResnetTransformer, 16 pages): loss < 0.05 at step 122, 0.0004 at step 702;
#     0.57 s/step.
#   - lines (LineCNNTransformer, 64 lines): loss < 0.05 at step 144, 0.003 at step 310;
#     1.35 s/step, bound by the CPU-side stem with --num_workers 0.
# So 400 epochs leave a 3x margin. On 2 CPU cores (fp32) a full-size step takes 15.7 s for
# paragraphs and 8.2 s for lines: SIZE=full there needs ~1.7 h and ~0.9 h for 400 epochs
# (the criterion itself is reached after ~30 and ~20 minutes).
#
# Usage:
#   scripts/memorize.sh [paragraphs|lines] [extra text-recognizer train flags...]
#   SIZE=laptop MAX_EPOCHS=600 CRITERION=0.02 scripts/memorize.sh paragraphs
#   DRY_RUN=1 scripts/memorize.sh lines        # only print the command
#
# MAX_EPOCHS (one batch = one step per epoch) and CRITERION (the final train loss must be
# below it, else the script fails) default per SIZE. Augmentation is off: the batch must be
# the same every epoch. The exact command is printed before it runs.
set -euo pipefail

cd "$(dirname "$0")/.."
WHAT="${1:-paragraphs}"
shift || true
SIZE="${SIZE:-cpu}"

case "$SIZE" in
  cpu) epochs=150 criterion=0.05 ;;
  laptop) epochs=400 criterion=0.05 ;;
  full) epochs=400 criterion=0.05 ;;
  *) echo "SIZE must be cpu, laptop or full, not '$SIZE'" >&2; exit 2 ;;
esac
MAX_EPOCHS="${MAX_EPOCHS:-$epochs}"
CRITERION="${CRITERION:-$criterion}"

# One batch, no augmentation, validation (greedy decoding) only at the end.
common=(--overfit_batches 1 --max_epochs "$MAX_EPOCHS" --check_val_every_n_epoch "$MAX_EPOCHS"
        --no-augment_data --num_workers 0 --num_val 4 --num_test 4
        --no-progress_bar --log_every_n_steps 1 --experiment_name "memorize-$WHAT-$SIZE")

case "$WHAT/$SIZE" in
  paragraphs/cpu)
    flags=(--data_class SyntheticParagraphs --model_class ResnetTransformer
           --image_height 128 --image_width 160 --max_lines 2 --max_text_length 12
           --max_label_length 28 --num_train 4 --batch_size 4 --lr 3e-3
           --resnet_stages 1 --tf_dim 32 --tf_fc_dim 64 --tf_nhead 2 --tf_layers 1 --tf_dropout 0) ;;
  paragraphs/laptop)
    flags=(--data_class SyntheticParagraphs --model_class ResnetTransformer
           --image_height 288 --image_width 320 --max_lines 6 --max_text_length 40
           --max_label_length 250 --num_train 8 --batch_size 8 --lr 1e-3
           --resnet_stages 3 --tf_dim 128 --tf_fc_dim 512 --tf_nhead 4 --tf_layers 2 --tf_dropout 0) ;;
  paragraphs/full)
    flags=(--data_class SyntheticParagraphs --model_class ResnetTransformer
           --num_train 16 --batch_size 16 --lr 3e-4 --tf_dropout 0) ;;
  lines/cpu)
    flags=(--data_class SyntheticLines --model_class LineCNNTransformer
           --image_height 32 --image_width 160 --max_text_length 14 --max_label_length 16
           --num_train 8 --batch_size 8 --lr 3e-3 --conv_dim 8 --fc_dim 32 --fc_dropout 0
           --tf_dim 32 --tf_fc_dim 64 --tf_nhead 2 --tf_layers 1 --tf_dropout 0) ;;
  lines/laptop)
    flags=(--data_class SyntheticLines --model_class LineCNNTransformer
           --image_height 40 --image_width 512 --max_text_length 40 --max_label_length 42
           --num_train 32 --batch_size 32 --lr 1e-3 --conv_dim 16 --fc_dim 128 --fc_dropout 0
           --tf_dim 128 --tf_fc_dim 512 --tf_nhead 4 --tf_layers 2 --tf_dropout 0) ;;
  lines/full)
    flags=(--data_class SyntheticLines --model_class LineCNNTransformer
           --num_train 64 --batch_size 64 --lr 3e-4 --fc_dropout 0 --tf_dropout 0) ;;
  *) echo "usage: scripts/memorize.sh [paragraphs|lines] [flags...]" >&2; exit 2 ;;
esac

TRAIN="text-recognizer"
if [[ -x .venv/bin/text-recognizer ]] && ! command -v text-recognizer > /dev/null; then
  TRAIN=.venv/bin/text-recognizer
fi
cmd=("$TRAIN" train "${flags[@]}" "${common[@]}" "$@")
echo "SIZE=$SIZE MAX_EPOCHS=$MAX_EPOCHS CRITERION=$CRITERION"
printf "%q " "${cmd[@]}"; echo
if [[ -n "${DRY_RUN:-}" ]]; then
  exit 0
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
"${cmd[@]}" | tee "$log"
loss="$(grep -o 'train/loss=[0-9.eE+-]*' "$log" | tail -n 1 | cut -d= -f2)"
if [[ -z "$loss" ]]; then
  echo "FAIL: no final train/loss in the output" >&2
  exit 1
fi
if awk -v loss="$loss" -v criterion="$CRITERION" 'BEGIN { exit !(loss < criterion) }'; then
  echo "PASS: final train/loss $loss < $CRITERION: the batch is memorized"
else
  echo "FAIL: final train/loss $loss >= $CRITERION after $MAX_EPOCHS epochs" >&2
  exit 1
fi
