"""Profile a few training steps with ``torch.profiler`` and explain where step time goes (Lab 05).

    profiler = make_profiler("logs/profile")           # skip 5 steps, warm up 1, record 3
    trainer = pl.Trainer(..., profiler=profiler)
    trainer.fit(model, datamodule=data)
    print_summary(profiler)                             # top operators + step-time breakdown

What it writes under ``output_dir``:

- ``trace.json``: a Chrome trace. Open it in https://ui.perfetto.dev (or ``chrome://tracing``)
  to see every recorded step on a timeline: the batch fetch, the forward pass layer by layer,
  backward, the optimizer update, and the Lightning hooks in between.
- ``tensorboard/<worker>.<ns>.pt.trace.json``: the same trace, written by
  ``torch.profiler.tensorboard_trace_handler`` for TensorBoard's profiler plugin
  (``pip install torch-tb-profiler``, then ``tensorboard --logdir <output_dir>/tensorboard``).
- ``summary.txt``: the top-operator table, written when ``fit`` ends.

Why a small Lightning ``Profiler`` of our own instead of Lightning's ``PyTorchProfiler``?
Both wrap every Lightning action in a ``record_function`` range (``[pl][profile]...``) that
shows up in the trace. But in pytorch-lightning 2.6 ``PyTorchProfiler`` (1) advances the
``torch.profiler`` schedule at the end of ``training_step``, before backward, so each recorded
"step" starts in the middle of an iteration and the first one loses its enclosing
``optimizer_step`` range; (2) also advances it on ``validation_step`` with separate counters,
so a second cycle records validation steps, writes a second trace file that is *also* named
``...training_step...``, and replaces the events its summary table reports. ``TraceProfiler``
below is the same idea in ~80 lines with one rule: a step begins when the training loop asks
the DataLoader for a batch, so ``ProfilerStep#N`` in the trace is exactly one iteration
(fetch -> forward -> backward -> optimizer -> hooks) and validation never drives the schedule.
After the recorded steps it stops the profiler, so the rest of training runs at full speed.

``step_time_breakdown`` reads a trace and splits the recorded step time into data loading,
forward, backward, optimizer and other, from Lightning's range names (``CATEGORY_PATTERNS``).

Reading the trace (one row per thread; ``ProfilerStep#N`` spans one training step):

- ``[_TrainingEpochLoop].train_dataloader_next`` at the start of every step is time the model
  waits for a batch. If it is a large share, the accelerator idles: add DataLoader workers,
  make ``__getitem__`` cheaper, or cache preprocessing (``scripts/bench_num_workers.py``).
- Inside ``training_step``, ``[pl][module]...: model.fc1``-style ranges time each layer; in a
  healthy step the matrix multiplies and convolutions (``aten::mm``, ``aten::addmm``,
  ``aten::convolution``) dominate the operator table.
- With a GPU, kernels appear on their own stream rows. Gaps between kernels mean the GPU waits
  for Python (many tiny ops: a bigger batch or ``torch.compile`` helps); a long
  ``cudaStreamSynchronize`` or ``aten::_local_scalar_dense`` on the CPU is a sync, often a
  ``.item()`` in logging.
- "other" (Lightning hooks, logging, progress bar) should stay at a few percent.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.profilers import Profiler
from pytorch_lightning.profilers.pytorch import RegisterRecordFunction
from torch.profiler import ProfilerActivity, record_function, tensorboard_trace_handler

from text_recognizer.util import atomic_write, atomic_write_text

SKIP_FIRST = 5  # the first steps pay one-off costs: worker start-up, lazy init, allocator growth
WARMUP = 1  # profiled but thrown away: the profiler's own start-up cost lands here
ACTIVE = 3  # steps kept in the trace
STEP_ACTION = "train_dataloader_next"  # Lightning's action that begins every training step
TRACE_FILENAME = "trace.json"
RANGE_PREFIX = "[pl][profile]"  # the same prefix Lightning's PyTorchProfiler uses

# Which recorded ranges belong to which phase of a training step. Lightning names its actions
# "[<kind>]<Class>.<hook>"; a trace range is that name after RANGE_PREFIX.
CATEGORY_PATTERNS: dict[str, tuple[str, ...]] = {
    # waiting for the DataLoader: the whole per-sample pipeline when num_workers=0
    "data": (r"\.train_dataloader_next$",),
    # LightningModule.training_step: forward pass, loss and metrics
    "forward": (r"\.training_step$",),
    # loss.backward() through the Strategy
    "backward": (r"\.backward$",),
    # optimizer.step(closure) minus the forward/backward it runs inside, plus zero_grad
    "optimizer": (
        r"(^|[.\]])optimizer_step$",
        r"\.optimizer_zero_grad$",
        r"^Optimizer\.(step|zero_grad)#",
    ),
}
CATEGORIES = (*CATEGORY_PATTERNS, "other")
_COMPILED = {cat: [re.compile(p) for p in pats] for cat, pats in CATEGORY_PATTERNS.items()}


class TraceProfiler(Profiler):
    """A Lightning profiler that records training steps ``skip_first + warmup`` to
    ``skip_first + warmup + active - 1`` with ``torch.profiler`` and saves the trace.

    Give it to ``pl.Trainer(profiler=...)``. After ``fit``: ``trace_path`` is the Chrome trace
    (``None`` if training ended before the first recorded step) and ``function_events`` the
    recorded operators (``torch.autograd.profiler_util.EventList``).
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        skip_first: int = SKIP_FIRST,
        warmup: int = WARMUP,
        active: int = ACTIVE,
        record_shapes: bool = False,
        profile_memory: bool = False,
        with_stack: bool = False,
        record_module_names: bool = True,
        row_limit: int = 20,
    ) -> None:
        super().__init__(dirpath=output_dir)
        self.output_dir = Path(output_dir)
        self.skip_first, self.warmup, self.active = skip_first, warmup, active
        self.row_limit = row_limit
        self.activities = [ProfilerActivity.CPU]
        if torch.cuda.is_available():
            self.activities.append(ProfilerActivity.CUDA)
        self._profile_kwargs = {
            "record_shapes": record_shapes,
            "profile_memory": profile_memory,
            "with_stack": with_stack,
        }
        self.record_module_names = record_module_names
        self.profiler: torch.profiler.profile | None = None
        self.function_events: Any = None  # torch EventList of the recorded steps
        self.trace_path: Path | None = None
        self.steps_seen = 0
        self._done = False
        self._summary_written = False
        self._ranges: dict[str, record_function] = {}
        self._module_ranges: RegisterRecordFunction | None = None
        # checked last: Lightning's Profiler.__del__ tears down even an instance that raised
        if skip_first < 0 or warmup < 0 or active < 1:
            raise ValueError(
                f"need skip_first >= 0, warmup >= 0, active >= 1, got "
                f"{skip_first}, {warmup}, {active}"
            )

    @property
    def steps_needed(self) -> int:
        """Training steps a run needs for a full trace."""
        return self.skip_first + self.warmup + self.active

    # ---------------------------------------------------------------- Lightning's Profiler API
    def start(self, action_name: str) -> None:
        if action_name.endswith(STEP_ACTION):  # a new training step begins with its batch
            self._next_step()
        if self.profiler is not None and action_name not in self._ranges:
            self._ranges[action_name] = record_function(RANGE_PREFIX + action_name).__enter__()

    def stop(self, action_name: str) -> None:
        recording = self._ranges.pop(action_name, None)
        if recording is not None:
            recording.__exit__(None, None, None)

    def summary(self) -> str:
        self._finish()
        if self.function_events is None:
            return ""
        table = self.function_events.key_averages().table(
            sort_by="self_cpu_time_total", row_limit=self.row_limit
        )
        return f"Top operators by self CPU time ({self.active} recorded steps)\n{table}"

    def describe(self) -> None:
        """Lightning calls this when ``fit`` (or ``test``, ...) ends: write the report to
        ``summary.txt`` once, instead of logging it (``print_summary`` prints it)."""
        report = "" if self._summary_written else self.summary()
        if report:
            atomic_write_text(self.output_dir / "summary.txt", report + "\n")
            self._summary_written = True
        self.teardown(self._stage)

    def teardown(self, stage: str | None) -> None:
        self._finish()
        super().teardown(stage)

    # ---------------------------------------------------------------- the torch.profiler side
    def _next_step(self) -> None:
        self.steps_seen += 1
        if self._done:
            return
        if self.profiler is None:  # first training step: start (recording waits for the schedule)
            self.profiler = torch.profiler.profile(
                activities=self.activities,
                schedule=torch.profiler.schedule(
                    skip_first=self.skip_first,
                    wait=0,
                    warmup=self.warmup,
                    active=self.active,
                    repeat=1,
                ),
                on_trace_ready=self._save_trace,
                **self._profile_kwargs,
            )
            self.profiler.start()
            module = getattr(self, "_lightning_module", None)  # set by the Trainer
            if self.record_module_names and module is not None:
                self._module_ranges = RegisterRecordFunction(module)  # "[pl][module]..." ranges
                self._module_ranges.__enter__()
            return
        self.profiler.step()
        if self.trace_path is not None:  # the schedule just saved the trace: stop paying for it
            self._finish()

    def _save_trace(self, prof: torch.profiler.profile) -> None:
        """``on_trace_ready``: TensorBoard trace via torch's handler, then a copy as trace.json."""
        tensorboard_dir = self.output_dir / "tensorboard"
        before = set(tensorboard_dir.glob("*.pt.trace.json"))
        tensorboard_trace_handler(str(tensorboard_dir), worker_name=f"rank{self.local_rank}")(prof)
        (written,) = set(tensorboard_dir.glob("*.pt.trace.json")) - before
        name = TRACE_FILENAME if self.local_rank == 0 else f"trace-rank{self.local_rank}.json"
        with open(written, "rb") as source, atomic_write(self.output_dir / name, "wb") as target:
            shutil.copyfileobj(source, target)  # never a half-written trace.json
        self.trace_path = self.output_dir / name
        self.function_events = prof.events()

    def _finish(self) -> None:
        """Stop the profiler (saving a trace cut short by the end of training) and unhook."""
        if self.profiler is not None:
            self.profiler.stop()
            self.profiler = None
            self._done = True
        if self._module_ranges is not None:
            self._module_ranges.__exit__(None, None, None)
            self._module_ranges = None


