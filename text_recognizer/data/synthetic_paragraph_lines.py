"""SyntheticParagraphLines: the line crops a paragraph recognizer actually reads.

The release recognizer segments a paragraph into lines (:mod:`text_recognizer.stems.segment`)
and reads each line with a CTC line reader. To train that reader on the crops it will see at
inference, this module renders :class:`~text_recognizer.data.synthetic_paragraphs.SyntheticParagraphs`
pages (same flags, same fixed fingerprinted test split, same ``--holdout_families``),
segments every page WITH THE SAME SEGMENTER, and pairs the i-th crop with the i-th
ground-truth line. A page whose number of segments differs from its number of lines cannot
be paired safely: it is counted (``record.json``: ``pages_mismatched``) and left out,
never guessed.

``x`` is a batch of line tensors ``(B, 1, line_height, w)`` from
:class:`~text_recognizer.stems.segment.LineStripStem` (ink ~ 1), padded to the widest line
of the batch; ``y`` is ``(B, max_label_length)`` label rows ``<S> text <E> <P>...`` over the
line mapping (``metadata.emnist.MAPPING``, blank ``<B>`` first: what CTCLitModel wants).

Crops are cached under ``data/processed/synthetic_paragraph_lines/<fingerprint>/`` (the
fingerprint covers the page split's fingerprint and the segmenter's settings)::

    text-recognizer train --data_class SyntheticParagraphLines --model_class LineCRNN \\
        --num_train 4000 --holdout_families "Dancing Script" --max_epochs 10
"""

from __future__ import annotations

import argparse
import functools
import math
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from text_recognizer.data.base_data_module import BaseDataModule
from text_recognizer.data.synthetic.fingerprint import fingerprint
from text_recognizer.data.synthetic_paragraphs import SyntheticParagraphs
from text_recognizer.data.synthetic_splits import (
    INDEX_FILENAME,
    RECORD_FILENAME,
    SPLITS,
    CachedImages,
    read_split_record,
    write_split,
)
from text_recognizer.data.util import convert_strings_to_labels
from text_recognizer.metadata import emnist
from text_recognizer.metadata.shared import PROCESSED_DATA_DIRNAME
from text_recognizer.stems.segment import (
    LineStripStem,
    crop_line,
    pad_batch,
    read_page_lines,
    segmenter_config,
)

LINE_HEIGHT = 32  # stem height of a line: ~13 px per character, 3 CTC columns each
LINE_MAX_WIDTH = 2048  # longer lines shrink to fit (a 56-character line is ~800 px)
WIDTH_MULTIPLE = 16  # line widths are rounded up to this: fewer distinct shapes
CROP_MARGIN = 0.08  # extra room around a line crop, in line heights
LINES_VERSION = 1  # bump when cropping/pairing changes the cached crops


def _segment_pages_job(job: tuple) -> list[dict[str, Any]]:
    """Segment a chunk of pages (runs in worker processes): one entry per page, with the
    crops (uint8 arrays) when the segment count matches the truth, else none."""
    directory, indices, truths = job
    pages = CachedImages(Path(directory), torch.zeros(len(_shapes(directory)), 1), None)
    out = []
    for index, lines in zip(indices, truths):
        image, found = read_page_lines(pages.image(index))  # exactly as at inference
        entry: dict[str, Any] = {"page": index, "found": len(found), "expected": len(lines)}
        if len(found) == len(lines):
            entry["crops"] = [np.asarray(crop_line(image, line, CROP_MARGIN)) for line in found]
        out.append(entry)
    return out


@functools.lru_cache(maxsize=8)
def _shapes(directory: str) -> np.ndarray:
    with np.load(Path(directory) / INDEX_FILENAME) as index:
        return index["shapes"]


class LineCrops(Dataset):
    """Cached line crops through a stem, with their label rows."""

    def __init__(self, directory: Path, targets: torch.Tensor, stem: LineStripStem) -> None:
        self.images = CachedImages(directory, targets, stem)
        heights, widths = self.images.shapes[:, 0], self.images.shapes[:, 1]
        # width of each line at the stem's height: what a batch is padded to
        self.widths = np.minimum(
            widths * stem.image_height / np.maximum(heights, 1), stem.image_width
        )

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index]


