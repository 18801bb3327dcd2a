"""Drift detection: is production still the world the model was tested on?

1. A **reference** distribution of every projection: the fixed held-out test split of
   SyntheticParagraphs run through the production model (:func:`build_reference`), or a
   past window of production traffic we trust (:func:`reference_from_store`).
2. Production predictions are cut into **sliding windows** (``window``/``step`` in
   drift.yaml). In each window, per projection:

   - the **KS statistic**: the largest gap between the two empirical CDFs (0..1), with its
     p-value (:func:`scipy.stats.ks_2samp`);
   - the **D1 distance**: both samples binned on the same edges (the reference's quantiles;
     one bin per value for discrete projections), then half the L1 distance between the two
     histograms, ``D1 = 1/2 * sum_i |p_i - q_i|`` (the total-variation distance: 0 when the
     histograms agree, 1 when they share no bin). It reads as "the share of traffic that
     moved", which KS's statistic does not.

   An alert needs both: p < ``ks_alpha`` (not chance) AND D1 > ``d1_threshold`` (big enough
   to matter).
3. **Rules** that need no reference: too few or too many requests in a window (volume),
   missing values, values outside physical bounds.

The thresholds come from drift.yaml, validated by
:mod:`~text_recognizer.monitoring.drift_config`. Alerts go to the store's ``alerts`` table; :func:`run_drift` also returns every statistic
of every window for the report's timelines.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from text_recognizer.monitoring.drift_config import DriftConfig, load_config
from text_recognizer.monitoring.projections import PROJECTIONS, compute_projections
from text_recognizer.util import atomic_write

REFERENCE_FILENAME = "reference.csv"  # shipped in a staged model's artifact folder

if TYPE_CHECKING:
    import pandas as pd

    from text_recognizer.monitoring.store import EvaluationStore
    from text_recognizer.recognizer import BatchRecognizer


# ---------------------------------------------------------------- statistics
def _clean(values: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[np.isfinite(array)]


def bin_edges(reference: Sequence[float] | np.ndarray, bins: int = 10) -> np.ndarray:
    """Cut points for D1's histograms, from the reference alone: its min, its interior
    quantiles (or, with at most ``bins`` distinct values, midpoints between them: one bin per
    value) and just above its max. Values the reference never took fall in the two outer
    bins, so a sample entirely outside the reference's range is at D1 = 1.

    >>> bin_edges([-1.0, 1.0, 1.0, 1.0])  # discrete: one bin per value, plus outside bins
    array([-1.,  0.,  1.])
    >>> bin_edges(np.arange(100.0), bins=4)[1:-1]
    array([24.75, 49.5 , 74.25])
    """
    reference = _clean(reference)
    distinct = np.unique(reference)
    if len(distinct) <= bins:
        interior = (distinct[1:] + distinct[:-1]) / 2
    else:
        interior = np.unique(np.quantile(reference, np.arange(1, bins) / bins))
    top = np.nextafter(distinct[-1], np.inf)  # the max itself belongs to the last inner bin
    return np.concatenate([[distinct[0]], interior, [top]])


def histogram(values: Sequence[float] | np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of ``values`` in each of the ``len(edges) + 1`` bins the cut points make
    (``[e_i, e_i+1)``, plus open-ended outer bins: nothing falls outside).

    >>> histogram([0.0, 1.0, 2.0, 3.0], np.array([1.5]))
    array([0.5, 0.5])
    """
    values = _clean(values)
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return counts / max(1, counts.sum())


def d1_distance(
    reference: Sequence[float] | np.ndarray,
    production: Sequence[float] | np.ndarray,
    bins: int = 10,
) -> float:
    """D1: half the L1 distance between the binned distributions (0 same .. 1 disjoint).

    >>> d1_distance([1.0] * 50 + [-1.0] * 50, [1.0] * 100)  # half the mass moved
    0.5
    >>> d1_distance(np.arange(100.0), np.arange(100.0) + 1000)  # never seen: disjoint
    1.0
    >>> d1_distance([1.0, 2.0], [])
    nan
    """
    reference, production = _clean(reference), _clean(production)
    if len(reference) == 0 or len(production) == 0:
        return math.nan
    edges = bin_edges(reference, bins)
    return float(0.5 * np.abs(histogram(reference, edges) - histogram(production, edges)).sum())


