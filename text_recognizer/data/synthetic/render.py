"""Render text as synthetic handwriting: lines (natural polarity) and EMNIST-like characters.

The pipeline for one sample, all seeded by one ``np.random.Generator``:

1. *layout* (cap units): glyph paths are placed along a baseline, each with its own small
   random offset, scale and angle; lowercase letters get the writer's x-height stretch.
2. *geometry* (pixels): scale to the image so the font's whole writing band (ascenders to
   descenders) fits, then apply one smooth :class:`~.augment.Warp` to every point.
3. *raster*: PIL draws pen strokes / fills outlines at ``SUPERSAMPLE``x resolution;
   ``Image.reduce`` averages that down, which anti-aliases for free.
4. *photometry*: blur, ink density, paper texture and noise (:func:`~.augment.compose`).

Characters are rendered the way they sit in a line: the cap height, x-height and baseline
come from the font and the writer, not from the character, so "o" is smaller than "O" and
"p" hangs below the baseline (unlike EMNIST, which rescales every character to its box).
"""

from __future__ import annotations

import math
import multiprocessing
import sys
from collections.abc import Callable, Sequence, Sized
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw

from text_recognizer.data.synthetic.augment import compose, sample_warp
from text_recognizer.data.synthetic.fonts import (
    FontGlyphs,
    FontSpec,
    install_glyphs,
    list_fonts,
    load_glyphs,
)
from text_recognizer.data.synthetic.style import Style, sample_style

