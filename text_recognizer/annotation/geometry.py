"""Rotated-rectangle geometry for line annotations, in pixels of the page image.

A line is a rectangle ``(x, y, width, height, rotation)``: ``(x, y)`` its top-left corner,
``rotation`` in degrees, clockwise on screen, about that corner (Label Studio's convention;
Label Studio itself stores PERCENT of the image size). This module converts between the two
(:func:`percent_to_pixels`, :func:`pixels_to_percent`), measures overlap (:func:`rect_iou`,
:func:`inside_fraction`, by polygon clipping) and cuts a line out upright (:func:`crop_rect`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

Rect = tuple[float, float, float, float, float]  # x, y, width, height, rotation; pixels


def rect_corners(rect: Sequence[float]) -> np.ndarray:
    """Corners ``(4, 2)`` of a rotated rectangle ``(x, y, width, height, rotation)``, in
    order top-left, top-right, bottom-right, bottom-left (before rotation). ``rotation`` is
    in degrees, clockwise on screen (y points down), about the top-left corner.

    >>> rect_corners((10, 20, 4, 2, 0)).tolist()
    [[10.0, 20.0], [14.0, 20.0], [14.0, 22.0], [10.0, 22.0]]
    >>> np.round(rect_corners((10, 20, 4, 2, 90)), 6).tolist()
    [[10.0, 20.0], [10.0, 24.0], [8.0, 24.0], [8.0, 20.0]]
    """
    x, y, width, height, rotation = (float(v) for v in rect)
    angle = math.radians(rotation)
    ux = np.array([math.cos(angle), math.sin(angle)])  # the rectangle's x axis on the page
    uy = np.array([-math.sin(angle), math.cos(angle)])  # its y axis
    origin = np.array([x, y])
    return np.stack(
        [origin, origin + width * ux, origin + width * ux + height * uy, origin + height * uy]
    )


def bounding_box(corners: np.ndarray) -> tuple[int, int, int, int]:
    """Integer ``(x0, y0, x1, y1)`` containing all points (x1/y1 exclusive).

    >>> bounding_box(np.array([[1.5, 2.0], [4.2, 3.0]]))
    (1, 2, 5, 3)
    """
    (x0, y0), (x1, y1) = np.floor(corners.min(0)), np.ceil(corners.max(0))
    return int(x0), int(y0), int(x1), int(y1)


def percent_to_pixels(value: dict[str, Any], width: int, height: int) -> Rect:
    """Label Studio's percent rectangle -> pixels ``(x, y, width, height, rotation)``.

    >>> percent_to_pixels({"x": 10, "y": 50, "width": 25, "height": 5, "rotation": 30}, 800, 600)
    (80.0, 300.0, 200.0, 30.0, 30.0)
    """
    return (
        float(value["x"]) * width / 100.0,
        float(value["y"]) * height / 100.0,
        float(value["width"]) * width / 100.0,
        float(value["height"]) * height / 100.0,
        float(value.get("rotation") or 0.0),
    )


def pixels_to_percent(rect: Sequence[float], width: int, height: int) -> dict[str, float]:
    """The inverse of :func:`percent_to_pixels`: a Label Studio ``value`` dict.

    >>> pixels_to_percent((80, 300, 200, 30, 30), 800, 600)
    {'x': 10.0, 'y': 50.0, 'width': 25.0, 'height': 5.0, 'rotation': 30.0}
    """
    x, y, w, h, rotation = (float(v) for v in rect)
    return {
        "x": 100.0 * x / width,
        "y": 100.0 * y / height,
        "width": 100.0 * w / width,
        "height": 100.0 * h / height,
        "rotation": rotation,
    }


def polygon_area(points: np.ndarray) -> float:
    """Area of a simple polygon ``(N, 2)`` (shoelace formula).

    >>> polygon_area(np.array([[0, 0], [4, 0], [4, 2], [0, 2]]))
    8.0
    """
    if len(points) < 3:
        return 0.0
    x, y = points[:, 0], points[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def clip_polygon(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Intersection of polygon ``subject`` with CONVEX polygon ``clip`` (Sutherland-Hodgman).

    >>> square = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], float)
    >>> polygon_area(clip_polygon(square, square + 1))
    1.0
    """
    clip = clip if _signed_area(clip) > 0 else clip[::-1]  # counter-clockwise (y up) order
    output = [tuple(p) for p in subject]
    for (ax, ay), (bx, by) in zip(clip, np.roll(clip, -1, axis=0)):
        if not output:
            break
        points, output = output, []

        def inside(p, ax=ax, ay=ay, bx=bx, by=by):
            return (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax) >= 0

        def intersect(p, q, ax=ax, ay=ay, bx=bx, by=by):
            dx, dy = q[0] - p[0], q[1] - p[1]
            denominator = (bx - ax) * dy - (by - ay) * dx
            t = ((bx - ax) * (ay - p[1]) - (by - ay) * (ax - p[0])) / denominator
            return (p[0] + t * dx, p[1] + t * dy)

        for k, current in enumerate(points):
            previous = points[k - 1]
            if inside(current):
                if not inside(previous):
                    output.append(intersect(previous, current))
                output.append(current)
            elif inside(previous):
                output.append(intersect(previous, current))
    return np.array(output, dtype=float).reshape(-1, 2)


def _signed_area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0


def rect_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two rotated rectangles ``(x, y, width, height, rotation)``.

    >>> rect_iou((0, 0, 10, 10, 0), (5, 0, 10, 10, 0))
    0.3333333333333333
    >>> round(rect_iou((5, 5, 10, 4, 90), (5, 5, 10, 4, 90)), 6)
    1.0
    """
    pa, pb = rect_corners(a), rect_corners(b)
    inter = polygon_area(clip_polygon(pa, pb))
    union = polygon_area(pa) + polygon_area(pb) - inter
    return inter / union if union > 0 else 0.0


def inside_fraction(rect: Sequence[float], width: int, height: int) -> float:
    """The fraction of a rotated rectangle's area that lies inside a ``width x height`` image.

    >>> inside_fraction((-5, 0, 10, 10, 0), 100, 100)
    0.5
    """
    corners = rect_corners(rect)
    area = polygon_area(corners)
    if area == 0:
        return 0.0
    image = np.array([[0, 0], [width, 0], [width, height], [0, height]], float)
    return polygon_area(clip_polygon(corners, image)) / area


def crop_rect(image: Image.Image, rect: Sequence[float], fill: int = 255) -> Image.Image:
    """Cut the rotated rectangle ``rect`` (pixels) out of ``image``, upright: the crop's x
    axis runs along the rectangle's top edge. Outside the image is paper (``fill``).

    >>> page = Image.new("L", (20, 10), 255); page.paste(0, (4, 2, 8, 4))
    >>> crop_rect(page, (4, 2, 4, 2, 0)).getextrema()
    (0, 0)
    """
    x, y, width, height, rotation = (float(v) for v in rect)
    size = (max(1, round(width)), max(1, round(height)))
    cos, sin = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    # output pixel (u, v) <- page point (x, y) + u * (cos, sin) + v * (-sin, cos)
    return image.transform(
        size,
        Image.Transform.AFFINE,
        (cos, -sin, x, sin, cos, y),
        resample=Image.Resampling.BICUBIC,
        fillcolor=fill,
    )
