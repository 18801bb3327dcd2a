"""Page normalization: any photo, scan or crop of handwriting -> dark ink on flat white paper.

The line segmenter and the line reader assume dark ink on light, even paper. Real inputs
break that in three ways, each undone by one step here, on the WHOLE image, before
segmentation (training pages go through the same function: one code path)::

    grayscale
    -> polarity: light ink on a dark background (IAM crops as FSDL ships them) is inverted
       (judged on local contrast, so a shadow across the page does not flip it)
    -> background flattening: a grey closing (max then min filter) on a small copy removes
       the ink and leaves the paper's own brightness (shadows, coloured or grey paper,
       vignetting); dividing by it makes the paper flat white.

The contrast stretch comes after, in the stems (``ImageStem.prepare``'s capped
:func:`~text_recognizer.stems.image.contrast_lut`, on the page for segmentation and on
every line crop for the reader): the darkest ink goes to full strength, so faint pencil
reads like pen, and the gain is capped, so a blank page's noise does not turn into fake
ink. Stretching here as well would multiply the two gains and undo that cap.

Pure NumPy + PIL (no SciPy: this runs in the served product). Estimates are made on a
copy at most ``WORK_SIDE`` pixels long, so a 4,000-pixel scan costs about as much as a
crop; the division runs at full resolution. Constants are recorded in model cards via
:func:`normalizer_config`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from text_recognizer.util import to_grayscale

NORMALIZER_VERSION = 2  # bump when the output changes (it is in dataset fingerprints)
WORK_SIDE = 256  # estimate polarity and background on a copy at most this long
CLOSING_FRACTION = 0.035  # closing window: this fraction of the copy's longer side ...
MIN_CLOSING = 9  # ... but at least this many (copy) pixels: wider than a pen stroke
POLARITY_MARGIN = 20  # grey levels: a tail shorter than this is noise, not ink
INK_PERCENTILE = 1.0  # polarity: the 1% tails of the local contrast on either side
POLARITY_WINDOW = 27  # polarity: local mean over this many (copy) pixels, a few strokes


def normalizer_config() -> dict[str, Any]:
    """Every constant that shapes the normalization (for model cards and fingerprints)."""
    return {
        "version": NORMALIZER_VERSION,
        "work_side": WORK_SIDE,
        "closing_fraction": CLOSING_FRACTION,
        "min_closing": MIN_CLOSING,
        "polarity_margin": POLARITY_MARGIN,
        "ink_percentile": INK_PERCENTILE,
        "polarity_window": POLARITY_WINDOW,
    }


def _small(gray: Image.Image) -> Image.Image:
    """A copy at most ``WORK_SIDE`` pixels on its longer side (the image itself if small)."""
    scale = WORK_SIDE / max(gray.size)
    if scale >= 1:
        return gray
    size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
    return gray.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)


def is_light_on_dark(levels: np.ndarray) -> bool:
    """Whether the ink is lighter than the background, from an image's grey levels.

    Ink is the longer tail of the LOCAL contrast: each pixel minus the mean of a window
    a few strokes wide (``POLARITY_WINDOW``). A shadow or a tint gradient is smooth, so it
    leaves that residual; judged on raw levels instead, a phone photo's dark corner is a
    long dark tail and bright paper a long light one, and faint ink loses to them. A page
    with no tail longer than ``POLARITY_MARGIN`` (blank, noise) counts as light-on-dark
    only if it is dark overall.

    >>> page = np.full((50, 50), 230, np.uint8); page[20:25, 5:45] = 30  # dark ink
    >>> is_light_on_dark(page), is_light_on_dark(255 - page)
    (False, True)
    >>> pencil = np.full((60, 200), 235.0); pencil[30:32, 10:190:3] = 160  # faint, sparse
    >>> shadowed = (pencil * np.linspace(0.4, 1.0, 200)).astype(np.uint8)  # dark on the left
    >>> is_light_on_dark(shadowed), is_light_on_dark(255 - shadowed)
    (False, True)
    >>> is_light_on_dark(np.full((9, 9), 40, np.uint8))  # uniform dark: nothing to read
    True
    """
    levels = np.asarray(levels)
    window = max(3, min(POLARITY_WINDOW, min(levels.shape)) | 1)
    local = Image.fromarray(levels.astype(np.uint8)).filter(ImageFilter.BoxBlur(window // 2))
    residual = levels.astype(np.float32) - np.asarray(local, dtype=np.float32)
    low, high = np.percentile(residual, [INK_PERCENTILE, 100 - INK_PERCENTILE])
    darker, lighter = -low, high
    if max(darker, lighter) < POLARITY_MARGIN:
        return bool(np.median(levels) < 128)
    return bool(lighter > darker)


def window_filter(levels: np.ndarray, k: int, reduce) -> np.ndarray:
    """``reduce`` (np.max or np.min) over a k x k window, as two 1-D passes (edges repeat).

    >>> a = np.zeros((5, 5), np.uint8); a[2, 2] = 9
    >>> int(window_filter(a, 3, np.max)[1:4, 1:4].min()), int(window_filter(a, 3, np.min).max())
    (9, 0)
    """
    pad = k // 2
    for axis in (0, 1):
        padded = np.pad(levels, [(pad, pad) if a == axis else (0, 0) for a in (0, 1)], "edge")
        windows = np.lib.stride_tricks.sliding_window_view(padded, k, axis=axis)
        levels = reduce(windows, axis=-1)
    return levels


def background(gray: Image.Image) -> np.ndarray:
    """The paper's brightness under the ink, float32 (H, W) at the image's size: a grey
    closing (dark ink removed) of a small copy, smoothed, then scaled back up."""
    small = _small(gray)
    k = max(MIN_CLOSING, round(CLOSING_FRACTION * max(small.size))) | 1  # odd window
    levels = np.asarray(small)
    closed = window_filter(window_filter(levels, k, np.max), k, np.min)  # ink removed
    paper = Image.fromarray(closed).filter(ImageFilter.BoxBlur(k // 2))
    if paper.size != gray.size:
        paper = paper.resize(gray.size, Image.Resampling.BILINEAR)
    return np.asarray(paper, dtype=np.float32)


def flatten_background(gray: Image.Image) -> np.ndarray:
    """Divide out the paper's brightness: float32 (H, W) in 0..255 with paper ~ 255.

    >>> ramp = np.tile(np.linspace(120, 250, 200), (60, 1)).astype(np.uint8)  # a shadow
    >>> flat = flatten_background(Image.fromarray(ramp))
    >>> bool(flat.std() < 3), bool(flat.mean() > 250)
    (True, True)
    """
    levels = np.asarray(gray, dtype=np.float32)
    paper = np.maximum(background(gray), 8.0)  # a black border is not paper to divide by
    return np.minimum(levels * (255.0 / paper), 255.0)


def normalize_page(image: Image.Image) -> Image.Image:
    """Any image of handwriting (any mode, size and polarity) -> an ``L`` image of the same
    size with dark ink on flat white paper. See the module docstring.

    >>> page = Image.new("L", (120, 40), 25)  # light-on-dark, like an IAM crop
    >>> page.paste(200, (10, 15, 110, 18))  # a 3-pixel stroke
    >>> out = np.asarray(normalize_page(page))
    >>> out.shape, int(out[0, 0]), int(out[16, 50]) < 80  # paper white, ink dark
    ((40, 120), 255, True)
    """
    gray = to_grayscale(image)
    if gray.width == 0 or gray.height == 0:
        return gray
    if is_light_on_dark(np.asarray(_small(gray))):
        gray = Image.fromarray(255 - np.asarray(gray))
    flat = flatten_background(gray)
    return Image.fromarray(np.clip(flat + 0.5, 0, 255).astype(np.uint8))
