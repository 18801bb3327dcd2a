"""read_image_pil accepts every source type and refuses bad input with a clear message."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from text_recognizer import util
from text_recognizer.util import ImageReadError, read_image_pil


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def image() -> Image.Image:
    array = np.full((20, 30), 255, np.uint8)
    array[5:15, 10:20] = 0  # a dark block of "ink" on white paper
    return Image.fromarray(array, "L")


def test_every_source_type_gives_the_same_pixels(image, tmp_path):
    path = tmp_path / "x.png"
    data = png_bytes(image)
    path.write_bytes(data)
    b64 = base64.b64encode(data).decode()
    sources = [image, path, str(path), data, b64, f"data:image/png;base64,{b64}"]
    for source in sources:
        result = read_image_pil(source, grayscale=True)
        assert result.size == (30, 20)
        assert np.array_equal(np.asarray(result), np.asarray(image)), type(source)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "1", "I;16", "LA", "CMYK"])
def test_any_mode_becomes_8bit_grayscale(image, mode):
    if mode == "I;16":  # a real 16-bit scan uses the full 0..65535 range
        converted = Image.fromarray(np.asarray(image).astype(np.uint16) * 257, "I;16")
    else:
        converted = image.convert(mode)
    result = read_image_pil(png_bytes(converted) if mode != "CMYK" else converted, grayscale=True)
    assert result.mode == "L"
    array = np.asarray(result)
    assert array[10, 15] < 60 and array[0, 0] > 200  # ink stays dark, paper stays light


def test_exif_rotation_is_applied(image):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW on display
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", exif=exif)
    assert read_image_pil(buffer.getvalue()).size == (20, 30)


@pytest.mark.parametrize(
    "source, message",
    [
        (b"", "empty image data"),
        (b"definitely not an image", "not a readable image"),
        ("/no/such/file.png", "not a readable file"),
        ("file:///etc/passwd", "only http"),
        ("ftp://example.com/x.png", "only http"),
        ("data:image/png;base64,@@@@", "invalid base64"),
        (12345, "unsupported image source type"),
    ],
)
def test_bad_inputs_get_clear_errors(source, message):
    with pytest.raises(ImageReadError, match=message):
        read_image_pil(source)


def test_truncated_png_is_refused(image):
    with pytest.raises(ImageReadError):
        read_image_pil(png_bytes(image)[:40])


def test_decompression_bomb_guard(monkeypatch, image):
    monkeypatch.setattr(util, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(ImageReadError, match="too large"):
        read_image_pil(png_bytes(image))


def test_url_download_is_capped(tmp_path, image):
    from tests.fixtures.http_server import LoopbackFileServer

    (tmp_path / "x.png").write_bytes(png_bytes(image))
    with LoopbackFileServer(tmp_path) as server:
        assert read_image_pil(f"{server.url}/x.png").size == (30, 20)
        with pytest.raises(ImageReadError, match="larger than"):
            util.fetch_url_bytes(f"{server.url}/x.png", max_bytes=10)
        with pytest.raises(ImageReadError, match="could not fetch"):
            read_image_pil(f"{server.url}/missing.png")


def test_seed_everything_makes_torch_repeatable():
    import torch

    util.seed_everything(3)
    a = torch.rand(3)
    util.seed_everything(3)
    assert torch.equal(a, torch.rand(3))


def test_data_dir_is_the_checkout_or_the_user_cache_never_site_packages(monkeypatch, tmp_path):
    from text_recognizer.metadata import shared

    assert shared.IN_CHECKOUT and shared._default_data_dir() == shared.REPO_DIRNAME / "data"
    monkeypatch.setattr(shared, "IN_CHECKOUT", False)  # as a wheel install sees it
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert shared._default_data_dir() == tmp_path / "text-recognizer" / "data"
