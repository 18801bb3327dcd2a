"""Small helpers shared across the package: reading images from anywhere, seeding, and
atomic writes (readers see the whole file or directory, or nothing)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import os
import random
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ImageSource = str | os.PathLike | bytes | Image.Image

MAX_IMAGE_BYTES = 20 * 1024 * 1024  # refuse to download or decode more than this
MAX_IMAGE_PIXELS = 40_000_000  # decompression-bomb guard: ~6300x6300
URL_TIMEOUT_S = 10.0

_DATA_URL = re.compile(r"^data:image/[\w.+-]+;base64,", re.IGNORECASE)


class ImageReadError(ValueError):
    """The input could not be turned into an image. The message says why."""


def seed_everything(seed: int) -> int:
    """Seed Python, NumPy and PyTorch (all devices) so runs are repeatable.

    >>> seed_everything(7); a = random.random(); seed_everything(7); a == random.random()
    7
    7
    True
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import torch

        torch.manual_seed(seed)  # also seeds CUDA
    except ImportError:  # pragma: no cover - torch is always installed in the course env
        pass
    return seed


def decode_base64(text: str) -> bytes:
    """Decode standard or data-URL base64, refusing anything that is not valid base64.

    >>> decode_base64("aGVsbG8=")
    b'hello'
    >>> decode_base64("data:image/png;base64,aGVsbG8=")
    b'hello'
    >>> decode_base64("aGVs\\nbG8=")  # the line breaks base64 tools insert every 76 characters
    b'hello'
    >>> decode_base64("not base64!")
    Traceback (most recent call last):
    ...
    text_recognizer.util.ImageReadError: invalid base64 data
    """
    text = re.sub(r"\s+", "", _DATA_URL.sub("", text.strip()))  # line-wrapped base64 too
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ImageReadError("invalid base64 data") from error


def encode_b64_image(image: Image.Image, format: str = "PNG") -> str:
    """Encode a PIL image as base64 text (the inverse of reading a base64 source)."""
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def fetch_url_bytes(
    url: str, timeout: float = URL_TIMEOUT_S, max_bytes: int = MAX_IMAGE_BYTES
) -> bytes:
    """Download an http(s) URL with one total timeout and a size cap. Other schemes are refused.

    >>> fetch_url_bytes("file:///etc/passwd")
    Traceback (most recent call last):
    ...
    text_recognizer.util.ImageReadError: only http(s) URLs are allowed, got 'file'
    """
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in ("http", "https"):
        raise ImageReadError(f"only http(s) URLs are allowed, got {scheme!r}")
    from text_recognizer import fetch

    try:  # a user's own tool: any address may be fetched (servers use public_only=True)
        return fetch.fetch(url, timeout=timeout, max_bytes=max_bytes, public_only=False)
    except fetch.FetchError as error:
        raise ImageReadError(f"could not fetch image URL: {error}") from error


def read_image_pil(source: ImageSource, grayscale: bool = False) -> Image.Image:
    """Read an image from a path, an http(s) URL, base64 text (plain or data URL), raw bytes
    or a PIL image. The result is fully loaded (no lazy file handle) and, with
    ``grayscale``, converted to mode ``L``.

    >>> img = read_image_pil(Image.new("RGB", (4, 3), "white"), grayscale=True)
    >>> img.mode, img.size
    ('L', (4, 3))
    """
    if isinstance(source, Image.Image):
        _check_size(*source.size)
        from PIL import ImageOps

        image = ImageOps.exif_transpose(source) or source.copy()  # always a new image
    else:
        data = _source_to_bytes(source)
        image = _decode_image_bytes(data)
    if grayscale:
        image = to_grayscale(image)
    return image