SUPERSAMPLE = 2  # draw at 2x and average down: anti-aliasing
CHAR_SIZE = 28  # EMNIST's image size
CHUNK_SIZE = 256  # characters per seeded chunk: output does not depend on the worker count
LINE_CHUNK_SIZE = 32  # lines per seeded chunk
STRIP_SIZE = 16  # characters rendered together by one writer
MAX_CHAR_X_HEIGHT = 0.62  # in caps: keeps "o" clearly smaller than "O" in every font
_PAD = 1.0  # output pixels kept free above and below the ink
OUTLINE_PEN_FOLLOW = 0.7  # how far an outline font's strokes move toward the writer's pen
Box = tuple[int, int, int, int]


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Accept a Generator (used as is: the caller's stream advances) or a seed.

    >>> int(as_rng(3).integers(100)) == int(as_rng(3).integers(100))
    True
    """
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


@dataclass
class _Scene:
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


def _glyph_point_starts(path_ends: np.ndarray, glyph_path_ends: np.ndarray) -> np.ndarray:
    point_ends = path_ends[glyph_path_ends - 1]
    return np.concatenate([[0], point_ends[:-1]]).astype(np.int64)


def _pen_widths(
    fg: FontGlyphs, style: Style, cap_px: float, n_paths: int, rng: np.random.Generator
) -> np.ndarray:
    """Per-path pen widths (px): the writer's pen, with a little pressure variation."""
    if fg.closed:
        return np.zeros(n_paths, np.float32)
    return (style.pen_width * cap_px * rng.uniform(0.7, 1.3, n_paths)).astype(np.float32)


def _line_scene(text: str, style: Style, rng: np.random.Generator, height: int) -> _Scene:
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
    return _Scene(
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


def _strip_scene(chars: str, style: Style, rng: np.random.Generator) -> _Scene:
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
        starts = _glyph_point_starts(path_ends, glyph_path_ends)
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
    return _Scene(
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


def _font_glyphs(style: Style, text: str) -> FontGlyphs:
    fg = load_glyphs(style.font)
    if not set(text) <= fg.glyphs.keys():
        unknown = sorted(set(text) - fg.glyphs.keys())
        raise ValueError(f"characters {unknown} are not in the EMNIST character set")
    return fg


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


def _rasterize(scene: _Scene) -> Image.Image:
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


def _char_boxes(scene: _Scene, text: str, width: int, height: int) -> list[Box]:
    """Per-character (x0, y0, x1, y1) boxes in output pixels (spaces: the gap, cap tall)."""
    ss = SUPERSAMPLE
    boxes: list[Box | None] = [None] * len(text)
    radius = 0.5 * float(scene.pen_px.max()) if len(scene.pen_px) else 0.0
    if len(scene.glyph_chars):
        starts = _glyph_point_starts(scene.path_ends, scene.glyph_path_ends)
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
    scene = _line_scene(text, style, rng, height)
    coverage = np.asarray(_rasterize(scene))
    height, width = coverage.shape
    boxes = _char_boxes(scene, text, width, height)
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
    scene = _strip_scene(chars, style, rng)
    page = 255 - compose(_rasterize(scene), style, rng, scene.cap_px / SUPERSAMPLE)  # (28, n*28)
    return page.reshape(CHAR_SIZE, len(chars), CHAR_SIZE).transpose(1, 0, 2)


def _render_chunk(job: tuple[Sequence[str], int, int, tuple[FontSpec, ...]]) -> np.ndarray:
    """One seeded chunk: writers take turns, ``STRIP_SIZE`` characters each."""
    chars, seed, chunk_index, fonts = job
    rng = np.random.default_rng([seed, chunk_index])
    strips = ["".join(chars[i : i + STRIP_SIZE]) for i in range(0, len(chars), STRIP_SIZE)]
    return np.concatenate([render_strip(strip, rng, fonts=fonts) for strip in strips])


def render_pool(num_workers: int, fonts: Sequence[FontSpec]) -> ProcessPoolExecutor:
    """Worker processes that render chunks.

    On Linux they are forked: they start in milliseconds and inherit the parsed glyphs.
    (They never touch PyTorch or OpenMP, the usual trouble with forking.) Elsewhere they are
    spawned, which re-imports the calling script, and receive the glyphs from the parent
    so no worker parses a font file again.
    """
    glyphs = {font: load_glyphs(font) for font in fonts}
    if sys.platform == "linux":
        return ProcessPoolExecutor(num_workers, mp_context=multiprocessing.get_context("fork"))
    return ProcessPoolExecutor(
        num_workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=install_glyphs,
        initargs=(glyphs,),
    )


def render_characters(
    chars: Sequence[str],
    seed: int,
    fonts: Sequence[FontSpec] | None = None,
    *,
    num_workers: int = 1,
    progress: bool = False,
    desc: str = "rendering characters",
) -> np.ndarray:
    """Render each of ``chars`` as a (28, 28) uint8 image, EMNIST polarity: (N, 28, 28).

    Deterministic in ``seed`` (and the fonts): characters are rendered in chunks of
    ``CHUNK_SIZE``, each with its own seeded generator, so the bytes do not depend on
    ``num_workers``. Within a chunk, each run of ``STRIP_SIZE`` characters shares a writer.

    >>> a = render_characters("aA", seed=0)
    >>> a.shape, a.dtype, bool((a == render_characters("aA", seed=0)).all())
    ((2, 28, 28), dtype('uint8'), True)
    """
    fonts = tuple(list_fonts() if fonts is None else fonts)
    chars = list(chars)
    jobs = [
        (chars[start : start + CHUNK_SIZE], seed, k, fonts)
        for k, start in enumerate(range(0, len(chars), CHUNK_SIZE))
    ]

    chunks = run_chunks(
        _render_chunk, jobs, fonts, num_workers, progress=progress, desc=desc, total=len(chars)
    )
    if not chunks:
        return np.zeros((0, CHAR_SIZE, CHAR_SIZE), dtype=np.uint8)
    return np.concatenate(chunks)


def run_chunks(
    function: Callable[[tuple], Sized],
    jobs: list[tuple],
    fonts: Sequence[FontSpec],
    num_workers: int,
    *,
    progress: bool = False,
    desc: str = "rendering",
    total: int | None = None,
    unit: str = "img",
) -> list:
    """The one rendering runner: ``function`` over ``jobs``, in order, in :func:`render_pool`
    worker processes when ``num_workers > 1``; a tqdm bar counts samples (``len`` of each
    chunk's result). Returns the chunks' results in job order (so seeded output does not
    depend on ``num_workers``)."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, unit=unit)
    results = []
    if num_workers > 1 and len(jobs) > 1:
        with render_pool(min(num_workers, len(jobs)), fonts) as pool:
            for chunk in pool.map(function, jobs):
                results.append(chunk)
                if bar is not None:
                    bar.update(len(chunk))
    else:
        for job in jobs:
            results.append(function(job))
            if bar is not None:
                bar.update(len(results[-1]))
    if bar is not None:
        bar.close()
    return results


def _render_line_chunk(job) -> list:
    texts, seed, chunk_index, fonts, height, return_boxes = job
    rng = np.random.default_rng([seed, chunk_index])
    return [
        render_line(text, rng, height=height, fonts=fonts, return_boxes=return_boxes)
        for text in texts
    ]


def render_lines(
    texts: Sequence[str],
    seed: int,
    *,
    height: int = 64,
    fonts: Sequence[FontSpec] | None = None,
    num_workers: int = 1,
    progress: bool = False,
    return_boxes: bool = False,
    desc: str = "rendering lines",
) -> list:
    """:func:`render_line` for many texts, each by a random writer; in parallel if asked.

    Deterministic in ``seed``: lines are rendered in seeded chunks of ``LINE_CHUNK_SIZE``,
    so the output does not depend on ``num_workers``. Returns images (or (image, boxes)
    pairs with ``return_boxes``), in the order of ``texts``.

    >>> a, b = render_lines(["one", "two"], seed=1, height=32), render_lines(["one", "two"], seed=1, height=32)
    >>> [im.tobytes() for im in a] == [im.tobytes() for im in b]
    True
    """
    fonts = tuple(list_fonts() if fonts is None else fonts)
    texts = list(texts)
    jobs = [
        (texts[start : start + LINE_CHUNK_SIZE], seed, k, fonts, height, return_boxes)
        for k, start in enumerate(range(0, len(texts), LINE_CHUNK_SIZE))
    ]
    chunks = run_chunks(
        _render_line_chunk,
        jobs,
        fonts,
        num_workers,
        progress=progress,
        desc=desc,
        total=len(texts),
        unit="line",
    )
    return [line for chunk in chunks for line in chunk]
