"""The Lambda handler: the success path with the REAL recognizer artifact, and every refusal.

Function-URL events are built by ``local_server.build_event`` (the same code the local server
uses) or by hand where a test needs an event the server would never produce."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import socket
import struct
import threading
import time
import zlib

import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.fixtures.http_server import LoopbackFileServer
from text_recognizer.recognizer import Prediction
from text_recognizer.serving import lambda_handler as lh
from text_recognizer.serving.local_server import build_event
from text_recognizer.util import ImageReadError


# ------------------------------------------------------------------------------ helpers
def paragraph_png(seed: int = 0) -> bytes:
    """A small two-line page of dark text on light paper (deterministic per seed).

    Drawn with Pillow's built-in font: the handler tests check the service, not accuracy, and
    this keeps them free of the training stack's imports."""
    image = Image.new("L", (360, 110), 235)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=28)
    draw.text((12, 10), ["hello world", "good morning"][seed % 2], fill=20, font=font)
    draw.text((12, 58), "a test line", fill=30, font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_with_size(width: int, height: int) -> bytes:
    """A syntactically valid PNG whose header claims ``width`` x ``height`` (no real pixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def url_event(
    body: str | bytes = b"", method: str = "POST", content_type: str = "application/json"
):
    data = body.encode() if isinstance(body, str) else body
    return build_event(method, "/", {"Content-Type": content_type}, data)


def call(event) -> tuple[int, dict]:
    response = lh.handler(event, None)
    assert set(response) >= {"statusCode", "headers", "body"}
    assert response["headers"]["Content-Type"] == "application/json"
    return response["statusCode"], json.loads(response["body"])


def assert_refused(event, status: int, fragment: str) -> None:
    code, body = call(event)
    assert code == status, body
    assert body["status"] == status
    assert fragment.lower() in body["error"].lower(), body["error"]


class _StubRecognizer:
    """Stands in for the model where a test is about the handler's own error handling."""

    name, version = "stub", "0"

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def predict_details(self, image):
        if self.error:
            raise self.error
        return Prediction("x", ["x"], [1.0], 1.0, [(0, 0, 1, 1)])

    def predict(self, image):
        return self.predict_details(image).text


@pytest.fixture
def stub(monkeypatch):
    """Swap in a stub recognizer for one test, restoring whatever was loaded before."""
    previous = lh._recognizer

    def use(recognizer):
        lh.set_recognizer(recognizer)

    yield use
    lh.set_recognizer(previous)


def test_set_recognizer_refuses_what_is_not_a_recognizer():
    class HalfRecognizer:  # no predict, no name
        def predict_details(self, image): ...

    with pytest.raises(TypeError, match="HalfRecognizer is not a Recognizer"):
        lh.set_recognizer(HalfRecognizer())


# --------------------------------------------------------------------- the success path
def test_real_model_cold_then_warm_start_and_log_lines(caplog):
    """The artifact must be there: a missing model fails this test, it is never skipped."""
    lh.set_recognizer(None)
    caplog.set_level(logging.INFO, logger=lh.logger.name)
    png = paragraph_png()
    code, cold = call({"image": b64(png)})
    assert code == 200, cold
    assert set(cold) == {
        "pred",
        "confidence",
        "low_confidence",
        "line_confidences",
        "model",
        "version",
    }
    assert cold["low_confidence"] is (
        cold["confidence"] < lh.get_recognizer().low_confidence_threshold
    )
    assert isinstance(cold["pred"], str) and 0.0 <= cold["confidence"] <= 1.0
    assert all(0.0 <= c <= 1.0 for c in cold["line_confidences"])
    assert (
        cold["model"] == lh.get_recognizer().name and cold["version"] == lh.get_recognizer().version
    )

    code, warm = call(url_event(json.dumps({"image": "data:image/png;base64," + b64(png)})))
    assert code == 200 and warm == cold  # same image, same model: same answer

    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == lh.logger.name]
    loads = [line for line in lines if line["event"] == "model_load"]
    requests = [line for line in lines if line["event"] == "request"]
    assert len(loads) == 1 and loads[0]["load_s"] > 0  # loaded once per container
    assert [r["cold_start"] for r in requests] == [True, False]
    assert [r["source"] for r in requests] == ["invoke", "function_url"]
    image = Image.open(io.BytesIO(png))
    for r in requests:
        assert (r["image_width"], r["image_height"]) == image.size
        assert r["pred_length"] == len(cold["pred"]) and r["status"] == 200
        assert 0 < r["mean_intensity"] < 255 and r["latency_s"] > 0


