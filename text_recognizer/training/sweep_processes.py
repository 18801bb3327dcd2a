"""Parallel sweeps: trials and GPUs shared out among worker processes, like ``wandb agent``s.

:func:`run_worker_processes` writes the sweep's spec to ``<output_dir>/sweep_spec.json`` and
starts ``python -m text_recognizer.training.sweep --worker SPEC --worker-index I`` once per
worker, each with its share of the trials, its own ``CUDA_VISIBLE_DEVICES`` and a log file
``worker_<I>.log``. The workers meet only in the study's storage.

The spec is the JSON-able dict ``sweep.run_sweep`` builds: ``sweep`` (the YAML as a dict),
``study_name``, ``storage``, ``output_dir``, ``train_fn`` (``"module:function"``),
``overrides``, ``seed``, ``prune`` and ``workers``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from text_recognizer.util import atomic_write_text

SPEC_FILENAME = "sweep_spec.json"


def split_trials(n_trials: int, workers: int) -> list[int]:
    """Share ``n_trials`` out among ``workers`` so the total is exact.

    >>> split_trials(5, 2)
    [3, 2]
    """
    return [n_trials // workers + (i < n_trials % workers) for i in range(workers)]


def count_gpus() -> int:
    """NVIDIA GPUs on this machine, from ``nvidia-smi -L`` (0 without a driver). Asking
    ``nvidia-smi`` instead of torch keeps CUDA uninitialized in the parent process."""
    executable = shutil.which("nvidia-smi")
    if executable is None:
        return 0
    try:
        listing = subprocess.run(
            [executable, "-L"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in listing.splitlines())


def gpu_assignment(workers: int, gpus: str = "auto") -> list[str | None]:
    """``CUDA_VISIBLE_DEVICES`` for each worker: one GPU each, round robin; None = inherit.

    >>> gpu_assignment(3, "0,1")
    ['0', '1', '0']
    >>> gpu_assignment(2, "none")
    ['', '']
    """
    if gpus == "none":
        return [""] * workers
    if gpus == "auto":
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is not None:
            ids = [g.strip() for g in visible.split(",") if g.strip()]
        else:
            ids = [str(i) for i in range(count_gpus())]
        if not ids:
            return [None] * workers
    else:
        ids = [g.strip() for g in gpus.split(",") if g.strip()]
        if not ids:
            raise ValueError(f"--gpus {gpus!r}: expected ids like 0,1, or auto, or none")
    return [ids[i % len(ids)] for i in range(workers)]


def run_worker_processes(spec: dict[str, Any], n_trials: int, gpus: str) -> None:
    """Start one process per worker (like ``wandb agent``), wait, and fail if any failed."""
    output_dir = Path(spec["output_dir"])
    spec_path = output_dir / SPEC_FILENAME
    atomic_write_text(spec_path, json.dumps(spec, indent=2))
    workers = spec["workers"]
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    processes = []
    for index, (count, gpu) in enumerate(
        zip(split_trials(n_trials, workers), gpu_assignment(workers, gpus))
    ):
        if count == 0:
            continue
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", threads)}
        if gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpu
        log_path = output_dir / f"worker_{index}.log"
        command = [
            sys.executable,
            "-m",
            "text_recognizer.training.sweep",
            "--worker",
            str(spec_path),
            "--worker-index",
            str(index),
            "--n-trials",
            str(count),
        ]
        with open(log_path, "w") as log:
            processes.append(
                (
                    index,
                    log_path,
                    subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT),
                )
            )
        devices = {None: "not set", "": "none"}.get(gpu, gpu)
        print(f"worker {index}: {count} trials, CUDA_VISIBLE_DEVICES {devices}, log {log_path}")
    failed = []
    for index, log_path, process in processes:
        if process.wait() != 0:
            tail = "".join(log_path.read_text().splitlines(keepends=True)[-20:])
            failed.append(f"worker {index} exited with {process.returncode}:\n{tail}")
    if failed:
        raise RuntimeError("\n".join(failed))
