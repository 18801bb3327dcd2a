"""One training step of a profiler trace, drawn as a timeline (Lab 05): the nested ranges
of the last recorded step on its thread, coloured by phase (data, forward, backward,
optimizer; see :func:`~text_recognizer.training.profiling.classify`), plus the phases in
order and the slowest layers. What Perfetto shows, in a notebook and offline."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

from text_recognizer.training.profiling import RANGE_PREFIX, classify, load_trace

PHASE_COLORS = {
    "data": "tab:orange",
    "forward": "tab:blue",
    "backward": "tab:red",
    "optimizer": "tab:green",
}
MODULE_PREFIX = "[pl][module]"
MIN_DRAWN_US = 20  # ranges shorter than this would be invisible at a step's scale
MAX_DEPTH = 7


@dataclass
class StepTimeline:
    step: dict  # the ProfilerStep#N event
    events: list[dict]  # complete ("X") events inside it on its thread, by start time

    def offset_ms(self, event: dict) -> float:
        return (event["ts"] - self.step["ts"]) / 1000


def last_step(trace: str | os.PathLike | dict | list) -> StepTimeline:
    """The last recorded ``ProfilerStep#`` of ``trace`` and every range inside it (its thread)."""
    events = [e for e in load_trace(trace) if e.get("ph") == "X"]
    steps = [e for e in events if e["name"].startswith("ProfilerStep#")]
    if not steps:
        raise ValueError("the trace has no ProfilerStep# ranges (was a schedule active?)")
    step = max(steps, key=lambda e: e["ts"])
    thread, start, end = (step["pid"], step["tid"]), step["ts"], step["ts"] + step["dur"]
    inside = [e for e in events if (e["pid"], e["tid"]) == thread and start <= e["ts"] < end]
    return StepTimeline(step, sorted(inside, key=lambda e: (e["ts"], -e["dur"])))


def plot_step(timeline: StepTimeline, ax=None):
    """Draw the step: one row per nesting depth, one bar per range, coloured by phase."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(15, 3.2))
    open_ends: list[float] = []  # end time of the open range at each nesting level
    for e in timeline.events:
        start, end = timeline.offset_ms(e), timeline.offset_ms(e) + e["dur"] / 1000
        while open_ends and open_ends[-1] <= start:
            open_ends.pop()
        depth = len(open_ends)
        open_ends.append(end)
        if depth <= MAX_DEPTH and e["dur"] >= MIN_DRAWN_US:
            ax.broken_barh(
                [(start, e["dur"] / 1000)],
                (-depth - 0.45, 0.9),
                color=PHASE_COLORS.get(classify(e["name"]), "lightgray"),
                edgecolor="white",
                linewidth=0.3,
            )
    for phase, color in PHASE_COLORS.items():
        ax.bar(0, 0, color=color, label=phase)
    step = timeline.step
    ax.set(xlabel="ms since the start of the step", yticks=[])
    ax.set_title(f"{step['name']}: {step['dur'] / 1000:.1f} ms")
    ax.legend(loc="lower right", ncols=4)
    return ax


def phase_table(timeline: StepTimeline, limit: int = 8) -> list[tuple[float, float, str, str]]:
    """The step's Lightning phases in order: (start ms, duration ms, phase, range name)."""
    rows = [
        (timeline.offset_ms(e), e["dur"] / 1000, phase, e["name"].removeprefix(RANGE_PREFIX))
        for e in timeline.events
        if (phase := classify(e["name"]))
    ]
    return rows[:limit]


def slowest_layers(timeline: StepTimeline, limit: int = 4) -> list[tuple[str, float]]:
    """Layers by time in this step (ms, forward, children included)."""
    layers: Counter[str] = Counter()
    for e in timeline.events:
        if e["name"].startswith(MODULE_PREFIX):
            layers[e["name"].removeprefix(MODULE_PREFIX)] += e["dur"] / 1000
    return layers.most_common(limit)
