"""Run the benchmark scripts (scripts/bench_*.py) and write one markdown report.

    make bench                    # all benchmarks -> bench/results/BENCHMARKS.md
    make bench BENCH=synthetic    # only scripts/bench_synthetic.py

Each benchmark prints its own table (markdown) to stdout; this runner times it, keeps its
output, and writes a summary table followed by each benchmark's section. Benchmarks measure
speed and quality targets; tests assert correctness, not wall time.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing the package
from text_recognizer.util import atomic_write_text  # noqa: E402

RESULTS = REPO / "bench" / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    args = parser.parse_args(argv)

    scripts = sorted((REPO / "scripts").glob("bench_*.py"))
    if args.names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.names]
        if not scripts:
            print(f"no benchmark named {args.names}", file=sys.stderr)
            return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows, sections = [], []
    for script in scripts:
        name = script.stem.removeprefix("bench_")
        print(f"\n=== bench: {name}", flush=True)
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(script)],
            cwd=REPO,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=os.environ,
        )
        elapsed = time.perf_counter() - start
        print(proc.stdout, flush=True)
        status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        rows.append(f"| {name} | {elapsed:.0f} s | {status} |")
        sections.append(f"## {name}\n\n```\n{proc.stdout.strip()[-6000:]}\n```\n")

    header = (
        f"# Benchmarks\n\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}: "
        f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}\n\n| benchmark | wall time | status |\n|---|---|---|\n"
    )
    report = header + "\n".join(rows) + "\n\n" + "\n".join(sections)
    out = RESULTS / ("BENCHMARKS.md" if not args.names else f"BENCHMARKS-{'-'.join(args.names)}.md")
    atomic_write_text(out, report)
    print(header + "\n".join(rows))
    print(f"\nreport: {out.relative_to(REPO)}")
    return 0 if all("ok" in row for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
