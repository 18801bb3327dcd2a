"""SyntheticCharacters: EMNIST-like 28x28 handwritten characters, generated offline.

A drop-in for EMNIST that needs no download: same image size, same polarity (bright ink on
a dark background), same character mapping (``metadata.emnist.MAPPING``), and targets that
index into it. Classes are balanced over every printable non-space character.

Unlike EMNIST, characters keep the size and position they have in a line of writing, so
"o"/"O" and "p"/"P" differ in size and height (see ``data/synthetic/render.py``).

Train, val and test are generated from different seeds (disjoint by construction) and can
use different fonts: ``--heldout_families`` keeps whole font families out of train/val and
tests on them only. Each split is cached as ``<fingerprint>.npz`` plus a ``.json`` record
(generator version, fonts, seed, sizes) under ``data/processed/synthetic_characters``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from text_recognizer.data.base_data_module import NUM_AVAILABLE_CPUS, BaseDataModule
from text_recognizer.data.synthetic import (
    dataset_fingerprint,
    list_fonts,
    render_characters,
    select_fonts,
)
from text_recognizer.data.synthetic.fonts import FontSpec
from text_recognizer.data.util import BaseDataset
from text_recognizer.metadata import emnist as metadata
from text_recognizer.metadata.shared import PROCESSED_DATA_DIRNAME
from text_recognizer.util import atomic_write, atomic_write_text

NUM_TRAIN = 60_000  # ~770 images per class; with val + test ~10 s to generate on 2 cores
NUM_VAL = 6_000
NUM_TEST = 6_000
GEN_WORKERS = min(2, NUM_AVAILABLE_CPUS)
SPLITS = ("train", "val", "test")
DATA_DIRNAME = PROCESSED_DATA_DIRNAME / "synthetic_characters"
# Every printable character except the space: the classes this dataset generates.
CLASS_CHARS = [c for c in metadata.CHARSET if c != " "]
CLASS_INDICES = np.array([metadata.INVERSE_MAPPING[c] for c in CLASS_CHARS], dtype=np.int64)


def _names(value: str | list[str] | tuple[str, ...] | None) -> list[str] | None:
    """Comma-separated string (CLI) or list -> list of names; None/"" -> None.

    >>> _names("Hershey Sans, Kristi"), _names(None), _names(["a"])
    (['Hershey Sans', 'Kristi'], None, ['a'])
    """
    if value is None or value == "":
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item.strip()] or None


def split_seed(seed: int, split: str) -> int:
    """A different, reproducible seed for each split, so splits never share samples' draws.

    >>> split_seed(0, "train") != split_seed(0, "val"), split_seed(0, "val") == split_seed(0, "val")
    (True, True)
    """
    entropy = [seed, SPLITS.index(split), 0x5C4A5]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint32)[0])


def balanced_labels(n: int, seed: int) -> np.ndarray:
    """(n,) indices into MAPPING, every class as often as possible, in random order.

    >>> counts = np.bincount(balanced_labels(156, seed=0))
    >>> sorted(set(counts[CLASS_INDICES].tolist()))  # 156 = 2 x 78 classes
    [2]
    """
    labels = np.resize(CLASS_INDICES, n)
    return np.random.default_rng(seed).permutation(labels)


class SyntheticCharacters(BaseDataModule):
    """EMNIST-compatible synthetic characters; see the module docstring."""

    def __init__(self, args: argparse.Namespace | dict | None = None) -> None:
        super().__init__(args)
        self.seed = int(self.args.get("seed", 0))
        self.sizes = {
            "train": int(self.args.get("num_train", NUM_TRAIN)),
            "val": int(self.args.get("num_val", NUM_VAL)),
            "test": int(self.args.get("num_test", NUM_TEST)),
        }
        self.gen_workers = int(self.args.get("gen_workers", GEN_WORKERS))
        self.data_dir = Path(self.args.get("data_dir") or DATA_DIRNAME)
        fonts = list_fonts(
            include=_names(self.args.get("fonts_include")),
            exclude=_names(self.args.get("fonts_exclude")),
        )
        heldout = _names(self.args.get("heldout_families"))
        self.fonts: dict[str, list[FontSpec]] = dict.fromkeys(SPLITS, fonts)
        if heldout:
            seen = select_fonts(fonts, exclude=heldout)
            self.fonts = {"train": seen, "val": seen, "test": select_fonts(fonts, include=heldout)}
        self.fingerprints: dict[str, str] = {}
        self.records: dict[str, dict] = {}
        for split in SPLITS:
            key, record = dataset_fingerprint(
                "synthetic_characters",
                split_seed(self.seed, split),
                self.fonts[split],
                split=split,
                num=self.sizes[split],
                image_size=list(metadata.DIMS[1:]),
                labels="balanced",
                classes=len(CLASS_CHARS),
            )
            self.fingerprints[split], self.records[split] = key, record
        self.input_dims = metadata.DIMS
        self.output_dims = metadata.OUTPUT_DIMS
        self.mapping = metadata.MAPPING

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        BaseDataModule.add_to_argparse(parser)
        parser.add_argument("--seed", type=int, default=0, help="generation seed (default 0)")
        parser.add_argument(
            "--num_train",
            type=int,
            default=NUM_TRAIN,
            help=f"training images to generate (default {NUM_TRAIN})",
        )
        parser.add_argument(
            "--num_val", type=int, default=NUM_VAL, help=f"validation images (default {NUM_VAL})"
        )
        parser.add_argument(
            "--num_test", type=int, default=NUM_TEST, help=f"test images (default {NUM_TEST})"
        )
        parser.add_argument(
            "--gen_workers",
            type=int,
            default=GEN_WORKERS,
            help=f"processes that render images (default {GEN_WORKERS})",
        )
        parser.add_argument(
            "--fonts_include",
            type=str,
            default=None,
            help="comma-separated font families or names to use (default all)",
        )
        parser.add_argument(
            "--fonts_exclude",
            type=str,
            default=None,
            help="comma-separated font families or names to leave out",
        )
        parser.add_argument(
            "--heldout_families",
            type=str,
            default=None,
            help="comma-separated font families kept out of train/val; "
            "the test split uses only them",
        )
        return parser

    def cache_path(self, split: str) -> Path:
        return self.data_dir / f"{self.fingerprints[split]}.npz"

    def generate(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Render one split: (N, 28, 28) uint8 images and (N,) int64 labels."""
        seed = split_seed(self.seed, split)
        labels = balanced_labels(self.sizes[split], seed)
        chars = [metadata.MAPPING[i] for i in labels]
        images = render_characters(
            chars,
            seed,
            self.fonts[split],
            num_workers=self.gen_workers,
            progress=True,
            desc=f"SyntheticCharacters {split}",
        )
        return images, labels

    def prepare_data(self) -> None:
        """Generate and cache every split not cached yet (atomic writes)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for split in SPLITS:
            path = self.cache_path(split)
            if path.exists() and path.with_suffix(".json").exists():
                continue
            start = time.perf_counter()
            images, labels = self.generate(split)
            seconds = time.perf_counter() - start
            with atomic_write(path, "wb") as handle:
                np.savez(handle, images=images, labels=labels)
            record = {
                **self.records[split],
                "generation_seconds": round(seconds, 2),
                "class_counts": {
                    metadata.MAPPING[i]: int(c)
                    for i, c in zip(*np.unique(labels, return_counts=True))
                },
            }
            atomic_write_text(path.with_suffix(".json"), json.dumps(record, indent=2))

    def load_split(self, split: str) -> BaseDataset:
        """The cached split as tensors: x float (N, 1, 28, 28) in [0, 1], y int64 (N,)."""
        path = self.cache_path(split)
        if not path.exists():
            raise RuntimeError(f"{path} does not exist: call prepare_data() first")
        with np.load(path) as arrays:
            images = torch.from_numpy(arrays["images"]).unsqueeze(1).float().div_(255.0)
            labels = torch.from_numpy(arrays["labels"]).long()
        return BaseDataset(images, labels)

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit", "validate"):
            self.data_train, self.data_val = self.load_split("train"), self.load_split("val")
        if stage in (None, "test", "predict"):
            self.data_test = self.load_split("test")