def test_base64_encoded_bodies_and_raw_image_bodies():
    lh.get_recognizer()  # warm, so this test times the handler rather than the load
    png = paragraph_png(1)
    json_body = json.dumps({"image": b64(png)}).encode()
    event = url_event(json_body)
    event["body"], event["isBase64Encoded"] = b64(json_body), True
    code, from_json = call(event)
    assert code == 200, from_json
    raw = url_event(png, content_type="image/png")  # binary: the server base64-encodes it
    assert raw["isBase64Encoded"] is True
    code, from_raw = call(raw)
    assert code == 200 and from_raw == from_json
    # `base64` wraps lines at 76 characters; the handler ignores whitespace in base64.
    wrapped = "\n".join(b64(png)[i : i + 76] for i in range(0, len(b64(png)), 76))
    assert call({"image": wrapped}) == (200, from_json)


# ---------------------------------------------------------------------------- 400
@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        (url_event("{not json"), "not valid JSON"),
        (url_event(b"\xff\xfe\x00garbage"), "not valid JSON"),
        (url_event("[1, 2]"), "must be an object"),
        (url_event('"a string"'), "must be an object"),
        (url_event(""), "empty body"),
        (url_event("{}"), "exactly one of"),
        (
            url_event(json.dumps({"image": "aGk=", "image_url": "http://127.0.0.1/x"})),
            "exactly one",
        ),
        ({"image": 42}, "must be a string, got int"),
        ({"image": None}, "must be a string, got NoneType"),
        ({"image": ["a"]}, "must be a string, got list"),
        ({"image_url": {"u": 1}}, "must be a string, got dict"),
        ({"image": "   "}, "is empty"),
        ({"image": "not base64!"}, "not valid base64"),
        ({"image": "data:image/png;base64,%%%"}, "not valid base64"),
        ({"image": "data:image/png,rawtext"}, "base64-encoded"),
        ({"images": "aGk="}, "exactly one of"),
        ({"image_url": "file:///etc/passwd"}, "http(s)"),
        ({"image_url": "ftp://127.0.0.1/a.png"}, "http(s)"),
        ({"image_url": "gopher://127.0.0.1:70/"}, "http(s)"),
        ({"image_url": "/etc/passwd"}, "http(s)"),
        ({"image_url": "http:///no-host"}, "http(s)"),
        ({"image_url": "http://127.0.0.1/" + "a" * 3000}, "characters long"),
        ("a string event", "event must be a JSON object"),
    ],
)
def test_400_bad_requests(event, fragment):
    assert_refused(event, 400, fragment)


def test_400_is_base64_encoded_body_that_is_not_base64():
    event = url_event("{}")
    event["isBase64Encoded"] = True
    event["body"] = "!!! not base64 !!!"
    assert_refused(event, 400, "isBase64Encoded")


# ---------------------------------------------------------------------------- 405
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
def test_405_wrong_method(method):
    response = lh.handler(url_event(b"", method=method))
    assert response["statusCode"] == 405 and response["headers"]["Allow"] == "POST"
    assert method in json.loads(response["body"])["error"]


# ---------------------------------------------------------------------------- 413
def test_413_over_lambda_payload_limit():
    too_big = "A" * (lh.MAX_PAYLOAD_BYTES + 4)
    assert_refused({"image": too_big}, 413, "exceeds")
    assert_refused(url_event(json.dumps({"image": too_big})), 413, "exceeds")
    event = url_event(b"x")
    event["body"], event["isBase64Encoded"] = too_big, True  # decodes to > 6 MB
    assert_refused(event, 413, "exceeds")


# ---------------------------------------------------------------------------- 415
@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        ({"image": b64(b"hello, this is plain text and not an image")}, "not an image"),
        ({"image": b64(b'{"image": "nested json"}')}, "not an image"),
        ({"image": "data:text/plain;base64,aGVsbG8="}, "not image/*"),
        ({"image": b64(b"8BPS\x00\x01" + b"\x00" * 40)}, "unsupported image format PSD"),
        (url_event("a=1&b=2", content_type="application/x-www-form-urlencoded"), "Content-Type"),
        (url_event("--x\r\n", content_type="multipart/form-data; boundary=x"), "Content-Type"),
        (url_event(b'{"image": "aGk="}', content_type="image/png"), "not an image"),
        (url_event(b"%PDF-1.4 ...", content_type="application/octet-stream"), "not an image"),
    ],
)
def test_415_not_an_image(event, fragment):
    assert_refused(event, 415, fragment)


