"""Flags from the REAL Gradio app reach the evaluation store, attached to their prediction.

The app (text_recognizer/serving/app.py) is launched on loopback with
``monitored(recognizer, logger)`` as its model and ``StoreFlaggingCallback`` as its
flagging callback, then driven over HTTP with ``gradio_client`` exactly as the UI's buttons
drive it: ``/predict`` then ``/flag_incorrect`` with the image and the text shown.
"""

from __future__ import annotations

import socket

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from text_recognizer.monitoring.flagging import StoreFlaggingCallback
from text_recognizer.monitoring.logger import PredictionLogger, monitored
from text_recognizer.monitoring.store import EvaluationStore
from text_recognizer.monitoring.store_images import image_digest
from text_recognizer.serving.app import example_paths, launch, make_frontend

EXAMPLES = example_paths()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def recognizer():
    from text_recognizer.recognizer import ParagraphTextRecognizer

    return ParagraphTextRecognizer()


@pytest.fixture
def served(recognizer, tmp_path):
    store = EvaluationStore.open(tmp_path / "store.db")
    logger = PredictionLogger(store, background=False, source="ui")
    callback = StoreFlaggingCallback(store)
    demo = make_frontend(monitored(recognizer, logger), callback, flagging_dir=tmp_path / "flags")
    _, url, _ = launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield store, logger, Client(url, verbose=False)
    finally:
        demo.close()
        store.close()


def test_a_flag_from_the_app_is_stored_with_its_prediction(served, recognizer):
    store, logger, client = served
    example = EXAMPLES[0]
    text = client.predict(handle_file(example), api_name="/predict")
    assert text == recognizer.predict(example)
    message = client.predict(handle_file(example), text, api_name="/flag_incorrect")
    assert "incorrect" in message and "1 flag" in message

    predictions = store.to_dataframe()
    assert len(predictions) == 1 and logger.failures == 0
    prediction = predictions.iloc[0]
    assert prediction["source"] == "ui" and prediction["output_text"] == text
    assert prediction["model_version"] == recognizer.version
    assert 0.0 <= prediction["confidence"] <= 1.0 and prediction["latency_ms"] > 0
    with Image.open(example) as original:
        assert prediction["image_sha256"] == image_digest(original)
    stored = store.images_for(predictions)[0]
    with Image.open(example) as original:
        assert np.array_equal(np.asarray(stored), np.asarray(original.convert(stored.mode)))

    flags = store.flags_dataframe()
    assert len(flags) == 1
    flag = flags.iloc[0]
    assert flag["option"] == "incorrect"
    assert flag["prediction_id"] == prediction["id"]  # found through the image's content hash
    assert flag["output_text"] == text
    assert store.to_dataframe().iloc[0]["flags"] == "incorrect"


def test_each_button_stores_its_own_option(served):
    store, _, client = served
    for option in ("offensive", "other"):
        client.predict(handle_file(EXAMPLES[1]), "not what it says", api_name=f"/flag_{option}")
    flags = store.flags_dataframe()
    assert flags["option"].tolist() == ["offensive", "other"]
    assert flags["prediction_id"].isna().all()  # never predicted here: kept, unattached
    assert flags["image_sha256"].notna().all()
