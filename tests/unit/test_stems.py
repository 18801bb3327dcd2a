"""The stem contract: any PIL mode and size in, ``(1, H, W)`` float in [0, 1] out, ink ~ 1,
background ~ 0, deterministic without augmentation, and augmentation never loses ink."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from scipy import ndimage

from text_recognizer.stems.image import ImageStem
from text_recognizer.stems.line import LineStem
from text_recognizer.stems.paragraph import ParagraphStem

STEMS = {
    "line": lambda augment=False: LineStem(image_height=32, image_width=256, augment=augment),
    "paragraph": lambda augment=False: ParagraphStem(
        image_height=96, image_width=80, augment=augment
    ),
}


def page(size=(120, 40), paper=255, ink=0) -> Image.Image:
    """Dark text-like strokes on light paper (natural polarity), mode L."""
    image = Image.new("L", size, paper)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.rectangle([w // 10, h // 4, w // 10 + max(w // 20, 2), 3 * h // 4], fill=ink)  # "I"
    draw.line([(w // 4, h // 2), (9 * w // 10, h // 2)], fill=ink, width=max(h // 10, 2))
    return image


def corner_dots(size, dot) -> Image.Image:
    """Four ink squares in the four corners: the extremes any crop would cut first."""
    image = Image.new("L", size, 255)
    w, h = size
    for x, y in [(0, 0), (w - dot, 0), (0, h - dot), (w - dot, h - dot)]:
        image.paste(0, (x, y, x + dot, y + dot))
    return image


def convert(image: Image.Image, mode: str) -> Image.Image:
    if mode == "RGBA":  # transparent paper, opaque ink
        rgba = image.convert("RGBA")
        alpha = Image.eval(image, lambda v: 255 - v)
        rgba.putalpha(alpha)
        return rgba
    if mode == "I;16":
        return Image.fromarray(np.asarray(image).astype(np.uint16) * 257)  # mode I;16
    return image.convert(mode)


@pytest.mark.parametrize("name", STEMS)
@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "I;16", "1", "LA", "CMYK"])
def test_every_mode_gives_the_same_normalized_tensor(name, mode):
    stem = STEMS[name]()
    reference = stem(page())
    x = stem(convert(page(), mode))
    assert x.shape == stem.output_shape and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1
    assert (x - reference).abs().max() < 0.02  # same picture whatever the encoding


@pytest.mark.parametrize("name", STEMS)
def test_polarity_ink_is_one_and_background_is_zero(name):
    x = STEMS[name]()(page(size=(240, 80)))[0]
    assert x.max() == 1.0
    assert (x == 0).float().mean() > 0.7  # padding and paper
    ink_fraction = (x > 0.5).float().mean()
    assert 0.005 < ink_fraction < 0.3  # the strokes, not the page


def test_grey_paper_and_faint_ink_are_normalized():
    """A dim photo (paper 170, ink 100) looks the same as a clean scan after the stem."""
    stem = STEMS["line"]()
    clean, dim = stem(page()), stem(page(paper=170, ink=100))
    assert dim.max() == 1.0 and (dim[0, :, 0:4] == 0).all()
    assert (clean - dim).abs().max() < 0.02


def test_rgba_transparent_background_reads_as_paper():
    image = Image.new("RGBA", (100, 30), (0, 0, 0, 0))  # transparent black "paper"
    ImageDraw.Draw(image).line([(10, 15), (90, 15)], fill=(0, 0, 0, 255), width=4)
    x = STEMS["line"]()(image)
    assert x.max() == 1.0 and (x > 0.5).float().mean() < 0.1


@pytest.mark.parametrize("name", STEMS)
@pytest.mark.parametrize(
    "size", [(1, 1), (2, 3), (1, 3000), (3000, 1), (4000, 50), (50, 4000), (3000, 2500)]
)
def test_any_size_and_aspect_ratio_fits_the_box(name, size):
    for augment in (False, True):
        x = STEMS[name](augment)(page(size=size) if min(size) > 8 else Image.new("L", size, 0))
        assert x.shape == STEMS[name]().output_shape
        assert torch.isfinite(x).all() and 0 <= x.min() and x.max() <= 1


def test_line_stem_scales_to_height_left_aligned_and_shrinks_long_lines():
    stem = LineStem(image_height=32, image_width=256)
    x = stem(page(size=(160, 40)))[0]  # fits at full height: 128 px wide
    columns = (x > 0.5).any(dim=0).nonzero()
    assert columns.min() < 256 * 0.1 and columns.max() < 128  # starts left, ends at 128 px
    long = stem(page(size=(4000, 40)))[0]  # too long for the width at full height: shrunk
    ink = long > 0.1  # strokes shrunk 15x are faint, but there
    rows, columns = ink.any(dim=1).nonzero(), ink.any(dim=0).nonzero()
    assert columns.max() > 256 * 0.8  # uses the width, keeps the end of the line
    assert rows.max() - rows.min() < 8  # so the height shrinks, centred vertically
    assert 10 < rows.float().mean() < 22


def test_paragraph_stem_keeps_aspect_ratio_at_top_left():
    stem = ParagraphStem(image_height=96, image_width=80)
    framed = Image.new("L", (200, 100), 255)  # a frame drawn along the image's edges
    ImageDraw.Draw(framed).rectangle([0, 0, 199, 99], outline=0, width=4)
    x = stem(framed)[0]
    rows, columns = (x > 0.5).any(dim=1).nonzero(), (x > 0.5).any(dim=0).nonzero()
    assert (rows.min(), columns.min()) == (0, 0)
    assert columns.max() == 79 and 38 <= rows.max() <= 41  # 200x100 -> 80x40


@pytest.mark.parametrize("name", STEMS)
def test_without_augmentation_the_output_is_deterministic(name):
    image = page(size=(300, 90))
    first = STEMS[name]()(image)
    torch.manual_seed(123)  # the global RNG must not matter
    assert torch.equal(first, STEMS[name]()(image))
    assert first.numpy().tobytes() == STEMS[name]()(image.copy()).numpy().tobytes()


@pytest.mark.parametrize("name", STEMS)
def test_augmentation_varies_the_image_and_is_seeded(name):
    image = page(size=(300, 90))
    stem = STEMS[name](augment=True)
    torch.manual_seed(0)
    a, b = stem(image), stem(image)
    torch.manual_seed(0)
    assert not torch.equal(a, b) and torch.equal(a, stem(image))
    assert a.shape == stem.output_shape


@pytest.mark.parametrize("name,size,dot", [("line", (300, 60), 8), ("paragraph", (160, 190), 10)])
def test_augmentation_never_crops_ink(name, size, dot):
    """Ink in all four corners survives 40 random augmentations: four separate blobs."""
    stem = STEMS[name](augment=True)
    torch.manual_seed(0)
    for _ in range(40):
        x = stem(corner_dots(size, dot))[0].numpy()
        _, count = ndimage.label(x > 0.2)
        assert count == 4


def test_base_stem_keeps_the_size_and_accepts_arrays():
    array = np.asarray(page(size=(50, 20)))
    x = ImageStem()(array)
    assert x.shape == (1, 20, 50) and x.max() == 1.0
    with pytest.raises(TypeError, match="PIL image"):
        ImageStem()([[0, 1]])
    with pytest.raises(ValueError, match="empty"):
        ImageStem()(Image.new("L", (0, 5)))


def test_with_augment_and_config():
    stem = LineStem(image_height=40, image_width=300)
    train = stem.with_augment(True)
    assert train.augment and not stem.augment and train.output_shape == (1, 40, 300)
    assert stem.config() == {
        "class": "LineStem",
        "augment": False,
        "normalize": True,
        "image_height": 40,
        "image_width": 300,
    }
    with pytest.raises(ValueError, match="positive"):
        LineStem(image_height=0)
