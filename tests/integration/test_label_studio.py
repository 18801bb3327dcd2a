"""The annotation round trip against a REAL Label Studio on loopback (issue #7's acceptance).

Installs Label Studio into its own venv with ``scripts/label_studio.sh`` (cached between
runs by a stamp: the first run downloads about 1 GB from PyPI and FAILS, with pip's error,
when it cannot), starts it on a free port of 127.0.0.1 with a fresh data folder, and then:
checks that it listens on loopback only; creates the project with our labeling config;
imports the generated forms from their manifest (images served by the local file server);
submits annotations for two pages made from the generator's hidden truth; exports;
converts; checks the converted lines against the hidden truth (rectangle IoU >= 0.9, exact
text, same crops); trains one fast_dev_run step on them; and stops the server.

Install and start times are printed (``pytest -s`` shows them) and written to
``logs/label-studio/integration-timings.json``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import psutil
import pytest
from PIL import Image

from text_recognizer.annotation import label_studio
from text_recognizer.annotation.convert import convert_export, line_results
from text_recognizer.annotation.forms import generate_forms, serve, write_manifest
from text_recognizer.annotation.geometry import crop_rect, rect_iou
from text_recognizer.annotation.label_config import INSTRUCTIONS, LABEL_CONFIG, check_label_config
from text_recognizer.training import run_experiment

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NUM_PAGES, ANNOTATED = 3, 2
TIMINGS = label_studio.DEFAULT_HOME / "integration-timings.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening_addresses(pid: int) -> set[tuple[str, int]]:
    """(ip, port) of every TCP socket the process and its children listen on."""
    process = psutil.Process(pid)
    addresses = set()
    for proc in [process, *process.children(recursive=True)]:
        for conn in proc.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN:
                addresses.add((conn.laddr.ip, conn.laddr.port))
    return addresses


def non_loopback_ipv4() -> list[str]:
    return [
        address.address
        for addresses in psutil.net_if_addrs().values()
        for address in addresses
        if address.family == socket.AF_INET and not address.address.startswith("127.")
    ]


def connect_status(host: str, port: int) -> int:
    """errno of a TCP connect (0 = connected), from a subprocess: the test's network guard
    refuses non-loopback connects in-process, and we want the kernel's own answer."""
    code = (
        "import socket; s = socket.socket(); s.settimeout(3); "
        f"print(s.connect_ex(({host!r}, {port})))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return int(result.stdout.strip())


@pytest.fixture(scope="module")
def timings():
    values: dict[str, float] = {}
    yield values
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    load = list(psutil.getloadavg())
    TIMINGS.write_text(json.dumps({**values, "load_average_1_5_15": load}, indent=1))
    print(f"\nLabel Studio timings: {values}, load average {load}")


@pytest.fixture(scope="module")
def server(tmp_path_factory, timings):
    """Label Studio, installed if needed (no skip: an install failure fails the test), on a
    free loopback port with a fresh data folder; stopped afterwards whatever happens."""
    timings["install_s"] = round(label_studio.install(), 1)
    home = tmp_path_factory.mktemp("label-studio-home")
    port = free_port()
    try:
        started = label_studio.start(port=port, home=home, verbose=False)
    except Exception:
        label_studio.stop(port=port, home=home)
        raise
    timings["start_s"] = round(started.start_seconds, 1)
    try:
        yield started
    finally:
        started.stop()
        assert started.pid is None  # the PID file is gone


@pytest.fixture(scope="module")
def forms(tmp_path_factory):
    collection = generate_forms(tmp_path_factory.mktemp("forms") / "forms", NUM_PAGES, seed=0)
    with serve(collection.root) as image_server:
        write_manifest(collection, image_server.url)
        yield collection


def test_listens_on_loopback_only(server):
    addresses = listening_addresses(server.pid)
    assert ("127.0.0.1", server.port) in addresses
    assert {ip for ip, _ in addresses} == {"127.0.0.1"}, addresses
    assert connect_status("127.0.0.1", server.port) == 0  # the probe itself works
    for ip in non_loopback_ipv4():
        assert connect_status(ip, server.port) != 0, f"reachable on {ip}:{server.port}"


def test_credentials_are_generated_and_state_stays_in_the_data_folder(server):
    assert len(server.token) == 40 and len(server.password) >= 16
    assert server.token not in Path(label_studio.__file__).read_text()
    credentials = Path(server.home) / label_studio.CREDENTIALS_FILENAME
    assert credentials.stat().st_mode & 0o777 == 0o600
    # Its database and even its anonymous server id live under home, none of it in $HOME.
    assert (Path(server.home) / "data" / "label_studio.sqlite3").exists()
    assert (Path(server.home) / "xdg" / "config" / "label-studio" / "user_id").exists()
    with pytest.raises(label_studio.LabelStudioError, match="HTTP 401"):
        label_studio.LabelStudioClient(server.url, "not-the-token").tasks(1)


def test_round_trip_from_forms_to_a_trained_step(server, forms, tmp_path, timings):
    client = server.client()
    start = time.perf_counter()

    # The project, with our labeling config and instructions.
    project_id = client.create_project("Handwriting forms")
    project = client.project(project_id)
    check_label_config(project["label_config"])
    assert project["label_config"].split() == LABEL_CONFIG.split()
    instructions = " ".join(project["expert_instruction"].split())
    assert instructions == " ".join(INSTRUCTIONS.split())
    assert "Do not correct spelling" in instructions

    # Tasks from the manifest; their images are reachable where the browser will look.
    imported = client.import_manifest(project_id, forms.manifest_path)
    assert imported["task_count"] == NUM_PAGES
    tasks = {task["data"]["page_id"]: task for task in client.tasks(project_id)}
    manifest = {row["page_id"]: row["image"] for row in forms.manifest()}
    assert {page: task["data"]["image"] for page, task in tasks.items()} == manifest
    with urllib.request.urlopen(manifest["form-000"], timeout=10) as response:
        assert response.headers["Access-Control-Allow-Origin"] == "*"

    # Two pages annotated from the hidden truth, the way an annotator's work arrives.
    truth = forms.truth()
    annotated = sorted(truth)[:ANNOTATED]
    for page_id in annotated:
        page = truth[page_id]
        lines = [(line.rect, line.text) for line in page.lines]
        result = line_results(lines, (page.width, page.height))
        client.annotate(tasks[page_id]["id"], result)

    export = client.export(project_id)
    assert len(export) == NUM_PAGES
    report = convert_export(export, tmp_path / "converted", images=None)  # fetched by URL
    timings["round_trip_s"] = round(time.perf_counter() - start, 1)

    # Only the page nobody annotated is reported, and nothing else went wrong.
    assert [(p.kind, p.page_id) for p in report.problems] == [("empty_task", sorted(truth)[2])]
    expected = [(page_id, line) for page_id in annotated for line in truth[page_id].lines]
    assert report.lines == len(expected) and report.pages == ANNOTATED
    records = json.loads((tmp_path / "converted" / "lines.json").read_text())
    assert len(records) == len(expected)
    for record, (page_id, line) in zip(records, expected):
        assert record["page_id"] == page_id
        assert record["text"] == line.text  # exact, slips included
        assert rect_iou(record["rect"], line.rect) >= 0.9
        page_image = Image.open(forms.images_dir / truth[page_id].image)
        want = np.asarray(crop_rect(page_image, line.rect), float)
        got = np.asarray(Image.open(tmp_path / "converted" / record["file"]), float)
        assert got.shape == want.shape and np.abs(got - want).mean() < 2.0
    paragraphs = json.loads((tmp_path / "converted" / "paragraphs.json").read_text())
    assert [p["text"] for p in paragraphs] == [truth[page].text for page in annotated]

    # One training step on the converted lines, through the CLI's code path.
    start = time.perf_counter()
    status = run_experiment.main(
        [
            "--data_class", "AnnotatedLines" if "AnnotatedLines" in run_experiment.DATA_CLASSES
            else "text_recognizer.data.annotated_lines:AnnotatedLines",
            "--data_dir", str(tmp_path / "converted"),
            "--model_class", "LineCNNTransformer",
            "--image_height", "32", "--image_width", "256", "--max_label_length", "32",
            "--conv_dim", "8", "--fc_dim", "32", "--tf_dim", "32", "--tf_fc_dim", "64",
            "--tf_nhead", "2", "--tf_layers", "1",
            "--batch_size", "4", "--num_workers", "0",
            "--fast_dev_run", "--no-progress_bar", "--accelerator", "cpu",
            "--logs_dir", str(tmp_path / "logs"),
        ]
    )  # fmt: skip
    timings["fast_dev_run_s"] = round(time.perf_counter() - start, 1)
    assert status == 0
