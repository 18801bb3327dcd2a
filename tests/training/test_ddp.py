"""Distributed data parallel on 2 CPU processes (gloo): the same `text-recognizer train`
command a student would run on 2 GPUs, with --accelerator cpu.

Lightning's DDP launcher re-executes the command line for every extra rank, so the run goes
through the real CLI in a subprocess (re-running pytest itself as a rank would not work)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.training, pytest.mark.slow]


def test_ddp_on_two_cpu_processes_trains_both_ranks_and_writes_one_checkpoint(tmp_path: Path):
    logs_dir = tmp_path / "logs"
    command = [
        sys.executable, "-m", "text_recognizer.cli", "train",
        "--data_class", "Digits", "--model_class", "MLP",
        "--fc1", "32", "--fc2", "16", "--batch_size", "64", "--num_workers", "0",
        "--max_epochs", "2", "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp",
        "--num_nodes", "1", "--logs_dir", str(logs_dir), "--seed", "0", "--no-progress_bar",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PL_DISABLE_FORK": "1"}
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300,
                          cwd=tmp_path)  # fmt: skip
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]

    # Lightning announces every rank as it joins the process group.
    ranks = set(re.findall(r"GLOBAL_RANK: (\d+), MEMBER: \d+/2", output))
    assert ranks == {"0", "1"}, output[-4000:]

    # Only rank 0 writes checkpoints: exactly one best-validation checkpoint (plus last.ckpt
    # if configured) and no per-rank duplicates.
    checkpoints = sorted(p.name for p in logs_dir.rglob("*.ckpt") if p.name != "last.ckpt")
    assert len(checkpoints) == 1, checkpoints
