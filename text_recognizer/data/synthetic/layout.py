"""Layout and geometry of one sample: text and a writer's style -> ink paths in pixels.

Steps 1-2 of the pipeline in :mod:`.render`: glyphs are placed along a baseline in cap
units, each with its own small random scale, angle and offset; then everything is scaled
so the font's whole writing band fits the image and bent by one smooth
:class:`~.augment.Warp`. The result is a :class:`Scene`, every path's points in
supersampled pixels, ready for :func:`~.raster.rasterize`. A line gets one baseline; a
strip of characters puts each one in its own ``CHAR_SIZE`` square, all at the writer's cap
height and baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from text_recognizer.data.synthetic.augment import sample_warp
from text_recognizer.data.synthetic.glyphs import FontGlyphs, load_glyphs
from text_recognizer.data.synthetic.style import Style

SUPERSAMPLE = 2  # draw at 2x and average down: anti-aliasing
CHAR_SIZE = 28  # EMNIST's image size
_PAD = 1.0  # output pixels kept free above and below the ink
OUTLINE_PEN_FOLLOW = 0.7  # how far an outline font's strokes move toward the writer's pen


@dataclass
class Scene:
    """Everything to rasterize one sample, in supersampled pixels."""

    points: np.ndarray  # (M, 2) float32
    path_ends: np.ndarray  # (K,) end index of each path in points
    holes: np.ndarray  # (K,) outline contours drawn as paper
    glyph_path_ends: np.ndarray  # (G,) end index of each glyph's paths in path_ends
    glyph_chars: np.ndarray  # (G,) index into the text of each drawn glyph
    closed: bool
    pen_px: np.ndarray  # (K,) pen width of each path (stroke fonts)
    cap_px: float
    baseline_y: float
    width: int  # supersampled canvas size
    height: int


def _font_glyphs(style: Style, text: str) -> FontGlyphs:
    fg = load_glyphs(style.font)
    if not set(text) <= fg.glyphs.keys():
        unknown = sorted(set(text) - fg.glyphs.keys())
        raise ValueError(f"characters {unknown} are not in the EMNIST character set")
    return fg


def _layout(text: str, fg: FontGlyphs, style: Style, rng: np.random.Generator):
    """Place glyphs along the baseline, in cap units.

    Each glyph gets its own small random scale, angle and offset (an affine map); the loop
    only does scalar math, and one vectorized step maps all points. Returns the points,
    per-path ends and hole flags, per-glyph path counts, the text index of each glyph, and
    the total advance.
    """
    z = rng.standard_normal((len(text), 5)).tolist()  # jitter draws, one row per character
    jitter = style.glyph_jitter
    x = 0.0
    glyphs, params, glyph_chars = [], [], []
    for i, char in enumerate(text):
        if char == " ":
            x += style.word_spacing * (1.0 + 0.15 * z[i][0])
            continue
        glyph = fg.glyphs[char]
        scale = 1.0 + 1.5 * jitter * z[i][0]
        sx = scale * style.width_scale
        sy = scale * (style.x_height_scale if char.islower() else 1.0)
        angle = math.radians(60.0 * jitter * z[i][1])
        cos, sin = math.cos(angle), math.sin(angle)
        # p' = R (S p - c) + c + offset, rotating about the middle of the glyph's cap box
        cx, cy = 0.5 * glyph.advance * sx, -0.5
        tx = cx - (cos * cx - sin * cy) + x + jitter * z[i][2]
        ty = cy - (sin * cx + cos * cy) + jitter * z[i][3]
        params.append((cos * sx, -sin * sy, tx, sin * sx, cos * sy, ty))
        glyphs.append(glyph)
        glyph_chars.append(i)
        x += glyph.advance * sx + style.char_spacing + 0.5 * jitter * z[i][4]
    if not glyphs:
        return np.zeros((0, 2), np.float32), np.zeros(0, np.int64), np.zeros(0, bool), [], [], x
    counts = [len(g.points) for g in glyphs]
    points = np.concatenate([g.points for g in glyphs])  # (M, 2)
    if fg.closed:  # offset the outlines so strokes get (most of the way) to the pen width
        offset = max(OUTLINE_PEN_FOLLOW * 0.5 * (style.pen_width - fg.stroke), -0.3 * fg.stroke)
        points = points + offset * np.concatenate([g.normals for g in glyphs])
    m = np.repeat(np.asarray(params, dtype=np.float32), counts, axis=0)  # (M, 6) per point
    px, py = points[:, 0], points[:, 1]
    points = np.stack(
        [m[:, 0] * px + m[:, 1] * py + m[:, 2], m[:, 3] * px + m[:, 4] * py + m[:, 5]], axis=1
    )
    offsets = np.cumsum([0, *counts[:-1]])
    path_ends = np.concatenate([g.path_ends + o for g, o in zip(glyphs, offsets.tolist())])
    holes = np.concatenate([g.holes for g in glyphs])
    return points, path_ends, holes, [len(g.path_ends) for g in glyphs], glyph_chars, x


def _writing_band(fg: FontGlyphs, style: Style, canvas_h: float) -> tuple[float, float, float]:
    """Cap height and baseline (px) that fit the font's whole band, ascenders to descenders,
    into ``canvas_h``; plus the vertical room left over."""
    pad = _PAD * SUPERSAMPLE
    stretch = max(1.0, style.x_height_scale)  # lowercase ascenders and descenders grow too
    pen = style.pen_width
    above = fg.ascent * stretch + 0.5 * pen + 2 * style.glyph_jitter
    below = fg.descent * stretch + 0.5 * pen + 2 * style.glyph_jitter
    cap_px = min(style.size * canvas_h, (canvas_h - 2 * pad) / (above + below))
    free = canvas_h - 2 * pad - (above + below) * cap_px
    return cap_px, pad + above * cap_px + style.baseline * free, free


def glyph_point_starts(path_ends: np.ndarray, glyph_path_ends: np.ndarray) -> np.ndarray:
    point_ends = path_ends[glyph_path_ends - 1]
    return np.concatenate([[0], point_ends[:-1]]).astype(np.int64)


def _pen_widths(
    fg: FontGlyphs, style: Style, cap_px: float, n_paths: int, rng: np.random.Generator
) -> np.ndarray:
    """Per-path pen widths (px): the writer's pen, with a little pressure variation."""
    if fg.closed:
        return np.zeros(n_paths, np.float32)
    return (style.pen_width * cap_px * rng.uniform(0.7, 1.3, n_paths)).astype(np.float32)


