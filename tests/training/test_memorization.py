"""Memorization: each Lab 03 text model must overfit ONE batch of real synthetic data.

ResnetTransformer on SyntheticParagraphs and LineCNNTransformer on SyntheticLines, trained
through ``text-recognizer train`` (``run_experiment``) with ``--overfit_batches 1``. The
flags come from ``scripts/memorize.sh`` (its dry run prints the exact command), so the test
runs what the script runs, and the same sliders size it:

    pytest tests/training/test_memorization.py                    # SIZE=cpu: ~1 min each on 2 cores
    SIZE=laptop pytest tests/training/test_memorization.py        # ~10 min on a laptop GPU
    SIZE=full MAX_EPOCHS=2000 pytest tests/training/test_memorization.py  # big GPU, IAM-sized

Pass criteria: the final train loss (cross-entropy per token, teacher-forced) is below
``CRITERION`` (default 0.05 for every SIZE; a random guess over 84 classes scores ~4.4), and
greedy decoding, the way inference reads, gets the memorized batch right: character error
rate below ``CER_CRITERION`` (default 0.1).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader
from torchmetrics.text import CharErrorRate

from text_recognizer.training import run_experiment

pytestmark = [pytest.mark.training, pytest.mark.slow]

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "memorize.sh"
CER_CRITERION = float(os.environ.get("CER_CRITERION", "0.1"))


def memorize_command(what: str, tmp_path: Path) -> tuple[list[str], float]:
    """The ``text-recognizer train`` flags and the loss criterion memorize.sh would use
    (SIZE, MAX_EPOCHS and CRITERION pass through from the environment)."""
    extra = ["--logs_dir", str(tmp_path / "logs"), "--data_dir", str(tmp_path / "data")]
    completed = subprocess.run(
        ["bash", str(SCRIPT), what, *extra],
        env={**os.environ, "DRY_RUN": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    header, command = completed.stdout.splitlines()[:2]
    criterion = float(re.search(r"CRITERION=(\S+)", header).group(1))
    argv = shlex.split(command)
    assert argv[0].endswith("text-recognizer") and argv[1] == "train", command
    return argv[2:], criterion


def decode_memorized_batch(result: dict) -> tuple[list[str], list[str]]:
    """Greedy predictions and true texts for the batch the model trained on (the first
    training batch: overfit_batches turns shuffling off; augmentation is off)."""
    data, lit_model = result["data"], result["lit_model"]
    x, y = next(iter(DataLoader(data.data_train, batch_size=data.batch_size, shuffle=False)))
    lit_model.eval()
    with torch.no_grad():
        ids = lit_model(x.to(lit_model.device))
    return lit_model.decode(ids), lit_model.decode(y)


@pytest.mark.parametrize(
    "what, model_class",
    [("paragraphs", "ResnetTransformer"), ("lines", "LineCNNTransformer")],
)
def test_memorizes_one_batch(what, model_class, tmp_path):
    argv, criterion = memorize_command(what, tmp_path)
    args = run_experiment.build_parser(argv).parse_args(argv)
    assert args.overfit_batches == 1 and args.model_class == model_class
    assert not args.augment_data and args.num_train == args.batch_size

    start = time.perf_counter()
    result = run_experiment.run(args)
    seconds = time.perf_counter() - start
    loss = result["metrics"]["train/loss"]
    predictions, truths = decode_memorized_batch(result)
    cer = float(CharErrorRate()(predictions, truths))
    print(
        f"\n{what}/{model_class}: final train/loss {loss:.4f} (< {criterion}), "
        f"CER on the batch {cer:.3f}, {seconds:.0f} s"
    )
    for truth, prediction in zip(truths, predictions):
        print(f"  {truth!r} -> {prediction!r}")

    assert loss < criterion, f"not memorized after {args.max_epochs} epochs: loss {loss:.4f}"
    assert cer < CER_CRITERION, list(zip(truths, predictions))
    if what == "paragraphs":  # multi-line pages: the newline must be read too
        assert any("\n" in truth for truth in truths)
