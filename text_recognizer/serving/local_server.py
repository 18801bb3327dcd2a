"""Run the REAL Lambda handler behind a local HTTP server that speaks the function-URL format.

An AWS Lambda function URL turns each HTTP request into an event (payload format 2.0), calls
the handler, and turns its ``{statusCode, headers, body}`` back into an HTTP response. This
server does the same on 127.0.0.1, so the frontend (``app.py --model_url``), the tests and the
load test exercise exactly the code that runs in the cloud:

    python -m text_recognizer.serving.local_server --port 9000     # or: make serve-backend
    curl -s -X POST http://127.0.0.1:9000/ -H 'Content-Type: application/json' \\
      -d "{\\"image\\": \\"$(base64 -w0 text_recognizer/serving/examples/....png)\\"}"

Two routes belong to the server, not the function: ``GET /metrics`` (Prometheus) and
``GET /healthz``. Every other request, whatever its method or path, goes to the handler, which
answers a wrong method with a 405, as the function URL would.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from text_recognizer.serving import lambda_handler
from text_recognizer.serving.metrics import BackendMetrics

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9000
MAX_BODY_BYTES = lambda_handler.MAX_PAYLOAD_BYTES  # the function URL refuses more, so do we
DRAIN_LIMIT_BYTES = 4 * MAX_BODY_BYTES  # read and drop at most this much of a refused body
SOCKET_TIMEOUT_S = 30.0  # a client that stops sending mid-request cannot hold a thread forever
# Function URLs pass these bodies as text; any other body arrives base64-encoded.
_TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml")


@dataclass
class LocalContext:
    """The parts of Lambda's context object a handler commonly reads."""

    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_name: str = "text-recognizer-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 3008
    timeout_s: float = 60.0
    _start: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self._start)) * 1000))


