"""Lines of text assembled from single-character images (Lab 02).

Each line is a sentence from ``SentenceGenerator``, written by pasting one character image
per letter left to right. Neighbouring characters overlap by a random fraction of their width
(``--min_overlap``/``--max_overlap``, fixed per line), so lines with overlap are narrower than
``28 * length`` and a window of 28 pixels no longer holds exactly one character: the
problem that sequence models (CTC, Transformers) solve in Lab 03.

Character images come from real ``EMNIST`` (``--char_source emnist``, needs its download) or
from ``SyntheticCharacters`` (the default, rendered locally, works offline). Each split is
built from the matching split of the characters, so no character image is shared between
train, validation and test. Generation is seeded and cached in one ``.npz`` per setting.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib
import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from text_recognizer.data.base_data_module import BaseDataModule
from text_recognizer.data.util import BaseDataset, convert_strings_to_labels
from text_recognizer.metadata import emnist as metadata
from text_recognizer.metadata.shared import PROCESSED_DATA_DIRNAME
from text_recognizer.util import atomic_write

MAX_LENGTH = 32
MIN_OVERLAP = 0.0
MAX_OVERLAP = 0.33
NUM_TRAIN = 10_000
NUM_VAL = 2_000
NUM_TEST = 2_000
CHAR_SOURCE = "synthetic"
SENTENCE_SOURCE = "auto"  # SentenceGenerator's: Brown if downloaded, else offline text
CHAR_SOURCES = {
    "emnist": "text_recognizer.data.emnist:EMNIST",
    "synthetic": "text_recognizer.data.synthetic_characters:SyntheticCharacters",
}
SPLIT_OFFSETS = {"train": 0, "val": 1, "test": 2}  # distinct seeds per split
FORMAT_VERSION = 1  # bump when generation changes, so stale caches are not reused


def construct_line(char_images: list[np.ndarray], overlap: float, width: int) -> np.ndarray:
    """Paste (H, W) character images left to right, each ``overlap * W`` pixels into the
    previous one, onto a black (H, ``width``) canvas. Overlapping ink is combined with a
    maximum, so strokes stay as bright as they were.

    >>> a = np.full((2, 4), 255, dtype=np.uint8)
    >>> construct_line([a, a], overlap=0.5, width=10)[0].tolist()
    [255, 255, 255, 255, 255, 255, 0, 0, 0, 0]
    """
    height = char_images[0].shape[0] if char_images else metadata.DIMS[1]
    line = np.zeros((height, width), dtype=np.uint8)
    x = 0
    for image in char_images:
        char_width = image.shape[1]
        end = min(x + char_width, width)
        if end <= x:
            break
        line[:, x:end] = np.maximum(line[:, x:end], image[:, : end - x])
        x += char_width - int(overlap * char_width)
    return line


def renderable(text: str, available: set[str]) -> str:
    """Drop characters there are no images for (e.g. punctuation when drawing from EMNIST),
    so every label matches its image; spaces are always renderable (a blank slot).

    >>> renderable("Hi, there!  ok", set("Hiterhok"))
    'Hi there ok'
    """
    kept = "".join(char for char in text if char == " " or char in available)
    return " ".join(kept.split())


def group_by_char(dataset: Dataset, mapping: list[str]) -> dict[str, np.ndarray]:
    """All images of a character dataset as uint8 (n, H, W) arrays, keyed by character."""
    images, targets = [], []
    for x, y in DataLoader(dataset, batch_size=2048, shuffle=False, num_workers=0):
        images.append(np.rint(x[:, 0].clamp(0, 1).numpy() * 255).astype(np.uint8))  # (B, H, W)
        targets.append(y.numpy().reshape(-1))
    all_images, all_targets = np.concatenate(images), np.concatenate(targets)
    return {mapping[t]: all_images[all_targets == t] for t in np.unique(all_targets)}


def _to_float(image: torch.Tensor) -> torch.Tensor:
    return image.float().div(255)


def _import(path: str) -> type:
    module_name, class_name = path.split(":")
    return getattr(importlib.import_module(module_name), class_name)


class EMNISTLines(BaseDataModule):
    """Synthetic lines of ``max_length`` character slots: images (1, 28, 28 * max_length),
    labels (max_length,) of ``MAPPING`` indices padded with ``<P>``."""

    def __init__(self, args: argparse.Namespace | dict | None = None) -> None:
        super().__init__(args)
        self.max_length = self.args.get("max_length", MAX_LENGTH)
        self.min_overlap = self.args.get("min_overlap", MIN_OVERLAP)
        self.max_overlap = self.args.get("max_overlap", MAX_OVERLAP)
        self.num_train = self.args.get("num_train", NUM_TRAIN)
        self.num_val = self.args.get("num_val", NUM_VAL)
        self.num_test = self.args.get("num_test", NUM_TEST)
        self.with_start_end_tokens = self.args.get("with_start_end_tokens", False)
        self.char_source = self.args.get("char_source", CHAR_SOURCE)
        self.sentence_source = self.args.get("sentence_source", SENTENCE_SOURCE)
        self.seed = self.args.get("seed", 0)
        if self.char_source not in CHAR_SOURCES:
            raise ValueError(
                f"char_source must be one of {sorted(CHAR_SOURCES)}, got {self.char_source!r}"
            )
        if not 0 <= self.min_overlap <= self.max_overlap < 1:
            raise ValueError("need 0 <= min_overlap <= max_overlap < 1")
        # The first output position is <S> when start/end tokens are on, so text gets 2 fewer.
        self.max_text_length = self.max_length - (2 if self.with_start_end_tokens else 0)
        if self.max_text_length < 1:
            raise ValueError(f"max_length {self.max_length} leaves no room for text")

        self.mapping = metadata.MAPPING
        self.inverse_mapping = metadata.INVERSE_MAPPING
        _, height, char_width = metadata.DIMS
        self.input_dims = (1, height, char_width * self.max_length)
        self.output_dims = (self.max_length,)
        self._chars: BaseDataModule | None = None

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        BaseDataModule.add_to_argparse(parser)
        add = parser.add_argument
        add(
            "--max_length",
            type=int,
            default=MAX_LENGTH,
            help=f"character slots per line; images are 28 * max_length wide (default {MAX_LENGTH})",
        )
        add(
            "--min_overlap",
            type=float,
            default=MIN_OVERLAP,
            help=f"smallest overlap of neighbouring characters, fraction of width (default {MIN_OVERLAP})",
        )
        add(
            "--max_overlap",
            type=float,
            default=MAX_OVERLAP,
            help=f"largest overlap (default {MAX_OVERLAP}); 0 and 0 give one character per slot",
        )
        add(
            "--num_train", type=int, default=NUM_TRAIN, help=f"training lines (default {NUM_TRAIN})"
        )
        add("--num_val", type=int, default=NUM_VAL, help=f"validation lines (default {NUM_VAL})")
        add("--num_test", type=int, default=NUM_TEST, help=f"test lines (default {NUM_TEST})")
        add(
            "--with_start_end_tokens",
            action="store_true",
            help="labels start with <S> and end with <E> (for Transformer decoders)",
        )
        add(
            "--sentence_source",
            choices=["auto", "brown", "offline"],
            default=SENTENCE_SOURCE,
            help="SentenceGenerator corpus (default auto: Brown if downloaded, else offline)",
        )
        add(
            "--char_source",
            choices=sorted(CHAR_SOURCES),
            default=CHAR_SOURCE,
            help=f"where character images come from (default {CHAR_SOURCE}: works offline)",
        )
        return parser

    def _char_module(self) -> BaseDataModule:
        if self._chars is None:
            char_class = _import(CHAR_SOURCES[self.char_source])
            # Only the seed is shared: flags like num_train mean lines here, characters there.
            # ``char_data_args`` (a dict, programmatic use) configures the character module.
            char_args = {"seed": self.seed, "num_workers": 0, **self.args.get("char_data_args", {})}
            self._chars = char_class(char_args)
        return self._chars

    def character_data(self) -> BaseDataModule:
        """The DataModule the character images come from, prepared and set up."""
        chars = self._char_module()
        chars.prepare_data()
        chars.setup()
        return chars

    def sentence_generator(self, split: str):
        """A fresh, seeded SentenceGenerator for one split (splits get different seeds)."""
        from text_recognizer.data.sentence_generator import SentenceGenerator

        return SentenceGenerator(
            max_length=self.max_text_length,
            seed=self._split_seed(split),
            source=self.sentence_source,
        )

    def _split_seed(self, split: str) -> int:
        return self.seed * len(SPLIT_OFFSETS) + SPLIT_OFFSETS[split]

    @functools.cached_property
    def processed_path(self) -> Path:
        """The cache file: the settings in its name, plus a digest of what else shapes the
        lines (the sentence corpus, the character data's fingerprint), so a new corpus or new
        characters never reuse stale lines."""
        chars = self._char_module()
        char_id = getattr(chars, "fingerprints", None) or str(getattr(chars, "processed_path", ""))
        corpus_id = getattr(self.sentence_generator("train"), "corpus_id", self.sentence_source)
        identity = json.dumps([FORMAT_VERSION, self.char_source, char_id, corpus_id], default=str)
        digest = hashlib.sha256(identity.encode()).hexdigest()[:10]
        name = (
            f"{self.char_source}_len{self.max_length}_se{int(self.with_start_end_tokens)}"
            f"_ov{self.min_overlap:g}-{self.max_overlap:g}"
            f"_n{self.num_train}-{self.num_val}-{self.num_test}_seed{self.seed}_{digest}.npz"
        )
        processed_dir = self.args.get("processed_dir", PROCESSED_DATA_DIRNAME / "emnist_lines")
        return Path(processed_dir) / name

    def prepare_data(self) -> None:
        if self.processed_path.exists():
            return
        chars = self.character_data()
        arrays = {}
        splits = {
            "train": (chars.data_train, self.num_train),
            "val": (chars.data_val, self.num_val),
            "test": (chars.data_test, self.num_test),
        }
        for split, (dataset, num) in splits.items():
            samples_by_char = group_by_char(dataset, self.mapping)
            sentences = self.sentence_generator(split)
            rng = np.random.default_rng(self._split_seed(split))
            images, strings = self._generate(num, samples_by_char, sentences, rng)
            arrays[f"{split}_images"], arrays[f"{split}_strings"] = images, strings
        self.processed_path.parent.mkdir(parents=True, exist_ok=True)
        # atomic: a crash never leaves a half-written file
        with atomic_write(self.processed_path, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    def _generate(
        self, num: int, samples_by_char: dict[str, np.ndarray], sentences, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """``num`` line images (num, H, W) uint8 and their texts."""
        _, height, width = self.input_dims
        blank = np.zeros(metadata.DIMS[1:], dtype=np.uint8)
        available = {char for char, samples in samples_by_char.items() if len(samples)}
        if not available - {" "}:
            raise ValueError(f"{self.char_source} gave no character images to draw lines with")
        images = np.zeros((num, height, width), dtype=np.uint8)
        strings = []
        for n in range(num):
            text = ""
            while not text:  # a sentence of only unrenderable characters is redrawn
                text = renderable(sentences.generate(), available)[: self.max_text_length].strip()
            char_images = []
            for char in text:
                samples = samples_by_char.get(char)
                char_images.append(
                    blank if char == " " or samples is None else samples[rng.integers(len(samples))]
                )
            overlap = rng.uniform(self.min_overlap, self.max_overlap)
            images[n] = construct_line(char_images, overlap, width)
            strings.append(text)
        return images, np.array(strings, dtype=f"<U{self.max_length}")

    def setup(self, stage: str | None = None) -> None:
        if not self.processed_path.exists():
            raise RuntimeError(f"{self.processed_path} is missing: call prepare_data() first")
        with np.load(self.processed_path) as arrays:
            for split in SPLIT_OFFSETS:
                images = torch.from_numpy(arrays[f"{split}_images"]).unsqueeze(1)  # (N, 1, H, W)
                labels = convert_strings_to_labels(
                    arrays[f"{split}_strings"].tolist(),
                    self.inverse_mapping,
                    length=self.max_length,
                    with_start_end=self.with_start_end_tokens,
                )
                setattr(self, f"data_{split}", BaseDataset(images, labels, transform=_to_float))

    def __repr__(self) -> str:
        settings = (
            f"  lines of {self.max_length} slots from {self.char_source} characters, "
            f"overlap {self.min_overlap:g}-{self.max_overlap:g}"
        )
        base = super().__repr__().split("\n")
        return "\n".join([base[0], settings, *base[1:]])