class WidthBucketBatchSampler(Sampler[list[int]]):
    """Random batches of lines of similar width: a batch is padded to its widest line, so
    mixing a one-word line with a full one wastes most of the computation. Each epoch:
    shuffle, cut into pools of ``pool_batches`` batches, sort each pool by width, batch it,
    shuffle the batches. Randomness comes from torch's global generator (seeded by
    Lightning's ``seed_everything``), so runs repeat.

    >>> sampler = WidthBucketBatchSampler(np.array([10, 500, 20, 510]), batch_size=2)
    >>> sorted(sorted(b) for b in sampler)
    [[0, 2], [1, 3]]
    """

    def __init__(self, widths: np.ndarray, batch_size: int, pool_batches: int = 50) -> None:
        self.widths, self.batch_size, self.pool = np.asarray(widths), batch_size, pool_batches

    def __len__(self) -> int:
        return math.ceil(len(self.widths) / self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.widths)).tolist()
        size = self.batch_size * self.pool
        batches = []
        for start in range(0, len(order), size):
            pool = sorted(order[start : start + size], key=lambda i: self.widths[i])
            batches += [pool[i : i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
        for index in torch.randperm(len(batches)).tolist():
            yield batches[index]


def collate_lines(
    batch: list[tuple[torch.Tensor, torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor]:
    """(line tensor (1, H, w_i), label row) pairs -> ((B, 1, H, max w), (B, L))."""
    xs, ys = zip(*batch)
    return pad_batch(list(xs)), torch.stack(ys)


class SyntheticParagraphLines(BaseDataModule):
    """Line crops of synthetic paragraphs, segmented like inference does. See the module
    docstring. Flags: every SyntheticParagraphs flag (pages), plus ``--line_height`` and
    ``--line_max_width`` (the line stem).

    >>> data = SyntheticParagraphLines({"max_text_length": 40})
    >>> data.config()["input_dims"], data.config()["output_dims"], data.mapping[0]
    ((1, 32, 2048), (42, 1), '<B>')
    """

    kind = "synthetic_paragraph_lines"

    def __init__(self, args: argparse.Namespace | dict | None = None) -> None:
        super().__init__(args)
        self.paragraphs = SyntheticParagraphs(self.args)
        self.line_height = int(self.args.get("line_height") or LINE_HEIGHT)
        self.line_max_width = int(self.args.get("line_max_width") or LINE_MAX_WIDTH)
        self.augment = self.args.get("augment_data", True)
        self.data_dir = Path(self.args.get("lines_data_dir") or PROCESSED_DATA_DIRNAME / self.kind)
        self.mapping = list(emnist.MAPPING)
        self.inverse_mapping = {char: index for index, char in enumerate(self.mapping)}
        self.max_label_length = self.paragraphs.max_text_length + 2  # <S> line <E>
        self.input_dims = (1, self.line_height, self.line_max_width)
        self.output_dims = (self.max_label_length, 1)
        self.stem = LineStripStem(self.line_height, self.line_max_width, WIDTH_MULTIPLE)
        self.train_stem = self.stem.with_augment(self.augment)

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        SyntheticParagraphs.add_to_argparse(parser)
        parser.add_argument(
            "--line_height",
            type=int,
            default=LINE_HEIGHT,
            help=f"line stem height in pixels (default {LINE_HEIGHT})",
        )
        parser.add_argument(
            "--line_max_width",
            type=int,
            default=LINE_MAX_WIDTH,
            help=f"widest line tensor; longer lines shrink (default {LINE_MAX_WIDTH})",
        )
        parser.add_argument(
            "--lines_data_dir",
            type=Path,
            default=None,
            help="cache folder for the crops (default data/processed/synthetic_paragraph_lines)",
        )
        return parser

    def config(self) -> dict[str, Any]:
        return {**super().config(), "stem": self.stem.config(), "segmenter": segmenter_config()}

    # ------------------------------------------------------------------ cache
    def line_fingerprint(self, split: str) -> str:
        return fingerprint(
            {
                "kind": self.kind,
                "version": LINES_VERSION,
                "pages": self.paragraphs.fingerprints[split],
                "segmenter": segmenter_config(),
                "crop_margin": CROP_MARGIN,
            }
        )

    @property
    def fingerprints(self) -> dict[str, str]:
        """Per split: the line crops' fingerprint (it hashes the pages' fingerprint)."""
        return {split: self.line_fingerprint(split) for split in SPLITS}

    def split_dir(self, split: str) -> Path:
        return self.data_dir / self.line_fingerprint(split)

    def prepare_data(self) -> None:
        """Render the pages (cached by SyntheticParagraphs), then segment and cache crops."""
        self.paragraphs.prepare_data()
        for split in ("test", "val", "train"):
            if not (self.split_dir(split) / RECORD_FILENAME).exists():
                self._segment_split(split)

    def _segment_split(self, split: str) -> None:
        from tqdm.auto import tqdm

        start = time.perf_counter()
        page_dir = self.paragraphs.split_dir(split)
        page_record = self.paragraphs.read_record(split)
        truths = [sample["lines"] for sample in page_record["samples"]]
        chunk = 32
        jobs = [
            (str(page_dir), list(range(i, min(i + chunk, len(truths)))), truths[i : i + chunk])
            for i in range(0, len(truths), chunk)
        ]
        workers = min(self.paragraphs.gen_workers, len(jobs))
        entries: list[dict[str, Any]] = []
        with tqdm(total=len(truths), desc=f"Segmenting {split} pages", unit="page") as bar:
            if workers > 1 and sys.platform == "linux":
                context = multiprocessing.get_context("fork")
                with context.Pool(workers) as pool:
                    for result in pool.imap(_segment_pages_job, jobs):
                        entries += result
                        bar.update(len(result))
            else:
                for job in jobs:
                    entries += _segment_pages_job(job)
                    bar.update(len(job[1]))
        crops, samples, mismatched = [], [], []
        for entry in entries:
            page = page_record["samples"][entry["page"]]
            if "crops" not in entry:
                mismatched.append({k: entry[k] for k in ("page", "found", "expected")})
                continue
            for number, (crop, text) in enumerate(zip(entry["crops"], page["lines"])):
                crops.append(crop)
                samples.append(
                    {"text": text, "page": entry["page"], "line": number, "font": page["font"]}
                )
        record = {
            "kind": self.kind,
            "fingerprint": self.line_fingerprint(split),
            "pages_fingerprint": self.paragraphs.fingerprints[split],
            "segmenter": segmenter_config(),
            "crop_margin": CROP_MARGIN,
            "pages": len(truths),
            "pages_mismatched": len(mismatched),
            "mismatched": mismatched,
            "lines": len(samples),
            "segmentation_seconds": round(time.perf_counter() - start, 2),
            "samples": samples,
        }
        write_split(self.split_dir(split), crops, record)
        if mismatched:
            print(
                f"{split}: {len(mismatched)} of {len(truths)} pages segmented into a different "
                "number of lines than written; left out (see record.json)",
                file=sys.stderr,
            )

    def read_record(self, split: str) -> dict[str, Any]:
        return read_split_record(self.split_dir(split))

    # ------------------------------------------------------------------ datasets
    def setup(self, stage: str | None = None) -> None:
        self.data_train = self.load_split("train", self.train_stem)
        self.data_val = self.load_split("val", self.stem)
        self.data_test = self.load_split("test", self.stem)

    def load_split(self, split: str, stem: LineStripStem | None = None) -> LineCrops:
        texts = [sample["text"] for sample in self.read_record(split)["samples"]]
        targets = (
            convert_strings_to_labels(texts, self.inverse_mapping, self.max_label_length)
            if texts
            else torch.zeros((0, self.max_label_length), dtype=torch.long)
        )
        return LineCrops(self.split_dir(split), targets, stem or self.stem)

    def _dataloader(self, dataset: Dataset | None, shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}: call prepare_data() and setup() first")
        if shuffle:  # training: batches of similar widths (less padding to compute)
            sampler = WidthBucketBatchSampler(dataset.widths, self.batch_size)
            batching: dict[str, Any] = {"batch_sampler": sampler}
        else:
            batching = {"batch_size": self.batch_size, "shuffle": False}
        return DataLoader(
            dataset,
            **batching,
            num_workers=self.num_workers,
            pin_memory=self.on_gpu,
            persistent_workers=self.num_workers > 0,
            collate_fn=collate_lines,
        )
