"""Load-test the backend: C concurrent clients POST an image for T seconds.

    python scripts/loadtest.py                       # starts a local backend itself, 4 clients, 30 s
    python scripts/loadtest.py --url http://127.0.0.1:8000/ --concurrency 8 --duration 60

Reports throughput, latency percentiles (p50/p95/p99) and errors as a markdown table, writes it
to bench/results/loadtest.md, and exits non-zero on any error: a service that drops requests
under a modest load is broken, however fast it is. Loopback only; every request is bounded by
a timeout and the whole run by --duration.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing the package
from text_recognizer.util import atomic_write_text  # noqa: E402

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "loadtest.md"
EXAMPLES = ROOT / "text_recognizer" / "serving" / "examples"


@dataclass
class Result:
    latency_s: float
    status: int  # 0: no HTTP response (connection error or timeout)
    error: str = ""


def default_image() -> bytes:
    """A bundled example page if the frontend ships one, else a page drawn with Pillow."""
    examples = sorted(EXAMPLES.glob("*.png")) if EXAMPLES.is_dir() else []
    if examples:
        return examples[0].read_bytes()
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (480, 120), 235)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=28)
    draw.text((12, 12), "the quick brown fox", fill=25, font=font)
    draw.text((12, 64), "jumps over the lazy dog", fill=25, font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@contextmanager
def local_backend(startup_timeout_s: float = 300.0, concurrency: int = 2):
    """Start ``text_recognizer.serving.local_server`` on a free port; yield its URL."""
    command = [sys.executable, "-m", "text_recognizer.serving.local_server", "--port", "0"]
    command += ["--quiet", "--concurrency", str(concurrency)]
    with tempfile.TemporaryFile("w+b") as log:  # the server's stderr (JSON log lines)
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log)
        lines: list[str] = []
        reader = threading.Thread(target=_collect, args=(process.stdout, lines), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + startup_timeout_s
            url = None
            while url is None:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    tail = log.read().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"backend did not start (exit {process.poll()}):\n{tail}")
                found = [re.search(r"(http://\S+)", line) for line in lines if "listening" in line]
                url = found[0].group(1) if found and found[0] else None
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _collect(stream, lines: list[str]) -> None:
    """Read the server's stdout to the end (so its pipe never fills), keeping the lines."""
    for raw in iter(stream.readline, b""):
        lines.append(raw.decode(errors="replace"))


def client(url: str, payload: dict, deadline: float, timeout_s: float, out: list[Result]) -> None:
    """One client: send requests back to back until the deadline."""
    with requests.Session() as session:
        while time.monotonic() < deadline:
            start = time.perf_counter()
            try:
                response = session.post(url, json=payload, timeout=timeout_s)
                ok = response.status_code == 200 and isinstance(response.json().get("pred"), str)
                error = "" if ok else f"HTTP {response.status_code}: {response.text[:200]}"
                out.append(Result(time.perf_counter() - start, response.status_code, error))
            except (requests.RequestException, ValueError) as exc:
                out.append(Result(time.perf_counter() - start, 0, f"{type(exc).__name__}: {exc}"))


def run(url: str, image: bytes, concurrency: int, duration_s: float, timeout_s: float) -> dict:
    """Warm up with one request, then run ``concurrency`` clients for ``duration_s``."""
    payload = {"image": base64.b64encode(image).decode("ascii")}
    warmup = requests.post(url, json=payload, timeout=timeout_s)
    warmup.raise_for_status()
    results: list[Result] = []
    start = time.monotonic()
    deadline = start + duration_s
    threads = [
        threading.Thread(target=client, args=(url, payload, deadline, timeout_s, results))
        for _ in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start  # includes the requests in flight at the deadline
    latencies = np.array([r.latency_s for r in results if not r.error]) * 1000
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) if len(latencies) else (np.nan,) * 3
    errors = [r.error for r in results if r.error]
    return {
        "url": url,
        "concurrency": concurrency,
        "duration_s": round(elapsed, 2),
        "requests": len(results),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "throughput_rps": round(len(results) / elapsed, 2),
        "p50_ms": round(float(p50), 1),
        "p95_ms": round(float(p95), 1),
        "p99_ms": round(float(p99), 1),
        "image_bytes": len(image),
        "model": f"{warmup.json()['model']} {warmup.json()['version']}",
    }


def markdown(stats: dict, load_before: tuple, load_after: tuple) -> str:
    rows = [
        ("clients", stats["concurrency"]),
        ("duration (s)", stats["duration_s"]),
        ("requests", stats["requests"]),
        ("errors", stats["errors"]),
        ("throughput (req/s)", stats["throughput_rps"]),
        ("latency p50 (ms)", stats["p50_ms"]),
        ("latency p95 (ms)", stats["p95_ms"]),
        ("latency p99 (ms)", stats["p99_ms"]),
    ]
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    loads = (
        " / ".join(f"{x:.2f}" for x in load_before)
        + " -> "
        + " / ".join(f"{x:.2f}" for x in load_after)
    )
    lines = [
        "# Backend load test",
        "",
        f"`scripts/loadtest.py` against {stats['url']} ({os.cpu_count()} CPUs), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. One {stats['image_bytes']}-byte "
        f"PNG per request, base64 in JSON; model {stats['model']}. Each client sends its next "
        "request when the last returns.",
        "",
        "| metric | value |",
        "|---|---|",
        table,
        "",
        f"Load average (1/5/15 min) before -> after: {loads}. On a shared machine the latencies are "
        "upper bounds.",
    ]
    if stats["error_examples"]:
        lines += ["", "Errors (first distinct ones):", ""]
        lines += [f"- `{error}`" for error in stats["error_examples"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="backend URL; default: start a local backend")
    parser.add_argument("--concurrency", "-c", type=int, default=4, help="concurrent clients")
    parser.add_argument("--duration", "-t", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--image", type=Path, help="image to send (default: a bundled example)")
    parser.add_argument("--timeout", type=float, default=60.0, help="per-request timeout (s)")
    parser.add_argument("--server_concurrency", type=int, default=2, help="local backend only")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="markdown report")
    args = parser.parse_args(argv)

    image = args.image.read_bytes() if args.image else default_image()
    load_before = os.getloadavg()
    if args.url:
        stats = run(args.url, image, args.concurrency, args.duration, args.timeout)
    else:
        with local_backend(concurrency=args.server_concurrency) as url:
            stats = run(url, image, args.concurrency, args.duration, args.timeout)
    report = markdown(stats, load_before, os.getloadavg())
    print(report)
    atomic_write_text(args.output, report)  # never a half-written report
    print(f"wrote {args.output}")
    return 1 if stats["errors"] or not stats["requests"] else 0


if __name__ == "__main__":
    sys.exit(main())
