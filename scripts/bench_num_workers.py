"""Does ``num_workers`` matter? Train the same model with ``num_workers=0`` and with the default.

    .venv/bin/python scripts/bench_num_workers.py              # 1-2 minutes on 2 cores
    .venv/bin/python scripts/bench_num_workers.py --num_workers 0 1 2 --steps 80 --repeats 3

With ``num_workers=0`` the training process prepares every batch itself, so the model waits
while images are decoded and augmented. With workers, other processes prepare the next
batches while the model trains on this one. For each setting the script reports training
throughput (samples/s, timed after the profiled steps, so profiling costs nothing there) and
the share of step time spent waiting for data, read from a ``torch.profiler`` trace by
``text_recognizer.training.profiling.step_time_breakdown``. Settings run in alternation and
the fastest of ``--repeats`` runs counts, so a burst of other work on the machine does not
decide the comparison (the load average is in the report: on a busy machine, workers only
compete with the training process for the same cores). The table is printed (markdown)
and written to ``bench/results/num_workers.md``; traces go to ``bench/results/num_workers/workers<N>-run<R>/trace.json``.

The dataset is a stand-in with a real per-sample CPU cost, as the line and paragraph datasets
of later labs have: scikit-learn's 8x8 digits drawn as images (dark ink on light paper) and
passed, on every access, through the course's augmenting stem ``BoxStem(28, 28,
augment=True)`` (contrast, affine warp, resize, placement jitter, blur, ink levels; about a
millisecond per sample). The model is an MLP wide enough that computing a batch costs about as
much as preparing it, the case where overlapping the two matters most (up to 2x).

The main process uses one torch thread (``--threads``) so that on a 2-core machine one core
trains and one prepares data; with more threads the workers and the model would compete for
the same cores and the comparison would measure that contention instead.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing the package

from text_recognizer.data.base_data_module import DEFAULT_NUM_WORKERS  # noqa: E402
from text_recognizer.data.digits import Digits, load_digits_arrays  # noqa: E402
from text_recognizer.data.util import BaseDataset, split_dataset  # noqa: E402
from text_recognizer.lit_models.base import BaseLitModel  # noqa: E402
from text_recognizer.models.mlp import MLP  # noqa: E402
from text_recognizer.stems.image import BoxStem  # noqa: E402
from text_recognizer.training.profiling import (  # noqa: E402
    format_breakdown,
    make_profiler,
    step_time_breakdown,
)
from text_recognizer.util import atomic_write_text  # noqa: E402

RESULTS = REPO / "bench" / "results"
IMAGE_SIZE = 28
BATCH_SIZE = 32
STEPS = 40
REPEATS = 2  # settings alternate (0, 1, 0, 1, ...); the fastest run of each is kept
SKIP_FIRST, WARMUP, ACTIVE = 3, 1, 4  # profiled steps 4-7; throughput is timed after them
FC1, FC2 = 2048, 512


class AugmentedDigits(Digits):
    """Digits as ``IMAGE_SIZE`` x ``IMAGE_SIZE`` images, augmented by ``BoxStem`` on every
    access: the per-sample CPU work that DataLoader workers can take off the training loop."""

    def __init__(self, args: argparse.Namespace | dict | None = None) -> None:
        super().__init__(args)
        self.input_dims = (1, IMAGE_SIZE, IMAGE_SIZE)
        self.stem = BoxStem(IMAGE_SIZE, IMAGE_SIZE, augment=True)

    def setup(self, stage: str | None = None) -> None:
        images, labels = load_digits_arrays()  # (N, 1, 8, 8) in [0, 1], ink ~ 1
        pages = [Image.fromarray(np.uint8(np.round(255 * (1 - image[0])))) for image in images]
        full = BaseDataset(pages, torch.from_numpy(labels), transform=self.stem)
        self.data_train, self.data_val = split_dataset(full, 0.9, seed=self.seed)


class StepClock(pl.Callback):
    """Wall-clock time and batch size at the end of every training step."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.sizes: list[int] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.times.append(time.perf_counter())
        self.sizes.append(len(batch[1]))


