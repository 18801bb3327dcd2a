"""Label Studio on loopback: start/stop it, and a small client for its REST API.

Label Studio runs in its OWN virtual environment (``.venv-label-studio/``, made by
``scripts/label_studio.sh install``): it is a Django application whose pinned dependencies
would fight the course's. We never import it; we start it with the script (in the
background, bound to 127.0.0.1, with a PID file and a log) and talk HTTP to it::

    from text_recognizer.annotation import label_studio
    server = label_studio.start(port=8080)  # installs once, starts, waits until healthy
    client = server.client()
    project = client.create_project("Handwriting forms")
    client.import_manifest(project, "data/forms/manifest.csv")
    tasks = client.export(project)
    server.stop()

(tests/integration/test_label_studio.py runs exactly this against a real server.)

Credentials come from ``LABEL_STUDIO_USERNAME`` / ``LABEL_STUDIO_PASSWORD`` /
``LABEL_STUDIO_USER_TOKEN`` or, when unset, are generated with :mod:`secrets` on the first
start, printed once, and kept (mode 0600) in ``<home>/credentials.env``. The API token is a
"legacy" token (``Authorization: Token ...``), which Label Studio 1.23 accepts only when the
data folder was created with ``--enable-legacy-api-token`` (the script always passes it).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from text_recognizer.annotation.label_config import INSTRUCTIONS, LABEL_CONFIG

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "label_studio.sh"
DEFAULT_PORT = 8080
# Relative to the repository, wherever Python runs from (a notebook runs in labNN/).
DEFAULT_HOME = REPO_ROOT / "logs" / "label-studio"
DEFAULT_VENV = REPO_ROOT / ".venv-label-studio"
HOST = "127.0.0.1"
CREDENTIALS_FILENAME = "credentials.env"


class LabelStudioError(RuntimeError):
    """Label Studio did not start, or an API call failed (the message has its answer)."""


# ---------------------------------------------------------------------------- the process
def read_credentials(path: str | os.PathLike) -> dict[str, str]:
    """``KEY=value`` lines (values shell-quoted, as the script writes them) -> dict.

    >>> import tempfile; f = tempfile.NamedTemporaryFile("w", delete=False)
    >>> _ = f.write("LABEL_STUDIO_USERNAME=a@localhost\\nLABEL_STUDIO_PASSWORD='x y'\\n"); f.close()
    >>> read_credentials(f.name)["LABEL_STUDIO_PASSWORD"]
    'x y'
    """
    values = {}
    for line in Path(path).read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = " ".join(shlex.split(value))
    return values


@dataclass
class LabelStudioServer:
    """A Label Studio process started by ``scripts/label_studio.sh`` (see :func:`start`)."""

    port: int
    home: Path
    venv: Path
    username: str
    password: str
    token: str
    start_seconds: float  # wall time from `start` to healthy (install excluded)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        path = self.home / "label-studio.pid"
        return int(path.read_text()) if path.exists() else None

    @property
    def log_path(self) -> Path:
        return self.home / "label-studio.log"

    def client(self) -> LabelStudioClient:
        return LabelStudioClient(self.url, self.token)

    def stop(self) -> None:
        """Teardown: stop the process (the data folder stays, for the next start)."""
        run_script("stop", port=self.port, home=self.home, venv=self.venv)


def script_env(
    port: int = DEFAULT_PORT,
    home: str | os.PathLike = DEFAULT_HOME,
    venv: str | os.PathLike = DEFAULT_VENV,
) -> dict[str, str]:
    """The environment the script runs with: ours plus its settings (absolute paths)."""
    return {
        **os.environ,
        "LABEL_STUDIO_PORT": str(port),
        "LABEL_STUDIO_HOME": str(Path(home).resolve()),
        "LABEL_STUDIO_VENV": str(Path(venv).resolve()),
        "COLLECT_ANALYTICS": "false",
        "LATEST_VERSION_CHECK": "false",
    }


def run_script(
    command: str,
    port: int = DEFAULT_PORT,
    home: str | os.PathLike = DEFAULT_HOME,
    venv: str | os.PathLike = DEFAULT_VENV,
    timeout: float = 900,
) -> subprocess.CompletedProcess:
    """Run ``scripts/label_studio.sh COMMAND``; raise :class:`LabelStudioError` with its
    output when it fails (``status`` excepted: it fails when nothing is running)."""
    result = subprocess.run(
        ["bash", str(SCRIPT), command],
        env=script_env(port, home, venv),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0 and command != "status":
        raise LabelStudioError(
            f"scripts/label_studio.sh {command} failed (exit {result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def install(venv: str | os.PathLike = DEFAULT_VENV) -> float:
    """Install Label Studio into its own venv (no-op when the stamp says it is there);
    returns the seconds it took."""
    start = time.perf_counter()
    run_script("install", venv=venv)
    return time.perf_counter() - start


def start(
    port: int = DEFAULT_PORT,
    home: str | os.PathLike = DEFAULT_HOME,
    venv: str | os.PathLike = DEFAULT_VENV,
    verbose: bool = True,
) -> LabelStudioServer:
    """Install if needed, start Label Studio in the background on 127.0.0.1:``port`` and
    wait until it is healthy. Safe in a notebook: the call returns; the server runs on in
    its own process group until :meth:`LabelStudioServer.stop` (or the script's ``stop``)."""
    install(venv)
    begin = time.perf_counter()
    result = run_script("start", port=port, home=home, venv=venv)
    seconds = time.perf_counter() - begin
    if verbose:
        print(result.stdout.strip() or f"Label Studio is running at http://{HOST}:{port}")
    credentials = read_credentials(Path(home) / CREDENTIALS_FILENAME)
    return LabelStudioServer(
        port=port,
        home=Path(home),
        venv=Path(venv),
        username=credentials["LABEL_STUDIO_USERNAME"],
        password=credentials["LABEL_STUDIO_PASSWORD"],
        token=credentials["LABEL_STUDIO_USER_TOKEN"],
        start_seconds=seconds,
    )


def stop(
    port: int = DEFAULT_PORT,
    home: str | os.PathLike = DEFAULT_HOME,
    venv: str | os.PathLike = DEFAULT_VENV,
) -> None:
    """Stop the Label Studio whose PID file is in ``home`` (no error if none runs)."""
    run_script("stop", port=port, home=home, venv=venv)


# ---------------------------------------------------------------------------- the REST API
class LabelStudioClient:
    """The few REST calls the annotation round trip needs (Label Studio 1.x API)."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0) -> None:
        token = token or os.environ.get("LABEL_STUDIO_USER_TOKEN")
        if not token:
            raise LabelStudioError("no API token: pass token= or set LABEL_STUDIO_USER_TOKEN")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            raise LabelStudioError(
                f"{method} {path} -> HTTP {response.status_code}: {response.text[:2000]}"
            )
        return response.json() if response.content else None

    def wait_healthy(self, timeout: float = 180.0) -> float:
        """Poll ``/health`` until it says UP; returns the seconds waited."""
        start = time.perf_counter()
        while True:
            try:
                response = requests.get(f"{self.url}/health", timeout=5)
                if response.ok and "UP" in response.text:
                    return time.perf_counter() - start
            except requests.ConnectionError:
                pass
            if time.perf_counter() - start > timeout:
                raise LabelStudioError(f"{self.url} not healthy after {timeout:.0f} s")
            time.sleep(1.0)

    def create_project(
        self,
        title: str,
        label_config: str = LABEL_CONFIG,
        instructions: str = INSTRUCTIONS,
    ) -> int:
        """A project with the labeling config and instructions (shown before labeling)."""
        project = self._request(
            "POST",
            "/api/projects",
            json={
                "title": title,
                "label_config": label_config,
                "expert_instruction": instructions,
                "show_instruction": True,
            },
        )
        return int(project["id"])

    def project(self, project_id: int) -> dict:
        return self._request("GET", f"/api/projects/{project_id}")

    def import_manifest(self, project_id: int, manifest: str | os.PathLike) -> dict:
        """Upload ``manifest.csv``: one task per row, its columns become the task's data
        (``image`` is the URL the labeling config shows)."""
        path = Path(manifest)
        with open(path, "rb") as handle:
            return self._request(
                "POST",
                f"/api/projects/{project_id}/import",
                files={"file": (path.name, handle, "text/csv")},
            )

    def import_tasks(self, project_id: int, tasks: list[dict]) -> dict:
        """Import tasks given as JSON (``[{"data": {...}}, ...]`` or plain data dicts)."""
        return self._request("POST", f"/api/projects/{project_id}/import", json=tasks)

    def tasks(self, project_id: int) -> list[dict]:
        """Every task of the project (id, data, ...)."""
        tasks, page = [], 1
        while True:
            body = self._request(
                "GET", "/api/tasks", params={"project": project_id, "page": page, "page_size": 100}
            )
            batch = body["tasks"] if isinstance(body, dict) else body
            tasks += batch
            total = body.get("total", len(tasks)) if isinstance(body, dict) else len(tasks)
            if not batch or len(tasks) >= total:
                return tasks
            page += 1

    def annotate(self, task_id: int, result: list[dict], lead_time: float = 0.0) -> dict:
        """Submit an annotation (a ``result`` list, as an annotator's work) for one task."""
        return self._request(
            "POST",
            f"/api/tasks/{task_id}/annotations",
            json={"result": result, "was_cancelled": False, "lead_time": lead_time},
        )

    def export(self, project_id: int) -> list[dict]:
        """The project's tasks with their annotations, in Label Studio's JSON format."""
        return self._request(
            "GET",
            f"/api/projects/{project_id}/export",
            params={"exportType": "JSON", "download_all_tasks": "true"},
        )
