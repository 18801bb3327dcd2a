"""SyntheticParagraphs: handwritten paragraphs rendered offline, shaped like IAMParagraphs.

A drop-in for :class:`~text_recognizer.data.iam_paragraphs.IAMParagraphs` that needs no
download: input dims ``(1, 576, 640)``, label rows ``(682,)`` with the lines joined by
``"\\n"``, the paragraph mapping (``metadata.iam_paragraphs.MAPPING``: the line mapping plus
``"\\n"``) and the :class:`~text_recognizer.stems.paragraph.ParagraphStem` (augmenting
training images only).

A paragraph is 1 to ``--max_lines`` lines of running text (SentenceGenerator snippets,
word-wrapped at a width drawn per paragraph from ``--min_text_length``..``--max_text_length``
characters), written by ONE writer: one :class:`~text_recognizer.data.synthetic.Style` per
paragraph, with a little variation from line to line (slant, tilt, baseline), one line
spacing and margin, and one sheet of paper. Ground truth is kept at line level too: the
record of every split holds each paragraph's line texts and line boxes (``(x0, y0, x1, y1)``
in pixels of the rendered page, before the stem), e.g. to train a line detector.

Splits, fingerprints and the cache work as in :mod:`text_recognizer.data.synthetic_lines`:
the test split is fixed (never depends on ``--seed``), train/val are seeded by ``--seed``
with texts disjoint from test's, ``--holdout_families`` keeps font families out of
train/val, and every split is cached under ``data/processed/synthetic_paragraphs/<fingerprint>/``.

Sizes. Defaults keep IAM's shapes with CPU-sized splits (~430 pages, about 30 s to render
on 2 cores). The same code shrinks for CPU runs and grows for GPUs::

    # memorization on a CPU (tests/training/test_memorization.py): 2 short lines, tiny pages
    --image_height 128 --image_width 160 --max_lines 2 --max_text_length 12 --max_label_length 32
    # GPU scale: IAM-sized pages (~20 min with 16 workers; ~5 GB on disk)
    --num_train 20000 --num_val 500 --gen_workers 16
"""

from __future__ import annotations

import dataclasses
import math
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image

from text_recognizer.data.synthetic import render_line, sample_style
from text_recognizer.data.synthetic.augment import INK_GRAY, compose, scan
from text_recognizer.data.synthetic.fonts import FontSpec
from text_recognizer.data.synthetic_lines import (
    SyntheticTextImages,
    chunk_rng,
    stream_seeds,
)
from text_recognizer.metadata import iam_paragraphs as metadata
from text_recognizer.stems.paragraph import ParagraphStem

NUM_TRAIN = 300
NUM_VAL = 30
NUM_TEST = 100
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


def _render_paragraphs_job(job: tuple) -> list[dict[str, Any]]:
    """One chunk of paragraphs (lists of lines). Runs in worker processes."""
    paragraphs, stream, chunk, line_height, fonts = job
    rng = chunk_rng(stream, chunk)
    samples = []
    for lines in paragraphs:
        page, boxes, font = render_paragraph(lines, rng, line_height=line_height, fonts=fonts)
        samples.append(
            {
                "image": np.asarray(page),
                "font": font,
                "lines": list(lines),
                "line_boxes": [list(box) for box in boxes],
            }
        )
    return samples


class SyntheticParagraphs(SyntheticTextImages):
    """Synthetic handwritten paragraphs, IAMParagraphs-shaped: ``x`` is ``(B, 1,
    image_height, image_width)`` with ink ~ 1, ``y`` is ``(B, max_label_length)`` over the
    paragraph mapping. See the module docstring; options as SyntheticLines' plus
    ``max_lines``. ``min_text_length``/``max_text_length`` bound the wrap width (characters
    per line).

    >>> data = SyntheticParagraphs()
    >>> data.config()["input_dims"], data.config()["output_dims"], data.mapping[-1]
    ((1, 576, 640), (682, 1), '\\n')
    """

    kind = "synthetic_paragraphs"
    stream_tag = 0x9A7A
    chunk_size = 4
    stem_class = ParagraphStem
    mapping_default = metadata.MAPPING
    image_height_default = metadata.IMAGE_HEIGHT
    image_width_default = metadata.IMAGE_WIDTH
    max_label_length_default = metadata.MAX_LABEL_LENGTH
    max_text_length_default = MAX_TEXT_LENGTH
    min_text_length_default = MIN_TEXT_LENGTH
    sizes_default = {"train": NUM_TRAIN, "val": NUM_VAL, "test": NUM_TEST}

    def __init__(self, args=None) -> None:
        super().__init__(args)
        self.max_lines = int(self.args.get("max_lines") or MAX_LINES)
        if self.max_lines < 1:
            raise ValueError(f"max_lines must be at least 1, got {self.max_lines}")
        self.line_height = line_height_for(self.image_height, self.max_lines)

    @classmethod
    def add_to_argparse(cls, parser):
        super().add_to_argparse(parser)
        parser.add_argument(
            "--max_lines",
            type=int,
            default=MAX_LINES,
            help=f"most lines per paragraph (default {MAX_LINES})",
        )
        return parser

    def draw_texts(self, split: str, n: int, excluded: set[str]) -> list[str]:
        """``n`` paragraph labels (lines joined by newlines), none in ``excluded``."""
        text_seed, layout_seed = stream_seeds(self.stream(split))
        sentences = self.sentence_generator(text_seed)
        rng = np.random.default_rng(layout_seed)
        texts: list[str] = []
        while len(texts) < n:
            lines = wrap_paragraph(
                sentences,
                rng,
                self.max_lines,
                self.min_text_length,
                self.max_text_length,
                self.max_label_length - 2,
            )
            text = metadata.NEW_LINE_TOKEN.join(lines)
            if text not in excluded:
                texts.append(text)
        return texts

    def render_params(self) -> dict[str, Any]:
        return {
            "line_height": self.line_height,
            "max_lines": self.max_lines,
            "max_label_length": self.max_label_length,
        }

    def render_jobs(self, split: str) -> tuple[Callable[[tuple], list[dict]], list[tuple]]:
        paragraphs = [text.split(metadata.NEW_LINE_TOKEN) for text in self.texts(split)]
        stream, fonts = self.stream(split), tuple(self.fonts[split])
        jobs = [
            (paragraphs[start : start + self.chunk_size], stream, k, self.line_height, fonts)
            for k, start in enumerate(range(0, len(paragraphs), self.chunk_size))
        ]
        return _render_paragraphs_job, jobs
