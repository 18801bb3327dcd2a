"""Benchmark: the Lab 02 CNN on SyntheticCharacters, trained through run_experiment.

Target: >= 85% validation accuracy within 3 minutes of training on 2 CPU cores.

    python scripts/bench_cnn_characters.py                      # the settings below
    python scripts/bench_cnn_characters.py --max_epochs 3       # any run_experiment flag overrides

Data generation is timed separately (it is cached, and shared with every later run that
uses the same seed and sizes); the 3-minute target is for ``run_experiment.run``. The load
average is printed because the wall time depends on what else runs on the machine.
Prints a markdown table; exits 1 if the target is missed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_ACC = 0.85
TARGET_SECONDS = 180.0
SETTINGS = [
    "--data_class", "SyntheticCharacters", "--model_class", "CNN",
    "--num_train", "12000", "--num_val", "2000", "--num_test", "2000",
    "--conv_dim", "16", "--fc_dim", "128", "--fc_dropout", "0.1",
    "--batch_size", "128", "--num_workers", "0",
    "--max_epochs", "3", "--one_cycle_max_lr", "0.01",
    "--accelerator", "cpu", "--devices", "1", "--seed", "0",
    "--logs_dir", str(REPO / "bench" / "results" / "logs"), "--experiment_name", "cnn_characters",
    "--no-progress_bar",
]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from text_recognizer.training import experiment_args, run_experiment

    argv = SETTINGS + list(sys.argv[1:] if argv is None else argv)
    args = run_experiment.build_parser(argv).parse_args(argv)
    load_before = os.getloadavg()

    data_class = experiment_args.import_class(args.data_class, experiment_args.DATA_CLASSES)
    start = time.perf_counter()
    data_class(args).prepare_data()  # generate (or find cached) characters
    data_seconds = time.perf_counter() - start

    cpu_start = time.process_time()  # CPU seconds of all this process's threads
    result = run_experiment.run(args)
    cpu_seconds = time.process_time() - cpu_start
    train_seconds = result["wall_time_s"]
    val_acc = result["metrics"].get("val/acc", float("nan"))
    load_after = os.getloadavg()
    passed = val_acc >= TARGET_ACC and train_seconds <= TARGET_SECONDS

    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"\ncommand: text-recognizer train {' '.join(argv)}\n")
    print("| measure | value |\n|---|---|")
    print(f"| val/acc (last epoch) | {val_acc:.4f} (target >= {TARGET_ACC}) |")
    print(f"| val/loss | {result['metrics'].get('val/loss', float('nan')):.4f} |")
    print(f"| train/acc | {result['metrics'].get('train/acc', float('nan')):.4f} |")
    print(
        f"| run_experiment wall time | {train_seconds:.1f} s (target <= {TARGET_SECONDS:.0f} s) |"
    )
    print(f"| run_experiment CPU time (all threads) | {cpu_seconds:.1f} s |")
    print(f"| data generation (cached after first run) | {data_seconds:.1f} s |")
    print(f"| CPU cores / torch threads | {cores} / {torch.get_num_threads()} |")
    print(f"| load average before / after (1 min) | {load_before[0]:.2f} / {load_after[0]:.2f} |")
    verdict = "PASS" if passed else "MISS"
    threads = torch.get_num_threads()
    if val_acc >= TARGET_ACC and not passed and load_after[0] > cores:
        # Contention, not the code: with the cores to itself the run needs about its CPU time
        # spread over its threads. Reported as a hint; the verdict stays MISS.
        verdict += (
            f" (time only: load {load_after[0]:.1f} on {cores} cores; "
            f"~{cpu_seconds / threads:.0f} s of CPU per thread)"
        )
    print(f"| result | {verdict} |")
    print(f"\nlogs: {result['log_dir']}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
