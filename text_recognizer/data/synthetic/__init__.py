"""Synthetic handwriting, generated offline and deterministically from a seed.

Ink comes from Hershey stroke fonts (always available) and handwriting-style TTF/OTF fonts
found on the system; every sample gets its own writer :class:`Style` (pen, slant, rhythm,
wobble, elastic distortion, blur, ink and paper). See ``render.py`` for the pipeline.

>>> from text_recognizer.data.synthetic import render_line, render_characters
>>> render_line("Hello", 0, height=32).mode
'L'
>>> render_characters("ab", seed=0).shape
(2, 28, 28)
"""

from text_recognizer.data.synthetic.batch import render_characters, render_lines
from text_recognizer.data.synthetic.fingerprint import (
    GENERATOR_VERSION,
    dataset_fingerprint,
    fingerprint,
    fingerprint_record,
)
from text_recognizer.data.synthetic.fonts import (
    FontSpec,
    font_families,
    list_fonts,
    rejected_fonts,
    select_fonts,
)
from text_recognizer.data.synthetic.glyphs import load_glyphs
from text_recognizer.data.synthetic.render import (
    CHAR_SIZE,
    LineInk,
    as_rng,
    compose_page,
    render_line,
    render_line_ink,
    render_strip,
    sample_character_style,
)
from text_recognizer.data.synthetic.style import Style, sample_style
from text_recognizer.data.synthetic.viz import make_grid_image, show_sample_grid

__all__ = [
    "CHAR_SIZE",
    "GENERATOR_VERSION",
    "FontSpec",
    "LineInk",
    "Style",
    "as_rng",
    "compose_page",
    "dataset_fingerprint",
    "fingerprint",
    "fingerprint_record",
    "font_families",
    "list_fonts",
    "load_glyphs",
    "make_grid_image",
    "rejected_fonts",
    "render_characters",
    "render_line",
    "render_line_ink",
    "render_lines",
    "render_strip",
    "sample_character_style",
    "sample_style",
    "select_fonts",
    "show_sample_grid",
]