# ---------------------------------------------------------------------------- 422
def _truncated_png() -> bytes:
    png = paragraph_png()
    return png[: len(png) // 2]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (png_with_size(0, 10), "corrupt or truncated PNG"),
        (png_with_size(10, 0), "corrupt or truncated PNG"),
        (png_with_size(100_000, 100_000), "too large"),
        (png_with_size(7_000, 7_000), "too large"),  # under Pillow's limit, over ours
        (_truncated_png(), "truncated"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "corrupt or truncated PNG"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "JPEG"),
        (b"GIF89a\x01", "GIF"),
    ],
)
def test_422_unreadable_images(data, fragment):
    assert_refused({"image": b64(data)}, 422, fragment)


def test_422_when_the_recognizer_rejects_the_image(stub):
    stub(_StubRecognizer(ImageReadError("image is too small to hold text")))
    assert_refused({"image": b64(paragraph_png())}, 422, "too small")


def test_500_never_raises_and_logs_the_traceback(stub, caplog):
    caplog.set_level(logging.INFO, logger=lh.logger.name)
    stub(_StubRecognizer(RuntimeError("secret internal detail")))
    code, body = call({"image": b64(paragraph_png())})
    assert code == 500 and body["error"] == "internal server error"
    assert "secret" not in json.dumps(body)  # no internals in the response
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == lh.logger.name]
    assert "RuntimeError: secret internal detail" in logged[-1]["traceback"]


# ---------------------------------------------------------------------- image_url
def test_image_url_fetch_and_refusals(tmp_path, monkeypatch, stub):
    stub(_StubRecognizer())
    (tmp_path / "page.png").write_bytes(paragraph_png())
    (tmp_path / "big.png").write_bytes(paragraph_png() + b"\x00" * 50_000)
    (tmp_path / "notes.txt").write_text("not an image")
    monkeypatch.setattr(lh, "URL_MAX_BYTES", 40_000)
    monkeypatch.setenv("TEXT_RECOGNIZER_URL_ALLOW", "127.0.0.1")  # the test server's address
    with LoopbackFileServer(tmp_path) as server:
        assert call({"image_url": f"{server.url}/page.png"})[0] == 200
        assert server.requests["/page.png"] == 1
        assert_refused({"image_url": f"{server.url}/big.png"}, 422, "larger than 40000 bytes")
        assert_refused({"image_url": f"{server.url}/missing.png"}, 422, "404")
        assert_refused({"image_url": f"{server.url}/notes.txt"}, 415, "not an image")
    # file:// and friends never reach the network or the disk.
    monkeypatch.setattr(lh.fetch, "_resolve", _must_not_be_called)
    for url in ["file:///etc/passwd", "FILE:///etc/hosts", "data:image/png;base64,AAAA"]:
        assert_refused({"image_url": url}, 400, "http(s)")


def _must_not_be_called(*args, **kwargs):
    raise AssertionError("a refused scheme reached DNS resolution")


