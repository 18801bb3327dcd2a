"""The local function-URL server: real HTTP on loopback, the real handler and model, and the
Prometheus ``/metrics`` endpoint scraped after a known number of requests."""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time

import pytest
import requests
from PIL import Image, ImageDraw, ImageFont
from prometheus_client.parser import text_string_to_metric_families

from text_recognizer.serving import lambda_handler
from text_recognizer.serving.local_server import make_server


def page_png(text: str = "hello world") -> bytes:
    image = Image.new("L", (320, 64), 235)
    ImageDraw.Draw(image).text((10, 14), text, fill=25, font=ImageFont.load_default(size=28))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def server():
    """A fresh server (fresh metrics) on a free loopback port; the model loads once per process."""
    backend = make_server("127.0.0.1", 0, concurrency=2, preload=True, quiet=True)
    thread = threading.Thread(target=backend.serve_forever, daemon=True)
    thread.start()
    yield backend
    backend.shutdown()
    backend.server_close()


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """``{(sample name, sorted labels): value}`` from a /metrics page."""
    response = requests.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_predictions_over_http_and_metrics_count_every_request(server):
    image = base64.b64encode(page_png()).decode()
    session = requests.Session()
    n_ok, n_bad = 3, 2
    answers = [session.post(server.url, json={"image": image}, timeout=60) for _ in range(n_ok)]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert isinstance(body["pred"], str) and 0 <= body["confidence"] <= 1
    assert len({a.text for a in answers}) == 1  # deterministic model
    bad_json = session.post(server.url, data=b"{oops", timeout=10)
    not_image = session.post(server.url, json={"image": base64.b64encode(b"text").decode()})
    assert (bad_json.status_code, not_image.status_code) == (400, 415)

    metrics = scrape(server.url)
    n = n_ok + n_bad
    assert metrics[("text_recognizer_request_latency_seconds_count", ())] == n
    assert metrics[("text_recognizer_requests_total", (("status", "200"),))] == n_ok
    assert metrics[("text_recognizer_requests_total", (("status", "400"),))] == 1
    assert metrics[("text_recognizer_request_errors_total", (("status", "415"),))] == 1
    assert ("text_recognizer_request_errors_total", (("status", "200"),)) not in metrics
    model = lambda_handler.get_recognizer()
    info = (("name", str(model.name)), ("version", str(model.version)))
    assert metrics[("text_recognizer_model_info", info)] == 1
    # Scraping is not a request to the function: the count is unchanged.
    assert scrape(server.url)[("text_recognizer_request_latency_seconds_count", ())] == n


def test_raw_image_body_healthz_and_wrong_method(server):
    raw = requests.post(
        f"{server.url}/any/path", data=page_png(), headers={"Content-Type": "image/png"}, timeout=60
    )
    assert raw.status_code == 200 and isinstance(raw.json()["pred"], str)
    get = requests.get(server.url, timeout=10)
    assert get.status_code == 405 and get.headers["Allow"] == "POST"
    health = requests.get(f"{server.url}/healthz", timeout=10).json()
    assert health["status"] == "ok" and health["model_loaded"] is True


def _raw_request(url: str, head: bytes, body: bytes = b"") -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(head + body)
        connection.shutdown(socket.SHUT_WR)  # we will never send the promised body
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_oversized_body_is_refused_before_it_is_read(server):
    huge = lambda_handler.MAX_PAYLOAD_BYTES + 1
    head = (
        f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {huge}\r\n\r\n"
    ).encode()
    start = time.perf_counter()
    reply = _raw_request(server.url, head)  # headers only: the server must not wait for a body
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"exceeds" in reply and time.perf_counter() - start < 5
    # curl's `Expect: 100-continue`: refused before the client sends the body.
    expect = head.replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n")
    assert _raw_request(server.url, expect).startswith(b"HTTP/1.1 413")
    # An honest client that sends the whole oversized body still reads the 413.
    response = requests.post(server.url, data=b"x" * huge, timeout=30)
    assert response.status_code == 413 and "exceeds" in response.json()["error"]
    assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
    metrics = scrape(server.url)
    assert metrics[("text_recognizer_request_errors_total", (("status", "413"),))] == 3


