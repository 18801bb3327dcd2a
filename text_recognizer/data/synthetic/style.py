"""Per-sample "writer" style: everything that varies between two synthetic samples.

A :class:`Style` is one writer on one day: a font, a pen, a slant, a rhythm, a paper. It is
frozen, so a sample can be re-rendered exactly from ``(text, style, seed)``. Lengths are in
*cap units* (multiples of the font's cap height) so a style means the same at any image size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from text_recognizer.data.synthetic.fonts import FontSpec, list_fonts


@dataclass(frozen=True)
class Style:
    """The variation parameters of one sample (lengths in cap units unless noted)."""

    font: FontSpec
    size: float  # cap height as a fraction of the image height (an upper bound: tall fonts shrink)
    baseline: float  # 0..1: where the writing band sits in the free vertical room (0 = top)
    pen_width: float  # stroke width; outline fonts move most of the way from their own
    slant: float  # horizontal shear, > 0 leans right (dx = slant * height above baseline)
    rotation: float  # degrees the whole line is tilted (counter-clockwise > 0)
    wobble_amplitude: float  # baseline waviness
    wobble_wavelength: float
    glyph_jitter: float  # per-glyph random offset (std); scale and angle jitter follow it
    char_spacing: float  # extra gap between glyphs (negative: tighter)
    word_spacing: float  # width of a space
    width_scale: float  # horizontal stretch of every glyph (narrow vs wide hands)
    x_height_scale: float  # vertical stretch of lowercase letters
    elastic_amplitude: float  # smooth random displacement field
    elastic_wavelength: float
    blur: float  # Gaussian blur radius, in output pixels
    ink: float  # 0..1: how dark the ink is
    ink_texture: float  # 0..1: low-frequency ink density variation (pressure, dry pen)
    paper: float  # 0..1: paper brightness
    paper_texture: float  # 0..1: low-frequency blotches in the paper
    noise: float  # std of per-pixel noise, as a fraction of the full range
    margin: float  # empty space left and right of the ink
    # Pencil and scan effects (defaults: none). Grain acts on the ink of every sample; the
    # page-level ones (shading, JPEG, polarity) only on whole pages (augment.scan).
    pencil_grain: float = 0.0  # 0..1: fine-grained gaps in the stroke (graphite on paper)
    shading: float = 0.0  # 0..1: depth of a smooth illumination gradient (a phone's shadow)
    jpeg_quality: int = 0  # JPEG re-encoding quality, 0 = none
    inverted: bool = False  # light ink on a dark page (IAM crops as FSDL ships them)


# The parameter ranges, chosen by eye so that every draw stays legible: strong variation
# comes from mixing many moderate ones. ``messy`` (0..1, drawn per writer) widens the
# ranges marked with a third number: high = low + (high - low) * (1 - k + k * messy).
RANGES: dict[str, tuple[float, ...]] = {
    "size": (0.34, 0.46),
    "baseline": (0.3, 0.7),
    "pen_width": (0.04, 0.2),
    "wobble_amplitude": (0.0, 0.1, 0.5),
    "wobble_wavelength": (4.0, 12.0),
    "glyph_jitter": (0.005, 0.06, 0.7),
    "char_spacing": (-0.04, 0.12),
    "word_spacing": (0.35, 0.75),
    "width_scale": (0.8, 1.2),
    "x_height_scale": (0.9, 1.12),
    "elastic_amplitude": (0.0, 0.07, 0.6),
    "elastic_wavelength": (0.7, 1.8),
    "blur": (0.0, 1.1),
    "ink": (0.55, 1.0),
    "ink_texture": (0.0, 0.45),
    "paper": (0.75, 1.0),
    "paper_texture": (0.0, 0.14),
    "noise": (0.0, 0.06),
    "margin": (0.1, 0.5),
}
SLANT_MEAN, SLANT_STD, SLANT_RANGE = 0.12, 0.18, (-0.3, 0.5)  # most hands lean right
ROTATION_STD = 0.8  # degrees
# How often a writer uses a pencil, a page is photographed in uneven light, saved as a
# JPEG, or stored light-on-dark; and the ranges when it is.
PENCIL_P, PENCIL_GRAIN = 0.25, (0.15, 0.45)
SHADING_P, SHADING = 0.3, (0.1, 0.4)
JPEG_P, JPEG_QUALITY = 0.3, (25, 85)
INVERTED_P = 0.1


def sample_style(rng: np.random.Generator | int, fonts: Sequence[FontSpec] | None = None) -> Style:
    """Draw a random writer style; ``fonts`` (default: all usable fonts) is the font pool.

    >>> s1, s2 = sample_style(0), sample_style(0)
    >>> s1 == s2, 0.65 <= s1.ink <= 1.0
    (True, True)
    """
    rng = np.random.default_rng(rng)
    fonts = list_fonts() if fonts is None else list(fonts)
    if not fonts:
        raise ValueError("sample_style needs at least one font")
    families = sorted({f.family for f in fonts})  # every family equally likely, then a font
    family = families[int(rng.integers(len(families)))]
    in_family = [f for f in fonts if f.family == family]
    font = in_family[int(rng.integers(len(in_family)))]
    messy, u1, u2, *uniforms = rng.random(3 + len(RANGES)).tolist()  # one draw: fast
    values = {}
    for (name, bounds), u in zip(RANGES.items(), uniforms):
        low, high = bounds[0], bounds[1]
        if len(bounds) == 3:
            high = low + (high - low) * (1 - bounds[2] + bounds[2] * messy)
        values[name] = low + (high - low) * u
    # two independent standard normals from two uniforms (Box-Muller)
    radius = math.sqrt(-2.0 * math.log(max(u1, 1e-12)))
    normal1, normal2 = radius * math.cos(2 * math.pi * u2), radius * math.sin(2 * math.pi * u2)
    values["slant"] = min(max(SLANT_MEAN + SLANT_STD * normal1, SLANT_RANGE[0]), SLANT_RANGE[1])
    values["rotation"] = ROTATION_STD * normal2
    coins, amounts = rng.random(4).tolist(), rng.random(3).tolist()
    if coins[0] < PENCIL_P:
        values["pencil_grain"] = PENCIL_GRAIN[0] + (PENCIL_GRAIN[1] - PENCIL_GRAIN[0]) * amounts[0]
    if coins[1] < SHADING_P:
        values["shading"] = SHADING[0] + (SHADING[1] - SHADING[0]) * amounts[1]
    if coins[2] < JPEG_P:
        values["jpeg_quality"] = round(
            JPEG_QUALITY[0] + (JPEG_QUALITY[1] - JPEG_QUALITY[0]) * amounts[2]
        )
    values["inverted"] = coins[3] < INVERTED_P
    return Style(font=font, **values)