def to_grayscale(image: Image.Image) -> Image.Image:
    """Convert any PIL mode (RGBA, P, 16-bit I;16, ...) to 8-bit ``L``; alpha is composited
    onto white so transparent backgrounds read as paper.

    >>> to_grayscale(Image.new("RGBA", (2, 2), (0, 0, 0, 0))).getpixel((0, 0))
    255
    >>> to_grayscale(Image.new("I;16", (2, 2), 65535)).getpixel((0, 0))
    255
    >>> to_grayscale(Image.new("I;16", (2, 2), 128)).getpixel((0, 0))  # 8-bit data, 16-bit file
    128
    """
    if image.mode == "L":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        # True 16-bit data spans 0..65535; 8-bit data stored in a 16-bit container does not.
        top = 65535.0 if array.max() > 255 else 255.0
        return Image.fromarray(np.clip(array / top * 255.0, 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("L")
    return image.convert("L")


def _source_to_bytes(source: str | os.PathLike | bytes) -> bytes:
    if isinstance(source, bytes | bytearray):
        return bytes(source)
    if isinstance(source, os.PathLike):
        return _read_path(Path(source))
    if not isinstance(source, str):
        raise ImageReadError(f"unsupported image source type: {type(source).__name__}")
    text = source.strip()
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text):
        return fetch_url_bytes(text)
    if _DATA_URL.match(text):
        return decode_base64(text)
    if len(text) < 4096 and Path(text).exists():
        return _read_path(Path(text))
    if len(text) >= 64 and re.fullmatch(r"[A-Za-z0-9+/=\s]+", text):
        return decode_base64(text)
    raise ImageReadError(f"not a readable file, http(s) URL or base64 image: {text[:80]!r}")


def _read_path(path: Path) -> bytes:
    if not path.is_file():
        raise ImageReadError(f"no such file: {path}")
    if path.stat().st_size > MAX_IMAGE_BYTES:
        raise ImageReadError(f"file is larger than {MAX_IMAGE_BYTES} bytes: {path}")
    return path.read_bytes()


def _check_size(width: int, height: int) -> None:
    """Refuse images with too many pixels (decompression bombs) or no pixels at all.

    >>> _check_size(10_000, 10_000)
    Traceback (most recent call last):
    ...
    text_recognizer.util.ImageReadError: image is too large (10000x10000 pixels; limit 40000000)
    """
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageReadError(
            f"image is too large ({width}x{height} pixels; limit {MAX_IMAGE_PIXELS})"
        )
    if width == 0 or height == 0:
        raise ImageReadError("image has zero width or height")


def _decode_image_bytes(data: bytes) -> Image.Image:
    if not data:
        raise ImageReadError("empty image data")
    try:
        with Image.open(io.BytesIO(data)) as image:
            _check_size(*image.size)
            image.load()
            from PIL import ImageOps

            return ImageOps.exif_transpose(image) or image
    except ImageReadError:
        raise
    except (Image.DecompressionBombError, OSError, ValueError, SyntaxError) as error:
        raise ImageReadError(f"not a readable image: {error}") from error


# ------------------------------------------------------------------------- atomic writes
@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike, mode: str = "w", permissions: int = 0o644, **open_kwargs
) -> Iterator[Any]:
    """Open a uniquely named temporary file next to ``path``; when the block ends without
    error, flush, fsync and rename it over ``path``. Readers see the old file or the whole
    new one, never half of it, and two writers never share a temporary name. The file gets
    ``permissions`` (mkstemp's own 0600 would hide it from other users).

    >>> root = Path(tempfile.mkdtemp())
    >>> with atomic_write(root / "a.txt") as f:
    ...     _ = f.write("hi")
    >>> sorted(p.name for p in root.iterdir()), (root / "a.txt").read_text()
    (['a.txt'], 'hi')
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        os.chmod(tmp, permissions)
        with open(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`) -> ``path``."""
    with atomic_write(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`) -> ``path``."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)
    return Path(path)


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike, replace: bool = False) -> Iterator[Path]:
    """Build a directory under a temporary name and rename it to ``target`` only when the
    block finishes without error: readers see either nothing or the complete directory.

    If ``target`` exists when the block ends, it is kept (``replace=False``: a cache that
    another process filled first) or swapped out by two renames and deleted
    (``replace=True``: a newer build), so readers see the old or the new one, whole.

    >>> root = Path(tempfile.mkdtemp())
    >>> with atomic_directory(root / "out") as tmp:
    ...     _ = (tmp / "a.txt").write_text("old")
    >>> with atomic_directory(root / "out", replace=True) as tmp:
    ...     _ = (tmp / "a.txt").write_text("new")
    >>> sorted(p.name for p in root.iterdir()), (root / "out" / "a.txt").read_text()
    (['out'], 'new')
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide it from other users
        if not target.exists():
            os.replace(tmp, target)
        elif replace:
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old / "previous")
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:  # another process finished first: keep its (identical) result
            shutil.rmtree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
