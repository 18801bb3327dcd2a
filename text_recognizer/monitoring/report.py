"""The monitoring report: one HTML page with PNG plots, written from the evaluation store.

``text-recognizer monitor report --store monitoring/store.db --out reports/monitoring``
writes ``index.html`` and, beside it:

- ``distributions.png``: every projection, reference (held-out test split) vs production;
- ``timeline.png``: per projection, D1 against the reference window by window, the
  threshold, and the windows that raised a drift alert (red); traffic volume on top;
- ``flags.png``: user flags by option, and the share of predictions flagged per day;
- ``worst.png``: the inputs behind the worst cases (lowest confidence, and flagged ones),
  with what the model read;
- ``shadow.png``: candidate vs production (agreement, CER, latency) when shadow rows exist.

Plots use matplotlib's Agg backend (files only, no display), so the report builds in CI.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from text_recognizer.monitoring.drift import DriftConfig, DriftResult, detect_drift, load_config
from text_recognizer.monitoring.plotting import (
    ALERT_COLOR,
    PRODUCTION_COLOR,
    REFERENCE_COLOR,
    pyplot,
    save_figure,
)
from text_recognizer.recognizer import LOW_CONFIDENCE
from text_recognizer.util import atomic_write_text

if TYPE_CHECKING:
    import pandas as pd

    from text_recognizer.monitoring.store import EvaluationStore

WORST_CASES = 8


@dataclass
class Report:
    path: Path  # index.html
    images: dict[str, Path]
    drift: DriftResult


# ---------------------------------------------------------------- plots
def plot_distributions(
    reference: pd.DataFrame, production: pd.DataFrame, names: list[str], path: Path
) -> Path:
    """One histogram per projection: reference vs production, as densities."""
    plt = pyplot()
    names = [n for n in names if n in production]
    cols = 4
    rows = max(1, -(-len(names) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        prod = production[name].dropna().to_numpy(float)
        ref = reference[name].dropna().to_numpy(float) if name in reference else np.array([])
        both = np.concatenate([ref, prod])
        if both.size == 0:
            ax.set_title(f"{name} (no data)")
            continue
        low, high = float(both.min()), float(both.max())
        bins = np.linspace(low, high if high > low else low + 1, 31)
        if ref.size:
            ax.hist(ref, bins, density=True, alpha=0.55, color=REFERENCE_COLOR, label="reference")
        ax.hist(prod, bins, density=True, alpha=0.55, color=PRODUCTION_COLOR, label="production")
        ax.set_title(name)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("Projections: held-out reference vs production", y=1.0)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_timeline(result: DriftResult, config: DriftConfig, path: Path) -> Path:
    """Volume per window, then D1 per window for each projection, alerts in red."""
    plt = pyplot()
    stats = result.stats
    names = [n for n in config.projections if n in set(stats["projection"])]
    fig, axes = plt.subplots(
        len(names) + 1, 1, figsize=(11, 1.35 * (len(names) + 1) + 0.6), sharex=True
    )
    axes = np.atleast_1d(axes)
    volume = result.volume
    axes[0].bar(volume["window_start"], volume["count"], width=_bar_width(volume), color="gray")
    axes[0].axhline(config.volume_min, color=ALERT_COLOR, lw=0.8, ls=":")
    axes[0].set_ylabel("requests", fontsize=8)
    drift_alerts = {
        (a.window_start, a.projection) for a in result.alerts if a.check_name == "drift"
    }
    for ax, name in zip(axes[1:], names):
        rows = stats[stats["projection"] == name]
        ax.plot(rows["window_start"], rows["d1"], marker=".", color=PRODUCTION_COLOR, lw=1)
        ax.axhline(config.d1_threshold, color="black", lw=0.6, ls="--")
        alerted = rows[[(t, name) in drift_alerts for t in rows["window_start"]]]
        for start, end in zip(alerted["window_start"], alerted["window_end"]):
            ax.axvspan(start, end, color=ALERT_COLOR, alpha=0.25, lw=0)
        ax.scatter(alerted["window_start"], alerted["d1"], color=ALERT_COLOR, zorder=3, s=14)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[-1].set_xlabel("window start (UTC)")
    fig.suptitle(
        f"D1 vs reference per {config.window} window (dashed: threshold {config.d1_threshold}; "
        "red: drift alert)",
        fontsize=10,
    )
    fig.tight_layout()
    return save_figure(fig, path)


def _bar_width(volume: pd.DataFrame) -> Any:
    if len(volume) == 0:
        return 0.01
    return (volume["window_end"] - volume["window_start"]).iloc[0] * 0.9


def plot_flags(flags: pd.DataFrame, predictions: pd.DataFrame, path: Path) -> Path:
    """Flags by option, and the share of predictions flagged per hour (or day)."""
    import pandas as pd

    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3))
    if len(flags):
        counts = flags["option"].fillna("(none)").value_counts()
        left.barh(counts.index.astype(str), counts.to_numpy(), color=PRODUCTION_COLOR)
        left.invert_yaxis()
    else:
        left.text(0.5, 0.5, "no flags yet", ha="center", va="center")
    left.set_title("flags by option")
    span = (
        predictions["timestamp"].max() - predictions["timestamp"].min()
        if len(predictions)
        else None
    )
    period = "1h" if span is not None and span <= pd.Timedelta("3D") else "1D"
    if len(predictions):
        share = predictions.set_index("timestamp")["flagged"].resample(period).mean()
        width = pd.Timedelta(period) * 0.8
        right.bar(share.index, share.to_numpy() * 100, width=width, color=REFERENCE_COLOR)
        right.set_ylabel("% flagged")
        right.tick_params(axis="x", labelrotation=30, labelsize=8)
    right.set_title(f"share of predictions flagged, per {'hour' if period == '1h' else 'day'}")
    fig.tight_layout()
    return save_figure(fig, path)


def worst_cases(predictions: pd.DataFrame, k: int = WORST_CASES) -> pd.DataFrame:
    """The cases to look at first: flagged ones, then the least confident (distinct images)."""
    if len(predictions) == 0:
        return predictions
    ranked = predictions.assign(
        _order=np.where(predictions["flagged"], -1.0, predictions["confidence"].fillna(0.0))
    ).sort_values(["_order", "timestamp"])
    ranked = ranked[ranked["image_sha256"].notna()].drop_duplicates("image_sha256")
    return ranked.head(k).drop(columns="_order")


def plot_worst(store: EvaluationStore, cases: pd.DataFrame, path: Path) -> Path:
    """A grid of the worst cases' input images, captioned with the model's output."""
    plt = pyplot()
    n = max(1, len(cases))
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (_, case), image in zip(axes.flat, cases.iterrows(), store.images_for(cases)):
        if image is not None:
            ax.imshow(image, cmap="gray" if image.mode == "L" else None)
        text = (case["output_text"] or "").replace("\n", " / ")
        why = f"flag: {case['flags']}" if case["flagged"] else f"conf {case['confidence']:.2f}"
        ax.set_title(f"{why}\n{text[:38]!r}", fontsize=7)
    if len(cases) == 0:
        axes.flat[0].text(0.5, 0.5, "no predictions", ha="center")
    fig.suptitle("Worst cases: flagged first, then least confident", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_examples(store: EvaluationStore, frame: pd.DataFrame, title: str = "", k: int = 6):
    """A row of ``frame``'s first ``k`` input images, each titled with the model's confidence
    and output: looking at inputs beside outputs is how failure modes are found."""
    plt = pyplot()
    rows = frame.head(k)
    fig, axes = plt.subplots(
        1, max(1, len(rows)), figsize=(3.2 * max(1, len(rows)), 3.2), squeeze=False
    )
    for ax in axes[0]:
        ax.axis("off")
    for ax, (_, row), image in zip(axes[0], rows.iterrows(), store.images_for(rows)):
        if image is not None:
            ax.imshow(image, cmap="gray" if image.mode == "L" else None)
        text = (row["output_text"] or "").replace("\n", " / ")
        ax.set_title(f"conf {row['confidence']:.2f}\n{text[:30]!r}", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- the page
def write_report(
    store: EvaluationStore,
    out_dir: str | os.PathLike,
    reference: pd.DataFrame,
    config: DriftConfig | None = None,
    *,
    title: str = "Text recognizer: production monitoring",
    start: Any = None,
    end: Any = None,
    source: str | None = None,
    write_alerts: bool = True,
) -> Report:
    """Run the drift checks (writing alerts to the store) and write the HTML report, for
    production predictions from ``start`` to ``end`` (default: all), of ``source`` if given."""
    from text_recognizer.monitoring.drift import run_drift

    config = config or load_config()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    production = store.to_dataframe(role="production", source=source, start=start, end=end)
    result = (
        run_drift(store, reference, config, start=start, end=end, source=source)
        if write_alerts
        else detect_drift(reference, production, config, start, end)
    )
    flags = store.flags_dataframe()
    cases = worst_cases(production)
    images = {
        "distributions": plot_distributions(
            reference, production, list(config.projections), out / "distributions.png"
        ),
        "timeline": plot_timeline(result, config, out / "timeline.png"),
        "flags": plot_flags(flags, production, out / "flags.png"),
        "worst": plot_worst(store, cases, out / "worst.png"),
    }
    shadow_html = ""
    if store.count(role="candidate"):
        from text_recognizer.monitoring.shadow import compare, plot_shadow

        comparison = compare(store)
        images["shadow"] = plot_shadow(comparison, out / "shadow.png")
        shadow_html = (
            "<h2>Shadow mode: candidate vs production</h2>"
            + _table(comparison.summary_frame())
            + '<img src="shadow.png" alt="shadow comparison">'
        )
    alerts = store.alerts_dataframe()
    summary = {
        "predictions": len(production),
        "time span": (
            f"{production['timestamp'].min():%Y-%m-%d %H:%M} .. "
            f"{production['timestamp'].max():%Y-%m-%d %H:%M} UTC"
            if len(production)
            else "-"
        ),
        "models": ", ".join(
            sorted(
                {f"{n} {v}" for n, v in zip(production["model_name"], production["model_version"])}
            )
        )
        if len(production)
        else "-",
        "flags": len(flags),
        f"low confidence (< {LOW_CONFIDENCE})": _share(production["confidence"] < LOW_CONFIDENCE)
        if len(production)
        else "-",
        "windows": len(result.volume),
        "windows with a drift alert": result.alerted_windows("drift"),
        "alerts (all checks)": len(alerts),
        "reference size": len(reference),
    }
    by_projection = (
        alerts.groupby(["check_name", "projection"]).size().rename("windows").reset_index()
        if len(alerts)
        else alerts
    )
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; max-width: 1150px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; }}
img {{ max-width: 100%; border: 1px solid #eee; margin-bottom: 1.5em; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Store: <code>{html.escape(store.url)}</code>. Reference: the held-out test split through
the production model. Thresholds: <code>drift.yaml</code> (window {config.window}, step
{config.step}, KS p &lt; {config.ks_alpha} and D1 &gt; {config.d1_threshold}).</p>
{_table_from_dict(summary)}
<h2>Alerts by check and projection</h2>
{_table(by_projection) if len(by_projection) else "<p>No alerts.</p>"}
<h2>Timeline</h2><img src="timeline.png" alt="timeline">
<h2>Distributions</h2><img src="distributions.png" alt="distributions">
<h2>User flags</h2><img src="flags.png" alt="flags">
<h2>Worst cases</h2><img src="worst.png" alt="worst cases">
{_table(cases[["timestamp", "source", "confidence", "flags", "output_text"]]) if len(cases) else ""}
{shadow_html}
<h2>Latest alerts</h2>
{_table(alerts.tail(30)[["window_start", "check_name", "projection", "statistic", "message"]]) if len(alerts) else "<p>No alerts.</p>"}
</body></html>
"""
    path = out / "index.html"
    atomic_write_text(path, body)
    return Report(path, images, result)


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda x: f"{x:.3g}", escape=True, border=0)


def _share(mask) -> str:
    """``"k of n (p %)"`` for a boolean Series.

    >>> import pandas as pd
    >>> _share(pd.Series([True, False, False, False]))
    '1 of 4 (25 %)'
    """
    return f"{int(mask.sum())} of {len(mask)} ({100 * mask.mean():.0f} %)"


def _table_from_dict(values: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in values.items()
    )
    return f"<table>{rows}</table>"