def line_scene(text: str, style: Style, rng: np.random.Generator, height: int) -> Scene:
    """Layout, scale and warp ``text`` as a line; shift (rarely shrink) it into the image."""
    fg = _font_glyphs(style, text)
    points, path_ends, holes, glyph_paths, glyph_chars, advance = _layout(text, fg, style, rng)
    ss, canvas_h, pad = SUPERSAMPLE, height * SUPERSAMPLE, _PAD * SUPERSAMPLE
    cap_px, baseline_y, free = _writing_band(fg, style, canvas_h)
    points = points * cap_px + np.array([0.0, baseline_y], dtype=np.float32)  # (M, 2) px
    warp = sample_warp(
        style,
        rng,
        cap_px,
        baseline_y,
        center_x=0.5 * advance * cap_px,
        max_drift=max(free, 0.25 * cap_px),
    )
    pen_px = _pen_widths(fg, style, cap_px, len(path_ends), rng)
    radius = 0.5 * style.pen_width * cap_px * 1.15 * (not fg.closed) + ss
    if len(points):
        points = warp(points)
        (x0, y0), (x1, y1) = (points.min(0) - radius).tolist(), (points.max(0) + radius).tolist()
    else:  # nothing but spaces
        x0, y0, x1, y1 = 0.0, baseline_y - cap_px, advance * cap_px, baseline_y
    if y1 - y0 > canvas_h - 2 * pad:  # taller than the image: shrink about the baseline
        factor = (canvas_h - 2 * pad) / (y1 - y0)
        center = np.array([x0, baseline_y], dtype=np.float32)
        points = (points - center) * factor + center
        pen_px, radius, cap_px = pen_px * factor, radius * factor, cap_px * factor
        x1 = x0 + (x1 - x0) * factor
        y0, y1 = baseline_y + (y0 - baseline_y) * factor, baseline_y + (y1 - baseline_y) * factor
    dy = max(0.0, pad - y0) - max(0.0, y1 - (canvas_h - pad))
    margin = style.margin * cap_px
    points = points + np.array([margin - x0, dy], dtype=np.float32)
    width = max(1, int(math.ceil((x1 - x0 + 2 * margin) / ss))) * ss
    return Scene(
        points,
        path_ends,
        holes,
        np.cumsum(glyph_paths, dtype=np.int64),
        np.asarray(glyph_chars, dtype=np.int64),
        fg.closed,
        pen_px,
        cap_px,
        baseline_y + dy,
        width,
        canvas_h,
    )