def ks_test(
    reference: Sequence[float] | np.ndarray, production: Sequence[float] | np.ndarray
) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov: (statistic, p-value); NaNs ignored; (nan, nan) if a
    sample is empty.

    >>> ks_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    (0.0, 1.0)
    >>> round(ks_test(np.zeros(50), np.ones(50))[0], 3)
    1.0
    """
    from scipy.stats import ks_2samp

    reference, production = _clean(reference), _clean(production)
    if len(reference) == 0 or len(production) == 0:
        return math.nan, math.nan
    result = ks_2samp(reference, production)
    return float(result.statistic), float(result.pvalue)


def out_of_bounds_fraction(
    values: Sequence[float] | np.ndarray, low: float | None, high: float | None
) -> float:
    """Share of (non-missing) values below ``low`` or above ``high``.

    >>> out_of_bounds_fraction([-1.0, 0.5, 1.0, 2.0], 0.0, 1.0)
    0.5
    """
    values = _clean(values)
    if len(values) == 0:
        return 0.0
    bad = np.zeros(len(values), dtype=bool)
    if low is not None:
        bad |= values < low
    if high is not None:
        bad |= values > high
    return float(bad.mean())


# ---------------------------------------------------------------- windows and checks
@dataclass(frozen=True)
class Alert:
    window_start: datetime
    window_end: datetime
    check_name: str  # drift, volume, missing, range
    projection: str  # "*" for checks about the whole window
    statistic: float
    threshold: float
    message: str


def windows(
    start: pd.Timestamp, end: pd.Timestamp, window: str, step: str
) -> Iterator[tuple[pd.Timestamp, pd.Timestamp]]:
    """``[t, t + window)`` for t from ``start`` floored to ``step``, every ``step``, while
    t < ``end``.

    >>> import pandas as pd
    >>> t = pd.Timestamp("2026-01-01 00:20", tz="UTC")
    >>> [(a.hour, a.minute) for a, _ in windows(t, t + pd.Timedelta("2h"), "1h", "30min")]
    [(0, 0), (0, 30), (1, 0), (1, 30), (2, 0)]
    """
    import pandas as pd

    length, hop = pd.Timedelta(window), pd.Timedelta(step)
    t = start.floor(hop)
    while t < end:
        yield t, t + length
        t += hop


def check_window(
    reference: pd.DataFrame,
    production: pd.DataFrame,
    config: DriftConfig,
    window_start: datetime,
    window_end: datetime,
) -> tuple[list[dict[str, Any]], list[Alert]]:
    """Every check on one window of production rows -> (one stats row per projection, alerts).

    Rules (missing, range) apply to every configured or bounded projection; only those in
    ``config.projections`` that the reference has are compared with it (a reference built
    without a model has no output projections).
    """
    stats, alerts = [], []
    count = len(production)

    def alert(check: str, projection: str, statistic: float, threshold: float, message: str):
        alerts.append(
            Alert(window_start, window_end, check, projection, statistic, threshold, message)
        )

    if not config.volume_min <= count <= config.volume_max:
        alert(
            "volume",
            "*",
            count,
            config.volume_min if count < config.volume_min else config.volume_max,
            f"{count} predictions in the window; expected {config.volume_min}..{config.volume_max}",
        )
    if count < config.min_window_count:
        return stats, alerts
    names = list(dict.fromkeys([*config.projections, *config.bounds]))
    for name in names:
        values = production[name] if name in production else np.full(count, np.nan)
        values = np.asarray(values, dtype=np.float64)
        missing = float(np.mean(~np.isfinite(values)))
        compared = name in config.projections and name in reference
        if compared and _clean(reference[name]).size:
            ks, p_value = ks_test(reference[name], values)
            d1 = d1_distance(reference[name], values, config.bins)
            reference_mean = float(np.nanmean(reference[name]))
        else:  # rules only
            ks = p_value = d1 = reference_mean = math.nan
        low, high = config.bounds.get(name, (None, None))
        out_of_range = out_of_bounds_fraction(values, low, high)
        stats.append(
            {
                "window_start": window_start,
                "window_end": window_end,
                "projection": name,
                "count": count,
                "ks": ks,
                "p_value": p_value,
                "d1": d1,
                "missing": missing,
                "out_of_range": out_of_range,
                "mean": float(np.nanmean(values)) if missing < 1 else math.nan,
                "reference_mean": reference_mean,
            }
        )
        if missing > config.missing_max_fraction:
            alert(
                "missing",
                name,
                missing,
                config.missing_max_fraction,
                f"{missing:.0%} of {name} missing",
            )
        if out_of_range > config.range_max_fraction:
            alert(
                "range",
                name,
                out_of_range,
                config.range_max_fraction,
                f"{out_of_range:.0%} of {name} outside [{low}, {high}]",
            )
        if p_value < config.ks_alpha and d1 > config.d1_threshold:
            alert(
                "drift",
                name,
                d1,
                config.d1_threshold,
                f"{name} drifted: KS {ks:.2f} (p={p_value:.1e}), D1 {d1:.2f}; "
                f"mean {np.nanmean(values):.3g} vs reference {reference_mean:.3g}",
            )
    return stats, alerts


@dataclass
class DriftResult:
    stats: pd.DataFrame  # one row per (window, projection)
    volume: pd.DataFrame  # one row per window: window_start, window_end, count
    alerts: list[Alert]

    def alerts_frame(self) -> pd.DataFrame:
        import pandas as pd

        columns = [field.name for field in fields(Alert)]  # also the store's alert columns
        return pd.DataFrame([a.__dict__ for a in self.alerts], columns=columns)

    def alerted_windows(self, check_name: str = "drift", projection: str | None = None) -> int:
        """How many windows raised at least one ``check_name`` alert (on ``projection``)."""
        return len(
            {
                a.window_start
                for a in self.alerts
                if a.check_name == check_name and projection in (None, a.projection)
            }
        )


def detect_drift(
    reference: pd.DataFrame,
    production: pd.DataFrame,
    config: DriftConfig | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> DriftResult:
    """Run every check on every window of ``production`` (a frame with ``timestamp`` and
    projection columns, as :meth:`EvaluationStore.to_dataframe` returns)."""
    import pandas as pd

    config = config or load_config()
    stats: list[dict[str, Any]] = []
    volume: list[dict[str, Any]] = []
    alerts: list[Alert] = []
    if len(production):
        times = production["timestamp"]
        first = pd.Timestamp(start) if start is not None else times.min()
        last = pd.Timestamp(end) if end is not None else times.max() + pd.Timedelta("1us")
        for window_start, window_end in windows(first, last, config.window, config.step):
            inside = production[(times >= window_start) & (times < window_end)]
            rows, found = check_window(reference, inside, config, window_start, window_end)
            stats += rows
            alerts += found
            volume.append(
                {"window_start": window_start, "window_end": window_end, "count": len(inside)}
            )
    stats_columns = [
        "window_start",
        "window_end",
        "projection",
        "count",
        "ks",
        "p_value",
        "d1",
        "missing",
        "out_of_range",
        "mean",
        "reference_mean",
    ]
    return DriftResult(
        pd.DataFrame(stats, columns=stats_columns),
        pd.DataFrame(volume, columns=["window_start", "window_end", "count"]),
        alerts,
    )


def run_drift(
    store: EvaluationStore,
    reference: pd.DataFrame,
    config: DriftConfig | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    source: str | None = None,
    write_alerts: bool = True,
) -> DriftResult:
    """:func:`detect_drift` on the store's production predictions (from ``start`` to
    ``end``, of one ``source`` if given); alerts are written to the store (once per window,
    check and projection, however often this runs)."""
    production = store.to_dataframe(role="production", source=source, start=start, end=end)
    result = detect_drift(reference, production, config, start, end)
    if write_alerts:
        for alert in result.alerts:
            store.log_alert(
                window_start=alert.window_start,
                window_end=alert.window_end,
                check_name=alert.check_name,
                projection=alert.projection,
                statistic=alert.statistic,
                threshold=alert.threshold,
                message=alert.message,
            )
    return result


# ---------------------------------------------------------------- references
def reference_from_store(
    store: EvaluationStore, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    """A trusted past window of production as the reference (projection columns)."""
    frame = store.to_dataframe(role="production", start=start, end=end)
    return frame[[name for name in PROJECTIONS if name in frame]].reset_index(drop=True)


def heldout_split(
    limit: int | None = None, args: dict | None = None
) -> tuple[list[Any], list[str]]:
    """The FIXED SyntheticParagraphs test split (images in natural polarity, labels): the
    same pages whatever the seed, so every model and every lab compares with the same data.
    Rendered and cached on first use (only the test split)."""
    from text_recognizer.data.synthetic_paragraphs import SyntheticParagraphs

    data = SyntheticParagraphs({**(args or {}), "num_train": 0, "num_val": 0})
    data.prepare_data()
    split = data.load_split("test")
    texts = [sample["text"] for sample in data.read_record("test")["samples"]]
    count = len(split) if limit is None else min(limit, len(split))
    return [split.image(i) for i in range(count)], texts[:count]


def _artifact_reference_path(recognizer: Any) -> Path | None:
    artifact_dir = getattr(recognizer, "artifact_dir", None)
    return None if artifact_dir is None else Path(artifact_dir) / REFERENCE_FILENAME


def write_artifact_reference(recognizer: BatchRecognizer, limit: int | None = None) -> Path:
    """Compute the held-out reference for a staged ``recognizer`` and write it into its
    artifact folder as ``reference.csv`` (atomically), where :func:`build_reference` finds it."""
    path = _artifact_reference_path(recognizer)
    if path is None:
        raise ValueError("the recognizer has no artifact_dir to write reference.csv into")
    path.unlink(missing_ok=True)  # never read back the file being replaced
    frame = build_reference(recognizer, limit=limit)
    with atomic_write(path, newline="") as handle:
        frame.to_csv(handle, index=False)
    return path


def build_reference(
    recognizer: BatchRecognizer | None,
    limit: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    batch_size: int = 8,
) -> pd.DataFrame:
    """Projections of the held-out test split run through ``recognizer`` (a
    ``ParagraphTextRecognizer``; None: input projections only), with ``label`` and
    ``output_text`` columns. Cached as CSV in ``cache_dir`` per model name/version and size,
    because running the model over the split is the slow part.

    A staged model ships its reference (``reference.csv`` in the artifact folder, written
    by :func:`write_artifact_reference` at staging): it is used when present, so a
    production install needs neither the training data code nor the minutes of rendering.
    """
    import pandas as pd

    shipped = _artifact_reference_path(recognizer)
    if shipped is not None and shipped.exists():
        frame = pd.read_csv(shipped, keep_default_na=False, na_values=[""])
        if limit is None or limit <= len(frame):
            return frame.head(limit).reset_index(drop=True) if limit else frame
    name = getattr(recognizer, "name", "no-model")
    version = getattr(recognizer, "version", "0")
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"reference-{name}-{version}-{limit or 'all'}.csv"
        if cache.exists():
            return pd.read_csv(cache, keep_default_na=False, na_values=[""])
    images, labels = heldout_split(limit)
    if recognizer is not None:
        predictions = recognizer.predict_batch(images, batch_size=batch_size)
        outputs = [(p.text, p.confidence) for p in predictions]
    else:
        outputs = [(None, None)] * len(images)
    rows = []
    for image, label, (text, confidence) in zip(images, labels, outputs):
        rows.append(
            {
                **compute_projections(image, text, confidence),
                "output_text": text,
                "label": label,
            }
        )
    frame = pd.DataFrame(rows)
    if cache is not None:
        with atomic_write(cache, newline="") as handle:
            frame.to_csv(handle, index=False)
    return frame
