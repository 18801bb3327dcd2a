"""IAMLines: real handwritten lines from IAM, one crop per line, one string per crop.

``prepare_data`` crops every handwritten line out of the IAM forms (padded boxes, see
:mod:`text_recognizer.data.iam`) and caches them as PNGs in natural polarity, with a
``labels.json``; the cache folder appears atomically, complete or not at all. ``setup``
reads them lazily (DataLoader workers decode in parallel) and runs them through the
:class:`~text_recognizer.stems.line.LineStem`, with augmentation for training only.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from text_recognizer.data.base_data_module import BaseDataModule, add_image_text_args
from text_recognizer.data.iam import IAM, atomic_directory
from text_recognizer.data.util import BaseDataset, convert_strings_to_labels
from text_recognizer.metadata import iam as iam_metadata
from text_recognizer.metadata import iam_lines as metadata
from text_recognizer.stems.line import LineStem
from text_recognizer.util import read_image_pil

logger = logging.getLogger(__name__)

LABELS_FILENAME = "labels.json"


class LoadImage:
    """Dataset transform: read an image file as ``L``, then apply ``stem`` (picklable, so
    it works in DataLoader worker processes)."""

    def __init__(self, stem: Callable[[Image.Image], Any]) -> None:
        self.stem = stem

    def __call__(self, path: str | Path) -> Any:
        return self.stem(read_image_pil(Path(path), grayscale=True))


def save_examples(examples: dict[str, list[tuple[Image.Image, str, str]]], target: Path) -> None:
    """Write ``{split: [(image, text, form_id), ...]}`` as PNGs plus ``labels.json``,
    atomically (the folder appears only once everything is written)."""
    with atomic_directory(target) as tmp:
        labels: dict[str, list[dict[str, str]]] = {}
        for split, items in examples.items():
            (tmp / split).mkdir()
            labels[split] = []
            for index, (image, text, form_id) in enumerate(items):
                filename = f"{split}/{index:06d}.png"
                image.save(tmp / filename)
                labels[split].append({"file": filename, "text": text, "form_id": form_id})
        (tmp / LABELS_FILENAME).write_text(json.dumps(labels, indent=1, ensure_ascii=False))


def load_examples(directory: Path, split: str) -> tuple[list[Path], list[str]]:
    """Image paths and texts of one split of a cache written by :func:`save_examples`."""
    labels = json.loads((directory / LABELS_FILENAME).read_text())
    return [directory / item["file"] for item in labels[split]], [i["text"] for i in labels[split]]


def keep_encodable(
    paths: Sequence[Path], texts: Sequence[str], mapping: Sequence[str], max_length: int, what: str
) -> tuple[list[Path], list[str]]:
    """Drop (with a warning) examples with characters outside ``mapping`` or longer than
    ``max_length - 2`` (room for <S> and <E>): they cannot be encoded as targets.

    >>> keep_encodable(["a", "b", "c"], ["ok", "t\u00e9", "too long"], list("<>okt "), 6, "x")
    (['a'], ['ok'])
    """
    charset = set(mapping)
    kept = [(p, t) for p, t in zip(paths, texts) if set(t) <= charset and len(t) <= max_length - 2]
    if len(kept) < len(texts):
        unknown = sorted({c for t in texts for c in t} - charset)
        logger.warning(
            "%s: dropped %d of %d examples (too long for %d tokens, or unknown characters %s)",
            what,
            len(texts) - len(kept),
            len(texts),
            max_length,
            unknown,
        )
    return [p for p, _ in kept], [t for _, t in kept]


class IAMLines(BaseDataModule):
    """IAM handwritten lines: ``x`` is ``(B, 1, image_height, image_width)`` with ink ~ 1,
    ``y`` is ``(B, max_label_length)``: ``<S>`` text ``<E>`` then ``<P>`` padding.

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
        self.stem = LineStem(self.image_height, self.image_width)
        self.train_stem = LineStem(self.image_height, self.image_width, augment=self.augment)

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        BaseDataModule.add_to_argparse(parser)
        IAM.add_to_argparse(parser)
        parser.add_argument(
            "--processed_dir",
            type=Path,
            default=None,
            help=f"cache of the line crops (default {metadata.PROCESSED_DIRNAME})",
        )
        add_image_text_args(
            parser, "line", metadata.IMAGE_HEIGHT, metadata.IMAGE_WIDTH, metadata.MAX_LABEL_LENGTH
        )
        return parser

    def prepare_data(self) -> None:
        if (self.processed_dir / LABELS_FILENAME).exists():
            return
        iam = IAM(self.args)
        iam.prepare_data()
        logger.info("Cropping IAM lines into %s", self.processed_dir)
        examples = {split: [] for split in iam_metadata.SPLITS}
        for split, form_ids in iam.ids_by_split.items():
            for form_id in form_ids:
                crops = iam.line_crops(form_id)
                texts = iam.line_strings_by_id[form_id]
                examples[split] += [(crop, text, form_id) for crop, text in zip(crops, texts)]
        save_examples(examples, self.processed_dir)

    def setup(self, stage: str | None = None) -> None:
        self.data_train = self._dataset("train", self.train_stem)
        self.data_val = self._dataset("val", self.stem)
        self.data_test = self._dataset("test", self.stem)

    def _dataset(self, split: str, stem: LineStem) -> BaseDataset:
        paths, texts = load_examples(self.processed_dir, split)
        paths, texts = keep_encodable(
            paths, texts, self.mapping, self.max_label_length, f"IAMLines {split}"
        )
        targets = self.encode(texts)
        return BaseDataset(paths, targets, transform=LoadImage(stem))

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Strings -> ``(N, max_label_length)`` label rows."""
        if not texts:
            return torch.zeros((0, self.max_label_length), dtype=torch.long)
        return convert_strings_to_labels(texts, self.inverse_mapping, self.max_label_length)
