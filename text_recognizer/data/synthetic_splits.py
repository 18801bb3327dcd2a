"""How a synthetic split is seeded, rendered and cached: what the Synthetic* DataModules share.

- *streams*: every split draws from its own random stream ``(split code, seed, dataset
  tag)``; the test split's seed is the constant ``TEST_SEED``. Chunk ``k`` of a split
  renders with its own generator (:func:`chunk_rng`), so the bytes do not depend on how
  many processes share the chunks.
- *rendering*: :func:`render_chunks` runs a module-level chunk function over the chunks,
  in worker processes, with a progress bar.
- *the cache*: :func:`write_split` stores images of any sizes as one flat uint8
  ``pixels.npy`` plus ``index.npz`` (shapes and offsets) and ``record.json`` (what made
  them); :class:`CachedImages` reads them back, memory-mapped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from text_recognizer.data.synthetic.batch import run_chunks
from text_recognizer.data.synthetic.fonts import FontSpec
from text_recognizer.stems.image import BoxStem
from text_recognizer.util import atomic_directory

SPLITS = ("train", "val", "test")
TEST_SEED = 0  # the test split's seed: a constant, whatever --seed says
PIXELS_FILENAME, INDEX_FILENAME, RECORD_FILENAME = "pixels.npy", "index.npz", "record.json"


# ---------------------------------------------------------------------------- streams
def split_stream(split: str, seed: int, tag: int) -> tuple[int, int, int]:
    """The entropy of a split's random stream: ``(split code, seed, dataset tag)``.

    The test split always uses ``TEST_SEED``; train and val use ``seed``. Streams differ in
    their split code, so no seed makes train or val draw the test split's numbers. (The
    tag comes last and is non-zero: NumPy treats trailing zeros of an entropy list as
    absent, so ``[1, 0]`` seeds the same stream as ``[1]``.)

    >>> split_stream("test", seed=5, tag=7), split_stream("train", seed=5, tag=7)
    ((2, 0, 7), (0, 5, 7))
    """
    return SPLITS.index(split), TEST_SEED if split == "test" else int(seed), tag


def stream_seeds(stream: Sequence[int], n: int = 2) -> list[int]:
    """``n`` 64-bit integer seeds derived from a stream (for text and layout draws).

    >>> a = stream_seeds((0, 1, 7)); a == stream_seeds((0, 1, 7)), a != stream_seeds((1, 1, 7))
    (True, True)
    """
    state = np.random.SeedSequence([*stream, 0]).generate_state(n, dtype=np.uint64)
    return [int(s) for s in state]


def chunk_rng(stream: Sequence[int], chunk: int) -> np.random.Generator:
    """The generator that renders chunk ``chunk`` of a split: the output does not depend on
    how many processes share the chunks."""
    return np.random.default_rng([*stream, chunk + 1])  # + 1: never the text seeds' 0


# ---------------------------------------------------------------------------- rendering
def render_chunks(
    function: Callable[[tuple], list[dict[str, Any]]],
    jobs: list[tuple],
    fonts: Sequence[FontSpec],
    num_workers: int,
    total: int,
    desc: str,
) -> list[dict[str, Any]]:
    """:func:`~text_recognizer.data.synthetic.batch.run_chunks` with a progress bar;
    returns every chunk's samples, concatenated."""
    chunks = run_chunks(
        function, jobs, fonts, num_workers, progress=True, desc=desc, total=total, unit="img"
    )
    return [sample for chunk in chunks for sample in chunk]


# ------------------------------------------------------------------------------ caching
def write_split(directory: Path, images: Sequence[np.ndarray], record: dict) -> None:
    """Cache images of any sizes as one flat uint8 ``.npy`` plus their shapes and offsets,
    and ``record`` as JSON; the folder appears atomically (complete or not at all)."""
    shapes = np.array([image.shape for image in images], dtype=np.int64).reshape(-1, 2)
    offsets = np.concatenate([[0], np.cumsum(shapes.prod(axis=1))]).astype(np.int64)
    with atomic_directory(directory) as tmp:
        pixels = np.lib.format.open_memmap(
            tmp / PIXELS_FILENAME, mode="w+", dtype=np.uint8, shape=(int(offsets[-1]),)
        )
        for image, start, end in zip(images, offsets[:-1], offsets[1:]):
            pixels[start:end] = image.ravel()
        pixels.flush()
        del pixels
        np.savez(tmp / INDEX_FILENAME, shapes=shapes, offsets=offsets)
        (tmp / RECORD_FILENAME).write_text(json.dumps(record, indent=1))


def read_split_record(directory: Path) -> dict[str, Any]:
    """The JSON record :func:`write_split` cached in ``directory``."""
    path = directory / RECORD_FILENAME
    if not path.exists():
        raise RuntimeError(f"{path} does not exist: call prepare_data() first")
    return json.loads(path.read_text())


class CachedImages(Dataset):
    """One cached split: image ``i`` (PIL, natural polarity) through ``stem``, with label
    row ``targets[i]``. Pixels are memory-mapped, opened lazily in each process, so
    DataLoader workers share the OS page cache instead of copying the array."""

    def __init__(self, directory: Path, targets: torch.Tensor, stem: BoxStem) -> None:
        self.directory, self.targets, self.stem = Path(directory), targets, stem
        with np.load(self.directory / INDEX_FILENAME) as index:
            self.shapes, self.offsets = index["shapes"], index["offsets"]
        if len(self.shapes) != len(targets):
            raise ValueError(f"{directory}: {len(self.shapes)} images, {len(targets)} targets")
        self._pixels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.shapes)

    def __getstate__(self) -> dict:  # spawned workers re-open the memory map
        return {**self.__dict__, "_pixels": None}

    def image(self, index: int) -> Image.Image:
        """The raw rendered image (before the stem), mode ``L``."""
        if self._pixels is None:
            self._pixels = np.load(self.directory / PIXELS_FILENAME, mmap_mode="r")
        height, width = self.shapes[index]
        flat = self._pixels[self.offsets[index] : self.offsets[index + 1]]
        return Image.fromarray(np.array(flat).reshape(height, width))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.stem(self.image(index)), self.targets[index]
