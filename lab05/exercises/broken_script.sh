#!/bin/bash
# Lab 05 exercise: a script with shell pitfalls on purpose. Fix it with shellcheck.
#
#   $ shellcheck lab05/exercises/broken_script.sh     # explains each finding (SC codes)
#   $ bash lab05/exercises/broken_script.sh ../logs/lab04/lines/version_0 "my run"
#
# It copies a training run's checkpoints and last metrics into a folder named after the run.
# Things to notice before fixing: what happens with a run name that has a space in it? With a
# RUN_DIR that does not exist (the `cd` fails: where does the loop run then)? When `grep`
# finds nothing? The cure for the last two is bash "strict mode" on line 2:
#   set -euo pipefail   # exit on any error (-e), on unset variables (-u), on a failing pipe
# (The repository's pre-commit skips this folder so the file stays broken for the next student.)

RUN_DIR=$1
NAME=$2
OUT=/tmp/archive/$NAME

mkdir -p $OUT
cd $RUN_DIR
for checkpoint in $(ls checkpoints/*.ckpt); do
  cp $checkpoint $OUT
done
LAST=`cat metrics.csv | grep val/loss | tail -n 1`
echo "last line with val/loss: $LAST" > $OUT/summary.txt
read -p "Delete the local checkpoints too? [y/N] " answer
if [ $answer == "y" ]; then
  echo "would delete $RUN_DIR/checkpoints (left as an exercise)"
fi
echo "archived to $OUT, run was $RUNDIR"