def test_event_the_handler_receives_is_a_function_url_event(server, monkeypatch):
    seen = []

    def spy(event, context):
        seen.append((event, context))
        return {"statusCode": 200, "headers": {}, "body": json.dumps({"ok": True})}

    monkeypatch.setattr(lambda_handler, "handler", spy)
    response = requests.post(
        f"{server.url}/predict?debug=1", data=b"\x89PNG\x00", headers={"Content-Type": "image/png"}
    )
    assert response.json() == {"ok": True}
    ((event, context),) = seen
    assert event["version"] == "2.0" and event["rawPath"] == "/predict"
    assert event["queryStringParameters"] == {"debug": "1"}
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x89PNG\x00"
    assert context.get_remaining_time_in_millis() > 0 and context.aws_request_id


def test_awslambdaric_runtime_mode_runs_the_handler_like_the_container():
    """The handler under the real runtime interface client, fed by our local Runtime API."""
    pytest.importorskip("awslambdaric", reason="optional: pip install awslambdaric")
    backend = make_server("127.0.0.1", 0, concurrency=1, quiet=True, runtime="awslambdaric")
    thread = threading.Thread(target=backend.serve_forever, daemon=True)
    thread.start()
    try:
        image = base64.b64encode(page_png()).decode()
        answer = requests.post(backend.url, json={"image": image}, timeout=300)
        assert answer.status_code == 200, answer.text
        expected = lambda_handler.handler({"image": image})  # the same handler, in-process
        assert answer.json() == json.loads(expected["body"])
        refused = requests.post(backend.url, data=b"{oops", timeout=60)
        assert refused.status_code == 400 and "JSON" in refused.json()["error"]
        assert requests.get(f"{backend.url}/healthz", timeout=10).json()["alive"] == 1
        info = scrape(backend.url)
        assert info[("text_recognizer_requests_total", (("status", "200"),))] == 1
    finally:
        backend.shutdown()
        backend.server_close()
    assert backend.runtime.alive() == 0  # closing the server stops the runtime processes


def test_runtime_api_speaks_the_protocol_a_runtime_client_expects():
    """Our Runtime API driven by a tiny client written here, without awslambdaric: next ->
    response, next -> error (a function error is a 502), with the request id round-tripped."""
    from text_recognizer.serving.lambda_runtime import PREFIX, RuntimeAPI

    api = RuntimeAPI().start(n_processes=0)
    base = f"http://{api.address}{PREFIX}"
    seen = []

    def runtime_client():
        for outcome in ("response", "error"):
            nxt = requests.get(f"{base}/invocation/next", timeout=30)
            request_id = nxt.headers["Lambda-Runtime-Aws-Request-Id"]
            assert int(nxt.headers["Lambda-Runtime-Deadline-Ms"]) > time.time() * 1000
            seen.append(nxt.json())
            result = {"statusCode": 200, "body": json.dumps({"echo": nxt.json()})}
            if outcome == "error":
                result = {"errorMessage": "boom", "errorType": "RuntimeError"}
            posted = requests.post(f"{base}/invocation/{request_id}/{outcome}", json=result)
            assert posted.status_code == 202

    client = threading.Thread(target=runtime_client, daemon=True)
    client.start()
    try:
        assert api.invoke({"n": 1}, timeout_s=30) == {
            "statusCode": 200,
            "body": json.dumps({"echo": {"n": 1}}),
        }
        failed = api.invoke({"n": 2}, timeout_s=30)
        assert failed["statusCode"] == 502 and "error" in json.loads(failed["body"])
        client.join(timeout=10)
        assert seen == [{"n": 1}, {"n": 2}]
        unknown = requests.post(f"{base}/invocation/nope/response", json={}, timeout=10)
        assert unknown.status_code == 404
        assert api.invoke({"n": 3}, timeout_s=0.5)["statusCode"] == 502  # nobody took it: timeout
    finally:
        api.close()
