"""ParagraphTextRecognizer on the SHIPPED artifact: every input type gives the same
prediction, any mode/size is handled, bad inputs raise ImageReadError with a clear message,
batches equal single predictions. (Accuracy is the integration quality gate's job.)"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from tests.fixtures.http_server import LoopbackFileServer
from text_recognizer.data.synthetic_paragraphs import render_paragraph
from text_recognizer.recognizer import (
    DEFAULT_ARTIFACT_DIR,
    ParagraphTextRecognizer,
    Prediction,
    ctc_decode,
)
from text_recognizer.util import MAX_IMAGE_PIXELS, ImageReadError

pytestmark = pytest.mark.skipif(
    not (DEFAULT_ARTIFACT_DIR / "card.json").exists(), reason="no staged release artifact"
)


@pytest.fixture(scope="module")
def recognizer():
    return ParagraphTextRecognizer()


@pytest.fixture(scope="module")
def page():
    image, _, _ = render_paragraph(["Reading is fun", "and so is writing."], 3, line_height=40)
    return image


def png_bytes(image: Image.Image, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **save)
    return buffer.getvalue()


def test_card_and_prediction_shape(recognizer, page):
    assert recognizer.name == "paragraph_text_recognizer" and recognizer.version
    assert recognizer.card["files"]["torchscript"] == "model.ts"
    prediction = recognizer.predict_details(page)
    assert isinstance(prediction, Prediction)
    assert len(prediction.line_texts) == len(prediction.line_boxes) == 2
    assert prediction.text == "\n".join(prediction.line_texts)
    assert all(0.0 <= c <= 1.0 for c in prediction.line_confidences)
    assert prediction.confidence == pytest.approx(np.mean(prediction.line_confidences))
    for x0, y0, x1, y1 in prediction.line_boxes:
        assert 0 <= x0 < x1 <= page.width and 0 <= y0 < y1 <= page.height
    assert recognizer.predict(page) == prediction.text


def test_confidence_separates_a_clean_page_from_noise_and_is_certain_of_a_blank_one(
    recognizer, page
):
    clean = recognizer.predict_details(page)
    assert clean.confidence >= recognizer.low_confidence_threshold and not clean.low_confidence
    noise = np.random.default_rng(0).integers(0, 256, (page.height, page.width), np.uint8)
    garbage = recognizer.predict_details(Image.fromarray(noise))
    assert garbage.confidence < recognizer.low_confidence_threshold and garbage.low_confidence
    # No line found: "" is the read, and there is nothing in it to misread.
    blank = recognizer.predict_details(Image.new("L", page.size, 255))
    assert (blank.text, blank.confidence, blank.low_confidence) == ("", 1.0, False)


def test_the_card_can_set_the_low_confidence_threshold(tmp_path, page):
    import shutil

    shutil.copytree(DEFAULT_ARTIFACT_DIR, tmp_path / "artifact")
    card_path = tmp_path / "artifact" / "card.json"
    card = json.loads(card_path.read_text())
    card_path.write_text(json.dumps({**card, "low_confidence": 0.999}))
    strict = ParagraphTextRecognizer(tmp_path / "artifact")
    assert strict.low_confidence_threshold == 0.999
    assert strict.predict_details(page).low_confidence


def test_every_source_type_reads_the_same(recognizer, page, tmp_path):
    expected = recognizer.predict(page)
    data = png_bytes(page)
    path = tmp_path / "page.png"
    path.write_bytes(data)
    b64 = base64.b64encode(data).decode()
    sources = [str(path), path, data, b64, f"data:image/png;base64,{b64}"]
    for source in sources:
        assert recognizer.predict(source) == expected, type(source)
    with LoopbackFileServer(tmp_path) as server:
        assert recognizer.predict(f"{server.url}/page.png") == expected
        assert server.requests["/page.png"] == 1


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "I;16"])
def test_every_mode(recognizer, page, mode):
    if mode == "I;16":
        image = Image.fromarray(np.asarray(page).astype(np.uint16) * 257)
    else:
        image = page.convert(mode)
    assert len(recognizer.predict_details(image).line_texts) == 2


def test_transparent_background_reads_as_paper(recognizer, page):
    rgba = Image.new("RGBA", page.size, (0, 0, 0, 0))  # transparent; ink = opaque black
    rgba.putalpha(Image.eval(page, lambda v: 255 - v))
    assert len(recognizer.predict_details(rgba).line_texts) == 2


def test_exif_rotation_is_applied(recognizer, page):
    rotated = page.rotate(90, expand=True)  # stored sideways, EXIF says "rotate back"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    rotated.convert("RGB").save(buffer, format="JPEG", exif=exif, quality=95)
    prediction = recognizer.predict_details(buffer.getvalue())
    assert len(prediction.line_texts) == 2
    x0, y0, x1, y1 = prediction.line_boxes[0]
    assert x1 - x0 > y1 - y0  # boxes are in the upright image: lines are wide


@pytest.mark.parametrize("size", [(1, 1), (2, 3)])
def test_tiny_and_blank_images_read_as_empty(recognizer, size):
    prediction = recognizer.predict_details(Image.new("L", size, 255))
    assert prediction == Prediction("", [], [], 1.0, [])  # nothing to misread: certain


def test_huge_images_fail_clearly(recognizer):
    side = int(MAX_IMAGE_PIXELS**0.5) + 100
    huge = Image.new("1", (side, side), 1)  # 1-bit: small in memory, too many pixels
    with pytest.raises(ImageReadError, match="too large"):
        recognizer.predict(png_bytes(huge))
    with pytest.raises(ImageReadError, match="too large"):
        recognizer.predict(huge)


@pytest.mark.parametrize(
    "source, message",
    [
        (b"", "empty"),
        (b"not an image at all", "not a readable image"),
        ("definitely/not/a/file.png", "not a readable file"),
        ("ftp://example.com/x.png", "only http"),
        ("data:image/png;base64,@@@", "invalid base64"),
        (12345, "unsupported image source"),
    ],
)
def test_bad_inputs_raise_image_read_error(recognizer, source, message):
    with pytest.raises(ImageReadError, match=message):
        recognizer.predict(source)


def test_truncated_png_is_an_image_read_error(recognizer, page):
    with pytest.raises(ImageReadError):
        recognizer.predict(png_bytes(page)[:200])


def test_batch_equals_single(recognizer, page):
    other, _, _ = render_paragraph(["one line only"], 5, line_height=40)
    images = [page, other, Image.new("L", (10, 10), 255), page.convert("RGB")]
    singles = [recognizer.predict_details(image) for image in images]
    for batch_size in (1, 3, 8):
        batch = recognizer.predict_batch(images, batch_size=batch_size)
        assert [p.text for p in batch] == [p.text for p in singles]
        assert [p.line_boxes for p in batch] == [p.line_boxes for p in singles]
        for a, b in zip(batch, singles):
            assert a.line_confidences == pytest.approx(b.line_confidences, abs=1e-4)
    assert recognizer.predict_batch([]) == []
    with pytest.raises(ValueError):
        recognizer.predict_batch(images, batch_size=0)


def test_unknown_backend_and_missing_artifact(tmp_path):
    with pytest.raises(ValueError, match="backend"):
        ParagraphTextRecognizer(backend="tensorflow")
    with pytest.raises(FileNotFoundError, match="stage a model"):
        ParagraphTextRecognizer(tmp_path)


def test_ctc_decode_merges_repeats_and_drops_blanks():
    mapping = ["<B>", "a", "b"]
    path = np.array([0, 2, 2, 0, 2, 1, 1])  # _ b b _ b a a -> "bba"
    logits = np.eye(3)[path].T * 5.0
    text, confidence = ctc_decode(logits, mapping)
    assert text == "bba" and 0.9 < confidence <= 1.0


def test_eager_backend_builds_the_checkpoints_own_model(tmp_path, page):
    """A checkpoint of another size than the release (a reader trained in Lab 03b) loads with
    its own hyperparameters, and the eager reader's logits are that model's."""
    import torch

    from text_recognizer.models.line_crnn import LineCRNN

    card = json.loads((DEFAULT_ARTIFACT_DIR / "card.json").read_text())
    hparams = {"model_class": "LineCRNN", "conv_dim": 4, "rnn_dim": 8, "rnn_layers": 1}
    torch.manual_seed(0)
    small = LineCRNN(card["data_config"], hparams).eval()
    state = {f"model.{k}": v for k, v in small.state_dict().items()}
    torch.save({"state_dict": state, "hyper_parameters": hparams}, tmp_path / "small.ckpt")
    eager = ParagraphTextRecognizer(backend="eager", checkpoint=tmp_path / "small.ckpt")
    lines = np.random.default_rng(0).random((2, 1, 32, 96)).astype(np.float32)
    with torch.no_grad():
        expected = small(torch.from_numpy(lines)).numpy()
    np.testing.assert_allclose(eager._run(lines), expected, rtol=1e-5, atol=1e-6)
    # A checkpoint of another class than the card's artifact is refused, naming both.
    torch.save(
        {"state_dict": state, "hyper_parameters": {**hparams, "model_class": "MLP"}},
        tmp_path / "other.ckpt",
    )
    with pytest.raises(ValueError, match="holds a MLP, but the card"):
        ParagraphTextRecognizer(backend="eager", checkpoint=tmp_path / "other.ckpt")
