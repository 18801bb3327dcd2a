"""Projections: the numbers drift detection compares. Each must move when its failure mode
appears, and stay put otherwise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from text_recognizer.monitoring import projections as P
from text_recognizer.monitoring.simulator import SYMBOL_WORDS, render_request


@pytest.fixture(scope="module")
def page() -> Image.Image:
    """A real in-distribution page (synthetic handwriting, as the test split)."""
    image, _ = render_request("none", np.random.default_rng(3))
    return image


def test_inverting_a_page_flips_polarity_and_mirrors_intensity(page):
    normal, inverted = P.image_projections(page), P.image_projections(ImageOps.invert(page))
    assert normal["polarity"] == 1.0 and inverted["polarity"] == -1.0
    assert inverted["mean_intensity"] == pytest.approx(1 - normal["mean_intensity"], abs=1e-6)
    assert inverted["std_intensity"] == pytest.approx(normal["std_intensity"], abs=1e-6)
    assert (normal["image_width"], normal["image_height"]) == (page.width, page.height)


def test_polarity_holds_on_colored_and_dim_paper(page):
    dim = Image.eval(page, lambda v: int(v * 0.5))  # an underexposed photo: gray paper
    tinted = ImageOps.colorize(page, black=(20, 30, 120), white=(255, 240, 150))
    assert P.polarity(P.gray_array(dim)) == 1.0
    assert P.polarity(P.gray_array(tinted)) == 1.0
    assert P.polarity(P.gray_array(Image.new("L", (50, 50), 128))) == 0.0  # blank: no ink


def test_text_projections_separate_prose_from_failure_modes():
    prose = "The quick brown fox jumps over\nthe lazy dog near the river bank."
    looping = "the the the the the the the the the the"
    stuck = "eeeeeeeeeeeeeeeeeeee"
    assert P.repetition(looping) > 0.7 > P.repetition(prose)
    assert P.char_entropy(stuck) == 0.0 < P.char_entropy(looping) < P.char_entropy(prose)
    assert P.num_lines(prose) == 2 and P.output_length(prose) == len(prose) - 1
    assert P.out_of_charset(prose) == 0.0
    assert P.out_of_charset(" ".join(SYMBOL_WORDS)) > 0.05  # the simulator's symbols
    assert P.out_of_charset("<B><P>") == pytest.approx(4 / 6)  # leaked special tokens


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_text_projections_stay_in_their_ranges(text):
    values = P.text_projections(text)
    distinct = len(set(text.replace("\n", "")))
    assert 0.0 <= values["char_entropy"] <= math.log2(max(distinct, 1)) + 1e-9
    assert 0.0 <= values["repetition"] <= 1.0
    assert 0.0 <= values["out_of_charset"] <= 1.0
    assert values["output_length"] == len(text) - text.count("\n")


def test_compute_projections_is_pure_and_complete(page):
    first = P.compute_projections(page, "some text", 0.7)
    again = P.compute_projections(page.copy(), "some text", 0.7)
    assert first == again and list(first) == list(P.PROJECTIONS)
    missing = P.compute_projections(None, "some text", None)
    assert math.isnan(missing["mean_intensity"]) and math.isnan(missing["confidence"])
    assert missing["output_length"] == 9.0


@given(st.text(max_size=80))
@settings(max_examples=200, deadline=None)
def test_spellable_text_is_inside_the_charset_and_keeps_the_lines(text):
    written = P.spellable(text)
    assert P.out_of_charset(written) == 0.0
    assert written.count("\n") == text.count("\n")
    assert P.spellable(written) == written  # idempotent


def test_spellable_strips_accents_and_drops_symbols():
    assert P.spellable("déjà vu\n€5 über") == "deja vu\n5 uber"
    assert P.spellable("abc", charset="ab") == "ab"
