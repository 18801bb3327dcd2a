"""Checks a production install of the wheel: predict, the backend server, monitoring.

Run by scripts/check_prod_install.sh with the python of a fresh venv that holds only
requirements/prod.txt + requirements/monitor.txt and the built wheel (no Lightning, pooch,
optuna, wandb, pytest), from a directory outside the checkout, so every file the package
needs must come from the installed package. Exits non-zero with a message on the first
failure. Nothing here imports the test suite: pytest is not installed in that venv.
"""

import base64
import json
import subprocess
import sys
import sysconfig
import tempfile
import threading
from pathlib import Path

TRAINING_ONLY = ("pytorch_lightning", "lightning", "lightning_fabric", "pooch", "optuna", "wandb")


def check(condition: bool, message: str) -> None:
    if not condition:
        sys.exit(f"prod install check FAILED: {message}")
    print(f"  ok  {message}", flush=True)


def main() -> None:
    site_packages = Path(sysconfig.get_paths()["purelib"]).resolve()
    for name in TRAINING_ONLY:
        try:
            __import__(name)
        except ImportError:
            continue
        sys.exit(f"prod install check FAILED: {name} is installed; this venv must be prod-only")
    print(f"  ok  none of {', '.join(TRAINING_ONLY)} is installed", flush=True)

    import text_recognizer
    from text_recognizer import evaluation
    from text_recognizer.cli import main as cli
    from text_recognizer.recognizer import ParagraphTextRecognizer
    from text_recognizer.serving import local_server

    package = Path(text_recognizer.__file__).resolve().parent
    check(package.is_relative_to(site_packages), f"text_recognizer imported from {package}")

    # 1. predict: the packaged artifact reads the packaged examples (their labels ship too).
    examples = package / "serving" / "examples"
    labels = json.loads((examples / "labels.json").read_text())
    recognizer = ParagraphTextRecognizer()
    check(
        Path(recognizer.artifact_dir).resolve().is_relative_to(package),
        f"the artifact comes from the package ({recognizer.artifact_dir})",
    )
    names = sorted(labels)
    predictions = [recognizer.predict(examples / name) for name in names]
    error = evaluation.corpus_cer(predictions, [labels[name]["text"] for name in names])
    check(error < 0.25, f"predict reads the {len(names)} packaged examples, CER {error:.3f}")
    command = [str(Path(sys.executable).with_name("text-recognizer")), "predict"]
    answer = subprocess.run([*command, str(examples / names[0])], capture_output=True, text=True)
    check(answer.returncode == 0 and answer.stdout.strip(), "the text-recognizer console script")

    # 2. the backend: the Lambda handler behind the local function-URL server.
    import requests

    server = local_server.make_server("127.0.0.1", 0, concurrency=1, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        image = base64.b64encode((examples / names[0]).read_bytes()).decode()
        reply = requests.post(server.url, json={"image": image}, timeout=120)
        check(reply.status_code == 200 and reply.json().get("pred"), f"POST / -> {reply.text[:80]}")
        bad = requests.post(server.url, data=b"[" * 100_000, timeout=60)
        check(bad.status_code == 400 and bad.json().get("error"), "deeply nested JSON -> 400")
        metrics = requests.get(f"{server.url}/metrics", timeout=30)
        check(
            metrics.status_code == 200 and "text_recognizer_requests_total" in metrics.text,
            "GET /metrics",
        )
    finally:
        server.shutdown()
        server.server_close()

    # 3. monitoring: a simulated day of traffic, drift against the shipped reference, a report.
    with tempfile.TemporaryDirectory() as tmp:
        store, report = f"{tmp}/store.db", Path(tmp) / "report"
        simulate = ["monitor", "simulate", "--store", store, "--limit", "24", "--no-progress_bar"]
        check(cli(simulate) == 0, "text-recognizer monitor simulate")
        check(cli(["monitor", "report", "--store", store, "--out", str(report)]) == 0, "report")
        check((report / "index.html").stat().st_size > 1000, "the report's index.html")

    loaded = sorted(name for name in TRAINING_ONLY if name in sys.modules)
    check(not loaded, f"no training-only module was imported (loaded: {loaded})")
    print("prod install check passed", flush=True)


if __name__ == "__main__":
    main()
