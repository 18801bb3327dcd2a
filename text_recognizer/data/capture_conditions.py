"""How a user's image of a page differs from a clean render: light ink on dark (IAM crops as
FSDL ships them), a large scan, faint pencil, a phone photo's shadow and blur, tinted
paper, a small crop. Each condition is a pure function ``PIL image -> PIL image``.

The recognizer must read a page under each of them about as well as the clean page (its
input normalization exists for that): ``scripts/bench_robustness.py`` measures CER per
condition (``make bench BENCH=robustness``) and tests/integration/test_release_artifact.py
holds the shipped artifact to it for inversion and shadows.

>>> page = Image.new("L", (100, 40), 235); page.paste(30, (10, 18, 90, 21))
>>> {name: condition(page).size for name, condition in CONDITIONS.items()}["scan 2400 px"]
(2400, 960)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFilter, ImageOps


def inverted(image: Image.Image) -> Image.Image:
    """Light ink on a dark background (how FSDL ships IAM paragraph crops)."""
    return ImageOps.invert(image.convert("L"))


def scanned(image: Image.Image, width: int = 2400) -> Image.Image:
    """The page scanned at ``width`` pixels (a 300-dpi A4 scan is about 2,500 wide)."""
    height = max(1, round(image.height * width / image.width))
    return image.convert("L").resize((width, height), Image.Resampling.BICUBIC)


def faint(image: Image.Image, strength: float = 0.35) -> Image.Image:
    """Faint pencil: the ink keeps ``strength`` of its contrast with the paper.

    >>> int(np.asarray(faint(Image.new("L", (2, 2), 0)))[0, 0])  # black ink -> light grey
    165
    """
    levels = np.asarray(image.convert("L"), dtype=np.float32)
    return Image.fromarray(np.clip(255 - (255 - levels) * strength, 0, 255).astype(np.uint8))


def phone_shadow(image: Image.Image, darkest: float = 0.55) -> Image.Image:
    """A phone held over the page: light falls from ``darkest`` (left) to 1.0 (right) and a
    little towards the top; ink and paper are darkened alike (a shadow multiplies).

    >>> shaded = np.asarray(phone_shadow(Image.new("L", (100, 10), 200)))
    >>> int(shaded[-1, 0]), int(shaded[-1, -1])  # bottom row: shadowed left, lit right
    (110, 200)
    """
    levels = np.asarray(image.convert("L"), dtype=np.float32)
    height, width = levels.shape
    light = np.linspace(darkest, 1.0, width)[None, :] * np.linspace(0.8, 1.0, height)[:, None]
    return Image.fromarray(np.clip(levels * light, 0, 255).astype(np.uint8))


def phone_photo(image: Image.Image) -> Image.Image:
    """A phone photo: 2,000 pixels wide, the shadow above, slightly out of focus."""
    return phone_shadow(scanned(image, 2000)).filter(ImageFilter.GaussianBlur(2))


def tinted_paper(image: Image.Image) -> Image.Image:
    """Yellowed (or coloured) paper, in RGB."""
    gray = image.convert("L")
    channels = [gray.point(lambda v, gain=gain: int(v * gain)) for gain in (0.95, 0.88, 0.7)]
    return Image.merge("RGB", channels)


def small_crop(image: Image.Image, scale: float = 0.6) -> Image.Image:
    """The page at ``scale`` of its rendered size (a low-resolution crop)."""
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.convert("L").resize(size, Image.Resampling.LANCZOS)


CONDITIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "as rendered": lambda image: image,
    "light on dark (IAM crop)": inverted,
    "scan 2400 px": scanned,
    "faint pencil, 2400 px": lambda image: faint(scanned(image)),
    "phone shadow": phone_shadow,
    "phone photo (2000 px, shadow, blur)": phone_photo,
    "tinted paper": tinted_paper,
    "small (0.6x)": small_crop,
    "light on dark, faint, 2400 px": lambda image: inverted(faint(scanned(image))),
}