def run(num_workers: int, args: argparse.Namespace, trace_dir: Path) -> dict[str, float]:
    """Train ``args.steps`` steps; samples/s after the profiled steps and the trace's shares."""
    pl.seed_everything(0, workers=True, verbose=False)
    data = AugmentedDigits({"batch_size": args.batch_size, "num_workers": num_workers})
    model = BaseLitModel(MLP(data.config(), {"fc1": FC1, "fc2": FC2, "fc_dropout": 0.2}), {})
    shutil.rmtree(trace_dir, ignore_errors=True)  # this script's own output from a past run
    profiler = make_profiler(trace_dir, skip_first=SKIP_FIRST, warmup=WARMUP, active=ACTIVE)
    clock = StepClock()
    trainer = pl.Trainer(
        max_steps=args.steps,
        limit_val_batches=0,  # training throughput only
        accelerator="auto",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        profiler=profiler,
        callbacks=[clock],
    )
    trainer.fit(model, datamodule=data)
    if profiler.trace_path is None:
        raise RuntimeError(f"no trace: --steps must exceed {profiler.steps_needed}")
    first = profiler.steps_needed  # the profiler stopped when this step fetched its batch
    samples = sum(clock.sizes[first + 1 :])  # the steps that ended after times[first]
    samples_per_s = samples / (clock.times[-1] - clock.times[first])
    return {"samples_per_s": samples_per_s, **step_time_breakdown(profiler.trace_path)}


def markdown(results: dict[int, dict[str, float]], args: argparse.Namespace, load: float) -> str:
    baseline = results[min(results)]["samples_per_s"]
    lines = [
        "# DataLoader num_workers: throughput and time waiting for data",
        "",
        f"{os.cpu_count()} CPUs ({platform.machine()}), torch {torch.__version__}, "
        f"{args.threads} torch thread(s) in the training process, "
        f"default num_workers here = {DEFAULT_NUM_WORKERS}, load average {load:.1f}.",
        f"AugmentedDigits ({IMAGE_SIZE}x{IMAGE_SIZE}, BoxStem augmentation per sample), "
        f"MLP {FC1}-{FC2}, batch {args.batch_size}, {args.steps} steps, best of "
        f"{args.repeats}; samples/s over the steps after the profiled ones, shares from the "
        f"profiled steps {SKIP_FIRST + WARMUP}-{SKIP_FIRST + WARMUP + ACTIVE - 1}.",
        "",
        "| num_workers | samples/s | speed-up | data | forward | backward | optimizer | other "
        "| step ms (profiled) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for workers, r in results.items():
        lines.append(
            f"| {workers} | {r['samples_per_s']:.0f} | {r['samples_per_s'] / baseline:.2f}x "
            f"| {r['data']:.1f}% | {r['forward']:.1f}% | {r['backward']:.1f}% "
            f"| {r['optimizer']:.1f}% | {r['other']:.1f}% | {r['step_ms']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--num_workers",
        type=int,
        nargs="+",
        default=sorted({0, DEFAULT_NUM_WORKERS}),
        help=f"settings to compare (default: 0 and the default, {DEFAULT_NUM_WORKERS})",
    )
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps per setting")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="runs per setting")
    parser.add_argument("--batch_size", type=int, default=BATCH_SIZE)
    parser.add_argument("--threads", type=int, default=1, help="torch threads, main process")
    parser.add_argument("--output_dir", type=Path, default=RESULTS / "num_workers")
    args = parser.parse_args(argv)
    if args.steps < SKIP_FIRST + WARMUP + ACTIVE + 5:
        parser.error(f"--steps must be at least {SKIP_FIRST + WARMUP + ACTIVE + 5}")
    torch.set_num_threads(args.threads)
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)  # no per-run banners

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    results: dict[int, dict[str, float]] = {}
    for repeat in range(args.repeats):
        for workers in args.num_workers:
            start = time.perf_counter()
            trace_dir = args.output_dir / f"workers{workers}-run{repeat + 1}"
            result = run(workers, args, trace_dir)
            print(
                f"\nnum_workers={workers} (run {repeat + 1}): {result['samples_per_s']:.0f} "
                f"samples/s, {time.perf_counter() - start:.0f} s, {trace_dir / 'trace.json'}\n"
                f"{format_breakdown(result)}"
            )
            if result["samples_per_s"] > results.get(workers, {}).get("samples_per_s", 0):
                results[workers] = result
    table = markdown(results, args, load)
    print("\n" + table)
    atomic_write_text(RESULTS / "num_workers.md", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
