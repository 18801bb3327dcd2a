"""Page normalization (stems/normalize.py) and the one preprocessing entry point
(stems/segment.read_page_lines): each transform on a constructed image, then real lines."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from text_recognizer.data.synthetic import list_fonts, render_line
from text_recognizer.data.synthetic_paragraphs import render_paragraph
from text_recognizer.stems.image import ImageStem
from text_recognizer.stems.normalize import (
    background,
    flatten_background,
    is_light_on_dark,
    normalize_page,
)
from text_recognizer.stems.segment import read_page_lines, segment_lines

DEV = Path(
    os.environ.get("TEXT_RECOGNIZER_REAL_DEV")
    or Path(__file__).parents[3] / "shared" / "real_handwriting_dev"
)


def strokes(size=(400, 120), paper=235, ink=40, lines=2) -> Image.Image:
    """Pen-like strokes (3 px wide zig-zags) in ``lines`` rows on plain paper."""
    page = Image.new("L", size, paper)
    draw = ImageDraw.Draw(page)
    step = size[1] // (lines + 1)
    for row in range(1, lines + 1):
        y = row * step
        points = [(x, y + (8 if (x // 10) % 2 else -8)) for x in range(20, size[0] - 20, 10)]
        draw.line(points, fill=ink, width=3)
    return page


def ink_fraction(page: Image.Image) -> float:
    return float((np.asarray(page) < 128).mean())


def test_inverted_page_is_detected_and_inverted():
    page = strokes()
    inverted = Image.fromarray(255 - np.asarray(page))
    assert not is_light_on_dark(np.asarray(page)) and is_light_on_dark(np.asarray(inverted))
    a, b = np.asarray(normalize_page(page)), np.asarray(normalize_page(inverted))
    assert np.median(b) > 240  # paper came out white
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 8  # same page either way


def test_shadow_is_flattened():
    page = np.asarray(strokes(size=(600, 200)), dtype=np.float32)
    shadow = np.linspace(0.45, 1.0, page.shape[1])[None, :]  # dark on the left, as a photo
    shaded = Image.fromarray((page * shadow).astype(np.uint8))
    flat = flatten_background(shaded)
    paper = flat[np.asarray(strokes(size=(600, 200))) > 200]
    assert np.asarray(shaded)[np.asarray(strokes(size=(600, 200))) > 200].std() > 25
    assert paper.std() < 6 and paper.mean() > 245  # the shadow is gone
    # the ink stays ink, on both the dark and the light side
    assert ink_fraction(normalize_page(shaded)) == pytest.approx(
        ink_fraction(strokes((600, 200))), abs=0.01
    )


@pytest.mark.parametrize("darkest", [0.4, 0.5, 0.6])
def test_polarity_survives_a_shadow_across_faint_pencil(darkest):
    # Faint, sparse pencil (dotted 2-px rows, ~1 % of the page) under a phone-photo shadow:
    # on raw grey levels the shadowed paper is the long dark tail and the lit paper the long
    # light one; the old global-percentile test called all of these light-on-dark and
    # inverted them (the reader then saw the paper as ink). Local contrast sees the strokes.
    page = np.full((200, 600), 235.0)
    for y in (50, 100, 150):
        page[y : y + 2, 20:580:3] = 165
    shaded = (page * np.linspace(darkest, 1.0, page.shape[1])[None, :]).astype(np.uint8)
    assert not is_light_on_dark(shaded)
    assert is_light_on_dark(255 - shaded)  # the same photo of light-on-dark writing
    for image in (shaded, 255 - shaded):
        out = np.asarray(normalize_page(Image.fromarray(image)))
        assert np.median(out) > 245  # paper came out white, not inverted to black
        assert out[50:52, 20:580:3].mean() < 200  # and the pencil is darker than it


def test_coloured_paper_becomes_white():
    rgb = strokes().convert("RGB")
    tinted = Image.fromarray((np.asarray(rgb) * np.array([1.0, 0.9, 0.6])).astype(np.uint8))
    assert np.median(np.asarray(normalize_page(tinted))) == 255


def test_faint_pencil_reaches_full_contrast_in_the_stem():
    pencil = strokes(paper=230, ink=200)  # a 30-level difference
    prepared = np.asarray(ImageStem().prepare(normalize_page(pencil)))  # ink bright now
    # 30 grey levels become ~175 of 255: the capped stretch (a blank page's noise must not
    # become ink) still lifts pencil to the ink strengths the reader trains on (>= 0.6)
    assert prepared.max() >= 0.6 * 255 and np.percentile(prepared, 50) < 10


@pytest.mark.parametrize("kind", ["blank", "noise", "dark"])
def test_blank_and_noise_pages_do_not_become_ink(kind):
    rng = np.random.default_rng(0)
    array = {
        "blank": np.full((300, 400), 250, np.uint8),
        "noise": rng.integers(235, 256, (300, 400)).astype(np.uint8),
        "dark": np.full((300, 400), 30, np.uint8),
    }[kind]
    page, lines = read_page_lines(Image.fromarray(array))
    assert lines == [] and page.size == (400, 300)


def test_background_ignores_the_ink():
    page = strokes()
    assert np.asarray(background(page)).min() > 225  # paper is 235; ink (40) is not paper


def test_large_scan_and_tiny_word():
    scan = strokes(size=(3000, 2000), lines=6).resize((3000, 2000))
    assert len(read_page_lines(scan)[1]) == 6
    word = strokes(size=(160, 60), lines=1)
    _, lines = read_page_lines(word)
    assert len(lines) == 1 and lines[0].box[2] - lines[0].box[0] > 100


def test_single_words_with_ascenders_and_descenders_are_one_line():
    """A word as the whole image (a tiny crop, ~60 px high) is read as one line, also when
    its ascenders, descenders and dots make bands of their own in the row profile."""
    fonts = list_fonts(kinds=["hershey"])
    for seed, word in enumerate(["held", "jiffy", "supposed", "Tk"] * 3):
        image = render_line(word, seed, height=60, fonts=fonts)
        assert len(read_page_lines(image)[1]) == 1, (word, seed)


def test_iam_style_page_segments_like_the_natural_one():
    fonts = list_fonts(kinds=["hershey"])
    page, truth, _ = render_paragraph(
        ["the quick brown fox", "jumps over", "the lazy dog"], 3, line_height=40, fonts=fonts
    )
    iam_style = Image.fromarray(255 - np.asarray(normalize_page(page)))  # light ink on black
    natural = [line.box for line in read_page_lines(page)[1]]
    assert len(natural) == len(truth)
    assert [line.box for line in read_page_lines(iam_style)[1]] == natural
    assert len(segment_lines(iam_style)) != len(truth)  # what happened before normalization


@pytest.mark.skipif(not DEV.is_dir(), reason=f"the real dev set is not here ({DEV})")
@pytest.mark.parametrize("name", ["bentham_0", "bentham_1", "bentham_2"])
def test_real_single_lines_are_one_line(name):
    _, lines = read_page_lines(Image.open(DEV / f"{name}.png"))
    assert len(lines) == 1
