"""AnnotatedLines: lines YOU annotated in Label Studio, shaped exactly like IAMLines.

The last step of the annotation round trip (Lab 06): :func:`~text_recognizer.annotation.
convert.convert_export` turns a Label Studio export into upright line crops and texts
(``lines.json``); this DataModule trains on them with the same
:class:`~text_recognizer.stems.line.LineStem`, input dims, mapping and label rows as
:class:`~text_recognizer.data.iam_lines.IAMLines`, so every line model and lit model works
unchanged::

    text-recognizer train --data_class AnnotatedLines --data_dir data/annotated/forms \\
        --model_class LineCNNTransformer

Splits are by PAGE (all lines of a page in one split: lines of one writer must not leak
from train into val), drawn with a fixed seed: ``--val_fraction`` (default 0.2) and
``--test_fraction`` (default 0) of the pages, at least one page each when asked for and
there are enough pages, and always at least one page for training.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from text_recognizer.data.base_data_module import BaseDataModule, add_image_text_args
from text_recognizer.data.iam_lines import LoadImage, keep_encodable
from text_recognizer.data.util import BaseDataset, convert_strings_to_labels
from text_recognizer.metadata import iam_lines as metadata
from text_recognizer.metadata.shared import PROCESSED_DATA_DIRNAME
from text_recognizer.stems.line import LineStem

DATA_DIRNAME = PROCESSED_DATA_DIRNAME / "annotated_lines"
LINES_FILENAME = "lines.json"  # written by text_recognizer.annotation.convert
VAL_FRACTION, TEST_FRACTION = 0.2, 0.0
SPLIT_SEED = 0


def split_pages(
    page_ids: Sequence[str], val_fraction: float, test_fraction: float, seed: int = SPLIT_SEED
) -> dict[str, list[str]]:
    """Shuffle pages with ``seed`` and cut them into train/val/test.

    A requested split gets at least one page while train keeps at least one.

    >>> split_pages(["a", "b"], 0.2, 0.0)
    {'train': ['b'], 'val': ['a'], 'test': []}
    >>> {k: len(v) for k, v in split_pages(list("abcdefghij"), 0.2, 0.1).items()}
    {'train': 7, 'val': 2, 'test': 1}
    """
    pages = sorted(set(page_ids))
    order = [pages[i] for i in np.random.default_rng(seed).permutation(len(pages))]
    sizes = []
    for fraction in (val_fraction, test_fraction):
        wanted = max(1, math.floor(fraction * len(pages) + 0.5)) if fraction > 0 else 0
        sizes.append(min(wanted, max(0, len(pages) - 1 - sum(sizes))))
    n_val, n_test = sizes
    return {
        "train": sorted(order[n_val + n_test :]),
        "val": sorted(order[:n_val]),
        "test": sorted(order[n_val : n_val + n_test]),
    }


class AnnotatedLines(BaseDataModule):
    """Annotated handwritten lines: ``x`` is ``(B, 1, image_height, image_width)`` with ink
    ~ 1, ``y`` is ``(B, max_label_length)``: ``<S>`` text ``<E>`` then ``<P>`` padding.

    Options (``args``): ``data_dir`` (a converted export), ``val_fraction``,
    ``test_fraction``, ``image_height``, ``image_width``, ``max_label_length``,
    ``augment_data`` (default True).
    """

    def __init__(self, args: argparse.Namespace | dict | None = None) -> None:
        super().__init__(args)
        self.data_dir = Path(self.args.get("data_dir") or DATA_DIRNAME)
        self.val_fraction = float(self.args.get("val_fraction", VAL_FRACTION))
        self.test_fraction = float(self.args.get("test_fraction", TEST_FRACTION))
        self.image_height = self.args.get("image_height") or metadata.IMAGE_HEIGHT
        self.image_width = self.args.get("image_width") or metadata.IMAGE_WIDTH
        self.max_label_length = self.args.get("max_label_length") or metadata.MAX_LABEL_LENGTH
        self.augment = self.args.get("augment_data", True)

        self.mapping = metadata.MAPPING
        self.inverse_mapping = {char: index for index, char in enumerate(self.mapping)}
        self.input_dims = (1, self.image_height, self.image_width)
        self.output_dims = (self.max_label_length, 1)
        self.stem = LineStem(self.image_height, self.image_width)
        self.train_stem = LineStem(self.image_height, self.image_width, augment=self.augment)
        self.pages_by_split: dict[str, list[str]] = {}

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        BaseDataModule.add_to_argparse(parser)
        parser.add_argument(
            "--data_dir",
            type=str,
            default=str(DATA_DIRNAME),
            help=f"a converted Label Studio export (default {DATA_DIRNAME})",
        )
        parser.add_argument(
            "--val_fraction",
            type=float,
            default=VAL_FRACTION,
            help=f"fraction of pages for validation (default {VAL_FRACTION})",
        )
        parser.add_argument(
            "--test_fraction",
            type=float,
            default=TEST_FRACTION,
            help=f"fraction of pages for test (default {TEST_FRACTION})",
        )
        add_image_text_args(
            parser, "line", metadata.IMAGE_HEIGHT, metadata.IMAGE_WIDTH, metadata.MAX_LABEL_LENGTH
        )
        return parser

    def prepare_data(self) -> None:
        if not (self.data_dir / LINES_FILENAME).exists():
            raise FileNotFoundError(
                f"no {LINES_FILENAME} in {self.data_dir}: convert a Label Studio export first, "
                "with text_recognizer.annotation.convert.convert_export(export, data_dir)"
            )

    def setup(self, stage: str | None = None) -> None:
        self.prepare_data()
        records = json.loads((self.data_dir / LINES_FILENAME).read_text())
        if not records:
            raise ValueError(
                f"{self.data_dir / LINES_FILENAME} holds no lines: nothing to train on"
            )
        self.pages_by_split = split_pages(
            [r["page_id"] for r in records], self.val_fraction, self.test_fraction
        )
        split_of_page = {p: s for s, pages in self.pages_by_split.items() for p in pages}
        by_split: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
        for record in records:
            by_split[split_of_page[record["page_id"]]].append(record)
        self.data_train = self._dataset("train", by_split["train"], self.train_stem)
        self.data_val = self._dataset("val", by_split["val"], self.stem)
        self.data_test = self._dataset("test", by_split["test"], self.stem)

    def _dataset(self, split: str, records: list[dict], stem: LineStem) -> BaseDataset:
        paths = [self.data_dir / r["file"] for r in records]
        texts = [r["text"] for r in records]
        paths, texts = keep_encodable(
            paths, texts, self.mapping, self.max_label_length, f"AnnotatedLines {split}"
        )
        if texts:
            targets = convert_strings_to_labels(texts, self.inverse_mapping, self.max_label_length)
        else:
            targets = torch.zeros((0, self.max_label_length), dtype=torch.long)
        return BaseDataset(paths, targets, transform=LoadImage(stem))
