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

from collections.abc import Callable
from typing import Any

import numpy as np

# The page rendering lives in data/synthetic/paragraph.py (Lightning-free: monitoring uses it).
from text_recognizer.data.synthetic.paragraph import (
    MAX_LINES,
    MAX_TEXT_LENGTH,
    MIN_TEXT_LENGTH,
    line_height_for,
    render_paragraph,
    wrap_paragraph,
)
from text_recognizer.data.synthetic_lines import SyntheticTextImages
from text_recognizer.data.synthetic_splits import chunk_rng, stream_seeds
from text_recognizer.metadata import iam_paragraphs as metadata
from text_recognizer.stems.paragraph import ParagraphStem

NUM_TRAIN = 300
NUM_VAL = 30
NUM_TEST = 100


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
