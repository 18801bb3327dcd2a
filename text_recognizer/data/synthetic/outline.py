"""Outline geometry: curves flattened to polylines, and which contours are holes.

An outline font (TTF/OTF) draws a glyph as closed contours of line and Bezier segments;
:func:`flatten_glyph` turns them into polylines, and :func:`contour_roles` says which of
them bound counters (the holes of "o", "e", "B") under the non-zero fill rule, and which way
is "off the ink" at every point. Both the font quality check (:mod:`.fonts`) and the glyph
loader (:mod:`.glyphs`) use them.
"""

from __future__ import annotations

import math

import numpy as np

FLATTEN_STEPS_PER_CAP = 10.0  # curve segments per cap height of curve length


def signed_area(contour: np.ndarray) -> float:
    """Shoelace area: the sign gives the contour's orientation.

    >>> signed_area(np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float))
    1.0
    """
    x, y = contour[:, 0], contour[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def winding(contour: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Winding number of a closed contour around each of (n, 2) points.

    >>> square = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], float)
    >>> winding(square, np.array([[1.0, 1.0], [3.0, 1.0]])).tolist()
    [1, 0]
    """
    a, b = contour, np.roll(contour, -1, axis=0)  # (m, 2) edges a -> b
    px, py = points[:, 0:1], points[:, 1:2]  # (n, 1)
    cross = (b[:, 0] - a[:, 0]) * (py - a[:, 1]) - (px - a[:, 0]) * (b[:, 1] - a[:, 1])  # (n, m)
    up = (a[:, 1] <= py) & (b[:, 1] > py) & (cross > 0)
    down = (a[:, 1] > py) & (b[:, 1] <= py) & (cross < 0)
    return up.sum(1) - down.sum(1)


def contour_roles(contours: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Which contours are holes (non-zero fill rule), and their normals pointing off the ink.

    A contour bounds a hole when the other contours wind around it (it lies inside ink) and
    its own winding cancels theirs, so the region it encloses is empty. Deciding per contour
    keeps fonts with inconsistent contour directions working.
    """
    holes, normals = [], []
    for index, contour in enumerate(contours):
        own = 1 if signed_area(contour) > 0 else -1  # the orientation of this contour
        is_hole = False
        if len(contours) > 1:
            probes = contour[:: max(1, len(contour) // 5)]  # a few of its own vertices
            others = sum(winding(c, probes) for j, c in enumerate(contours) if j != index)
            is_hole = bool(np.median(others) != 0 and np.median(others + own) == 0)
        tangent = np.roll(contour, -1, axis=0) - np.roll(contour, 1, axis=0)
        exterior = own * np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)  # out of the contour
        exterior /= np.maximum(np.linalg.norm(exterior, axis=1, keepdims=True), 1e-9)
        holes.append(is_hole)
        normals.append(-exterior if is_hole else exterior)
    return np.array(holes, dtype=bool), np.concatenate(normals)


class FlattenPen:
    """A fontTools pen that flattens quadratic/cubic curves into closed polylines.

    Plain Python on purpose: a font has ~30k tiny curve segments, where NumPy's per-call
    overhead would dominate.
    """

    def __init__(self, glyph_set, steps_per_unit: float) -> None:
        from fontTools.pens.basePen import BasePen

        outer = self

        class Pen(BasePen):
            def _moveTo(self, pt):
                outer._close()
                outer.current = [pt]

            def _lineTo(self, pt):
                outer.current.append(pt)

            def _curveToOne(self, p1, p2, p3):
                (x0, y0), (x1, y1), (x2, y2), (x3, y3) = self._getCurrentPoint(), p1, p2, p3
                n = outer._steps(math.dist((x0, y0), p1) + math.dist(p1, p2) + math.dist(p2, p3))
                for i in range(1, n + 1):
                    t = i / n
                    a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3
                    outer.current.append(
                        (a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3)
                    )

            def _qCurveToOne(self, p1, p2):
                (x0, y0), (x1, y1), (x2, y2) = self._getCurrentPoint(), p1, p2
                n = outer._steps(math.dist((x0, y0), p1) + math.dist(p1, p2))
                for i in range(1, n + 1):
                    t = i / n
                    a, b, c = (1 - t) ** 2, 2 * (1 - t) * t, t**2
                    outer.current.append((a * x0 + b * x1 + c * x2, a * y0 + b * y1 + c * y2))

            def _closePath(self):
                outer._close()

            def _endPath(self):
                outer._close()

        self.pen = Pen(glyph_set)
        self.steps_per_unit = steps_per_unit
        self.contours: list[np.ndarray] = []
        self.current: list = []

    def _steps(self, length: float) -> int:
        return min(max(math.ceil(length * self.steps_per_unit), 1), 16)

    def _close(self) -> None:
        if len(self.current) >= 3:
            self.contours.append(np.array(self.current, dtype=np.float64))
        self.current = []


def flatten_glyph(glyph_set, name: str, steps_per_unit: float) -> list[np.ndarray]:
    """The contours of glyph ``name`` as closed (n, 2) float64 polylines, in font units
    (y up), with about ``steps_per_unit`` curve segments per font unit of curve length."""
    flatten = FlattenPen(glyph_set, steps_per_unit)
    glyph_set[name].draw(flatten.pen)
    flatten._close()
    return flatten.contours
