"""The synthetic handwriting generator: fonts, determinism, shapes, ranges, boxes, speed-ups."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from text_recognizer.data.synthetic import (
    GENERATOR_VERSION,
    Style,
    compose_page,
    dataset_fingerprint,
    font_families,
    list_fonts,
    make_grid_image,
    render_characters,
    render_line,
    render_line_ink,
    render_lines,
    render_strip,
    sample_style,
    select_fonts,
    show_sample_grid,
)
from text_recognizer.data.synthetic import fonts as fonts_module
from text_recognizer.metadata.emnist import CHARSET

HERSHEY = list_fonts(kinds=["hershey"])


def quiet_style(font, **changes) -> Style:
    """A style with every random geometric variation turned off, for measuring shapes."""
    style = sample_style(0, [font])
    off = [
        "glyph_jitter",
        "elastic_amplitude",
        "wobble_amplitude",
        "rotation",
        "slant",
        "blur",
        "noise",
        "paper_texture",
        "ink_texture",
    ]
    fixed = {
        **dict.fromkeys(off, 0.0),
        "ink": 1.0,
        "paper": 1.0,
        "x_height_scale": 1.0,
        "width_scale": 1.0,
    }
    return dataclasses.replace(style, **{**fixed, **changes})


def test_fonts_have_the_public_fields_and_hershey_is_always_there():
    fonts = list_fonts()
    assert fonts == sorted(fonts)
    assert {f.kind for f in fonts} <= {"hershey", "ttf"}
    assert len({f.name for f in fonts}) == len(fonts)
    assert {"Hershey Script", "Hershey Sans", "Hershey Cursive"} <= set(font_families())
    assert font_families(HERSHEY) == sorted({f.family for f in HERSHEY})


def test_without_system_or_npm_fonts_everything_still_works(monkeypatch, tmp_path):
    monkeypatch.setattr(fonts_module, "SYSTEM_FONT_DIRS", (str(tmp_path),))
    monkeypatch.delenv(fonts_module.FONT_DIRS_ENV, raising=False)
    monkeypatch.setenv(fonts_module.FONTSOURCE_ENV, str(tmp_path / "no-npm-fonts"))
    fonts = list_fonts()
    assert fonts and {f.kind for f in fonts} == {"hershey"}
    image = render_line("Hershey only", 0, height=32, fonts=fonts)
    assert image.height == 32


def test_include_exclude_by_family_or_name_and_clear_errors():
    script = select_fonts(HERSHEY, include=["hershey script"])
    assert {f.family for f in script} == {"Hershey Script"}
    rest = select_fonts(HERSHEY, exclude=["Hershey Script", "hershey:futural"])
    assert "Hershey Script" not in font_families(rest)
    assert "hershey:futural" not in {f.name for f in rest}
    with pytest.raises(ValueError, match="available families"):
        select_fonts(HERSHEY, include=["No Such Family"])
    with pytest.raises(ValueError, match="no fonts left"):
        select_fonts(HERSHEY, exclude=font_families(HERSHEY))


def test_render_line_shape_polarity_and_width_follows_text():
    short = render_line("Hi", 3, height=64, fonts=HERSHEY)
    long = render_line("Hi there, a much longer line of text.", 3, height=64, fonts=HERSHEY)
    assert short.mode == "L" and short.height == long.height == 64
    assert long.width > 3 * short.width
    pixels = np.asarray(long, dtype=np.float32)
    paper = np.median(pixels)
    assert paper > 150, "natural polarity: light paper"
    assert pixels.min() < paper - 80, "dark ink"


def test_render_line_is_deterministic_by_seed():
    a = render_line("Same seed, same bytes.", 7, height=48)
    b = render_line("Same seed, same bytes.", np.random.default_rng(7), height=48)
    c = render_line("Same seed, same bytes.", 8, height=48)
    assert a.tobytes() == b.tobytes()
    assert a.size != c.size or a.tobytes() != c.tobytes()


def test_style_is_frozen_and_reproducible():
    style = sample_style(5)
    assert style == sample_style(5) and style != sample_style(6)
    with pytest.raises(dataclasses.FrozenInstanceError):
        style.slant = 0.0  # type: ignore[misc]
    a = render_line("fixed writer", 1, height=40, style=style)
    b = render_line("fixed writer", 1, height=40, style=style)
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("font", [HERSHEY[0], *list_fonts(kinds=["ttf"])[:1]], ids=lambda f: f.name)
def test_char_boxes_cover_the_ink_of_each_character(font):
    text = "Ab cd!"
    image, boxes = render_line(text, 2, height=64, style=quiet_style(font), return_boxes=True)
    pixels = np.asarray(image, dtype=np.float32)
    assert len(boxes) == len(text)
    for char, (x0, y0, x1, y1) in zip(text, boxes):
        assert 0 <= x0 <= x1 <= image.width and 0 <= y0 <= y1 <= image.height
        if char != " ":
            assert pixels[y0:y1, x0:x1].min() < 128, f"no ink in the box of {char!r}"
    lefts = [box[0] for char, box in zip(text, boxes) if char != " "]
    assert lefts == sorted(lefts), "boxes follow the text left to right"
    ink = pixels < 128
    covered = np.zeros_like(ink)
    for x0, y0, x1, y1 in boxes:
        covered[y0:y1, x0:x1] = True
    assert ink[~covered].sum() <= 0.02 * ink.sum(), "nearly all ink lies in some box"


def test_line_ink_plus_page_is_the_line():
    """Pages of several lines are built from ink first, then one paper: same pipeline."""
    image, boxes = render_line("ink, then paper", 9, height=48, return_boxes=True)
    rng = np.random.default_rng(9)
    ink = render_line_ink("ink, then paper", rng, height=48)
    assert ink.coverage.dtype == np.uint8 and ink.coverage.shape == (48, image.width)
    assert ink.boxes == boxes
    assert compose_page(ink.coverage, ink.style, rng, ink.cap_px).tobytes() == image.tobytes()


def test_no_clipping_at_image_edges():
    for seed in range(6):
        pixels = np.asarray(render_line("Jumpy gyq (fjord)!", seed, height=40), dtype=np.float32)
        paper = np.median(pixels)
        for edge in (pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]):
            assert edge.min() > paper - 90, f"ink touches the border (seed {seed})"


def test_unknown_characters_are_rejected_clearly():
    with pytest.raises(ValueError, match="not in the EMNIST character set"):
        render_line("price: 5$", 0)


def test_render_characters_shapes_range_polarity_and_determinism():
    chars = list("aAgQ?1")
    images = render_characters(chars, seed=0)
    assert images.shape == (6, 28, 28) and images.dtype == np.uint8
    border = np.concatenate(
        [images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], axis=1
    )
    assert border.mean() < 40, "EMNIST polarity: dark background"
    assert (images.reshape(6, -1).max(1) > 150).all(), "bright ink in every image"
    assert np.array_equal(images, render_characters(chars, seed=0))
    assert not np.array_equal(images, render_characters(chars, seed=1))


def test_render_characters_bytes_do_not_depend_on_worker_count():
    chars = [CHARSET[1 + i % 60] for i in range(300)]  # > one chunk of 256
    one = render_characters(chars, seed=3, fonts=HERSHEY[:2], num_workers=1)
    two = render_characters(chars, seed=3, fonts=HERSHEY[:2], num_workers=2)
    assert np.array_equal(one, two)


def test_characters_keep_line_metrics_so_case_is_visible_from_size():
    """x/X, o/O, p/P by one writer: lowercase is shorter, p hangs below the baseline."""
    font = list_fonts(include=["hershey:futural"])[0]
    images = render_strip("xXoOpP", np.random.default_rng(0), style=quiet_style(font, size=0.56))
    rows = [np.flatnonzero(image.max(1) > 100) for image in images]  # ink rows per image
    height = {c: r[-1] - r[0] for c, r in zip("xXoOpP", rows)}
    bottom = {c: r[-1] for c, r in zip("xXoOpP", rows)}
    assert height["x"] < 0.8 * height["X"] and height["o"] < 0.8 * height["O"]
    assert abs(bottom["x"] - bottom["X"]) <= 1, "same baseline"
    assert bottom["p"] > bottom["P"] + 2, "descender below the baseline"


def test_render_lines_is_deterministic_and_parallel_safe():
    texts = [f"line number {i}" for i in range(40)]  # > one chunk of 32
    one = render_lines(texts, seed=4, height=32, fonts=HERSHEY, return_boxes=True)
    two = render_lines(texts, seed=4, height=32, fonts=HERSHEY, num_workers=2, return_boxes=True)
    assert [im.tobytes() for im, _ in one] == [im.tobytes() for im, _ in two]
    assert [boxes for _, boxes in one] == [boxes for _, boxes in two]


def test_fingerprint_tracks_version_fonts_seed_and_params():
    key, record = dataset_fingerprint("demo", 0, HERSHEY, num=10)
    assert record["generator_version"] == GENERATOR_VERSION and record["fingerprint"] == key
    assert [f["name"] for f in record["fonts"]] == [f.name for f in sorted(HERSHEY)]
    assert dataset_fingerprint("demo", 0, HERSHEY, num=10)[0] == key
    assert dataset_fingerprint("demo", 1, HERSHEY, num=10)[0] != key
    assert dataset_fingerprint("demo", 0, HERSHEY[:1], num=10)[0] != key
    assert dataset_fingerprint("demo", 0, HERSHEY, num=11)[0] != key


def test_sample_grids():
    images = render_characters("abc", seed=0)
    assert make_grid_image(images, ncols=2, pad=1).size == (2 * 29 + 1, 2 * 29 + 1)
    figure = show_sample_grid(
        images, labels=[40, 41, 42], mapping=list(map(str, range(83))), ncols=3
    )
    assert [ax.get_title() for ax in figure.axes[:3]] == ["40", "41", "42"]
    line = render_line("a line", 0, height=32)
    assert len(show_sample_grid([line, line], labels=["a line", "a line"]).axes) == 2
