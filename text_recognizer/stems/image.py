"""Image stems: the ONLY image preprocessing in the course, shared by training and inference.

The contract every stem keeps (datasets, synthetic data and the recognizer rely on it):

- input: a PIL image in NATURAL polarity (dark ink on light paper), of any mode (RGB, RGBA,
  L, P, I;16, ...) and any size; a 2-D or 3-D uint8 NumPy array is accepted too;
- output: a float32 tensor of shape ``(1, H, W)`` with values in ``[0, 1]``, INK ~ 1 and
  BACKGROUND ~ 0 (the stem converts to grayscale and inverts, so zero-padding means "paper");
- ``augment=False`` is deterministic: the same image always gives the same bytes. Inference
  uses it. ``augment=True`` adds random training-time distortions (a small affine warp,
  scale and position jitter, ink/paper levels, blur) that never push ink out of the frame.

Why invert? Models see "ink" as signal and "nothing" as zero: padding, rotation fill and
batch padding are all zeros, whatever the paper looked like. Contrast is normalized too:
the paper level (the 10th percentile of brightness, so at least ~10% of the image must be
paper) becomes 0 and the darkest ink 1, so a dim photo and a clean scan look alike.

The pipeline, one method per step so subclasses override only what they need::

    to_grayscale -> invert -> shrink huge inputs early -> normalize contrast
    -> [augment: affine warp on an expanded canvas] -> fit & pad (subclass)
    -> [augment: blur, ink/paper levels] -> tensor

:class:`ImageStem` itself keeps the image size (no fit); :class:`~text_recognizer.stems.line.LineStem`
and :class:`~text_recognizer.stems.paragraph.ParagraphStem` fit into a fixed ``(H, W)``.
Randomness comes from PyTorch's global generator, which Lightning's ``seed_everything``
(with ``workers=True``) seeds per DataLoader worker, so augmented runs are repeatable too.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter, ImageOps

from text_recognizer.util import to_grayscale

RESAMPLE = Image.Resampling.BILINEAR  # PIL antialiases when it shrinks with this filter
REDUCING_GAP = 3.0  # big reductions first use a fast box reduce() down to 3x the target
BACKGROUND_PERCENTILE = 10  # the paper level: at least 90% of a text image is paper
MIN_CONTRAST_SPAN = 48  # stretch at most 255/48 ~ 5x, so a blank page's noise stays faint


@dataclass(frozen=True)
class Augmentation:
    """Training-time distortion ranges. Each ``(low, high)`` range is sampled uniformly.

    Geometric ones act before fitting, on an enlarged canvas, so no ink is ever cut off;
    photometric ones act on the fitted image (ink ~ 255, paper ~ 0 at that point).
    """

    degrees: float = 2.0  # rotation in [-degrees, degrees]
    shear: float = 10.0  # horizontal shear (slant) in [-shear, shear] degrees
    stretch: tuple[float, float] = (0.9, 1.1)  # horizontal scale relative to vertical
    scale: tuple[float, float] = (0.85, 1.0)  # times the scale that fits the output box
    max_shift: float = 0.05  # random placement: at most this fraction of the box, per axis
    ink: tuple[float, float] = (0.6, 1.0)  # value of full-strength ink after augmentation
    paper: tuple[float, float] = (0.0, 0.12)  # value of the background after augmentation
    blur_sigma: tuple[float, float] = (0.3, 1.0)  # Gaussian standard deviation, pixels
    blur_p: float = 0.5  # probability of blurring at all

    def __post_init__(self) -> None:
        if not 0 < self.scale[0] <= self.scale[1] <= 1:
            raise ValueError(f"scale must lie in (0, 1] so the image still fits: {self.scale}")


def _uniform(low: float, high: float) -> float:
    return low + (high - low) * torch.rand(()).item()


def fit_scale(width: int, height: int, box_width: int, box_height: int) -> float:
    """The largest scale at which a ``width x height`` image fits in the box (aspect kept).

    >>> fit_scale(200, 100, 64, 64)
    0.32
    >>> fit_scale(10, 10, 100, 50)
    5.0
    """
    return min(box_width / width, box_height / height)


def scaled_size(
    width: int, height: int, scale: float, box: tuple[int, int] | None = None
) -> tuple[int, int]:
    """Size after scaling: rounded, at least 1 pixel, and at most ``box`` = (W, H) if given.

    >>> scaled_size(5000, 1, 0.2)
    (1000, 1)
    >>> scaled_size(1023, 57, 1024 / 1023, box=(1024, 56))
    (1024, 56)
    """
    new_width, new_height = max(1, round(width * scale)), max(1, round(height * scale))
    if box is not None:
        new_width, new_height = min(new_width, box[0]), min(new_height, box[1])
    return new_width, new_height


def contrast_lut(histogram: np.ndarray) -> list[int]:
    """A lookup table that maps the paper level to 0 and the brightest ink to 255.

    ``histogram`` counts the 256 levels of an INVERTED image (ink bright). The paper level
    is the 10th percentile; the stretch is capped (~5x) so a blank, noisy page stays dark.

    >>> hist = np.zeros(256, int); hist[20] = 90; hist[200] = 10  # paper 20, ink 200
    >>> lut = contrast_lut(hist); lut[20], lut[200], lut[0], lut[255]
    (0, 255, 0, 255)
    >>> hist = np.zeros(256, int); hist[0] = 99; hist[16] = 1  # nearly blank
    >>> contrast_lut(hist)[16]
    85
    """
    cdf = np.cumsum(histogram)
    low = int(np.searchsorted(cdf, cdf[-1] * BACKGROUND_PERCENTILE / 100))
    high = int(np.flatnonzero(histogram)[-1]) if cdf[-1] else 0
    span = max(high - low, MIN_CONTRAST_SPAN)
    return [min(255, max(0, round((value - low) * 255 / span))) for value in range(256)]


def affine_coefficients(
    size: tuple[int, int], degrees: float, shear: float, stretch: float
) -> tuple[tuple[int, int], tuple[float, ...]]:
    """Output size and PIL ``AFFINE`` coefficients for rotate + shear + horizontal stretch,
    with the canvas enlarged so the whole input stays visible (nothing is cropped).

    >>> affine_coefficients((100, 20), 0.0, 0.0, 1.0)
    ((100, 20), (1.0, 0.0, 0.0, 0.0, 1.0, 0.0))
    >>> affine_coefficients((100, 20), 90.0, 0.0, 1.0)[0]
    (20, 100)
    """
    width, height = size
    theta, phi = math.radians(degrees), math.radians(shear)
    # forward map (input -> output): rotation @ shear @ stretch
    rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    forward = rotation @ np.array([[1.0, math.tan(phi)], [0.0, 1.0]]) @ np.diag([stretch, 1.0])
    corners = forward @ np.array([[0, width, 0, width], [0, 0, height, height]], dtype=float)
    corners = np.round(corners, 9)  # cos(90 deg) is 6e-17, not 0: keep sizes exact
    low, high = corners.min(axis=1), corners.max(axis=1)
    out_size = (max(1, math.ceil(high[0] - low[0])), max(1, math.ceil(high[1] - low[1])))
    # PIL wants the inverse map (output -> input): in = inverse @ (out + low)
    inverse = np.linalg.inv(forward)
    offset = inverse @ low
    coefficients = (
        inverse[0, 0],
        inverse[0, 1],
        offset[0],
        inverse[1, 0],
        inverse[1, 1],
        offset[1],
    )
    return out_size, tuple(float(np.round(c, 12)) + 0.0 for c in coefficients)


class ImageStem:
    """PIL image (natural polarity, any mode/size) -> tensor ``(1, h, w)``, ink ~ 1.

    The base stem keeps the input size; subclasses fit into a fixed box by overriding
    :meth:`target_scale` and :meth:`fit`.

    >>> stem = ImageStem()
    >>> x = stem(Image.new("RGB", (30, 10), "white"))
    >>> tuple(x.shape), x.dtype, float(x.max())
    ((1, 10, 30), torch.float32, 0.0)
    """

    default_augmentation = Augmentation()

    def __init__(
        self,
        augment: bool = False,
        augmentation: Augmentation | None = None,
        normalize: bool = True,
    ) -> None:
        self.augment = augment
        self.augmentation = augmentation or self.default_augmentation
        self.normalize = normalize

    # ------------------------------------------------------------------ the pipeline
    def __call__(self, image: Image.Image | np.ndarray) -> torch.Tensor:
        image = self.prepare(image)  # L, inverted, contrast-normalized
        if self.augment:
            image = self.random_affine(image)
        image = self.fit(image)
        if self.augment:
            image = self.random_photometric(image)
        # NumPy does the scaling: tiny per-sample torch ops pay thread start-up costs
        array = np.asarray(image, dtype=np.float32) / 255.0  # (H, W)
        return torch.from_numpy(array).unsqueeze(0)  # (1, H, W)

    def prepare(self, image: Image.Image | np.ndarray) -> Image.Image:
        """Grayscale, inverted (ink bright), shrunk if huge, contrast-normalized."""
        image = _as_pil(image)
        if image.width == 0 or image.height == 0:
            raise ValueError(f"cannot preprocess an empty image of size {image.size}")
        image = ImageOps.invert(to_grayscale(image))
        scale = self.target_scale(*image.size)
        if scale is not None and scale < 0.5:  # resize most of the way now: later steps are cheap
            image = image.resize(
                scaled_size(*image.size, 2 * scale), RESAMPLE, reducing_gap=REDUCING_GAP
            )
        if self.normalize:
            image = image.point(contrast_lut(np.asarray(image.histogram())))
        return image

    def target_scale(self, width: int, height: int) -> float | None:
        """The scale the final fit will apply (None: the base stem does not resize)."""
        return None

    def fit(self, image: Image.Image) -> Image.Image:
        """Resize and pad into the output box. The base stem keeps the image as it is."""
        return image

    # ------------------------------------------------------------------ augmentation
    def random_affine(self, image: Image.Image) -> Image.Image:
        """Rotate, shear and stretch on an enlarged canvas (fill 0 = paper)."""
        aug = self.augmentation
        size, coefficients = affine_coefficients(
            image.size,
            degrees=_uniform(-aug.degrees, aug.degrees),
            shear=_uniform(-aug.shear, aug.shear),
            stretch=_uniform(*aug.stretch),
        )
        return image.transform(
            size, Image.Transform.AFFINE, coefficients, resample=RESAMPLE, fillcolor=0
        )

    def random_photometric(self, image: Image.Image) -> Image.Image:
        """Maybe blur, then set ink strength and paper level (ink ~ 255, paper ~ 0 before)."""
        aug = self.augmentation
        if torch.rand(()).item() < aug.blur_p:
            image = image.filter(ImageFilter.GaussianBlur(radius=_uniform(*aug.blur_sigma)))
        ink, paper = 255 * _uniform(*aug.ink), 255 * _uniform(*aug.paper)
        return image.point([round(paper + (ink - paper) * value / 255) for value in range(256)])

    def with_augment(self, augment: bool) -> ImageStem:
        """A copy of this stem with augmentation switched on or off (same sizes)."""
        clone = copy.copy(self)
        clone.augment = augment
        return clone

    def config(self) -> dict[str, Any]:
        """What a model card or recognizer needs to rebuild this stem."""
        return {"class": type(self).__name__, "augment": self.augment, "normalize": self.normalize}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "class")
        return f"{type(self).__name__}({args})"


class BoxStem(ImageStem):
    """Shared by line and paragraph stems: fit into a fixed ``(height, width)`` box, pad
    with zeros, and place the image where :meth:`placement` says (random jitter when
    augmenting). Never crops: the image is always scaled to fit entirely."""

    def __init__(
        self,
        image_height: int,
        image_width: int,
        augment: bool = False,
        augmentation: Augmentation | None = None,
        normalize: bool = True,
    ) -> None:
        if image_height < 1 or image_width < 1:
            raise ValueError(f"output size must be positive, got {image_height}x{image_width}")
        super().__init__(augment=augment, augmentation=augmentation, normalize=normalize)
        self.image_height, self.image_width = image_height, image_width

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return (1, self.image_height, self.image_width)

    def target_scale(self, width: int, height: int) -> float:
        return fit_scale(width, height, self.image_width, self.image_height)

    def fit(self, image: Image.Image) -> Image.Image:
        scale = self.target_scale(*image.size)
        if self.augment:
            scale *= _uniform(*self.augmentation.scale)
        size = scaled_size(*image.size, scale, box=(self.image_width, self.image_height))
        if size != image.size:
            image = image.resize(size, RESAMPLE, reducing_gap=REDUCING_GAP)
        slack_x, slack_y = self.image_width - size[0], self.image_height - size[1]
        x, y = self.placement(slack_x, slack_y)
        if self.augment:
            shift = self.augmentation.max_shift
            x = _jitter(x, slack_x, round(shift * self.image_width))
            y = _jitter(y, slack_y, round(shift * self.image_height))
        canvas = Image.new("L", (self.image_width, self.image_height), 0)
        canvas.paste(image, (x, y))
        return canvas

    def placement(self, slack_x: int, slack_y: int) -> tuple[int, int]:
        """Top-left corner of the image in the box, given the free space on each axis."""
        return 0, 0

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "image_height": self.image_height,
            "image_width": self.image_width,
        }


def _jitter(position: int, slack: int, shift: int) -> int:
    """A random position within ``shift`` of ``position`` that stays inside ``[0, slack]``."""
    low, high = max(0, position - shift), min(slack, position + shift)
    return int(torch.randint(low, high + 1, ()).item()) if high > low else position


def _as_pil(image: Image.Image | np.ndarray) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (2, 3):
            raise TypeError(f"expected a 2-D or 3-D uint8 array, got {image.dtype} {image.shape}")
        return Image.fromarray(image)
    raise TypeError(f"a stem takes a PIL image or a uint8 array, not {type(image).__name__}")
