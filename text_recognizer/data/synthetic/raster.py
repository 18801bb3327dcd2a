"""Rasterization: a :class:`~.layout.Scene` -> ink coverage, plus per-character boxes.

Step 3 of the pipeline in :mod:`.render`: PIL draws pen strokes (stroke fonts, with round
caps and joins where a wide pen would leave notches) or fills outlines and cuts their holes
out again (outline fonts), at ``SUPERSAMPLE``x resolution; ``Image.reduce`` averages that
down, which anti-aliases for free.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from text_recognizer.data.synthetic.layout import SUPERSAMPLE, Scene, glyph_point_starts

Box = tuple[int, int, int, int]


def _round_dots(points: np.ndarray, path_ends: np.ndarray) -> np.ndarray:
    """Indices of path ends and sharp corners, where a wide PIL line needs a round cap."""
    n = len(points)
    starts = np.concatenate([[0], path_ends[:-1]])
    is_end = np.zeros(n, bool)
    is_end[starts] = True
    is_end[path_ends - 1] = True
    incoming = points - np.roll(points, 1, axis=0)  # (n, 2)
    outgoing = np.roll(points, -1, axis=0) - points
    dot = np.sum(incoming * outgoing, axis=1)
    norms = np.linalg.norm(incoming, axis=1) * np.linalg.norm(outgoing, axis=1) + 1e-6
    sharp = dot / norms < 0.5  # turns of more than 60 degrees
    return np.flatnonzero(is_end | sharp)


def rasterize(scene: Scene) -> Image.Image:
    """Draw the scene at supersampled size; returns coverage ("L") at output size."""
    canvas = Image.new("L", (scene.width, scene.height), 0)
    draw = ImageDraw.Draw(canvas)
    ends = scene.path_ends.tolist()
    paths = [scene.points[a:b] for a, b in zip([0, *ends[:-1]], ends)]
    if scene.closed:
        start = 0
        for end in scene.glyph_path_ends:  # per glyph: fills first, then cut out the holes
            for index in sorted(range(start, end), key=lambda k: scene.holes[k]):
                if len(paths[index]) >= 3:
                    draw.polygon(
                        paths[index].ravel().tolist(), fill=0 if scene.holes[index] else 255
                    )
            start = end
    elif paths:
        widths = np.maximum(1, np.rint(scene.pen_px)).astype(int).tolist()
        for path, width in zip(paths, widths):
            if len(path) == 1:
                x, y = path[0].tolist()
                r = max(width / 2, 0.5)
                draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
            else:
                draw.line(path.ravel().tolist(), fill=255, width=width)
        # round caps and joins where a wide pen would leave notches
        dots = _round_dots(scene.points, scene.path_ends)
        path_of_point = np.repeat(np.arange(len(paths)), np.diff([0, *ends]))
        radii = 0.5 * scene.pen_px[path_of_point[dots]]
        for (x, y), r in zip(scene.points[dots].tolist(), radii.tolist()):
            if r >= 1.25:
                draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return canvas.reduce(SUPERSAMPLE)


def char_boxes(scene: Scene, text: str, width: int, height: int) -> list[Box]:
    """Per-character (x0, y0, x1, y1) boxes in output pixels (spaces: the gap, cap tall)."""
    ss = SUPERSAMPLE
    boxes: list[Box | None] = [None] * len(text)
    radius = 0.5 * float(scene.pen_px.max()) if len(scene.pen_px) else 0.0
    if len(scene.glyph_chars):
        starts = glyph_point_starts(scene.path_ends, scene.glyph_path_ends)
        low = (np.minimum.reduceat(scene.points, starts) - radius) / ss  # (G, 2)
        high = (np.maximum.reduceat(scene.points, starts) + radius) / ss
        for char_index, lo, hi in zip(scene.glyph_chars.tolist(), low.tolist(), high.tolist()):
            boxes[char_index] = (
                max(0, int(math.floor(lo[0]))),
                max(0, int(math.floor(lo[1]))),
                min(width, int(math.ceil(hi[0]))),
                min(height, int(math.ceil(hi[1]))),
            )
    top = max(0, int((scene.baseline_y - scene.cap_px) / ss))
    bottom = min(height, int(math.ceil(scene.baseline_y / ss)))
    for i, box in enumerate(boxes):
        if box is None:  # a space: from the previous glyph's right to the next one's left
            left = next((b[2] for b in reversed(boxes[:i]) if b is not None), 0)
            right = next((b[0] for b in boxes[i + 1 :] if b is not None), width)
            boxes[i] = (min(left, right), top, max(left, right), bottom)
    return boxes  # type: ignore[return-value]
