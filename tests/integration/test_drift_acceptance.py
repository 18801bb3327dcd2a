"""Drift acceptance on REAL simulated traffic through the REAL recognizer.

- 20 one-hour windows of in-distribution traffic raise a drift alert in at most 1 window;
- inverted-polarity traffic raises it on ``polarity`` (the right projection) in every window,
  and printed-font traffic on an image-intensity projection (crisp black type on white).

The figures are printed (run with ``-s`` to see them) for the lab's README.
"""

from __future__ import annotations

import os

import pytest

from text_recognizer.monitoring.drift import build_reference, load_config, run_drift
from text_recognizer.monitoring.simulator import Phase, simulate
from text_recognizer.monitoring.store import EvaluationStore

pytestmark = pytest.mark.slow

FAST = os.environ.get("TEXT_RECOGNIZER_FAST") == "1"
PER_WINDOW = 15 if FAST else 20  # in-distribution requests per simulated hour
SHIFTED_PER_WINDOW = 40  # shifted phases: enough requests for the KS test's power
REFERENCE_PAGES = 100  # the whole held-out test split


@pytest.fixture(scope="module")
def recognizer():
    from text_recognizer.recognizer import ParagraphTextRecognizer

    return ParagraphTextRecognizer()


@pytest.fixture(scope="module")
def reference(recognizer, tmp_path_factory):
    return build_reference(recognizer, limit=REFERENCE_PAGES)


def run(recognizer, reference, tmp_path, phases, seed):
    config = load_config(volume_min=5, min_window_count=10)  # Poisson traffic: some hours are quiet
    with EvaluationStore.open(tmp_path / "store.db") as store:
        simulate(store, recognizer, phases, seed=seed)
        return run_drift(store, reference, config)


def test_in_distribution_traffic_alerts_in_at_most_one_of_20_windows(
    recognizer, reference, tmp_path
):
    result = run(recognizer, reference, tmp_path, [Phase(0, 20, PER_WINDOW)], seed=101)
    assert len(result.volume) == 20
    alerted = result.alerted_windows("drift")
    noisy = sorted({a.projection for a in result.alerts if a.check_name == "drift"})
    print(f"\nin-distribution: drift alerts in {alerted}/20 windows (projections: {noisy})")
    assert alerted <= 1


@pytest.mark.parametrize(
    ("shift", "expected"),
    [("inverted", {"polarity"}), ("printed", {"mean_intensity", "std_intensity"})],
)
def test_shifted_traffic_alerts_on_the_right_projection(
    recognizer, reference, tmp_path, shift, expected
):
    """Every window of shifted traffic alerts on (one of) the expected projection(s)."""
    windows = 2
    phase = Phase(0, windows, SHIFTED_PER_WINDOW, {shift: 0.6})
    result = run(recognizer, reference, tmp_path, [phase], seed=7)
    drifted = [
        {a.projection for a in result.alerts if a.check_name == "drift" and a.window_start == t}
        for t in result.volume["window_start"]
    ]
    print(f"\n{shift} (60% of traffic), drift alerts per window: {[sorted(d) for d in drifted]}")
    assert len(drifted) == windows
    assert all(found & expected for found in drifted)