def strip_scene(chars: str, style: Style, rng: np.random.Generator) -> Scene:
    """Characters of one writer, each centered in its own CHAR_SIZE square slot.

    All share the writer's cap height and baseline, so size and vertical position carry
    information (x vs X, p vs P). A glyph too big for its slot is shrunk on its own.
    """
    fg = _font_glyphs(style, chars)
    points, path_ends, holes, glyph_paths, glyph_chars, advance = _layout(chars, fg, style, rng)
    ss, slot, pad = SUPERSAMPLE, CHAR_SIZE * SUPERSAMPLE, _PAD * SUPERSAMPLE
    # The cap height is the writer's, whatever the font's ascenders and descenders: then
    # case is readable from size alone. The font's typical band is centered; the few glyphs
    # that stick out of the square get shrunk on their own below.
    stretch = max(1.0, style.x_height_scale)
    cap_px = style.size * slot
    above, below = fg.ascent * stretch, fg.descent * stretch
    baseline_y = 0.5 * slot + 0.5 * (above - below) * cap_px + (style.baseline - 0.5) * 2 * ss
    points = points * cap_px + np.array([0.0, baseline_y], dtype=np.float32)
    # No drift: a tilted or wavy baseline would move characters up or down slot by slot.
    warp = sample_warp(style, rng, cap_px, baseline_y, center_x=0.0, max_drift=0.0)
    pen_px = _pen_widths(fg, style, cap_px, len(path_ends), rng)
    glyph_path_ends = np.cumsum(glyph_paths, dtype=np.int64)
    if len(points):
        points = warp(points)
        starts = glyph_point_starts(path_ends, glyph_path_ends)
        counts = np.diff(np.append(starts, len(points)))
        radius = (0.5 * pen_px.max() if len(pen_px) and not fg.closed else 0.0) + ss
        low = np.minimum.reduceat(points, starts) - radius  # (G, 2) ink box per glyph
        high = np.maximum.reduceat(points, starts) + radius
        extent = np.maximum(high - low, 1e-3)
        factor = np.minimum(1.0, (slot - 2 * pad) / extent).min(1)  # (G,)
        center_x = 0.5 * (low[:, 0] + high[:, 0])
        top = baseline_y + (low[:, 1] - baseline_y) * factor
        bottom = baseline_y + (high[:, 1] - baseline_y) * factor
        dy = np.maximum(0.0, pad - top) - np.maximum(0.0, bottom - (slot - pad))
        target_x = slot * (np.asarray(glyph_chars) + 0.5) + rng.uniform(-ss, ss, len(counts))
        f, cx, ty, tx = (
            np.repeat(v.astype(np.float32), counts) for v in (factor, center_x, dy, target_x)
        )
        points = np.stack(
            [(points[:, 0] - cx) * f + tx, (points[:, 1] - baseline_y) * f + baseline_y + ty],
            axis=1,
        )
        pen_px = pen_px * np.repeat(factor, glyph_paths).astype(np.float32)
    return Scene(
        points,
        path_ends,
        holes,
        glyph_path_ends,
        np.asarray(glyph_chars, dtype=np.int64),
        fg.closed,
        pen_px,
        cap_px,
        baseline_y,
        max(1, len(chars)) * slot,
        slot,
    )
