"""The Gradio app as its users and API clients see it: launched on loopback, called over HTTP
with ``gradio_client``.

- ``/predict`` returns exactly what the recognizer returns for the same bundled example;
- a flag sent through the API (the same event the UI's flag buttons fire) lands in the
  flagging callback's storage, image and text;
- with ``--model_url`` the app sends images to the REAL backend (the Lambda handler behind
  ``local_server``) and gets the same text; a backend error or an unreachable backend
  reaches the client as a readable message, not a generic failure.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from text_recognizer.serving.app import (
    EXAMPLES_DIR,
    FLAG_OPTIONS,
    RemotePredictor,
    add_to_argparse,
    example_paths,
    launch,
    load_predict_fn,
    main,
    make_frontend,
)
from text_recognizer.serving.flagging import JsonLinesFlagger

pytestmark = pytest.mark.integration

EXAMPLES = example_paths()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving_app(predict_fn, flagging_callback=None, **kwargs) -> Iterator[str]:
    """Launch the app on a free loopback port without blocking; yields its URL.
    ``kwargs`` go to :func:`make_frontend` (``flagging_dir``, ``model_info``)."""
    demo = make_frontend(predict_fn, flagging_callback, **kwargs)
    _, url, _ = launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield url
    finally:
        demo.close()


@contextmanager
def serving_in_thread(server) -> Iterator[str]:
    """Run an ``http.server`` server in a daemon thread; yields ``http://host:port``."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def recognizer():
    from text_recognizer.recognizer import ParagraphTextRecognizer

    return ParagraphTextRecognizer()


@pytest.fixture(scope="module")
def app(recognizer, tmp_path_factory):
    flagger = JsonLinesFlagger()
    received: list[Image.Image] = []  # what the model was given, to compare with the file

    def predict(image: Image.Image) -> str:
        received.append(image)
        return recognizer.predict(image)

    flagging_dir = tmp_path_factory.mktemp("flagged")
    with serving_app(predict, flagger, flagging_dir=flagging_dir) as url:
        client = Client(url, verbose=False)
        yield SimpleNamespace(url=url, flagger=flagger, client=client, received=received)


def test_examples_are_bundled_small_and_labelled():
    labels = json.loads((EXAMPLES_DIR / "labels.json").read_text())
    assert len(EXAMPLES) >= 3
    for path in map(Path, EXAMPLES):
        assert path.stat().st_size < 200_000, f"{path.name} is too big to bundle"
        assert labels[path.name]["text"].strip()
        Image.open(path).verify()


def test_api_exposes_predict_and_the_flag_buttons(app):
    endpoints = app.client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(endpoints) == {"/predict"} | {f"/flag_{option}" for option in FLAG_OPTIONS}


@pytest.mark.parametrize("example", EXAMPLES[:2], ids=lambda p: Path(p).stem)
def test_predict_equals_the_recognizer(app, recognizer, example):
    text = app.client.predict(handle_file(example), api_name="/predict")
    assert isinstance(text, str)
    assert text == recognizer.predict(example)
    # The UI hands the model the file's pixels, unchanged (mode and values), whatever the
    # model makes of them.
    original = Image.open(example)
    assert app.received[-1].mode == original.mode
    assert np.array_equal(np.asarray(app.received[-1]), np.asarray(original))


def test_flag_lands_in_the_callback_storage(app):
    """The API's ``/flag_offensive`` is the event the UI's "Flag as offensive" button fires."""
    example = EXAMPLES[0]
    before = len(app.flagger.read())
    message = app.client.predict(
        handle_file(example), "what the model said", api_name="/flag_offensive"
    )
    assert "offensive" in message
    records = app.flagger.read()
    assert len(records) == before + 1
    record = records[-1]
    assert record["flag"] == "offensive"
    assert record["recognized_text"] == "what the model said"
    saved = app.flagger.flagging_dir / record["handwriting"]
    assert np.array_equal(np.asarray(Image.open(saved)), np.asarray(Image.open(example)))


def test_missing_or_unreadable_image_is_a_clear_error(app, tmp_path):
    with pytest.raises(AppError, match="No image"):
        app.client.predict(None, api_name="/predict")
    not_an_image = tmp_path / "page.png"
    not_an_image.write_text("handwriting, honestly")
    with pytest.raises(AppError, match="not a readable image"):
        app.client.predict(handle_file(str(not_an_image)), api_name="/predict")


def test_model_url_uses_the_real_backend(recognizer):
    """Frontend -> local function-URL server -> Lambda handler -> the same recognizer."""
    from text_recognizer.serving import lambda_handler, local_server

    previous = lambda_handler._recognizer
    lambda_handler.set_recognizer(recognizer)  # share the loaded model; no second load
    try:
        backend = local_server.make_server(port=0, preload=False, quiet=True)
        with (
            serving_in_thread(backend) as backend_url,
            serving_app(RemotePredictor(backend_url)) as url,
        ):
            client = Client(url, verbose=False)
            text = client.predict(handle_file(EXAMPLES[-1]), api_name="/predict")
        assert text == recognizer.predict(EXAMPLES[-1])
    finally:
        lambda_handler.set_recognizer(previous)


class _FailingBackend(BaseHTTPRequestHandler):
    """Answers every POST like the backend refusing an image (its documented error JSON)."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"error": "image is too small to read", "status": 422}).encode()
        self.send_response(422)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_backend_errors_reach_the_user_as_messages():
    failing = ThreadingHTTPServer(("127.0.0.1", 0), _FailingBackend)
    remote = RemotePredictor("", timeout=10)
    with serving_in_thread(failing) as backend_url, serving_app(remote) as url:
        client = Client(url, verbose=False)
        remote.url = backend_url
        with pytest.raises(AppError, match="backend answered 422: image is too small to read"):
            client.predict(handle_file(EXAMPLES[0]), api_name="/predict")
        remote.url = f"http://127.0.0.1:{free_port()}/"  # nothing listens there
        with pytest.raises(AppError, match="could not reach the model backend"):
            client.predict(handle_file(EXAMPLES[0]), api_name="/predict")


def test_cli_defaults_are_loopback_and_offline():
    args = add_to_argparse(argparse.ArgumentParser()).parse_args([])
    assert (args.host, args.port, args.model_url) == ("127.0.0.1", 7860, None)
    remote = add_to_argparse(argparse.ArgumentParser()).parse_args(["--model_url", "http://x/"])
    predict_fn, info = load_predict_fn(remote)
    assert isinstance(predict_fn, RemotePredictor) and "http://x/" in info
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--model_url" in out and "--port" in out and "--host" in out
