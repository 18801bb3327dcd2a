"""`text-recognizer monitor simulate / drift / report` end to end, with the real recognizer:
the report's HTML and every plot it links exist and are real PNGs."""

from __future__ import annotations

import re

import pytest
from PIL import Image

from text_recognizer.cli import main
from text_recognizer.monitoring.store import EvaluationStore

pytestmark = pytest.mark.slow


def test_monitor_cli_writes_the_report(tmp_path, capsys):
    store = str(tmp_path / "store.db")
    common = ["--store", store]
    assert (
        main(
            [
                "monitor",
                "simulate",
                *common,
                "--hours_per_phase",
                "1",
                "--rate",
                "20",
                "--no-progress_bar",
            ]
        )
        == 0
    )
    assert "simulated requests" in capsys.readouterr().out
    assert main(["monitor", "drift", *common, "--reference_limit", "30"]) == 0
    assert "windows" in capsys.readouterr().out
    out = tmp_path / "report"
    assert main(["monitor", "report", *common, "--reference_limit", "30", "--out", str(out)]) == 0
    html = (out / "index.html").read_text()
    linked = set(re.findall(r'<img src="([^"]+)"', html))
    assert {"timeline.png", "distributions.png", "flags.png", "worst.png"} <= linked
    for name in linked:
        with Image.open(out / name) as image:
            assert image.format == "PNG" and image.width > 300
    with EvaluationStore.open(store) as opened:
        predictions = opened.count()
        alerts = opened.alerts_dataframe()
    assert f"<td>{predictions}</td>" in html
    # the scenario's third phase is 60% inverted pages: the polarity check must have fired
    assert "polarity" in set(alerts["projection"])


TRAINING_ONLY = ("pytorch_lightning", "lightning", "pooch", "optuna", "wandb")


def test_monitoring_runs_without_training_code(tmp_path):
    """`monitor simulate` and `monitor report` use the drift reference shipped with the
    staged model, so a production install never imports the training stack."""
    import subprocess
    import sys

    script = f"""
import sys
from text_recognizer.cli import main
store = {str(tmp_path / "store.db")!r}
assert main(["monitor", "simulate", "--store", store, "--limit", "24", "--no-progress_bar"]) == 0
assert main(["monitor", "report", "--store", store, "--out", {str(tmp_path / "report")!r}]) == 0
print("loaded:", sorted(m for m in {TRAINING_ONLY!r} if m in sys.modules))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "loaded: []" in result.stdout, result.stdout[-2000:]
    assert (tmp_path / "report" / "index.html").exists()
