"""One writer's paragraph: text wrapped to a width, lines rendered with a little variation
from line to line, composed on one sheet of paper with its line boxes.

Pure rendering (numpy and PIL; no PyTorch, no Lightning), shared by the
:class:`~text_recognizer.data.synthetic_paragraphs.SyntheticParagraphs` DataModule and
the monitoring traffic simulator.
"""

from __future__ import annotations

import dataclasses
import math
import textwrap
from collections.abc import Sequence

import numpy as np
from PIL import Image

from text_recognizer.data.synthetic.augment import INK_GRAY, compose, scan
from text_recognizer.data.synthetic.fonts import FontSpec
from text_recognizer.data.synthetic.render import render_line
from text_recognizer.data.synthetic.style import sample_style
from text_recognizer.metadata import iam_paragraphs as metadata

MAX_LINES = metadata.MAX_SYNTHETIC_LINES  # 12, as FSDL's synthetic paragraphs
MIN_TEXT_LENGTH = 24  # wrap width range, characters per line
MAX_TEXT_LENGTH = 56  # 12 lines of 56 characters nearly fill IAM's 682 label tokens
LINE_HEIGHT_RANGE = (32, 64)  # pixels per rendered line: legible, and not wastefully large
# One writer, line after line: how much slant, tilt and baseline drift between lines.
LINE_SLANT_STD, LINE_ROTATION_STD, LINE_BASELINE_STD = 0.03, 0.3, 0.08
LINE_SPACING = (0.0, 0.3)  # extra space between lines, in line heights (per paragraph)
LINE_SPACING_JITTER = 0.05
MARGIN = (0.05, 0.4)  # page margins, in line heights
INDENT_JITTER = 0.15  # left edge wander from line to line, in line heights
Box = tuple[int, int, int, int]


def line_height_for(image_height: int, max_lines: int) -> int:
    """Render height of one line: a full paragraph then fills about the stem's height.

    >>> line_height_for(576, 12), line_height_for(128, 2), line_height_for(576, 1)
    (48, 64, 64)
    """
    low, high = LINE_HEIGHT_RANGE
    return int(min(high, max(low, round(image_height / max_lines))))


def wrap_paragraph(
    sentences,
    rng: np.random.Generator,
    max_lines: int,
    min_width: int,
    max_width: int,
    max_chars: int,
) -> list[str]:
    """Lines of one paragraph: running text from ``sentences`` (a SentenceGenerator)
    word-wrapped at a random width; 1 to ``max_lines`` lines, the last one cut at a random
    word, and at most ``max_chars`` characters in all (newlines included).

    >>> from text_recognizer.data.sentence_generator import SentenceGenerator
    >>> gen = SentenceGenerator(max_length=20, seed=0, source="offline")
    >>> lines = wrap_paragraph(gen, np.random.default_rng(0), 4, 10, 20, 80)
    >>> 1 <= len(lines) <= 4 and all(len(line) <= 20 for line in lines)
    True
    """
    num_lines = int(rng.integers(1, max_lines + 1))
    width = int(rng.integers(min_width, max_width + 1))
    text, needed = "", num_lines * (width + 1)
    while len(text) < needed:  # few joins: each snippet may fill all that is missing
        text = f"{text} {sentences.generate(needed - len(text))}".strip()
    lines = textwrap.wrap(text, width, break_on_hyphens=False)[:num_lines]
    words = lines[-1].split(" ")
    lines[-1] = " ".join(words[: int(rng.integers(1, len(words) + 1))])
    while len(lines) > 1 and len("\n".join(lines)) > max_chars:
        lines.pop()
    return lines


def render_paragraph(
    lines: Sequence[str],
    rng: np.random.Generator | int,
    *,
    line_height: int = 48,
    fonts: Sequence[FontSpec] | None = None,
    inverted: bool | None = None,
) -> tuple[Image.Image, list[Box], str]:
    """Render ``lines`` as one writer's paragraph: an ``L`` page (dark ink on light paper,
    or light on dark when the writer's style says so: ``Style.inverted``, unless
    ``inverted`` is given), one ink box
    ``(x0, y0, x1, y1)`` per line, and the font's name.

    Lines are drawn on clean white (one style, slightly varied per line), stacked, and
    only then given the writer's paper, texture and noise, so the page has one sheet of
    paper without seams between lines.

    >>> page, boxes, font = render_paragraph(["Hello", "world"], 0, line_height=32)
    >>> page.mode, len(boxes), boxes[0][1] < boxes[1][1]
    ('L', 2, True)
    """
    rng = np.random.default_rng(rng)
    style = sample_style(rng, fonts)
    if inverted is not None:  # the caller decides the polarity (e.g. simulated user traffic)
        style = dataclasses.replace(style, inverted=inverted)
    clean = dataclasses.replace(style, paper=1.0, paper_texture=0.0, noise=0.0)
    spacing = rng.uniform(*LINE_SPACING) * line_height
    top, left, right, bottom = (rng.uniform(*MARGIN) * line_height for _ in range(4))
    crops, line_boxes, positions = [], [], []
    y = top
    for text in lines:
        line_style = dataclasses.replace(
            clean,
            slant=style.slant + LINE_SLANT_STD * rng.standard_normal(),
            rotation=style.rotation + LINE_ROTATION_STD * rng.standard_normal(),
            baseline=float(
                np.clip(style.baseline + LINE_BASELINE_STD * rng.standard_normal(), 0, 1)
            ),
        )
        crop, char_boxes = render_line(
            text, rng, height=line_height, style=line_style, return_boxes=True
        )
        x = left + INDENT_JITTER * line_height * rng.random()
        positions.append((round(x), round(y)))
        crops.append(np.asarray(crop))
        line_boxes.append(char_boxes)
        y += line_height * (1 + LINE_SPACING_JITTER * rng.standard_normal()) + spacing
    width = math.ceil(max(px + c.shape[1] for (px, _), c in zip(positions, crops)) + right)
    height = math.ceil(positions[-1][1] + line_height + bottom)
    page = np.full((height, width), 255, dtype=np.uint8)
    boxes = []
    for (x, y0), crop, char_boxes in zip(positions, crops, line_boxes):
        region = page[y0 : y0 + crop.shape[0], x : x + crop.shape[1]]
        np.minimum(region, crop, out=region)  # lines may touch: the darker pixel wins
        x0, y_top, x1, y_bottom = np.array(char_boxes).reshape(-1, 4).T
        boxes.append(
            (int(x + x0.min()), int(y0 + y_top.min()), int(x + x1.max()), int(y0 + y_bottom.max()))
        )
    # Clean page -> ink coverage -> the writer's paper (ink density and blur already applied).
    alpha = (255.0 - page) / (255.0 * (1.0 - INK_GRAY))
    coverage = Image.fromarray(np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8))
    paper = dataclasses.replace(style, blur=0.0, ink=1.0, ink_texture=0.0, pencil_grain=0.0)
    page = compose(coverage, paper, rng, cap_px=style.size * line_height)
    return Image.fromarray(scan(page, style, rng)), boxes, style.font.name