def make_profiler(
    output_dir: str | os.PathLike,
    warmup: int = WARMUP,
    active: int = ACTIVE,
    skip_first: int = SKIP_FIRST,
    **kwargs: Any,
) -> TraceProfiler:
    """A profiler for ``pl.Trainer(profiler=...)``: skip ``skip_first`` training steps, warm up
    for ``warmup``, record ``active``; CPU activity, plus CUDA when a GPU is present.
    ``kwargs`` go to :class:`TraceProfiler` (``record_shapes``, ``profile_memory``, ...)."""
    return TraceProfiler(output_dir, skip_first=skip_first, warmup=warmup, active=active, **kwargs)


# -------------------------------------------------------------------- reading traces
def load_trace(trace: str | os.PathLike | dict | list) -> list[dict]:
    """The event list of a Chrome trace: a path (``.json`` or ``.json.gz``) or loaded JSON."""
    if isinstance(trace, str | os.PathLike):
        path = Path(trace)
        if not path.is_file():
            raise FileNotFoundError(f"no trace at {path}")
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as file:
            trace = json.load(file)
    events = trace.get("traceEvents", []) if isinstance(trace, dict) else trace
    if not isinstance(events, list):
        raise ValueError("not a Chrome trace: expected a list of events or {'traceEvents': [...]}")
    return events


