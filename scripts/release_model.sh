#!/usr/bin/env bash
# Train, evaluate and stage the release recognizer: `make release-model`.
#
#   1. render the synthetic pages (SyntheticParagraphs over every installed handwriting font:
#      `make fonts` adds ~110 Google Fonts families from npm; fixed test split; five families
#      held out of training), normalize and segment them into line crops exactly as the
#      recognizer does at inference (SyntheticParagraphLines),
#   2. train the LineCRNN line reader (2-layer BiLSTM) with CTC, seed 0, on the CPU,
#   3. with DATA=iam (needs a network, once): fine-tune that reader on real IAM lines
#      (IAMReleaseLines: the existing IAM download, normalized like any page),
#   4. stage the best checkpoint: TorchScript + ONNX + model card with the held-out CER
#      (in distribution and on the held-out families), latency, and Tesseract on the same
#      pages, into text_recognizer/artifacts/paragraph_text_recognizer/.
#
# Wall time on 2 shared CPU cores: see the model card (training.wall_time_s). On a GPU, the
# same command runs with `--accelerator gpu` added via TRAIN_EXTRA.
#
# Overrides (environment): PYTHON, LOGS_DIR, EPOCHS, STEPS_PER_EPOCH, TRAIN_EXTRA, THREADS,
# DATA (synthetic | iam), CHECKPOINT (skip step 2: start from this .ckpt), IAM_EPOCHS,
# IAM_ARGS (extra flags for the IAM run, e.g. --iam_url), OUT (artifact folder), NUM_EVAL,
# NOTES (what changed in this release, one per line: the model card's "What changed").
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-.venv/bin/python}
LOGS_DIR=${LOGS_DIR:-logs/release}
EPOCHS=${EPOCHS:-8}
STEPS_PER_EPOCH=${STEPS_PER_EPOCH:-1100}
DATA=${DATA:-synthetic}
IAM_EPOCHS=${IAM_EPOCHS:-10}
NUM_EVAL=${NUM_EVAL:-200}
THREADS=${THREADS:-1} # one compute thread: on a busy 2-core machine, 2 threads spin and stall
read -r -a TRAIN_EXTRA <<<"${TRAIN_EXTRA:-}"
read -r -a IAM_ARGS <<<"${IAM_ARGS:-}"
export OMP_NUM_THREADS=$THREADS
if [[ $DATA != synthetic && $DATA != iam ]]; then
  echo "release_model.sh: DATA must be synthetic or iam, not '$DATA'" >&2
  exit 2
fi

HOLDOUT="Dancing Script,Kalam,Indie Flower,Mrs Saint Delafield,Edu SA Beginner"
DATA_ARGS=(
  --data_class SyntheticParagraphLines --num_train 5000 --num_val 100 --num_test 200
  --holdout_families "$HOLDOUT" --sentence_source offline --gen_workers 2
)
MODEL=(
  --model_class LineCRNN --lit_model_class CTCLitModel
  --conv_dim 24 --rnn_dim 160 --rnn_layers 2 --rnn_dropout 0.2
)
TRAIN=(
  --seed 0 --batch_size 16 --num_workers 1 --max_epochs "$EPOCHS"
  --limit_train_batches "$STEPS_PER_EPOCH" --one_cycle_max_lr 3e-3 --gradient_clip_val 5
  --no-progress_bar --logs_dir "$LOGS_DIR" --experiment_name release --log_every_n_steps 20
)
COMMAND=(text-recognizer train "${DATA_ARGS[@]}" "${MODEL[@]}" "${TRAIN[@]}" "${TRAIN_EXTRA[@]}")

log=$(mktemp)
trap 'rm -f "$log"' EXIT
train() { # run `text-recognizer train "$@"`; prints the best checkpoint's path last
  echo "$ text-recognizer train $*" >&2
  "$PYTHON" -m text_recognizer.cli train "$@" 2>&1 | tee "$log" >&2
  local best
  best=$(sed -n 's/^Best checkpoint ([^)]*): //p' "$log" | tail -n 1)
  if [[ -z $best || ! -f $best ]]; then
    echo "release_model.sh: training produced no checkpoint" >&2
    exit 1
  fi
  echo "$best"
}

start=$(date +%s)
if [[ -n ${CHECKPOINT:-} ]]; then
  checkpoint=$CHECKPOINT
  echo ">>> starting from $checkpoint (no synthetic training)"
else
  checkpoint=$(train "${DATA_ARGS[@]}" "${MODEL[@]}" "${TRAIN[@]}" "${TRAIN_EXTRA[@]}")
fi
if [[ $DATA == iam ]]; then
  FINETUNE=(
    --data_class IAMReleaseLines --holdout_families "$HOLDOUT" "${MODEL[@]}"
    --load_checkpoint "$checkpoint" --seed 0 --batch_size 16 --num_workers 1
    --max_epochs "$IAM_EPOCHS" --one_cycle_max_lr 1e-3 --gradient_clip_val 5
    --no-progress_bar --logs_dir "$LOGS_DIR" --experiment_name release-iam --log_every_n_steps 20
  )
  COMMAND+=("&&" text-recognizer train "${FINETUNE[@]}" "${IAM_ARGS[@]}" "${TRAIN_EXTRA[@]}")
  checkpoint=$(train "${FINETUNE[@]}" "${IAM_ARGS[@]}" "${TRAIN_EXTRA[@]}")
fi
trained=$(date +%s)

printf -v quoted '%q ' "${COMMAND[@]}"
STAGE=(--checkpoint "$checkpoint" --name paragraph_text_recognizer --num_eval "$NUM_EVAL"
  --num_latency 40 --tesseract --command "${quoted% }" --wall_time_s "$((trained - start))"
  --logs_dir "$LOGS_DIR")
[[ -n ${OUT:-} ]] && STAGE+=(--out "$OUT")
while IFS= read -r note; do # NOTES: what changed, one per line (the card's "What changed")
  if [[ -n $note ]]; then STAGE+=(--note "$note"); fi
done <<<"${NOTES:-}"
"$PYTHON" -m text_recognizer.cli stage "${STAGE[@]}"
end=$(date +%s)
echo "release-model: training (incl. data) $(((trained - start) / 60)) min, total $(((end - start) / 60)) min $(((end - start) % 60)) s; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
