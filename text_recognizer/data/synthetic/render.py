"""Render text as synthetic handwriting: lines (natural polarity) and EMNIST-like characters.

The pipeline for one sample, all seeded by one ``np.random.Generator``:

1. *layout* (cap units): glyph paths are placed along a baseline, each with its own small
   random offset, scale and angle; lowercase letters get the writer's x-height stretch.
2. *geometry* (pixels): scale to the image so the font's whole writing band (ascenders to
   descenders) fits, then apply one smooth :class:`~.augment.Warp` to every point.
3. *raster*: PIL draws pen strokes / fills outlines at ``SUPERSAMPLE``x resolution;
   ``Image.reduce`` averages that down, which anti-aliases for free.
4. *photometry*: blur, ink density, paper texture and noise (:func:`~.augment.compose`).

Steps 1-2 live in ``layout.py``, step 3 in ``raster.py``; many samples at once, in seeded
chunks and worker processes, in ``batch.py``.

Characters are rendered the way they sit in a line: the cap height, x-height and baseline
come from the font and the writer, not from the character, so "o" is smaller than "O" and
"p" hangs below the baseline (unlike EMNIST, which rescales every character to its box).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from text_recognizer.data.synthetic.augment import compose
from text_recognizer.data.synthetic.fonts import FontSpec
from text_recognizer.data.synthetic.glyphs import load_glyphs
from text_recognizer.data.synthetic.layout import CHAR_SIZE, SUPERSAMPLE, line_scene, strip_scene
from text_recognizer.data.synthetic.raster import Box, char_boxes, rasterize
from text_recognizer.data.synthetic.style import Style, sample_style

MAX_CHAR_X_HEIGHT = 0.62  # in caps: keeps "o" clearly smaller than "O" in every font


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Accept a Generator (used as is: the caller's stream advances) or a seed.

    >>> int(as_rng(3).integers(100)) == int(as_rng(3).integers(100))
    True
    """
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


@dataclass(frozen=True)
class LineInk:
    """A rendered line before paper and noise: for assembling pages from several lines."""

    coverage: np.ndarray  # (H, W) uint8, 255 = fully inked
    boxes: list[Box]  # one (x0, y0, x1, y1) per character of the text
    style: Style
    cap_px: float  # cap height in output pixels


def render_line_ink(
    text: str,
    rng: np.random.Generator | int,
    *,
    height: int = 64,
    fonts: Sequence[FontSpec] | None = None,
    style: Style | None = None,
) -> LineInk:
    """The ink of one handwritten line, without paper: paste several into a page (e.g.
    with ``np.maximum``) and call :func:`compose_page` once, so the page has one paper.

    >>> ink = render_line_ink("Hi", 0, height=32)
    >>> ink.coverage.shape[0], ink.coverage.dtype, len(ink.boxes)
    (32, dtype('uint8'), 2)
    """
    rng = as_rng(rng)
    if style is None:
        style = sample_style(rng, fonts)
    scene = line_scene(text, style, rng, height)
    coverage = np.asarray(rasterize(scene))
    height, width = coverage.shape
    boxes = char_boxes(scene, text, width, height)
    return LineInk(coverage, boxes, style, scene.cap_px / SUPERSAMPLE)


def compose_page(
    coverage: np.ndarray, style: Style, rng: np.random.Generator | int, cap_px: float = 20.0
) -> Image.Image:
    """Ink coverage (H, W) uint8 -> a natural-polarity "L" page: blur, ink density, paper
    texture and noise of ``style``. ``cap_px`` sets the scale of the textures."""
    return Image.fromarray(compose(coverage, style, as_rng(rng), cap_px))


def render_line(
    text: str,
    rng: np.random.Generator | int,
    *,
    height: int = 64,
    fonts: Sequence[FontSpec] | None = None,
    style: Style | None = None,
    return_boxes: bool = False,
) -> Image.Image | tuple[Image.Image, list[Box]]:
    """Render ``text`` as one handwritten line: mode "L", dark ink on light paper.

    The width is what the text needs. ``style`` (default: drawn from ``rng`` over
    ``fonts``) fixes the writer; ``rng`` still drives per-glyph jitter and noise. With
    ``return_boxes`` also returns one (x0, y0, x1, y1) box per character of ``text``
    (a space gets the gap between its neighbours).

    >>> image, boxes = render_line("Hi there", 0, height=32, return_boxes=True)
    >>> image.mode, image.height, len(boxes)
    ('L', 32, 8)
    >>> render_line("Hi there", 0, height=32).tobytes() == image.tobytes()
    True
    """
    rng = as_rng(rng)
    ink = render_line_ink(text, rng, height=height, fonts=fonts, style=style)
    image = compose_page(ink.coverage, ink.style, rng, ink.cap_px)
    return (image, ink.boxes) if return_boxes else image


def sample_character_style(
    rng: np.random.Generator, fonts: Sequence[FontSpec] | None = None
) -> Style:
    """A writer style for isolated characters: the line style with a tight cap-height range,
    x-heights of at most ``MAX_CHAR_X_HEIGHT`` caps, no tilt or wobble, and cleaner paper
    (EMNIST crops are clean). Lowercase and capitals then differ in size in every font."""
    style = sample_style(rng, fonts)
    x_height = load_glyphs(style.font).x_height
    return replace(
        style,
        size=float(rng.uniform(0.54, 0.6)),
        baseline=float(rng.uniform(0.25, 0.75)),
        x_height_scale=min(style.x_height_scale, MAX_CHAR_X_HEIGHT / x_height),
        rotation=0.0,  # a tilted strip would move the baseline from slot to slot
        wobble_amplitude=0.0,
        blur=float(rng.uniform(0.2, 0.8)),
        ink=float(rng.uniform(0.8, 1.0)),
        paper=float(rng.uniform(0.92, 1.0)),
        paper_texture=float(rng.uniform(0.0, 0.03)),
        noise=float(rng.uniform(0.0, 0.025)),
    )


def render_strip(
    chars: str,
    rng: np.random.Generator,
    style: Style | None = None,
    fonts: Sequence[FontSpec] | None = None,
) -> np.ndarray:
    """(len(chars), 28, 28) uint8 characters by one writer, EMNIST polarity (bright ink on
    a dark background). A space gives an empty image."""
    if style is None:
        style = sample_character_style(rng, fonts)
    scene = strip_scene(chars, style, rng)
    page = 255 - compose(rasterize(scene), style, rng, scene.cap_px / SUPERSAMPLE)  # (28, n*28)
    return page.reshape(CHAR_SIZE, len(chars), CHAR_SIZE).transpose(1, 0, 2)
