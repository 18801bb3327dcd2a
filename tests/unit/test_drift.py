"""Drift statistics, rules and the alerting logic, on controlled numbers.

The same checks on REAL simulated traffic through the real recognizer (the acceptance
figures) run in tests/integration/test_drift_acceptance.py.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from text_recognizer.monitoring import drift, drift_config, simulator
from text_recognizer.monitoring.store import EvaluationStore

T0 = pd.Timestamp("2026-03-02 00:00", tz="UTC")


def fake_projections(rng: np.random.Generator, n: int, inverted: float = 0.0) -> pd.DataFrame:
    """Projections shaped like real in-distribution pages; ``inverted`` share flipped."""
    flipped = rng.random(n) < inverted
    mean = rng.normal(0.88, 0.03, n)
    return pd.DataFrame(
        {
            "output_length": rng.integers(10, 600, n).astype(float),
            "num_lines": rng.integers(1, 13, n).astype(float),
            "char_entropy": rng.normal(4.1, 0.2, n),
            "repetition": rng.beta(2, 30, n),
            "out_of_charset": np.zeros(n),
            "image_width": rng.integers(300, 700, n).astype(float),
            "image_height": rng.integers(60, 700, n).astype(float),
            "mean_intensity": np.where(flipped, 1 - mean, mean),
            "std_intensity": rng.normal(0.15, 0.03, n),
            "polarity": np.where(flipped, -1.0, 1.0),
            "confidence": rng.beta(8, 2, n),
        }
    )


def traffic(rng, windows: int, per_window: int, inverted: float = 0.0, start=T0) -> pd.DataFrame:
    frames = []
    for w in range(windows):
        frame = fake_projections(rng, per_window, inverted)
        offsets = np.sort(rng.uniform(0, 3600, per_window))
        frame["timestamp"] = start + pd.Timedelta(hours=w) + pd.to_timedelta(offsets, unit="s")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def test_d1_is_half_the_l1_distance_between_binned_distributions():
    reference = np.arange(100.0)
    assert drift.d1_distance(reference, reference) == 0.0
    assert drift.d1_distance(reference, reference + 1000) == 1.0
    # moving a quarter of the mass from the lowest decile to the highest: D1 = 0.25
    shifted = np.concatenate([np.arange(25.0, 100.0), np.full(25, 99.0)])
    assert drift.d1_distance(reference, shifted) == pytest.approx(0.25, abs=0.02)
    assert math.isnan(drift.d1_distance(reference, [np.nan]))


def test_ks_matches_scipy_and_ignores_missing_values():
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200), rng.normal(0.5, size=100)
    statistic, p_value = drift.ks_test(a, np.concatenate([b, [np.nan] * 5]))
    expected = ks_2samp(a, b)
    assert statistic == pytest.approx(expected.statistic) and p_value == pytest.approx(
        expected.pvalue
    )


def test_config_file_is_read_and_overrides_are_checked():
    config = drift.load_config()
    assert config.window == "1h" and 0 < config.ks_alpha < 0.05 and 0 < config.d1_threshold < 1
    assert set(config.projections) <= set(drift.PROJECTIONS)
    assert drift.load_config(d1_threshold=0.5).d1_threshold == 0.5
    with pytest.raises(ValueError, match="unknown"):
        drift.load_config(nonsense=1)


def test_config_file_matches_the_shipped_yaml_and_step_defaults_to_window(tmp_path):
    import yaml

    raw = yaml.safe_load(drift_config.CONFIG_PATH.read_text())
    config = drift.load_config()
    assert config.volume_min == raw["volume"]["min"] and config.bins == raw["drift"]["bins"]
    assert config.bounds["output_length"] == tuple(raw["range"]["bounds"]["output_length"])
    (tmp_path / "short.yaml").write_text("window: 30min\n")
    short = drift.load_config(tmp_path / "short.yaml")
    assert short.step == "30min" and short.projections == tuple(drift.PROJECTIONS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("drift:\n  ks_alpa: 0.01\n", "ks_alpa"),  # a mistyped key is an error, not ignored
        ("volume:\n  min: many\n", "volume.min"),
        ("drift:\n  d1_threshold: 1.5\n", "d1_threshold"),
        ("projections: [output_length, colour]\n", "colour"),
        ("range:\n  bounds:\n    polarity: [0, 1, 2]\n", "polarity"),
    ],
)
def test_config_file_errors_name_the_bad_key(tmp_path, text, message):
    path = tmp_path / "drift.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        drift.load_config(path)


def test_rules_flag_volume_missing_values_and_out_of_range():
    rng = np.random.default_rng(1)
    config = drift.load_config()
    reference = fake_projections(rng, 300)
    few = fake_projections(rng, 5)
    _, alerts = drift.check_window(reference, few, config, T0, T0)
    assert [(a.check_name, a.projection) for a in alerts] == [("volume", "*")]
    window = fake_projections(rng, 100)
    window.loc[:19, "confidence"] = np.nan  # 20% missing
    window.loc[:9, "repetition"] = 0.9  # 10% looping outputs
    stats, alerts = drift.check_window(reference, window, config, T0, T0)
    found = {(a.check_name, a.projection) for a in alerts}
    assert found == {("missing", "confidence"), ("range", "repetition")}
    assert {row["projection"] for row in stats} == set(config.projections) | set(config.bounds)


def test_inverted_traffic_alerts_on_polarity_and_in_distribution_stays_quiet():
    rng = np.random.default_rng(2)
    config = drift.load_config()
    reference = fake_projections(rng, 200)
    quiet = drift.detect_drift(reference, traffic(rng, 20, 40), config)
    assert len(quiet.volume) == 20
    assert quiet.alerted_windows("drift") <= 1
    shifted = drift.detect_drift(reference, traffic(rng, 3, 40, inverted=0.6), config)
    assert shifted.alerted_windows("drift", "polarity") == 3
    assert shifted.alerted_windows("drift", "mean_intensity") == 3
    assert shifted.alerted_windows("drift", "output_length") == 0  # the right projection only


def test_run_drift_writes_alerts_once(tmp_path):
    rng = np.random.default_rng(3)
    reference = fake_projections(rng, 200)
    production = traffic(rng, 2, 30, inverted=0.8)
    with EvaluationStore.open(tmp_path / "store.db") as store:
        for row in production.itertuples():
            projections = {name: getattr(row, name, None) for name in drift.PROJECTIONS}
            store.log_prediction(output_text="x", timestamp=row.timestamp, projections=projections)
        first = drift.run_drift(store, reference)
        drift.run_drift(store, reference)  # re-running must not duplicate
        alerts = store.alerts_dataframe()
    assert len(alerts) == len(first.alerts) > 0
    assert {"polarity", "mean_intensity"} <= set(alerts["projection"])


def test_simulated_traffic_is_seeded_and_follows_the_scenario():
    phases = [simulator.Phase(0, 10, rate=50, mix={"inverted": 0.5, "printed": 0.2})]
    arrivals = simulator.schedule(phases, seed=3)
    assert arrivals == simulator.schedule(phases, seed=3) != simulator.schedule(phases, seed=4)
    shifts = [shift for _, shift in arrivals]
    assert 400 < len(arrivals) < 600  # Poisson, 50 an hour for 10 hours
    assert shifts.count("inverted") / len(shifts) == pytest.approx(0.5, abs=0.08)
    assert shifts.count("printed") / len(shifts) == pytest.approx(0.2, abs=0.06)
    for shift in ("inverted",):
        first, _ = simulator.render_request(shift, np.random.default_rng(5))
        again, _ = simulator.render_request(shift, np.random.default_rng(5))
        assert first.tobytes() == again.tobytes()
    with pytest.raises(ValueError, match="unknown shifts"):
        simulator.Phase(0, 1, mix={"sideways": 0.1})
