"""`scripts/loadtest.py` end to end: it starts the local backend itself (a subprocess running
the real handler and model), drives it with 2 clients for 3 s, and reports zero errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_loadtest_script_reports_throughput_and_zero_errors(tmp_path):
    output = tmp_path / "loadtest.md"
    command = [sys.executable, "scripts/loadtest.py", "-c", "2", "-t", "3", "--output", str(output)]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=480)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    report = output.read_text()
    assert report in run.stdout  # the table printed is the table written
    values = dict(re.findall(r"^\| ([^|]+?) \| ([^|]+?) \|$", report, flags=re.M))
    assert int(values["clients"]) == 2 and int(values["errors"]) == 0
    assert int(values["requests"]) >= 1 and float(values["throughput (req/s)"]) > 0
    p50, p95, p99 = (float(values[f"latency p{q} (ms)"]) for q in (50, 95, 99))
    assert 0 < p50 <= p95 <= p99
