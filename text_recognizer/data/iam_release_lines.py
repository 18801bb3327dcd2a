"""IAMReleaseLines: real IAM lines shaped for the release reader, to fine-tune it.

The release recognizer is trained on synthetic pages (SyntheticParagraphLines). Users with
a network can fine-tune it on real handwriting: ``make release-model DATA=iam`` trains on
these lines starting from the synthetic checkpoint, then stages the result the same way.
The lines come from :class:`~text_recognizer.data.iam_lines.IAMLines` (the existing IAM
download, parsing and cropping), and go through the SAME preprocessing as at inference::

    IAM line crop -> stems.normalize.normalize_page (polarity, illumination)
    -> LineStripStem (1, 32, w), ink ~ 1 -> labels over the release mapping (blank first)

Evaluation stays on the fixed synthetic test pages (``paragraphs``), so the card of a
fine-tuned model compares with the synthetic one; the real-handwriting benchmark
(``make bench BENCH=real_handwriting``) measures what the fine-tuning bought.
"""

from __future__ import annotations

import argparse
from typing import Any

from PIL import Image

from text_recognizer.data.iam_lines import IAMLines
from text_recognizer.data.synthetic_paragraph_lines import (
    LINE_HEIGHT,
    LINE_MAX_WIDTH,
    WIDTH_MULTIPLE,
    collate_lines,
)
from text_recognizer.data.synthetic_paragraphs import SyntheticParagraphs
from text_recognizer.metadata import emnist
from text_recognizer.metadata import iam as iam_metadata
from text_recognizer.stems.normalize import normalize_page
from text_recognizer.stems.segment import LineStripStem, segmenter_config

# The release model's fixed synthetic test split (evaluation only: nothing is trained on it)
EVAL_PAGES = {"num_train": 0, "num_val": 0, "num_test": 200, "sentence_source": "offline"}


class NormalizedLine:
    """A line crop -> the release tensor: normalize like a page, then the strip stem
    (picklable, for DataLoader workers)."""

    def __init__(self, stem: LineStripStem) -> None:
        self.stem = stem

    def __call__(self, image: Image.Image):
        return self.stem(normalize_page(image))

    def config(self) -> dict[str, Any]:
        return self.stem.config()


class IAMReleaseLines(IAMLines):
    """IAM lines as ``(1, 32, w)`` strip tensors over the release (CTC) mapping. Options:
    IAMLines' (download and cache), ``--holdout_families`` for the synthetic evaluation.

    >>> data = IAMReleaseLines()
    >>> data.config()["input_dims"], data.mapping[0]
    ((1, 32, 2048), '<B>')
    """

    collate_fn = staticmethod(collate_lines)  # lines keep their widths, padded per batch

    def __init__(self, args: argparse.Namespace | dict | None = None) -> None:
        super().__init__(args)
        self.mapping = list(emnist.MAPPING)
        self.inverse_mapping = {char: index for index, char in enumerate(self.mapping)}
        self.input_dims = (1, LINE_HEIGHT, LINE_MAX_WIDTH)
        strip = LineStripStem(LINE_HEIGHT, LINE_MAX_WIDTH, WIDTH_MULTIPLE)
        self.stem = NormalizedLine(strip)
        self.train_stem = NormalizedLine(strip.with_augment(self.augment))
        holdout = {"holdout_families": self.args.get("holdout_families")}
        self.paragraphs = SyntheticParagraphs({**EVAL_PAGES, **holdout})

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        IAMLines.add_to_argparse(parser)
        parser.add_argument(
            "--holdout_families",
            default=None,
            help="font families held out of the synthetic training (recorded in the card)",
        )
        return parser

    def config(self) -> dict[str, Any]:
        return {**super().config(), "stem": self.stem.config(), "segmenter": segmenter_config()}

    @property
    def fingerprints(self) -> dict[str, str]:
        """What identifies the training lines (for the model card): the IAM archive's hash."""
        return {"iam_sha256": self.args.get("iam_sha256") or iam_metadata.SHA256}
