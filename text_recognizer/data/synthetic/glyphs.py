"""Glyphs: every font, stroke or outline, as 2-D paths in cap units.

Per character, a font becomes a set of paths in *cap units* (cap height = 1, baseline at
y = 0, y pointing down, the glyph's left side at x = 0) plus an advance width. Stroke fonts
(Hershey) give open polylines that are drawn with a pen; outline fonts (TTF/OTF) give closed
contours that are filled, with the contours that bound counters (the holes of "o", "e", "B")
marked so they are cut out again. Working in vectors means every geometric variation
(slant, wobble, elastic distortion) is a cheap NumPy transform of a few hundred points
instead of a warp of a whole image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from text_recognizer.data.synthetic.fonts import FontSpec
from text_recognizer.data.synthetic.outline import (
    FLATTEN_STEPS_PER_CAP,
    contour_roles,
    flatten_glyph,
    signed_area,
)
from text_recognizer.metadata.emnist import CHARSET

_CAP_REFERENCE_CHAR = "H"


@dataclass(frozen=True)
class Glyph:
    """One character in cap units, as flat arrays so a whole line transforms in one go.

    ``points`` (m, 2) holds every path's (x, y) points back to back (y down, baseline 0);
    path ``i`` is ``points[path_ends[i-1]:path_ends[i]]``. For outline fonts, ``normals``
    are unit vectors pointing away from the ink (moving points along them makes strokes
    bolder) and ``holes`` marks the contours that cut counters out of the ink.
    """

    points: np.ndarray  # (m, 2) float32
    normals: np.ndarray  # (m, 2) float32, zeros for stroke fonts
    path_ends: np.ndarray  # (k,) int64
    holes: np.ndarray  # (k,) bool
    advance: float
    bbox: tuple[float, float, float, float]  # (x0, y0, x1, y1) of the ink

    @property
    def paths(self) -> list[np.ndarray]:
        return np.split(self.points, self.path_ends[:-1]) if len(self.points) else []


@dataclass(frozen=True)
class FontGlyphs:
    """All glyphs of a font plus the vertical metrics the renderer needs (cap units)."""

    font: FontSpec
    glyphs: dict[str, Glyph]
    closed: bool  # True: filled outlines (TTF); False: pen strokes (Hershey)
    ascent: float  # typical top of tall letters and digits above the baseline (>= 1)
    descent: float  # typical bottom of descenders (g, j, p, q, y) below the baseline
    x_height: float
    stroke: float  # typical stroke thickness of an outline font (0 for stroke fonts)


def _finish(
    font: FontSpec, raw: dict[str, tuple[list[np.ndarray], float]], closed: bool
) -> FontGlyphs:
    """Normalize raw glyphs (font units, y down, baseline 0) to cap units and measure them."""
    cap_paths, _ = raw[_CAP_REFERENCE_CHAR]
    cap = -min(float(p[:, 1].min()) for p in cap_paths)
    glyphs: dict[str, Glyph] = {}
    for char, (paths, advance) in raw.items():
        paths = [p / cap for p in paths if len(p)]
        if paths:
            points = np.concatenate(paths).astype(np.float32)
            bbox = (*points.min(0).tolist(), *points.max(0).tolist())
        else:
            points, bbox = np.zeros((0, 2), np.float32), (0.0, 0.0, 0.0, 0.0)
        if closed and paths:
            holes, normals = contour_roles(paths)
        else:
            normals, holes = np.zeros_like(points), np.zeros(len(paths), bool)
        glyphs[char] = Glyph(
            points=points,
            normals=normals.astype(np.float32),
            path_ends=np.cumsum([len(p) for p in paths], dtype=np.int64),
            holes=holes,
            advance=advance / cap,
            bbox=tuple(bbox),
        )
    # The writing band: typical, not extreme, so one loopy glyph does not shrink a whole
    # font (the renderer shrinks the rare glyph or line that would not fit).
    tops = [-g.bbox[1] for c, g in glyphs.items() if c.isalnum()]
    bottoms = [glyphs[c].bbox[3] for c in "gjpqy"]
    x_height = -float(np.median([glyphs[c].bbox[1] for c in "xuvz"]))
    stroke = 0.0
    if closed:  # a stroke of width w and length L has area w * L and perimeter ~ 2 L
        widths = []
        for char in "abcdefghijklmnopqrstuvwxyz":
            glyph = glyphs[char]
            contours = np.split(glyph.points, glyph.path_ends[:-1])
            area = sum(
                abs(signed_area(c)) * (-1 if hole else 1) for c, hole in zip(contours, glyph.holes)
            )
            perimeter = sum(
                np.linalg.norm(c - np.roll(c, 1, axis=0), axis=1).sum() for c in contours
            )
            widths.append(2 * area / max(perimeter, 1e-6))
        stroke = float(np.median(widths))
    return FontGlyphs(
        font=font,
        glyphs=glyphs,
        closed=closed,
        ascent=max(1.0, float(np.percentile(tops, 90))),
        descent=max(0.0, float(np.median(bottoms))),
        x_height=x_height,
        stroke=stroke,
    )


def _load_hershey(font: FontSpec) -> FontGlyphs:
    from HersheyFonts import HersheyFonts

    hershey = HersheyFonts()
    hershey.load_default_font(font.source)
    glyphs = hershey.all_glyphs
    raw = {}
    for char in CHARSET:
        glyph = glyphs[char]
        baseline = glyph.base_line
        paths = [
            np.array(s, dtype=np.float64) - (glyph.left_offset, baseline) for s in glyph.strokes
        ]
        raw[char] = (paths, float(glyph.char_width))
    return _finish(font, raw, closed=False)


def _load_outline(font: FontSpec) -> FontGlyphs:
    from fontTools.pens.boundsPen import BoundsPen
    from fontTools.ttLib import TTFont

    tt = TTFont(font.source, fontNumber=0)
    glyph_set, cmap = tt.getGlyphSet(), tt.getBestCmap()
    pen = BoundsPen(glyph_set)
    glyph_set[cmap[ord(_CAP_REFERENCE_CHAR)]].draw(pen)
    cap_units = pen.bounds[3]
    raw = {}
    for char in CHARSET:
        name = cmap[ord(char)]
        contours = flatten_glyph(glyph_set, name, FLATTEN_STEPS_PER_CAP / cap_units)
        paths = [c * (1.0, -1.0) for c in contours]  # font y points up; ours down
        raw[char] = (paths, float(glyph_set[name].width))
    return _finish(font, raw, closed=True)


_GLYPH_CACHE: dict[FontSpec, FontGlyphs] = {}


def install_glyphs(glyphs: dict[FontSpec, FontGlyphs]) -> None:
    """Fill this process's glyph cache (worker processes get their parent's glyphs this
    way instead of parsing every font file again)."""
    _GLYPH_CACHE.update(glyphs)


def load_glyphs(font: FontSpec) -> FontGlyphs:
    """Glyph paths of every CHARSET character of ``font``, cached per process.

    >>> from text_recognizer.data.synthetic.fonts import list_fonts
    >>> g = load_glyphs(list_fonts(include=["hershey:futural"])[0])
    >>> g.closed, round(-g.glyphs["H"].bbox[1], 3), g.glyphs["x"].bbox[1] > -0.8
    (False, 1.0, True)
    """
    if font not in _GLYPH_CACHE:
        _GLYPH_CACHE[font] = _load_hershey(font) if font.kind == "hershey" else _load_outline(font)
    return _GLYPH_CACHE[font]