def classify(name: str) -> str | None:
    """The step phase a trace range belongs to (a key of ``CATEGORY_PATTERNS``), or ``None``.

    >>> classify("[pl][profile][Strategy]SingleDeviceStrategy.backward")
    'backward'
    >>> classify("[pl][profile][LightningModule]BaseLitModel.on_before_backward") is None
    True
    >>> classify("Optimizer.step#Adam.step")
    'optimizer'
    """
    name = name.removeprefix(RANGE_PREFIX)
    for category, patterns in _COMPILED.items():
        if any(pattern.search(name) for pattern in patterns):
            return category
    return None


def _merge(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def step_time_breakdown(trace: str | os.PathLike | dict | list) -> dict[str, float]:
    """Where the recorded training steps spent their (wall-clock) time, in percent.

    Returns ``{"data", "forward", "backward", "optimizer", "other"}`` shares that sum to 100,
    plus ``"step_ms"`` (mean step time) and ``"steps"`` (how many steps were recorded).
    Steps are the ``ProfilerStep#N`` ranges (the whole trace if there are none); ranges nest
    (``optimizer_step`` runs the closure that does forward and backward), so every instant
    counts once, for the innermost phase range around it; time inside no phase is "other".
    Only the thread that runs the steps counts (CUDA kernels and DataLoader workers overlap it).

    >>> step = {"ph": "X", "name": "ProfilerStep#6", "ts": 0, "dur": 100, "pid": 1, "tid": 1}
    >>> def r(name, ts, dur): return dict(step, name="[pl][profile]" + name, ts=ts, dur=dur)
    >>> b = step_time_breakdown([step, r("[_TrainingEpochLoop].train_dataloader_next", 0, 30),
    ...     r("[LightningModule]Lit.optimizer_step", 40, 60),  # 60 - 20 - 30 = 10 optimizer
    ...     r("[Strategy]SingleDeviceStrategy.training_step", 40, 20),
    ...     r("[Strategy]SingleDeviceStrategy.backward", 65, 30)])
    >>> {k: round(v) for k, v in b.items()}  # 30-40 and 60-65 are in no phase: other
    {'data': 30, 'forward': 20, 'backward': 30, 'optimizer': 10, 'other': 10, 'step_ms': 0, 'steps': 1}
    """
    spans = [e for e in load_trace(trace) if e.get("ph") == "X" and "dur" in e and "ts" in e]
    steps = [e for e in spans if str(e.get("name", "")).startswith("ProfilerStep#")]
    if steps:  # the thread that ran the most steps
        counts: dict[tuple, int] = defaultdict(int)
        for e in steps:
            counts[(e.get("pid"), e.get("tid"))] += 1
        thread = max(counts, key=counts.get)
    else:
        counts = defaultdict(int)
        for e in spans:
            counts[(e.get("pid"), e.get("tid"))] += classify(str(e.get("name", ""))) is not None
        if not counts or max(counts.values()) == 0:
            raise ValueError("trace has no ProfilerStep# ranges and no training-phase ranges")
        thread = max(counts, key=counts.get)
    on_thread = [e for e in spans if (e.get("pid"), e.get("tid")) == thread]
    thread_steps = [e for e in steps if (e.get("pid"), e.get("tid")) == thread]
    windows = _merge(
        [(float(e["ts"]), float(e["ts"]) + float(e["dur"])) for e in thread_steps or on_thread]
    )
    num_steps = len(thread_steps) or 1

    phases = []  # (start, end, category)
    for e in on_thread:
        category = classify(str(e.get("name", "")))
        if category is not None:
            phases.append((float(e["ts"]), float(e["ts"]) + float(e["dur"]), category))
    # Sweep the elementary intervals between all boundaries; each goes to the innermost phase
    # range covering it (latest start, then earliest end), or to "other".
    points = sorted({p for w in windows for p in w} | {p for ph in phases for p in ph[:2]})
    totals = dict.fromkeys(CATEGORIES, 0.0)
    window_index = 0
    for a, b in zip(points, points[1:]):
        while window_index < len(windows) and windows[window_index][1] <= a:
            window_index += 1
        if window_index == len(windows) or windows[window_index][0] > a:
            continue  # between recorded steps
        covering = [ph for ph in phases if ph[0] <= a and b <= ph[1]]
        category = max(covering, key=lambda ph: (ph[0], -ph[1]))[2] if covering else "other"
        totals[category] += b - a
    total = sum(end - start for start, end in windows)
    if total <= 0:
        raise ValueError("trace steps have zero duration")
    shares = {category: 100.0 * totals[category] / total for category in CATEGORIES}
    return {**shares, "step_ms": total / num_steps / 1000.0, "steps": float(num_steps)}


def format_breakdown(breakdown: dict[str, float]) -> str:
    """A markdown table of ``step_time_breakdown``'s result: share and ms per step per phase.

    >>> print(format_breakdown({"data": 50.0, "forward": 20.0, "backward": 20.0,
    ...                         "optimizer": 5.0, "other": 5.0, "step_ms": 10.0, "steps": 3}))
    | phase     |  share | ms/step |
    |-----------|-------:|--------:|
    | data      |  50.0% |    5.00 |
    | forward   |  20.0% |    2.00 |
    | backward  |  20.0% |    2.00 |
    | optimizer |   5.0% |    0.50 |
    | other     |   5.0% |    0.50 |
    | step      | 100.0% |   10.00 |
    (mean of 3 recorded steps)
    """
    step_ms = breakdown.get("step_ms", float("nan"))
    lines = ["| phase     |  share | ms/step |", "|-----------|-------:|--------:|"]
    for category in CATEGORIES:
        share = breakdown.get(category, 0.0)
        lines.append(f"| {category:<9} | {share:5.1f}% | {share * step_ms / 100:7.2f} |")
    total = sum(breakdown.get(category, 0.0) for category in CATEGORIES)
    lines.append(f"| {'step':<9} | {total:5.1f}% | {step_ms:7.2f} |")
    if "steps" in breakdown:
        lines.append(f"(mean of {int(breakdown['steps'])} recorded steps)")
    return "\n".join(lines)


@dataclass
class _OpStats:
    calls: int = 0
    cpu_total: float = 0.0  # microseconds, children included
    self_cpu: float = 0.0  # microseconds, children excluded
    device: float = 0.0  # microseconds of GPU kernels / copies


def top_operators(
    trace: str | os.PathLike | dict | list, sort_by: str = "self_cpu", row_limit: int = 15
) -> str:
    """A table of the most expensive operators in a saved trace, by self time (time in the
    operator minus the operators it called). ``sort_by``: "self_cpu" or "self_device"
    (GPU kernel time, attributed to the kernel names)."""
    if sort_by not in ("self_cpu", "self_device"):
        raise ValueError(f"sort_by must be 'self_cpu' or 'self_device', not {sort_by!r}")
    stats: dict[str, _OpStats] = defaultdict(_OpStats)
    by_thread: dict[tuple, list[dict]] = defaultdict(list)
    for e in load_trace(trace):
        if e.get("ph") != "X" or "dur" not in e:
            continue
        if e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset"):
            op = stats[str(e["name"])]
            op.calls += 1
            op.device += float(e["dur"])
        elif e.get("cat") in ("cpu_op", "user_annotation"):
            by_thread[(e.get("pid"), e.get("tid"))].append(e)
    for events in by_thread.values():  # self time: each event is subtracted from its parent
        events.sort(key=lambda e: (float(e["ts"]), -float(e["dur"])))
        stack: list[tuple[float, _OpStats]] = []  # (end time, stats) of the open ancestors
        for e in events:
            start, dur = float(e["ts"]), float(e["dur"])
            while stack and stack[-1][0] <= start:
                stack.pop()
            if stack:
                stack[-1][1].self_cpu -= dur
            op = stats[str(e["name"])]
            op.calls += 1
            op.cpu_total += dur
            op.self_cpu += dur
            stack.append((start + dur, op))
    key = "self_cpu" if sort_by == "self_cpu" else "device"
    rows = sorted(stats.items(), key=lambda item: -getattr(item[1], key))[:row_limit]
    total_self = sum(op.self_cpu for op in stats.values()) or 1.0
    lines = [
        f"{'Name':<60} {'Self CPU %':>10} {'Self CPU':>11} {'CPU total':>11} "
        f"{'Device':>11} {'# Calls':>8}"
    ]
    for name, op in rows:
        short = name if len(name) <= 60 else name[:57] + "..."
        lines.append(
            f"{short:<60} {100 * op.self_cpu / total_self:>9.1f}% {op.self_cpu / 1000:>9.3f}ms "
            f"{op.cpu_total / 1000:>9.3f}ms {op.device / 1000:>9.3f}ms {op.calls:>8}"
        )
    return "\n".join(lines)


def print_summary(
    profiled: TraceProfiler | Profiler | torch.profiler.profile | str | os.PathLike,
    row_limit: int = 15,
) -> str:
    """Print (and return) the top operators by self CPU time (and by GPU time when kernels
    were recorded), then the step-time breakdown when a trace file is at hand.

    ``profiled``: a ``TraceProfiler`` after ``fit``, Lightning's ``PyTorchProfiler``, a
    ``torch.profiler.profile``, or the path of a saved Chrome trace.
    """
    parts: list[str] = []
    trace: str | os.PathLike | list | None = None  # for the step-time breakdown
    if isinstance(profiled, str | os.PathLike):
        trace = load_trace(profiled)
        parts.append(
            "Top operators by self CPU time\n" + top_operators(trace, "self_cpu", row_limit)
        )
        if any(e.get("cat") == "kernel" for e in trace):
            parts.append(
                "Top operators by GPU time\n" + top_operators(trace, "self_device", row_limit)
            )
    else:
        if isinstance(profiled, TraceProfiler):
            profiled._finish()
            trace = profiled.trace_path
        function_events = (
            profiled.events()
            if isinstance(profiled, torch.profiler.profile)
            else getattr(profiled, "function_events", None)
        )
        if not function_events:
            needed = getattr(profiled, "steps_needed", "enough")
            message = (
                f"no profile recorded: training must run at least {needed} steps "
                "(skip_first + warmup + active)"
            )
            print(message)
            return message
        averages = function_events.key_averages()
        parts.append(
            "Top operators by self CPU time\n"
            + averages.table(sort_by="self_cpu_time_total", row_limit=row_limit)
        )
        if any(getattr(e, "self_device_time_total", 0) > 0 for e in averages):
            parts.append(
                "Top operators by GPU time\n"
                + averages.table(sort_by="self_device_time_total", row_limit=row_limit)
            )
    if trace is not None:
        try:
            parts.append("Step time breakdown\n" + format_breakdown(step_time_breakdown(trace)))
        except ValueError as error:  # e.g. a trace without Lightning's training ranges
            parts.append(f"Step time breakdown: not available ({error})")
    text = "\n\n".join(parts)
    print(text)
    return text
