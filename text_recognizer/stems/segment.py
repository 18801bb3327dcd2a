"""Line segmentation: a paragraph image -> one crop per text line, for a line reader.

The release recognizer reads a paragraph as (1) find the lines, (2) read each line with a
CTC line reader. Step 1 is classic document analysis, no learning, and it is part of the
SHARED preprocessing: training crops come from this very code, so the reader learns on
exactly the crops it will see at inference (including the segmenter's mistakes).

How it works (horizontal projection profile), after :func:`read_page_lines` has normalized
the page (polarity, illumination: ``stems/normalize.py``)::

    grayscale, invert, normalize contrast (ImageStem.prepare: ink ~ 1)   # at most 1600 px
    -> ink mask (box blur, then a threshold: lone noisy pixels fade away)
    -> skew: try small angles, keep the one whose row profile is sharpest
    -> row profile along that angle (ink per row), smoothed at the scale of a line
    -> blank rows separate lines; inside a run of ink, cut at valleys that dip below half of
       the peaks on BOTH sides (lines that touch), if both sides are at least half a line
       tall (an ascender zone is not a line); specks join their nearer neighbour
    -> each line is trimmed to its ink, horizontally too.

A line is returned as a :class:`TextLine`: its axis-aligned ``box`` (x0, y0, x1, y1) in
INPUT pixels (for display), and the band it occupies along the skew (for cropping: a tilted
line is cut out along its tilt, so the crop holds little of the neighbouring lines).
:class:`LineStripStem` then turns crops into tensors of one height and a bucketed width,
and :func:`pad_batch` stacks them. Pure NumPy + PIL; sizes and thresholds are constants
below, recorded in the model card via :func:`segmenter_config`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter

from text_recognizer.stems.image import (
    REDUCING_GAP,
    RESAMPLE,
    ImageStem,
    _jitter,
    _uniform,
    fit_scale,
    scaled_size,
)
from text_recognizer.stems.line import LineStem
from text_recognizer.stems.normalize import normalize_page, normalizer_config
from text_recognizer.util import to_grayscale

SEGMENTER_VERSION = 2  # bump when segmentation changes its output (it is in fingerprints)
WORK_MAX_SIDE = 1600  # segment a copy at most this large: fast, and plenty for line bands
INK_THRESHOLD = 0.35  # blurred, normalized ink above this is ink
MAX_SKEW_DEGREES = 4.0  # skew angles tried: -4..4 degrees ...
SKEW_STEP_DEGREES = 0.25  # ... in these steps
SPLIT_DEPTH = 0.5  # cut where the row profile dips below half of the peaks on both sides
MIN_PART_FRACTION = 0.5  # ... and both sides are at least half a typical line tall
SPECK_FRACTION = 0.3  # cores thinner than 30% of the median core are specks, not lines
MIN_INK_PIXELS = 12  # lines with less ink (at working scale) are dropped as noise


@dataclass(frozen=True)
class TextLine:
    """One detected line. ``box`` is axis-aligned in input pixels; the line's ink lies in
    the band ``top <= y - slope * x < bottom`` for ``x0 <= x < x1`` (input pixels)."""

    box: tuple[int, int, int, int]
    top: float
    bottom: float
    slope: float


def segmenter_config() -> dict[str, Any]:
    """Every constant that shapes the segmentation (for model cards and fingerprints)."""
    return {
        "version": SEGMENTER_VERSION,
        "normalizer": normalizer_config(),
        "work_max_side": WORK_MAX_SIDE,
        "ink_threshold": INK_THRESHOLD,
        "max_skew_degrees": MAX_SKEW_DEGREES,
        "skew_step_degrees": SKEW_STEP_DEGREES,
        "min_part_fraction": MIN_PART_FRACTION,
        "split_depth": SPLIT_DEPTH,
        "speck_fraction": SPECK_FRACTION,
        "min_ink_pixels": MIN_INK_PIXELS,
    }


# ----------------------------------------------------------------------- small helpers
def smooth(profile: np.ndarray, width: int) -> np.ndarray:
    """Moving average of ``profile`` over ``width`` samples (same length, edges shrink).

    >>> smooth(np.array([0, 0, 3, 0, 0.0]), 3).tolist()
    [0.0, 1.0, 1.0, 1.0, 0.0]
    """
    width = max(1, int(width))
    if width == 1 or len(profile) == 0:
        return profile.astype(np.float64)
    kernel = np.ones(width) / width
    total = np.convolve(profile, kernel, mode="same")
    counts = np.convolve(np.ones(len(profile)), kernel, mode="same")  # fewer samples at edges
    return total / counts


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` of every run of True in a 1-D boolean array.

    >>> runs(np.array([0, 1, 1, 0, 1], bool))
    [(1, 3), (4, 5)]
    >>> runs(np.zeros(3, bool))
    []
    """
    padded = np.concatenate([[False], mask.astype(bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def split_at_valleys(profile: np.ndarray, start: int, end: int, min_part: int) -> list[int]:
    """Cut rows inside ``[start, end)`` where two lines meet: recursively at the deepest
    interior minimum, if it dips below ``SPLIT_DEPTH`` of the peaks on BOTH sides and each
    side keeps at least ``min_part`` rows. Comparing a valley with its own neighbours (not
    with the page's tallest peak) keeps a short last line of one word.

    >>> p = np.array([0, 5, 5, 5, 0.5, 2, 2, 2, 0])  # a long line, then a short one
    >>> split_at_valleys(p, 1, 8, min_part=2)
    [4]
    >>> split_at_valleys(p, 1, 8, min_part=4)  # parts would be too thin: no cut
    []
    """
    lo, hi = start + min_part, end - min_part
    if hi <= lo:
        return []
    cut = lo + int(np.argmin(profile[lo:hi]))
    left, right = profile[start:cut].max(), profile[cut + 1 : end].max(initial=0.0)
    if profile[cut] >= SPLIT_DEPTH * min(left, right):
        return []
    return [
        *split_at_valleys(profile, start, cut, min_part),
        cut,
        *split_at_valleys(profile, cut + 1, end, min_part),
    ]


def _parts(profile: np.ndarray, width: int, min_part: int) -> list[tuple[int, int]]:
    """Row ranges of the lines: blank gaps separate, then valleys split touching lines."""
    smoothed = smooth(profile, width)
    floor = 0.02 * smoothed.max()
    parts = []
    for a, b in runs(smoothed > floor):
        cuts = [a, *split_at_valleys(smoothed, a, b, min_part), b]
        parts += list(zip(cuts[:-1], cuts[1:]))
    return parts


def skew_slope(ys: np.ndarray, xs: np.ndarray, height: int) -> float:
    """The slope dy/dx of the text lines: among small angles, the one whose row profile
    (ink counted along that slope) has the most energy, i.e. the sharpest bands.

    >>> xs = np.arange(200); ys = (20 + 0.05 * xs).astype(int)  # one line, 0.05 px/px
    >>> slope = skew_slope(np.concatenate([ys, ys + 1]), np.concatenate([xs, xs]), 60)
    >>> abs(slope - 0.05) < 0.01
    True
    """
    if len(ys) == 0:
        return 0.0
    best, best_energy = 0.0, -1.0
    x_mid = (xs.max() + xs.min()) / 2
    steps = int(round(MAX_SKEW_DEGREES / SKEW_STEP_DEGREES))
    for k in sorted(range(-steps, steps + 1), key=abs):  # ties go to the smallest angle
        slope = math.tan(math.radians(k * SKEW_STEP_DEGREES))
        shifted = np.round(ys - slope * (xs - x_mid)).astype(np.int64)
        counts = np.bincount(shifted - shifted.min())
        energy = float(np.dot(counts, counts))
        if energy > best_energy * (1 + 1e-9):
            best, best_energy = slope, energy
    return best


# ----------------------------------------------------------------------- the segmenter
def ink_mask(image: Image.Image) -> tuple[np.ndarray, float]:
    """(mask (h, w) bool, scale): where the ink is, on a copy at most ``WORK_MAX_SIDE``
    pixels on its longer side; ``scale`` = working size / input size."""
    gray = to_grayscale(image)
    scale = min(1.0, WORK_MAX_SIDE / max(gray.size))
    if scale < 1.0:
        gray = gray.resize(scaled_size(*gray.size, scale), RESAMPLE, reducing_gap=REDUCING_GAP)
    prepared = ImageStem(normalize=True).prepare(gray)  # inverted, paper 0, ink 255
    blurred = prepared.filter(ImageFilter.BoxBlur(1))  # a lone noisy pixel fades to 1/9
    mask = np.asarray(blurred, dtype=np.uint8) > INK_THRESHOLD * 255
    return mask, scale


def segment_lines(image: Image.Image) -> list[TextLine]:
    """The text lines of a paragraph image (natural polarity, any mode and size), top to
    bottom. A blank image has none.

    >>> from PIL import ImageDraw
    >>> page = Image.new("L", (200, 100), 255); draw = ImageDraw.Draw(page)
    >>> for y in (15, 55): _ = draw.rectangle((20, y, 180, y + 20), fill=0)
    >>> [line.box for line in segment_lines(page)]
    [(20, 15, 181, 36), (20, 55, 181, 76)]
    >>> segment_lines(Image.new("RGB", (50, 40), "white"))
    []
    """
    if image.width == 0 or image.height == 0:
        return []
    mask, scale = ink_mask(image)
    ys, xs = np.nonzero(mask)
    if len(ys) < MIN_INK_PIXELS:
        return []
    height = mask.shape[0]
    slope = skew_slope(ys, xs, height)
    x_mid = (xs.max() + xs.min()) / 2
    # v: the row of each ink pixel "along the skew" (a horizontal line has constant v)
    v = np.round(ys - slope * (xs - x_mid)).astype(np.int64)
    v_min = int(v.min())
    profile = np.bincount(v - v_min).astype(np.float64)  # ink per skewed row
    lines = _bands(profile)
    result = []
    for top, bottom in lines:
        inside = (v - v_min >= top) & (v - v_min < bottom)
        if inside.sum() < MIN_INK_PIXELS:
            continue
        lx, lv = xs[inside], v[inside]
        x0, x1 = int(lx.min()), int(lx.max()) + 1
        v0, v1 = int(lv.min()), int(lv.max()) + 1
        # back to input pixels: y = v + slope * (x - x_mid), then / scale
        ly = ys[inside]
        box = (
            max(0, math.floor(x0 / scale)),
            max(0, math.floor(int(ly.min()) / scale)),
            min(image.width, math.ceil(x1 / scale)),
            min(image.height, math.ceil((int(ly.max()) + 1) / scale)),
        )
        result.append(
            TextLine(
                box=box,
                top=(v0 - slope * x_mid) / scale,
                bottom=(v1 - slope * x_mid) / scale,
                slope=slope,
            )
        )
    return result


def _bands(profile: np.ndarray) -> list[tuple[int, int]]:
    """Row ranges ``[top, bottom)`` of the lines in a skew-corrected row profile."""
    if not profile.any():
        return []
    # Pass 1 (light smoothing, thin parts allowed) measures a typical line height ...
    typical = int(np.median([b - a for a, b in _parts(profile, 3, 2)]))
    # ... pass 2 smooths at that scale and only cuts off parts that could be a line.
    parts = _parts(profile, max(3, typical // 3), max(2, int(MIN_PART_FRACTION * typical)))
    if not parts:
        return []
    return merge_specks(parts)


def merge_specks(parts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join specks (an i-dot, a stain, the top of a lone ascender) to the NEARER line.

    A speck is a part thinner than ``SPECK_FRACTION`` of a typical line, measured over the
    parts at least half as tall as the tallest: with one word and two ascender pieces, the
    median part would be a piece, and the pieces would be read as lines.

    >>> merge_specks([(0, 7), (12, 21), (22, 63)])  # a word whose ascenders came apart
    [(0, 63)]
    >>> merge_specks([(0, 20), (30, 50), (52, 55), (70, 90)])  # a stain near line 2
    [(0, 20), (30, 55), (70, 90)]
    """
    heights = [b - a for a, b in parts]
    typical = float(np.median([h for h in heights if h >= 0.5 * max(heights)]))
    lines = [list(p) for p, h in zip(parts, heights) if h >= SPECK_FRACTION * typical]
    if not lines:
        return [(parts[0][0], parts[-1][1])]
    for a, b in (p for p, h in zip(parts, heights) if h < SPECK_FRACTION * typical):
        distance = [max(line[0] - b, a - line[1], 0) for line in lines]
        nearest = lines[int(np.argmin(distance))]
        nearest[0], nearest[1] = min(nearest[0], a), max(nearest[1], b)
    return [(a, b) for a, b in lines]


def read_page_lines(image: Image.Image) -> tuple[Image.Image, list[TextLine]]:
    """The ONE entry point of preprocessing for training crops and for inference: the page
    normalized (:func:`~text_recognizer.stems.normalize.normalize_page`: dark ink on flat
    white, whatever came in) and its lines, for :func:`crop_line`."""
    page = normalize_page(image)
    return page, segment_lines(page)


def crop_line(image: Image.Image, line: TextLine, margin: float = 0.08) -> Image.Image:
    """Cut ``line`` out of ``image`` along its skew, as an ``L`` image (natural polarity,
    paper outside the page filled white). ``margin``: extra room, in line heights."""
    gray = to_grayscale(image)
    x0, _, x1, _ = line.box
    pad = margin * (line.bottom - line.top)
    top, bottom = line.top - pad, line.bottom + pad
    left, right = x0 - pad, x1 + pad
    width, height = max(1, round(right - left)), max(1, round(bottom - top))
    # output (u, w) -> input (x, y): x = left + u, y = top + w + slope * x
    coefficients = (1.0, 0.0, left, line.slope, 1.0, top + line.slope * left)
    return gray.transform(
        (width, height), Image.Transform.AFFINE, coefficients, resample=RESAMPLE, fillcolor=255
    )


# ----------------------------------------------------------------------- line tensors
class LineStripStem(LineStem):
    """Line crop -> ``(1, image_height, w)`` with ``w`` the crop's width at that height,
    rounded UP to a multiple of ``width_multiple`` (at most ``max_width``; longer lines
    shrink to fit). Unlike :class:`LineStem` (one fixed width), short lines stay short:
    a batch is padded only to its longest line, and one line's tensor never depends on
    which other lines share its batch (so batched and single predictions agree).

    >>> stem = LineStripStem(image_height=32, max_width=512, width_multiple=16)
    >>> tuple(stem(Image.new("L", (100, 20), 255)).shape)  # 100 * 32/20 = 160 -> 160
    (1, 32, 160)
    >>> tuple(stem(Image.new("L", (3000, 20), 255)).shape)  # too long: shrinks to 512
    (1, 32, 512)
    """

    def __init__(
        self,
        image_height: int = 32,
        max_width: int = 2048,
        width_multiple: int = 16,
        augment: bool = False,
        augmentation=None,
        normalize: bool = True,
    ) -> None:
        super().__init__(
            image_height, max_width, augment=augment, augmentation=augmentation, normalize=normalize
        )
        self.width_multiple = width_multiple

    def fit(self, image: Image.Image) -> Image.Image:
        scale = fit_scale(*image.size, self.image_width, self.image_height)
        if self.augment:
            scale *= _uniform(*self.augmentation.scale)
        size = scaled_size(*image.size, scale, box=(self.image_width, self.image_height))
        if size != image.size:
            image = image.resize(size, RESAMPLE, reducing_gap=REDUCING_GAP)
        m = self.width_multiple
        width = min(self.image_width, max(m, math.ceil(size[0] / m) * m))
        slack_x, slack_y = width - size[0], self.image_height - size[1]
        x, y = 0, slack_y // 2
        if self.augment:
            x = _jitter(x, slack_x, round(self.augmentation.max_shift * self.image_height))
            y = _jitter(y, slack_y, round(self.augmentation.max_shift * self.image_height))
        canvas = Image.new("L", (width, self.image_height), 0)
        canvas.paste(image, (x, y))
        return canvas

    def config(self) -> dict[str, Any]:
        return {
            "class": type(self).__name__,
            "image_height": self.image_height,
            "max_width": self.image_width,
            "width_multiple": self.width_multiple,
            "normalize": self.normalize,
        }


def pad_batch(tensors: list[torch.Tensor]) -> torch.Tensor:
    """Stack ``(1, H, w_i)`` tensors into ``(B, 1, H, max w_i)``, zero-padded on the right
    (zero = paper after the stem).

    >>> pad_batch([torch.ones(1, 2, 3), torch.ones(1, 2, 5)]).shape
    torch.Size([2, 1, 2, 5])
    """
    width = max(t.shape[-1] for t in tensors)
    out = torch.zeros(len(tensors), *tensors[0].shape[:-1], width)
    for i, t in enumerate(tensors):
        out[i, ..., : t.shape[-1]] = t
    return out


def line_dict(line: TextLine) -> dict[str, Any]:
    """A JSON-friendly view of a line (for records and debugging)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(line).items()}