@contextlib.contextmanager
def _loopback_server(serve):
    """A one-connection loopback server: ``serve(connection, stop)`` runs in a thread; yields
    the port, and on exit sets ``stop`` and closes everything."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop, accepted = threading.Event(), []

    def run():
        listener.settimeout(5)
        try:
            accepted.append(listener.accept()[0])
        except OSError:
            return
        with accepted[0]:
            serve(accepted[0], stop)

    threading.Thread(target=run, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
    assert accepted, "the client never connected"


def _stall(connection, stop):  # accept the connection, never answer
    stop.wait(5)


def _trickle(connection, stop):  # a valid header, then one byte every 0.2 s
    connection.recv(4096)
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    while not stop.wait(0.2):
        try:
            connection.sendall(b"x")
        except OSError:
            return


def test_image_url_that_stalls_times_out(monkeypatch):
    monkeypatch.setattr(lh, "URL_TIMEOUT_S", 0.5)
    monkeypatch.setenv("TEXT_RECOGNIZER_URL_ALLOW", "127.0.0.0/8")
    start = time.perf_counter()
    with _loopback_server(_stall) as port:
        assert_refused({"image_url": f"http://127.0.0.1:{port}/slow.png"}, 422, "timed out")
    assert time.perf_counter() - start < 3.0


# ------------------------------------------------------------------ evaluation store
def test_predictions_are_logged_to_the_evaluation_store(tmp_path, stub):
    from text_recognizer.monitoring.logger import PredictionLogger
    from text_recognizer.monitoring.store import EvaluationStore

    stub(_StubRecognizer())
    prediction_logger = PredictionLogger(tmp_path / "store.db", background=False, source="api")
    lh.set_prediction_logger(prediction_logger)
    try:
        context = type("Context", (), {"aws_request_id": "req-1"})()
        assert lh.handler({"image": b64(paragraph_png())}, context)["statusCode"] == 200
        assert lh.handler({"image": "not base64!"}, context)["statusCode"] == 400  # not logged
    finally:
        lh.set_prediction_logger(None)
        prediction_logger.close()
    store = EvaluationStore.open(tmp_path / "store.db")
    try:
        (row,) = store.query("SELECT * FROM predictions")
    finally:
        store.close()
    assert (row["output_text"], row["source"], row["model_name"]) == ("x", "api", "stub")
    assert row["request_id"] == "req-1" and row["confidence"] == 1.0


def test_a_broken_evaluation_store_never_breaks_a_prediction(stub, caplog):
    class Broken:
        def log(self, **fields):
            raise OSError("disk full")

    stub(_StubRecognizer())
    caplog.set_level(logging.INFO, logger=lh.logger.name)
    lh.set_prediction_logger(Broken())
    try:
        assert call({"image": b64(paragraph_png())})[0] == 200
    finally:
        lh.set_prediction_logger(None)
    logged = json.loads(caplog.records[-1].getMessage())
    assert logged["eval_store_error"] == "OSError: disk full"


# ---------------------------------------------------------------------- SSRF
@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",  # loopback: the server's own /metrics
        "localhost",
        "[::1]",
        "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
        "10.0.0.7",  # private
        "192.168.1.1",
        "169.254.169.254",  # link-local: the cloud metadata service
        "0.0.0.0",  # unspecified
        "224.0.0.1",  # multicast
        "240.0.0.1",  # reserved
    ],
)
def test_image_url_to_a_non_public_address_is_refused(host, monkeypatch, stub):
    stub(_StubRecognizer())
    monkeypatch.delenv("TEXT_RECOGNIZER_URL_ALLOW", raising=False)
    assert_refused({"image_url": f"http://{host}:9/metrics"}, 403, "non-public address")


def test_own_loopback_metrics_are_refused_and_the_allow_list_opens_them(
    tmp_path, monkeypatch, stub
):
    stub(_StubRecognizer())
    (tmp_path / "page.png").write_bytes(paragraph_png())
    monkeypatch.delenv("TEXT_RECOGNIZER_URL_ALLOW", raising=False)
    with LoopbackFileServer(tmp_path) as server:
        assert_refused({"image_url": f"{server.url}/page.png"}, 403, "non-public address")
        assert server.requests["/page.png"] == 0, "a refused URL must not be requested"
        monkeypatch.setenv("TEXT_RECOGNIZER_URL_ALLOW", "localhost")  # by name
        assert call({"image_url": f"http://localhost:{server.port}/page.png"})[0] == 200
        monkeypatch.setenv("TEXT_RECOGNIZER_URL_ALLOW", "127.0.0.0/8")  # by network
        assert call({"image_url": f"{server.url}/page.png"})[0] == 200


def test_every_redirect_is_checked_and_redirects_are_capped(tmp_path, monkeypatch, stub):
    stub(_StubRecognizer())
    (tmp_path / "page.png").write_bytes(paragraph_png())
    monkeypatch.setenv("TEXT_RECOGNIZER_URL_ALLOW", "localhost")  # 127.0.0.1 itself is not
    with LoopbackFileServer(tmp_path) as server:
        allowed = f"http://localhost:{server.port}"
        server.redirects["/hop"] = f"{allowed}/page.png"
        server.redirects["/escape"] = f"http://127.0.0.1:{server.port}/page.png"
        server.redirects["/loop"] = "/loop"
        assert call({"image_url": f"{allowed}/hop"})[0] == 200  # an allowed redirect works
        assert_refused({"image_url": f"{allowed}/escape"}, 403, "non-public address")
        assert_refused({"image_url": f"{allowed}/loop"}, 422, "too many redirects")
        assert server.requests["/loop"] == 4  # the first request and 3 redirects


def test_the_deadline_is_total_not_per_read(monkeypatch, stub):
    """A server that sends one byte every 0.2 s never trips a per-read timeout of 0.5 s."""
    stub(_StubRecognizer())
    monkeypatch.setattr(lh, "URL_TIMEOUT_S", 1.0)
    monkeypatch.setenv("TEXT_RECOGNIZER_URL_ALLOW", "127.0.0.1")
    start = time.perf_counter()
    with _loopback_server(_trickle) as port:
        assert_refused({"image_url": f"http://127.0.0.1:{port}/trickle.png"}, 422, "timed out")
    assert time.perf_counter() - start < 2.5
