"""Run the handler the way the Lambda container does: under ``awslambdaric``, fed by a
minimal local Lambda Runtime API.

Inside a Lambda container the handler is not called by a web server. A *runtime interface
client* (``awslambdaric`` for Python, already in AWS's base images) imports the handler and
loops: ``GET /runtime/invocation/next`` on the Lambda *Runtime API* blocks until an event
arrives, the client calls ``handler(event, context)``, and POSTs the result to
``/runtime/invocation/<id>/response`` (or an error to ``.../error``). This module implements
those endpoints on loopback and starts N runtime-client processes (N "warm containers"), so
``local_server --runtime awslambdaric`` runs the handler in exactly that loop:

    HTTP request -> local_server builds the event -> RuntimeAPI queue -> awslambdaric process
    -> handler -> POST response -> local_server writes the HTTP response

Only what ``awslambdaric`` needs is implemented (no extensions, telemetry or SnapStart).
``awslambdaric`` is an optional dependency: ``pip install awslambdaric``.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PREFIX = "/2018-06-01/runtime"
HANDLER = "text_recognizer.serving.lambda_handler.handler"
FUNCTION_NAME = "text-recognizer-local"
ROOT = Path(__file__).resolve().parents[2]  # the repository (or site-packages) root


@dataclass
class Invocation:
    """One event on its way through the runtime, and what came back."""

    event: bytes
    deadline_ms: int
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    done: threading.Event = field(default_factory=threading.Event)
    response: bytes | None = None
    error: dict[str, Any] | None = None


class RuntimeAPI:
    """The four Runtime API endpoints a runtime interface client calls, on 127.0.0.1."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.pending: queue.Queue[Invocation] = queue.Queue()
        self.in_progress: dict[str, Invocation] = {}
        self.init_errors: list[dict[str, Any]] = []
        self.closing = threading.Event()
        self.httpd = ThreadingHTTPServer((host, port), _make_handler(self))
        self.httpd.daemon_threads = True
        self.address = f"{host}:{self.httpd.server_address[1]}"  # AWS_LAMBDA_RUNTIME_API
        self.processes: list[subprocess.Popen] = []
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self, n_processes: int = 1, handler: str = HANDLER, log=sys.stderr) -> RuntimeAPI:
        """Serve the API and start ``n_processes`` runtime interface clients, whose output
        (the handler's JSON log lines) goes to ``log``."""
        self._thread.start()
        env = {
            **os.environ,
            "AWS_LAMBDA_RUNTIME_API": self.address,
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "3008",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": str(ROOT),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        command = [sys.executable, "-m", "awslambdaric", handler]
        for _ in range(n_processes):
            self.processes.append(
                subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
            )
        return self

    def alive(self) -> int:
        return sum(process.poll() is None for process in self.processes)

    def invoke(self, event: dict[str, Any], timeout_s: float = 60.0) -> dict[str, Any]:
        """Send one event through a runtime client; return the handler's result. Function
        errors, crashed runtimes and timeouts become a 502, as on a function URL."""
        invocation = Invocation(json.dumps(event).encode(), int((time.time() + timeout_s) * 1000))
        self.in_progress[invocation.request_id] = invocation
        self.pending.put(invocation)
        deadline = time.monotonic() + timeout_s
        try:
            while not invocation.done.wait(0.2):
                if time.monotonic() > deadline:
                    return _bad_gateway("the function timed out")
                if self.processes and not self.alive():
                    detail = self.init_errors[-1].get("errorMessage") if self.init_errors else ""
                    return _bad_gateway(f"no runtime is running. {detail}".strip())
        finally:
            self.in_progress.pop(invocation.request_id, None)
        if invocation.error is not None or invocation.response is None:
            return _bad_gateway("the function raised an error")
        return json.loads(invocation.response)

    def close(self) -> None:
        self.closing.set()
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.httpd.shutdown()
        self.httpd.server_close()


def _bad_gateway(message: str) -> dict[str, Any]:
    body = {"error": message, "status": 502}
    return {
        "statusCode": 502,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }


def _make_handler(api: RuntimeAPI) -> type[BaseHTTPRequestHandler]:
    class RuntimeHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path != f"{PREFIX}/invocation/next":
                return self._reply(404, {"errorMessage": f"unknown path {self.path}"})
            while not api.closing.is_set():  # long poll, as the real API does
                try:
                    invocation = api.pending.get(timeout=0.5)
                except queue.Empty:
                    continue
                if invocation.request_id not in api.in_progress:
                    continue  # the caller gave up (timed out) before a runtime took it
                headers = {
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": (
                        f"arn:aws:lambda:local:000000000000:function:{FUNCTION_NAME}"
                    ),
                    "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
                }
                return self._reply(200, invocation.event, headers)
            self._reply(503, {"errorMessage": "shutting down"})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = self.path.removeprefix(PREFIX).strip("/").split("/")
            if parts == ["init", "error"]:
                api.init_errors.append(_json_or_text(body))
                return self._reply(202, {"status": "OK"})
            if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                invocation = api.in_progress.get(parts[1])
                if invocation is None:
                    return self._reply(404, {"errorMessage": "unknown or expired request id"})
                if parts[2] == "response":
                    invocation.response = body
                else:
                    invocation.error = _json_or_text(body)
                invocation.done.set()
                return self._reply(202, {"status": "OK"})
            self._reply(404, {"errorMessage": f"unknown path {self.path}"})

        def _reply(self, status: int, body: bytes | dict, headers: dict | None = None) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            # A runtime process stopped while it long-polled has closed its end: nothing to do.
            with contextlib.suppress(OSError):
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # the runtime loop is noisy
            pass

    return RuntimeHandler


def _json_or_text(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
        return value if isinstance(value, dict) else {"errorMessage": str(value)}
    except ValueError:
        return {"errorMessage": body.decode(errors="replace")}
