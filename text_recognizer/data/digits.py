"""Real handwritten digits that ship inside scikit-learn: the course's no-download dataset.

1,797 images of 8x8 pixels by 13 writers: the test part of the UCI "optical recognition of
handwritten digits" set (43 writers in all; scikit-learn ships only this part). Small
enough to train an MLP in seconds on a laptop CPU.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from text_recognizer.data.base_data_module import BaseDataModule
from text_recognizer.data.util import BaseDataset, split_dataset
from text_recognizer.metadata import digits as metadata

TEST_FRACTION = 0.2
TRAIN_FRACTION = 0.85  # of what is left after the test split


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 in [0, 1] of shape (N, 1, 8, 8), and int64 labels of shape (N,)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images / metadata.MAX_PIXEL_VALUE).astype(np.float32)[:, None]
    return images, bunch.target.astype(np.int64)


class Digits(BaseDataModule):
    """scikit-learn's 8x8 digits with a fixed test split and a seeded train/val split."""

    def __init__(self, args: argparse.Namespace | dict | None = None) -> None:
        super().__init__(args)
        self.seed = self.args.get("seed", 0)
        self.input_dims = metadata.DIMS
        self.output_dims = metadata.OUTPUT_DIMS
        self.mapping = metadata.MAPPING

    def setup(self, stage: str | None = None) -> None:
        images, labels = load_digits_arrays()
        full = BaseDataset(torch.from_numpy(images), torch.from_numpy(labels))
        rest, self.data_test = split_dataset(full, 1 - TEST_FRACTION, seed=1234)  # fixed forever
        self.data_train, self.data_val = split_dataset(rest, TRAIN_FRACTION, seed=self.seed)
