"""Geometric and photometric variation, vectorized.

Geometry acts on *points* (the glyph paths) before rasterization: a slant, a tilt, a wavy
baseline and a smooth elastic field are a few NumPy operations on a few thousand points,
where warping the image would cost a resampling of every pixel.

Photometry acts on the rasterized ink *coverage* (0..255): blur, ink density, pencil
grain, paper brightness and texture, and per-pixel noise, composed into dark ink on light
paper. :func:`scan` then gives a whole page what a camera or scanner adds: uneven light,
JPEG artefacts, and sometimes the light-on-dark polarity of IAM crops.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from text_recognizer.data.synthetic.style import Style

ELASTIC_WAVES = 3  # plane waves per displacement component
INK_GRAY = 0.06  # the darkest ink, as a fraction of white
_NOISE_BANK_SHAPE = (640, 2048)  # covers IAM-like paragraphs (576 x 640) without tiling


@dataclass(frozen=True)
class Warp:
    """A smooth random deformation of the plane, in pixels: elastic field, then slant about
    the baseline, tilt about the line's center, and a sinusoidal baseline wobble."""

    baseline_y: float
    center_x: float
    slant: float
    slope: float
    wobble_amplitude: float
    wobble_k: float  # 2 pi / wavelength
    wobble_phase: float
    elastic_amplitudes: np.ndarray  # (2, W)  x and y components
    elastic_k: np.ndarray  # (2, W, 2)  wave vectors
    elastic_phases: np.ndarray  # (2, W)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """Map (n, 2) points to their deformed positions.

        >>> w = Warp(0.0, 0.0, 0.5, 0.0, 0.0, 1.0, 0.0, np.zeros((2, 1)), np.zeros((2, 1, 2)),
        ...          np.zeros((2, 1)))
        >>> w(np.array([[0.0, -2.0]])).tolist()  # 2 px above the baseline leans 1 px right
        [[1.0, -2.0]]
        """
        x, y = points[:, 0], points[:, 1]
        # (2, n, W): phase of every wave at every point
        phase = x[None, :, None] * self.elastic_k[:, None, :, 0]
        phase += y[None, :, None] * self.elastic_k[:, None, :, 1]
        phase += self.elastic_phases[:, None, :]
        displacement = (np.sin(phase) * self.elastic_amplitudes[:, None, :]).sum(-1)  # (2, n)
        x = x + displacement[0]
        y = y + displacement[1]
        x = x + self.slant * (self.baseline_y - y)
        y = y + self.slope * (x - self.center_x)
        y = y + self.wobble_amplitude * np.sin(self.wobble_k * x + self.wobble_phase)
        return np.stack([x, y], axis=1).astype(np.float32)


def sample_warp(
    style: Style,
    rng: np.random.Generator,
    cap_px: float,
    baseline_y: float,
    center_x: float,
    max_drift: float,
) -> Warp:
    """The random parts of the deformation for one sample; sizes scale with ``cap_px``.

    ``max_drift`` bounds how far (px) tilt and wobble may move the baseline at the ends of
    the line, so that long lines stay inside the image.
    """
    slope = float(np.tan(np.radians(style.rotation)))
    if center_x > 0:
        slope = float(np.clip(slope, -0.5 * max_drift / center_x, 0.5 * max_drift / center_x))
    wobble = min(style.wobble_amplitude * cap_px, 0.5 * max_drift)
    angles = rng.uniform(0, 2 * np.pi, size=(2, ELASTIC_WAVES))
    wavelengths = style.elastic_wavelength * cap_px * rng.uniform(0.7, 1.4, size=(2, ELASTIC_WAVES))
    k = (2 * np.pi / wavelengths)[..., None] * np.stack([np.cos(angles), np.sin(angles)], -1)
    return Warp(
        baseline_y=baseline_y,
        center_x=center_x,
        slant=style.slant,
        slope=slope,
        wobble_amplitude=wobble,
        wobble_k=2 * np.pi / (style.wobble_wavelength * cap_px),
        wobble_phase=float(rng.uniform(0, 2 * np.pi)),
        elastic_amplitudes=style.elastic_amplitude
        * cap_px
        * rng.uniform(-1, 1, size=(2, ELASTIC_WAVES))
        / np.sqrt(ELASTIC_WAVES),
        elastic_k=k,
        elastic_phases=rng.uniform(0, 2 * np.pi, size=(2, ELASTIC_WAVES)),
    )


@functools.lru_cache(maxsize=1)
def _noise_bank() -> np.ndarray:
    """A fixed block of standard-normal noise that samples crop from (cheaper than drawing
    fresh normals for every pixel, and just as deterministic)."""
    return np.random.default_rng(20240601).standard_normal(_NOISE_BANK_SHAPE, dtype=np.float32)


def pixel_noise(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(height, width) float32 standard-normal-like noise: a random crop of the bank.

    >>> pixel_noise(np.random.default_rng(0), 3, 5).shape
    (3, 5)
    """
    bank = _noise_bank()
    if height > bank.shape[0] or width > bank.shape[1]:
        reps = (-(-height // bank.shape[0]), -(-width // bank.shape[1]))
        bank = np.tile(bank, reps)
    y = int(rng.integers(bank.shape[0] - height + 1))
    x = int(rng.integers(bank.shape[1] - width + 1))
    crop = bank[y : y + height, x : x + width]
    return crop[::-1] if rng.random() < 0.5 else crop


@functools.lru_cache(maxsize=256)
def _interpolation_weights(size: int, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``size`` pixels, the 3 coarse cells it blends and their weights: a
    quadratic B-spline (smooth, no overshoot). Indices (size, 3) int, weights (size, 3)."""
    centers = np.linspace(-0.5, cells - 0.5, size, dtype=np.float32)  # pixel -> cell coords
    nearest = np.clip(np.rint(centers).astype(np.int64), 0, cells - 1)
    index = np.clip(nearest[:, None] + np.arange(-1, 2), 0, cells - 1)  # (size, 3)
    d = np.abs(centers[:, None] - (nearest[:, None] + np.arange(-1, 2)))
    w = np.where(d < 0.5, 0.75 - d**2, np.where(d < 1.5, 0.5 * (1.5 - d) ** 2, 0.0))
    return index, (w / w.sum(1, keepdims=True)).astype(np.float32)


def smooth_field(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """(height, width) float32 in [0, 1]: random values on a coarse grid of ``cell`` px,
    interpolated smoothly (paper blotches, uneven ink). Gathers, no matrix products: tiny
    BLAS calls are slow when threads compete for two cores.

    >>> f = smooth_field(np.random.default_rng(0), 10, 30, cell=8)
    >>> f.shape, bool(0.0 <= f.min() <= f.max() <= 1.0)
    ((10, 30), True)
    """
    # Sizes rounded up to multiples of 32 px (then cropped), so the weights are reused.
    full_h, full_w = -(-height // 32) * 32, -(-width // 32) * 32
    grid_h, grid_w = max(2, round(full_h / cell) + 1), max(2, round(full_w / cell) + 1)
    grid = rng.random((grid_h, grid_w), dtype=np.float32)
    index, weight = _interpolation_weights(full_w, grid_w)
    index, weight = index[:width], weight[:width]
    rows = np.einsum("hwk,wk->hw", grid[:, index], weight)  # (grid_h, width)
    index, weight = _interpolation_weights(full_h, grid_h)
    index, weight = index[:height], weight[:height]
    return np.einsum("hkw,hk->hw", rows[index], weight)  # (height, width)


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with a 5-tap kernel (enough for sigma <= ~1.2 px), edges
    repeated.

    >>> x = np.zeros((5, 5), np.float32); x[2, 2] = 1.0
    >>> y = blur(x, 0.8); round(float(y.sum()), 5), bool(y[2, 2] < 1.0)
    (1.0, True)
    """
    taps = np.exp(-0.5 * (np.arange(-2, 3) / sigma) ** 2)
    taps = (taps / taps.sum()).astype(np.float32)
    out = ndimage.correlate1d(image, taps, axis=0, mode="nearest")
    return ndimage.correlate1d(out, taps, axis=1, mode="nearest")


def compose(
    coverage: Image.Image | np.ndarray, style: Style, rng: np.random.Generator, cap_px: float
) -> np.ndarray:
    """Turn ink coverage (uint8 or "L", 255 = fully inked) into a natural-polarity uint8 page.

    ``page = paper * (1 - alpha) + ink_gray * alpha + noise`` where alpha is the blurred
    coverage times the (uneven) ink density.
    """
    alpha = np.asarray(coverage, dtype=np.float32) * (1.0 / 255.0)  # (H, W)
    if style.blur > 0.1:
        alpha = blur(alpha, style.blur)
    height, width = alpha.shape
    cell = max(4.0, 1.5 * cap_px)
    if style.ink_texture > 0.01:
        alpha = alpha * (
            style.ink * (1.0 - style.ink_texture * smooth_field(rng, height, width, cell))
        )
    else:
        alpha = alpha * style.ink
    if style.pencil_grain > 0.01:  # graphite skips over the paper's tooth: pixel-scale gaps
        grain = np.clip(0.5 + 0.5 * pixel_noise(rng, height, width), 0.0, 1.0)
        alpha = alpha * (1.0 - style.pencil_grain * grain)
    paper = style.paper
    if style.paper_texture > 0.005:
        paper = paper * (1.0 - style.paper_texture * smooth_field(rng, height, width, 2 * cell))
    page = paper + (INK_GRAY - paper) * alpha
    if style.noise > 0.002:
        page = page + style.noise * pixel_noise(rng, height, width)
    return np.clip(page * 255.0 + 0.5, 0, 255).astype(np.uint8)


def scan(page: np.ndarray, style: Style, rng: np.random.Generator) -> np.ndarray:
    """A composed uint8 page (dark ink on light paper) as a camera or scanner returns it:
    a smooth illumination gradient (``style.shading``), JPEG re-encoding
    (``style.jpeg_quality``), and inverted polarity (``style.inverted``).

    >>> page = np.full((20, 30), 250, np.uint8)
    >>> style = Style(None, *[0.0] * 21, shading=0.4, inverted=True)
    >>> out = scan(page, style, np.random.default_rng(0))
    >>> out.shape, bool(out.mean() < 128), bool(out.std() > 1)
    ((20, 30), True, True)
    """
    out = page.astype(np.float32)
    if style.shading > 0.005:  # a linear ramp at a random angle, darkest in one corner
        height, width = out.shape
        angle = rng.uniform(0.0, 2 * np.pi)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        ramp = np.cos(angle) * xs / max(width, 1) + np.sin(angle) * ys / max(height, 1)
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)  # 0..1
        out = out * (1.0 - style.shading * ramp)
    out = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    if style.jpeg_quality:
        buffer = io.BytesIO()
        Image.fromarray(out).save(buffer, format="JPEG", quality=int(style.jpeg_quality))
        out = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("L"))
    return 255 - out if style.inverted else out
