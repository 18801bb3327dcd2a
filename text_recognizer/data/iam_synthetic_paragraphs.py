"""IAMSyntheticParagraphs: extra training paragraphs stacked from real IAM line crops.

IAM has only ~1,000 training paragraphs but ~10,000 training lines. Stacking a random
number of real line crops (1 to ``max_lines``, in random order, with random line gaps and
indents) gives as many new paragraphs as we like, in real handwriting, with exact labels.
FSDL did the same (text_recognizer/data/iam_synthetic_paragraphs.py in
the-full-stack/fsdl-text-recognizer-2022); here each paragraph is drawn on demand from a
generator seeded by ``(seed, index)``, so the set is reproducible and costs no disk.

Training data: the real training paragraphs plus ``num_synthetic`` synthetic ones (or the
synthetic ones only, with ``--synthetic_only``). Validation and test stay REAL paragraphs,
so model selection measures the task we care about. Synthetic lines come from the
training split only: no validation or test handwriting leaks into training.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import ConcatDataset, Dataset

from text_recognizer.data.iam_lines import IAMLines, keep_encodable, load_examples
from text_recognizer.data.iam_paragraphs import IAMParagraphs
from text_recognizer.data.util import convert_strings_to_labels
from text_recognizer.metadata import iam_lines as lines_metadata
from text_recognizer.metadata import iam_paragraphs as metadata
from text_recognizer.stems.image import ImageStem
from text_recognizer.util import read_image_pil

MAX_GAP = 0.15  # line gap: up to this fraction of a line's height (crops are already padded)
MAX_INDENT = 0.03  # left indent: up to this fraction of the widest line


def stack_lines(
    crops: Sequence[Image.Image], gaps: Sequence[int], indents: Sequence[int]
) -> Image.Image:
    """Stack ``L`` line crops (natural polarity) top to bottom on white paper.

    ``gaps[i]`` pixels of paper go above line ``i`` (none above the first), ``indents[i]``
    to its left. Overlaps keep the darker pixel, so padding never hides ink.

    >>> a, b = Image.new("L", (4, 2), 0), Image.new("L", (2, 3), 100)
    >>> page = stack_lines([a, b], gaps=[0, 1], indents=[0, 1]); page.size
    (4, 6)
    >>> np.asarray(page)[:, 1].tolist()
    [0, 0, 255, 100, 100, 100]
    """
    width = max(indent + crop.width for crop, indent in zip(crops, indents))
    height = sum(crop.height for crop in crops) + sum(gaps[1:])
    page = np.full((height, width), 255, dtype=np.uint8)
    y = 0
    for index, (crop, indent) in enumerate(zip(crops, indents)):
        y += gaps[index] if index else 0
        region = page[y : y + crop.height, indent : indent + crop.width]
        np.minimum(region, np.asarray(crop.convert("L")), out=region)
        y += crop.height
    return Image.fromarray(page, "L")


class StackedLineParagraphs(Dataset):
    """``num_samples`` paragraphs; paragraph ``i`` is always the same stack of line crops
    (drawn with ``numpy.random.default_rng((seed, i))``), run through ``stem``.

    The label is the line texts joined by ``"\\n"``; lines are added only while the label
    fits in ``max_label_length`` tokens (with <S> and <E>).
    """

    def __init__(
        self,
        line_paths: Sequence[Path],
        line_texts: Sequence[str],
        num_samples: int,
        max_lines: int,
        max_label_length: int,
        inverse_mapping: dict[str, int],
        stem: ImageStem,
        seed: int = 0,
    ) -> None:
        if not line_paths:
            raise ValueError("no line crops to build synthetic paragraphs from")
        if max_lines < 1:
            raise ValueError(f"max_lines must be at least 1, got {max_lines}")
        self.line_paths, self.line_texts = list(line_paths), list(line_texts)
        self.num_samples, self.max_lines = num_samples, max_lines
        self.max_label_length, self.inverse_mapping = max_label_length, inverse_mapping
        self.stem, self.seed = stem, seed

    def __len__(self) -> int:
        return self.num_samples

    def compose(self, index: int) -> tuple[Image.Image, str]:
        """The paragraph image (natural polarity, before the stem) and its text."""
        if not 0 <= index < self.num_samples:
            raise IndexError(index)
        rng = np.random.default_rng((self.seed, index))
        num_lines = int(rng.integers(1, self.max_lines + 1))
        chosen, length = [], -1  # -1: n lines need n - 1 newlines
        for line in rng.permutation(len(self.line_texts))[:num_lines]:
            if length + 1 + len(self.line_texts[line]) <= self.max_label_length - 2:
                chosen.append(int(line))
                length += 1 + len(self.line_texts[line])
        if not chosen:  # every drawn line was too long: fall back to the shortest line
            chosen = [min(range(len(self.line_texts)), key=lambda i: len(self.line_texts[i]))]
        crops = [read_image_pil(self.line_paths[i], grayscale=True) for i in chosen]
        median_height = float(np.median([crop.height for crop in crops]))
        widest = max(crop.width for crop in crops)
        gaps = rng.integers(0, int(MAX_GAP * median_height) + 1, size=len(crops)).tolist()
        indents = rng.integers(0, int(MAX_INDENT * widest) + 1, size=len(crops)).tolist()
        text = metadata.NEW_LINE_TOKEN.join(self.line_texts[i] for i in chosen)
        return stack_lines(crops, gaps, indents), text

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, text = self.compose(index)
        target = convert_strings_to_labels([text], self.inverse_mapping, self.max_label_length)
        return self.stem(image), target[0]


class IAMSyntheticParagraphs(IAMParagraphs):
    """IAMParagraphs whose training set adds paragraphs stacked from real training lines.

    Options (``args``), besides IAMParagraphs': ``num_synthetic``, ``max_lines``,
    ``synthetic_only``, ``seed``, ``lines_processed_dir`` (IAMLines' crop cache).
    """

    def __init__(self, args: argparse.Namespace | dict | None = None) -> None:
        super().__init__(args)
        self.num_synthetic = self.args.get("num_synthetic", metadata.SYNTHETIC_SAMPLES)
        self.max_lines = self.args.get("max_lines") or metadata.MAX_SYNTHETIC_LINES
        self.synthetic_only = self.args.get("synthetic_only", False)
        self.seed = self.args.get("seed", 0)
        self.lines_processed_dir = Path(
            self.args.get("lines_processed_dir") or lines_metadata.PROCESSED_DIRNAME
        )
        self.data_synthetic: StackedLineParagraphs | None = None

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        IAMParagraphs.add_to_argparse(parser)
        parser.add_argument(
            "--num_synthetic",
            type=int,
            default=metadata.SYNTHETIC_SAMPLES,
            help=f"synthetic paragraphs per epoch (default {metadata.SYNTHETIC_SAMPLES})",
        )
        parser.add_argument(
            "--max_lines",
            type=int,
            default=metadata.MAX_SYNTHETIC_LINES,
            help=f"most lines in a synthetic paragraph (default {metadata.MAX_SYNTHETIC_LINES})",
        )
        parser.add_argument(
            "--synthetic_only",
            action="store_true",
            help="train on synthetic paragraphs only (default: real + synthetic)",
        )
        return parser

    def _lines_args(self) -> dict:
        return {**self.args, "processed_dir": self.lines_processed_dir}

    def prepare_data(self) -> None:
        super().prepare_data()  # real paragraphs (validation, test, and real training data)
        IAMLines(self._lines_args()).prepare_data()  # the line crops to stack

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        paths, texts = load_examples(self.lines_processed_dir, "train")
        paths, texts = keep_encodable(
            paths, texts, self.mapping, self.max_label_length, "IAMSyntheticParagraphs lines"
        )
        synthetic = StackedLineParagraphs(
            paths,
            texts,
            num_samples=self.num_synthetic,
            max_lines=self.max_lines,
            max_label_length=self.max_label_length,
            inverse_mapping=self.inverse_mapping,
            stem=self.train_stem,
            seed=self.seed,
        )
        self.data_synthetic = synthetic
        self.data_train = (
            synthetic if self.synthetic_only else ConcatDataset([self.data_train, synthetic])
        )
