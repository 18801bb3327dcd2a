"""MNIST with real download code: URL + SHA-256 + cache + atomic write.

``prepare_data`` downloads the four gzipped IDX files (once) and converts them to one
``.npz``; ``setup`` splits train into train/val. Offline, use ``Digits`` (ships with
scikit-learn) or ``SyntheticCharacters`` instead. ``--mnist_base_url`` (or the
``TEXT_RECOGNIZER_MNIST_URL`` environment variable) points at a mirror.
"""

from __future__ import annotations

import argparse
import gzip
import os
from pathlib import Path

import numpy as np
import torch

from text_recognizer.data.base_data_module import BaseDataModule
from text_recognizer.data.download import download_file
from text_recognizer.data.util import BaseDataset, split_dataset
from text_recognizer.metadata import mnist as metadata
from text_recognizer.metadata.shared import DOWNLOADED_DATA_DIRNAME, PROCESSED_DATA_DIRNAME
from text_recognizer.util import atomic_write

OFFLINE_ALTERNATIVE = "--data_class Digits (scikit-learn's digits) or SyntheticCharacters"


def read_idx(data: bytes) -> np.ndarray:
    """Parse the IDX format (big-endian header: magic, dims; then raw uint8 values).

    >>> raw = bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))
    >>> read_idx(raw).tolist()
    [[0, 1, 2], [3, 4, 5]]
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError("not an unsigned-byte IDX file (bad magic number)")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape))
    if len(data) - offset != expected:
        raise ValueError(f"IDX payload has {len(data) - offset} bytes, header says {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)


class MNIST(BaseDataModule):
    """The classic 28x28 digits, downloaded and checked by SHA-256."""

    def __init__(self, args: argparse.Namespace | dict | None = None) -> None:
        super().__init__(args)
        self.base_url = (
            self.args.get("mnist_base_url")
            or os.environ.get("TEXT_RECOGNIZER_MNIST_URL")
            or metadata.BASE_URL
        )
        self.files = self.args.get("mnist_files", metadata.FILES)  # tests swap in fixtures
        self.download_dir = Path(self.args.get("download_dir", DOWNLOADED_DATA_DIRNAME / "mnist"))
        self.processed_path = Path(
            self.args.get("processed_path", PROCESSED_DATA_DIRNAME / "mnist" / "mnist.npz")
        )
        self.seed = self.args.get("seed", 0)
        self.input_dims = metadata.DIMS
        self.output_dims = metadata.OUTPUT_DIMS
        self.mapping = metadata.MAPPING

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        BaseDataModule.add_to_argparse(parser)
        parser.add_argument(
            "--mnist_base_url",
            type=str,
            default=None,
            help="mirror to download MNIST from (default: the official one)",
        )
        return parser

    def download(self) -> dict[str, Path]:
        """Download (or find in the cache) the four files; returns their verified paths."""
        return {
            key: download_file(
                self.base_url.rstrip("/") + "/" + filename,
                sha256,
                self.download_dir,
                offline_alternative=OFFLINE_ALTERNATIVE,
            )
            for key, (filename, sha256) in self.files.items()
        }

    def prepare_data(self) -> None:
        if self.processed_path.exists():
            return
        paths = self.download()
        arrays = {key: read_idx(gzip.decompress(path.read_bytes())) for key, path in paths.items()}
        self.processed_path.parent.mkdir(parents=True, exist_ok=True)
        # atomic: a crash never leaves a half-written file
        with atomic_write(self.processed_path, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    def setup(self, stage: str | None = None) -> None:
        with np.load(self.processed_path) as arrays:

            def to_dataset(images_key: str, labels_key: str) -> BaseDataset:
                images = torch.from_numpy(arrays[images_key]).float().div(255).unsqueeze(1)
                return BaseDataset(images, torch.from_numpy(arrays[labels_key]).long())

            full_train = to_dataset("train_images", "train_labels")
            self.data_test = to_dataset("test_images", "test_labels")
        self.data_train, self.data_val = split_dataset(
            full_train, 1 - metadata.VAL_FRACTION, seed=self.seed
        )
