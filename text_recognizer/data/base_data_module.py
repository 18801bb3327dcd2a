"""The LightningDataModule every dataset in the course derives from."""

from __future__ import annotations

import argparse
import os
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

BATCH_SIZE = 128
NUM_AVAILABLE_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
# One loader worker per spare core; on a 2-core machine that is 1 (plus the main process).
DEFAULT_NUM_WORKERS = max(NUM_AVAILABLE_CPUS - 1, 0)


class BaseDataModule(pl.LightningDataModule):
    """Holds ``data_train/val/test`` datasets and turns them into DataLoaders.

    Subclasses set ``input_dims``, ``output_dims`` and ``mapping`` in ``__init__`` and fill
    the datasets in ``setup``; ``prepare_data`` is where downloads or generation happen
    (Lightning calls it on one process only).
    """

    collate_fn = None  # batches of varying shapes (e.g. line widths) set their own

    def __init__(self, args: argparse.Namespace | dict | None = None) -> None:
        super().__init__()
        self.args = vars(args) if isinstance(args, argparse.Namespace) else dict(args or {})
        self.batch_size = self.args.get("batch_size", BATCH_SIZE)
        self.num_workers = self.args.get("num_workers", DEFAULT_NUM_WORKERS)
        self.on_gpu = torch.cuda.is_available() and self.args.get("accelerator") != "cpu"

        self.input_dims: tuple[int, ...]
        self.output_dims: tuple[int, ...]
        self.mapping: list
        self.data_train: Dataset | None = None
        self.data_val: Dataset | None = None
        self.data_test: Dataset | None = None

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument(
            "--batch_size",
            type=int,
            default=BATCH_SIZE,
            help=f"examples per step (default {BATCH_SIZE})",
        )
        parser.add_argument(
            "--num_workers",
            type=int,
            default=DEFAULT_NUM_WORKERS,
            help=f"DataLoader worker processes (default {DEFAULT_NUM_WORKERS})",
        )
        return parser

    def config(self) -> dict[str, Any]:
        """What a model needs to know about the data to build itself."""
        return {
            "input_dims": self.input_dims,
            "output_dims": self.output_dims,
            "mapping": self.mapping,
        }

    def _dataloader(self, dataset: Dataset | None, shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}: call prepare_data() and setup() first")
        return DataLoader(
            dataset,
            shuffle=shuffle,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            pin_memory=self.on_gpu,
            persistent_workers=self.num_workers > 0,
            collate_fn=self.collate_fn,
        )

    def train_dataloader(self) -> DataLoader:
        return self._dataloader(self.data_train, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._dataloader(self.data_val, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._dataloader(self.data_test, shuffle=False)

    def __str__(self) -> str:  # LightningDataModule defines its own; ours is more useful
        return self.__repr__()

    def __repr__(self) -> str:
        lines = [
            f"{type(self).__name__}",
            f"  input_dims: {self.input_dims}  output_dims: {self.output_dims}",
            f"  mapping: {len(self.mapping)} classes, e.g. {self.mapping[:12]}",
        ]
        if self.data_train is None:
            lines.append("  (data not set up: call prepare_data() and setup())")
            return "\n".join(lines)
        lines.append(
            f"  sizes: train {len(self.data_train)}, val {len(self.data_val)}, "
            f"test {len(self.data_test) if self.data_test is not None else '-'}"
        )
        x, y = next(iter(self.train_dataloader()))
        lines.append(
            f"  batch x: {tuple(x.shape)} {x.dtype}, min {x.min():.2f} "
            f"max {x.max():.2f} mean {x.float().mean():.2f} std {x.float().std():.2f}"
        )
        lines.append(f"  batch y: {tuple(y.shape)} {y.dtype}, min {y.min()} max {y.max()}")
        return "\n".join(lines)


def add_image_text_args(
    parser: argparse.ArgumentParser, kind: str, height: int, width: int, max_label_length: int
) -> argparse.ArgumentParser:
    """The flags every image-to-text DataModule shares (lines, paragraphs): image size,
    target length and training-time augmentation. ``kind`` names the image in the help."""
    parser.add_argument(
        "--image_height", type=int, default=height, help=f"{kind} image height (default {height})"
    )
    parser.add_argument(
        "--image_width", type=int, default=width, help=f"{kind} image width (default {width})"
    )
    parser.add_argument(
        "--max_label_length",
        type=int,
        default=max_label_length,
        help=f"target length incl. <S> and <E> (default {max_label_length})",
    )
    parser.add_argument(
        "--augment_data",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="augment training images (default: on)",
    )
    return parser
