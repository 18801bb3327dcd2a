"""IAMParagraphs: the handwritten part of each IAM form, labelled with its lines joined by "\\n".

``prepare_data`` crops each form's paragraph region (the union of its padded line boxes, so
the machine-printed prompt above it is left out) and caches the crops as PNGs in natural
polarity with a ``labels.json``, atomically. ``setup`` reads them lazily through the
:class:`~text_recognizer.stems.paragraph.ParagraphStem`, augmenting training data only.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from text_recognizer.data.base_data_module import BaseDataModule, add_image_text_args
from text_recognizer.data.iam import IAM
from text_recognizer.data.iam_lines import (
    LABELS_FILENAME,
    LoadImage,
    keep_encodable,
    load_examples,
    save_examples,
)
from text_recognizer.data.util import BaseDataset, convert_strings_to_labels
from text_recognizer.metadata import iam as iam_metadata
from text_recognizer.metadata import iam_paragraphs as metadata
from text_recognizer.stems.paragraph import ParagraphStem

logger = logging.getLogger(__name__)


class IAMParagraphs(BaseDataModule):
    """IAM paragraphs: ``x`` is ``(B, 1, image_height, image_width)`` with ink ~ 1, ``y`` is
    ``(B, max_label_length)`` over ``metadata.MAPPING`` (the line mapping plus ``"\\n"``).

    Options (``args``): ``image_height``, ``image_width``, ``max_label_length``,
    ``augment_data`` (default True), ``processed_dir``, and :class:`IAM`'s options.
    """

    def __init__(self, args: argparse.Namespace | dict | None = None) -> None:
        super().__init__(args)
        self.image_height = self.args.get("image_height") or metadata.IMAGE_HEIGHT
        self.image_width = self.args.get("image_width") or metadata.IMAGE_WIDTH
        self.max_label_length = self.args.get("max_label_length") or metadata.MAX_LABEL_LENGTH
        self.augment = self.args.get("augment_data", True)
        self.processed_dir = Path(self.args.get("processed_dir") or metadata.PROCESSED_DIRNAME)

        self.mapping = metadata.MAPPING
        self.inverse_mapping = {char: index for index, char in enumerate(self.mapping)}
        self.input_dims = (1, self.image_height, self.image_width)
        self.output_dims = (self.max_label_length, 1)
        self.stem = ParagraphStem(self.image_height, self.image_width)
        self.train_stem = ParagraphStem(self.image_height, self.image_width, augment=self.augment)

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        BaseDataModule.add_to_argparse(parser)
        IAM.add_to_argparse(parser)
        add_image_text_args(
            parser,
            "paragraph",
            metadata.IMAGE_HEIGHT,
            metadata.IMAGE_WIDTH,
            metadata.MAX_LABEL_LENGTH,
        )
        return parser

    def prepare_data(self) -> None:
        if (self.processed_dir / LABELS_FILENAME).exists():
            return
        iam = IAM(self.args)
        iam.prepare_data()
        logger.info("Cropping IAM paragraphs into %s", self.processed_dir)
        examples = {
            split: [(iam.paragraph_crop(i), iam.paragraph_string_by_id[i], i) for i in form_ids]
            for split, form_ids in iam.ids_by_split.items()
        }
        assert set(examples) == set(iam_metadata.SPLITS)
        save_examples(examples, self.processed_dir)

    def setup(self, stage: str | None = None) -> None:
        self.data_train = self._dataset("train", self.train_stem)
        self.data_val = self._dataset("val", self.stem)
        self.data_test = self._dataset("test", self.stem)

    def _dataset(self, split: str, stem: ParagraphStem) -> BaseDataset:
        paths, texts = load_examples(self.processed_dir, split)
        paths, texts = keep_encodable(
            paths, texts, self.mapping, self.max_label_length, f"{type(self).__name__} {split}"
        )
        return BaseDataset(paths, self.encode(texts), transform=LoadImage(stem))

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Strings -> ``(N, max_label_length)`` label rows."""
        if not texts:
            return torch.zeros((0, self.max_label_length), dtype=torch.long)
        return convert_strings_to_labels(texts, self.inverse_mapping, self.max_label_length)