def build_event(
    method: str,
    target: str,
    headers: Mapping[str, str] | list[tuple[str, str]],
    body: bytes,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The function-URL event (payload format 2.0) AWS would build for this HTTP request.

    >>> event = build_event("POST", "/predict?x=1", {"Content-Type": "application/json"}, b"{}")
    >>> event["rawPath"], event["rawQueryString"], event["requestContext"]["http"]["method"]
    ('/predict', 'x=1', 'POST')
    >>> event["body"], event["isBase64Encoded"], event["headers"]["content-type"]
    ('{}', False, 'application/json')
    >>> build_event("POST", "/", {"Content-Type": "image/png"}, b"\\x89PNG")["body"]
    'iVBORw=='
    """
    items = headers.items() if isinstance(headers, Mapping) else headers
    merged: dict[str, str] = {}
    for name, value in items:  # repeated headers are joined with commas, as AWS does
        key = name.lower()
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    url = urlsplit(target)
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": url.path or "/",
        "rawQueryString": url.query,
        "headers": merged,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": merged.get("host", "localhost"),
            "domainPrefix": merged.get("host", "localhost").split(".")[0],
            "http": {
                "method": method.upper(),
                "path": url.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if url.query:
        event["queryStringParameters"] = dict(parse_qsl(url.query, keep_blank_values=True))
    if "cookie" in merged:
        event["cookies"] = [c.strip() for c in merged["cookie"].split(";") if c.strip()]
    if body:
        content_type = merged.get("content-type", "").lower()
        text = _as_text(body) if content_type.startswith(_TEXT_TYPES) else None
        if text is None:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


def _as_text(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


class FunctionURLRequestHandler(BaseHTTPRequestHandler):
    """Turns HTTP requests into handler events; ``server.metrics`` counts them."""

    server: BackendServer
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections
    server_version = "text-recognizer-backend"
    sys_version = ""  # do not advertise the Python version
    timeout = SOCKET_TIMEOUT_S

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/metrics":
            body, content_type = self.server.metrics.exposition()
            self._send(200, {"Content-Type": content_type}, body)
        elif path == "/healthz":
            health = self.server.health()
            code = 200 if health["status"] == "ok" else 503
            self._send(code, {"Content-Type": "application/json"}, json.dumps(health).encode())
        else:
            self._invoke()

    def do_POST(self) -> None:
        self._invoke()

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

    def do_HEAD(self) -> None:
        self._invoke(send_body=False)

    def _invoke(self, send_body: bool = True) -> None:
        self._started = time.perf_counter()
        self.server.metrics.in_flight.inc()
        try:
            self._invoke_handler(send_body)
        finally:
            self.server.metrics.in_flight.dec()

    def _invoke_handler(self, send_body: bool) -> int:
        body = self._read_body()
        if isinstance(body, int):
            return body  # already answered (411/413/400)
        event = build_event(
            self.command, self.path, self.headers.items(), body, self.client_address[0]
        )
        try:
            with self.server.slots:  # at most `concurrency` handler calls run at once
                result = self.server.invoke(event)
        except Exception:  # the handler never raises; a broken runtime still must not hang us
            lambda_handler.log_event("request", status=502, traceback=traceback.format_exc())
            result = {
                "statusCode": 502,
                "body": json.dumps({"error": "bad gateway", "status": 502}),
            }
        if not isinstance(result, dict) or "statusCode" not in result:
            # Function URLs treat any other return value as a 200 JSON body.
            result = {"statusCode": 200, "body": json.dumps(result)}
        payload = result.get("body") or ""
        data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        headers = {"Content-Type": "application/json", **(result.get("headers") or {})}
        status = int(result["statusCode"])
        if status == 200:
            self.server.note_model(data)
        self._respond(status, headers, data, send_body)
        return status

    def _read_body(self) -> bytes | int:
        """Read the request body, refusing it BEFORE reading when it is too large."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._refuse(411, "chunked bodies are not supported; send Content-Length")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return self._refuse(400, "invalid Content-Length")
        if length < 0:
            return self._refuse(400, "invalid Content-Length")
        if length > MAX_BODY_BYTES:
            status = self._refuse_too_large(length)
            # The client is still sending: swallow (a bounded amount of) the body it sends
            # anyway, so it reads our 413 instead of "connection reset".
            self._discard(min(length, DRAIN_LIMIT_BYTES))
            return status
        body = self.rfile.read(length)
        if len(body) < length:
            return self._refuse(400, "request body ended before Content-Length bytes")
        return body

    def handle_expect_100(self) -> bool:
        """``Expect: 100-continue`` (curl sends it for large bodies): refuse an oversized body
        before the client sends a byte of it."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            self._started = time.perf_counter()
            self._refuse_too_large(length)
            return False
        return super().handle_expect_100()

    def _refuse_too_large(self, length: int) -> int:
        return self._refuse(
            413, f"payload of {length} bytes exceeds the {MAX_BODY_BYTES}-byte limit"
        )

    def _discard(self, length: int) -> None:
        try:
            while length > 0:
                chunk = self.rfile.read(min(length, 64 * 1024))
                if not chunk:
                    break
                length -= len(chunk)
        except OSError:  # the client gave up or timed out: nothing left to be polite to
            pass

    def _refuse(self, status: int, message: str) -> int:
        self.close_connection = True  # the unread body must not be parsed as the next request
        body = json.dumps({"error": message, "status": status}).encode()
        self._respond(status, {"Content-Type": "application/json", "Connection": "close"}, body)
        lambda_handler.log_event("request", status=status, error=message, source="local_server")
        return status

    def _respond(self, status: int, headers: dict[str, str], body: bytes, send_body: bool = True):
        """Answer a request to the function, counting it in the metrics first (so a client
        that scrapes /metrics right after its answer sees its request counted)."""
        self.server.metrics.observe(status, time.perf_counter() - self._started)
        self._send(status, headers, body, send_body)

    def _send(self, status: int, headers: dict[str, str], body: bytes, send_body: bool = True):
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)


class BackendServer(ThreadingHTTPServer):
    """A threaded HTTP server carrying the metrics and a limit on concurrent handler calls.

    A Lambda container handles one event at a time and AWS adds containers under load; here
    one process plays all containers, so ``concurrency`` caps how many inferences share the CPU.
    ``runtime`` (a :class:`~text_recognizer.serving.lambda_runtime.RuntimeAPI`) sends events
    through awslambdaric processes instead of calling the handler in this process.
    """

    daemon_threads = True
    request_queue_size = 64  # listen() backlog: bursts of connections wait instead of failing

    def __init__(
        self,
        address: tuple[str, int],
        metrics: BackendMetrics | None = None,
        concurrency: int = 2,
        quiet: bool = False,
        runtime: Any = None,
    ) -> None:
        super().__init__(address, FunctionURLRequestHandler)
        self.metrics = metrics or BackendMetrics()
        self.slots = threading.BoundedSemaphore(concurrency)
        self.quiet = quiet
        self.runtime = runtime
        self._model_published = False

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def invoke(self, event: dict[str, Any]) -> Any:
        """Call the function with one event, in this process or through the runtime API."""
        if self.runtime is not None:
            return self.runtime.invoke(event, timeout_s=LocalContext.timeout_s)
        return lambda_handler.handler(event, LocalContext())

    def health(self) -> dict[str, Any]:
        if self.runtime is not None:
            alive = self.runtime.alive()
            return {"status": "ok" if alive else "down", "runtime": "awslambdaric", "alive": alive}
        model = lambda_handler._recognizer
        health = {"status": "ok", "runtime": "in-process", "model_loaded": model is not None}
        if model is not None:
            health.update(model=model.name, version=model.version)
        return health

    def note_model(self, body: bytes | None = None) -> None:
        """Publish the served model's name and version in /metrics, once: from the loaded
        model in this process, or from the first successful answer (awslambdaric mode)."""
        if self._model_published:
            return
        model = lambda_handler._recognizer if self.runtime is None else None
        if model is not None:
            name, version = model.name, model.version
        else:
            try:
                answer = json.loads(body or b"")
                name, version = answer["model"], answer["version"]
            except (ValueError, KeyError, TypeError):
                return
        self.metrics.set_model(name=str(name), version=str(version))
        self._model_published = True

    def server_close(self) -> None:
        super().server_close()
        if self.runtime is not None:
            self.runtime.close()


def make_server(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    concurrency: int = 2,
    preload: bool = True,
    quiet: bool = False,
    runtime: str = "inprocess",
) -> BackendServer:
    """Build (not start) a server; ``port=0`` picks a free port (see ``server.url``).

    ``preload`` loads the model now, so the first request is not a cold start and ``/metrics``
    names the model from the start; without it the first request pays, as on Lambda.
    ``runtime="awslambdaric"`` runs ``concurrency`` awslambdaric processes instead (each
    loads the model on its first event, like a fresh container)."""
    runtime_api = None
    if runtime == "awslambdaric":
        from text_recognizer.serving.lambda_runtime import RuntimeAPI

        runtime_api = RuntimeAPI().start(n_processes=concurrency)
    elif preload:
        lambda_handler.get_recognizer()
    server = BackendServer((host, port), None, concurrency, quiet, runtime_api)
    server.note_model()
    return server


def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--host", default=DEFAULT_HOST, help="bind address (default: loopback)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--concurrency", type=int, default=2, help="handler calls at once")
    parser.add_argument("--artifact_dir", default=None, help="model artifact (default: packaged)")
    parser.add_argument(
        "--backend", default=None, help="recognizer backend: onnx (default) or torchscript"
    )
    parser.add_argument("--lazy", action="store_true", help="load the model on the 1st request")
    parser.add_argument("--quiet", action="store_true", help="no access log lines")
    parser.add_argument(
        "--eval_store",
        default=None,
        help="log every prediction to this evaluation store (SQLite path or postgresql:// URL)",
    )
    parser.add_argument(
        "--runtime",
        choices=["inprocess", "awslambdaric"],
        default="inprocess",
        help="call the handler in this process, or through awslambdaric + a local Runtime API",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    """``python -m text_recognizer.serving.local_server [--host H] [--port P] ...``"""
    args = add_to_argparse(argparse.ArgumentParser(description=__doc__.split("\n")[0])).parse_args(
        argv
    )
    if args.artifact_dir:
        os.environ["TEXT_RECOGNIZER_ARTIFACT_DIR"] = args.artifact_dir
    if args.backend:
        os.environ["TEXT_RECOGNIZER_BACKEND"] = args.backend
    if args.eval_store:
        os.environ["TEXT_RECOGNIZER_EVAL_STORE"] = args.eval_store
    server = make_server(
        args.host, args.port, args.concurrency, not args.lazy, args.quiet, args.runtime
    )
    # One line on stdout, parsed by scripts/loadtest.py when it starts a server with --port 0.
    print(f"Backend listening on {server.url} (POST / ; GET /metrics, /healthz)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
