"""SyntheticLines: handwritten text lines rendered offline, shaped exactly like IAMLines.

A drop-in for :class:`~text_recognizer.data.iam_lines.IAMLines` that needs no download: the
same input dims ``(1, 56, 1024)``, label rows ``(89,)`` (``<S>`` text ``<E>`` ``<P>``...),
mapping (``metadata.emnist.MAPPING``) and stem (:class:`~text_recognizer.stems.line.LineStem`,
augmenting training images only). Each line is a :class:`SentenceGenerator` snippet drawn by
:func:`~text_recognizer.data.synthetic.render_line` with its own random writer style.

Splits, and why they can be trusted:

- **test is fixed.** Its random stream and size never depend on ``--seed`` or on the font
  flags, so every run (and the released model) is scored on the same images. It is drawn
  from *all* usable fonts and records each sample's font, so CER can be split by family:
  seen in training vs held out (:meth:`SyntheticTextImages.indices_by_family`). A larger
  ``--num_test`` only appends samples: the first N images never change.
- **train and val** come from streams seeded by ``--seed``, different from the test stream
  (disjoint by construction), and their *texts* are disjoint too: val never repeats a test
  text, train never repeats a val or test text. ``--holdout_families`` keeps whole font
  families out of train and val (a generalization test: a handwriting never seen).

Each split is rendered once (in ``--gen_workers`` processes, with a progress bar) and cached
under ``data/processed/synthetic_lines/<fingerprint>/``: ``pixels.npy`` (every image's uint8
bytes back to back, natural polarity, memory-mapped when read), ``index.npz`` (shapes and
offsets) and ``record.json`` (what made it: generator version, fonts, seed, sizes, and the
text and font of every sample). The folder appears atomically; the fingerprint hashes every
setting that changes the images, so a cache is never reused for different data.

Sizes. The defaults keep IAM's shapes with CPU-sized splits (2,700 lines, ~20-40 s to render
on 2 cores). Typical settings, same code::

    # CPU benchmark (scripts/bench_line_cer.py): small images, short lines
    --image_height 32 --image_width 320 --max_label_length 34 --num_train 16000
    # GPU scale: IAM-sized lines, 100k of them (~10 min with 16 workers; ~3.5 GB on disk)
    --num_train 100000 --num_val 2000 --gen_workers 16
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from text_recognizer.data.base_data_module import NUM_AVAILABLE_CPUS, BaseDataModule
from text_recognizer.data.synthetic import (
    dataset_fingerprint,
    font_families,
    list_fonts,
    render_line,
    sample_style,
    select_fonts,
)
from text_recognizer.data.synthetic.fonts import FontSpec
from text_recognizer.data.synthetic_splits import (
    RECORD_FILENAME,
    SPLITS,
    CachedImages,
    chunk_rng,
    read_split_record,
    render_chunks,
    split_stream,
    stream_seeds,
    write_split,
)
from text_recognizer.data.util import convert_strings_to_labels
from text_recognizer.metadata import iam_lines as metadata
from text_recognizer.metadata.shared import PROCESSED_DATA_DIRNAME
from text_recognizer.stems.image import BoxStem
from text_recognizer.stems.line import LineStem

NUM_TRAIN = 2_000
NUM_VAL = 200
NUM_TEST = 500
MIN_TEXT_LENGTH = 1
SENTENCE_SOURCE = "auto"  # SentenceGenerator's: Brown if downloaded, else offline text
GEN_WORKERS = min(2, NUM_AVAILABLE_CPUS)
# Bump when this module's generation changes the bytes (the renderer has its own version).
DATASET_VERSION = 1


def _names(value: str | Sequence[str] | None) -> list[str] | None:
    """Comma-separated string (CLI) or list -> list of names; None/"" -> None.

    >>> _names("Hershey Sans, Kristi"), _names(None), _names(["a"])
    (['Hershey Sans', 'Kristi'], None, ['a'])
    """
    if value is None or value == "":
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item.strip()] or None


# ---------------------------------------------------------------------------- rendering
def _render_lines_job(job: tuple) -> list[dict[str, Any]]:
    """One chunk of lines: each by a random writer over ``fonts``. Runs in worker processes."""
    texts, stream, chunk, height, fonts = job
    rng = chunk_rng(stream, chunk)
    samples = []
    for text in texts:
        style = sample_style(rng, fonts)  # what render_line would draw; kept for the record
        image = render_line(text, rng, height=height, style=style)
        samples.append({"image": np.asarray(image), "font": style.font.name})
    return samples


# --------------------------------------------------------------------------- the module
class SyntheticTextImages(BaseDataModule):
    """What SyntheticLines and SyntheticParagraphs share: split streams, text drawing with
    cross-split exclusion, fingerprints, parallel rendering and the cache.

    A subclass sets the class attributes below and implements :meth:`draw_texts`,
    :meth:`render_jobs` (returns the module-level function that renders a chunk, and the
    chunks) and :meth:`render_params` (what else changes the images, for the fingerprint).
    """

    kind = "synthetic_text"  # cache folder name and fingerprint kind
    stream_tag = 1  # makes this dataset's random streams its own
    chunk_size = 32  # samples per seeded chunk
    stem_class: type[BoxStem] = LineStem
    mapping_default: list[str] = metadata.MAPPING
    image_height_default = metadata.IMAGE_HEIGHT
    image_width_default = metadata.IMAGE_WIDTH
    max_label_length_default = metadata.MAX_LABEL_LENGTH
    max_text_length_default: int | None = None  # None: max_label_length - 2
    min_text_length_default = MIN_TEXT_LENGTH
    sizes_default = {"train": NUM_TRAIN, "val": NUM_VAL, "test": NUM_TEST}

    def __init__(self, args: argparse.Namespace | dict | None = None) -> None:
        super().__init__(args)
        get = self.args.get
        self.seed = int(get("seed") or 0)
        self.sizes = {
            split: int(_get(self.args, f"num_{split}", n))
            for split, n in self.sizes_default.items()
        }
        self.image_height = int(get("image_height") or self.image_height_default)
        self.image_width = int(get("image_width") or self.image_width_default)
        self.max_label_length = int(get("max_label_length") or self.max_label_length_default)
        # Defaults shrink with max_label_length; values given explicitly are checked below.
        room = self.max_label_length - 2  # <S> and <E> take two tokens
        self.max_text_length = int(
            get("max_text_length") or min(self.max_text_length_default or room, room)
        )
        self.min_text_length = int(
            get("min_text_length") or min(self.min_text_length_default, self.max_text_length)
        )
        self.augment = get("augment_data", True)
        self.sentence_source = get("sentence_source") or SENTENCE_SOURCE
        self.gen_workers = int(get("gen_workers") or GEN_WORKERS)
        self.data_dir = Path(get("data_dir") or PROCESSED_DATA_DIRNAME / self.kind)
        self.font_families = _names(get("font_families"))
        self.holdout_families = _names(get("holdout_families"))
        if any(n < 0 for n in self.sizes.values()):
            raise ValueError(f"split sizes must be >= 0, got {self.sizes}")
        if not 1 <= self.min_text_length <= self.max_text_length <= self.max_label_length - 2:
            raise ValueError(
                f"need 1 <= min_text_length ({self.min_text_length}) <= max_text_length "
                f"({self.max_text_length}) <= max_label_length - 2 ({self.max_label_length - 2})"
            )

        self.mapping = list(self.mapping_default)
        self.inverse_mapping = {char: index for index, char in enumerate(self.mapping)}
        self.input_dims = (1, self.image_height, self.image_width)
        self.output_dims = (self.max_label_length, 1)
        self.stem = self.stem_class(self.image_height, self.image_width)
        self.train_stem = self.stem_class(self.image_height, self.image_width, augment=self.augment)
        self._texts: dict[str, list[str]] = {}
        if self.font_families or self.holdout_families:
            _ = self.fonts  # a misspelled family fails now, naming the available ones

    @classmethod
    def add_to_argparse(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        BaseDataModule.add_to_argparse(parser)
        add = parser.add_argument
        for split, n in cls.sizes_default.items():
            note = " (fixed: never depends on --seed)" if split == "test" else ""
            add(f"--num_{split}", type=int, default=n, help=f"{split} images (default {n}){note}")
        add(
            "--image_height",
            type=int,
            default=cls.image_height_default,
            help=f"stem output height (default {cls.image_height_default})",
        )
        add(
            "--image_width",
            type=int,
            default=cls.image_width_default,
            help=f"stem output width (default {cls.image_width_default})",
        )
        add(
            "--max_label_length",
            type=int,
            default=cls.max_label_length_default,
            help=f"label tokens incl. <S> and <E> (default {cls.max_label_length_default})",
        )
        longest = cls.max_text_length_default or "max_label_length - 2"
        add(
            "--min_text_length",
            type=int,
            default=None,
            help=f"fewest characters per line (default {cls.min_text_length_default}, "
            "at most max_text_length)",
        )
        add(
            "--max_text_length",
            type=int,
            default=None,
            help=f"most characters per line (default {longest}, at most max_label_length - 2)",
        )
        add(
            "--font_families",
            type=str,
            default=None,
            help="comma-separated font families (or font names) for train/val (default all)",
        )
        add(
            "--holdout_families",
            type=str,
            default=None,
            help="comma-separated font families never used for train/val (the fixed test "
            "split uses every font and records which, for a held-out-family CER)",
        )
        add("--seed", type=int, default=0, help="train/val generation seed (default 0)")
        add(
            "--augment_data",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="augment training images in the stem (default: on)",
        )
        add(
            "--sentence_source",
            choices=["auto", "brown", "offline"],
            default=SENTENCE_SOURCE,
            help="SentenceGenerator corpus (default auto: Brown if downloaded, else offline)",
        )
        add(
            "--gen_workers",
            type=int,
            default=GEN_WORKERS,
            help=f"processes that render images (default {GEN_WORKERS})",
        )
        add(
            "--data_dir",
            type=Path,
            default=None,
            help=f"cache folder (default data/processed/{cls.kind})",
        )
        return parser

    # ---------------------------------------------------------------- what to generate
    @functools.cached_property
    def fonts(self) -> dict[str, list[FontSpec]]:
        """Fonts per split: train/val as the flags say, test always every usable font."""
        every = list_fonts()
        seen = select_fonts(every, include=self.font_families, exclude=self.holdout_families)
        return {"train": seen, "val": seen, "test": every}

    @functools.cached_property
    def corpus_id(self) -> str:
        return self.sentence_generator(0).corpus_id

    def sentence_generator(self, seed: int):
        from text_recognizer.data.sentence_generator import SentenceGenerator

        return SentenceGenerator(self.max_text_length, seed=seed, source=self.sentence_source)

    def stream(self, split: str) -> tuple[int, int, int]:
        return split_stream(split, self.seed, self.stream_tag)

    def excluded_splits(self, split: str) -> list[str]:
        """Splits whose texts ``split`` must not repeat: val avoids test, train avoids both."""
        return {"test": [], "val": ["test"], "train": ["test", "val"]}[split]

    def texts(self, split: str) -> list[str]:
        """The label strings of a split, drawn deterministically (no rendering needed)."""
        if split not in self._texts:
            excluded = {t for other in self.excluded_splits(split) for t in self.texts(other)}
            self._texts[split] = self.draw_texts(split, self.sizes[split], excluded)
        return self._texts[split]

    def draw_texts(self, split: str, n: int, excluded: set[str]) -> list[str]:
        """``n`` snippets of min..max_text_length characters, none in ``excluded``."""
        text_seed, _ = stream_seeds(self.stream(split))
        sentences = self.sentence_generator(text_seed)
        texts: list[str] = []
        for _ in range(1000 * n + 1000):  # a bound, so impossible settings fail, not hang
            if len(texts) == n:
                return texts
            text = sentences.generate()
            if len(text) >= self.min_text_length and text not in excluded:
                texts.append(text)
        raise RuntimeError(
            f"could not draw {n} texts of {self.min_text_length}-"
            f"{self.max_text_length} characters; relax the lengths"
        )

    def render_params(self) -> dict[str, Any]:
        return {"render_height": self.image_height}

    def render_jobs(self, split: str) -> tuple[Callable[[tuple], list[dict]], list[tuple]]:
        texts, stream = self.texts(split), self.stream(split)
        jobs = [
            (
                texts[start : start + self.chunk_size],
                stream,
                k,
                self.image_height,
                tuple(self.fonts[split]),
            )
            for k, start in enumerate(range(0, len(texts), self.chunk_size))
        ]
        return _render_lines_job, jobs

    # ---------------------------------------------------------------- fingerprints, cache
    @functools.cached_property
    def records(self) -> dict[str, dict[str, Any]]:
        """Per split, everything that determines its images (and its fingerprint)."""
        records: dict[str, dict[str, Any]] = {}
        for split in ("test", "val", "train"):  # exclusions refer to earlier splits
            _, record = dataset_fingerprint(
                self.kind,
                self.stream(split)[1],
                self.fonts[split],
                dataset_version=DATASET_VERSION,
                split=split,
                num=self.sizes[split],
                stream=list(self.stream(split)),
                chunk_size=self.chunk_size,
                corpus=self.corpus_id,
                min_text_length=self.min_text_length,
                max_text_length=self.max_text_length,
                **self.render_params(),
                excluded_texts_of=[records[s]["fingerprint"] for s in self.excluded_splits(split)],
            )
            records[split] = record
        return records

    @property
    def fingerprints(self) -> dict[str, str]:
        return {split: self.records[split]["fingerprint"] for split in SPLITS}

    def split_dir(self, split: str) -> Path:
        return self.data_dir / self.fingerprints[split]

    def prepare_data(self) -> None:
        """Render and cache every split that is not cached yet."""
        for split in ("test", "val", "train"):
            directory = self.split_dir(split)
            if (directory / RECORD_FILENAME).exists():
                continue
            start = time.perf_counter()
            function, jobs = self.render_jobs(split)
            samples = render_chunks(
                function,
                jobs,
                self.fonts[split],
                self.gen_workers,
                self.sizes[split],
                f"{type(self).__name__} {split}",
            )
            texts = self.texts(split)
            record = {
                **self.records[split],
                "generation_seconds": round(time.perf_counter() - start, 2),
                "samples": [
                    {"text": text, **{k: v for k, v in s.items() if k != "image"}}
                    for text, s in zip(texts, samples)
                ],
            }
            write_split(directory, [s["image"] for s in samples], record)

    def read_record(self, split: str) -> dict[str, Any]:
        return read_split_record(self.split_dir(split))

    def setup(self, stage: str | None = None) -> None:
        self.data_train = self.load_split("train", self.train_stem)
        self.data_val = self.load_split("val", self.stem)
        self.data_test = self.load_split("test", self.stem)

    def load_split(self, split: str, stem: BoxStem | None = None) -> CachedImages:
        """A cached split as a Dataset of (stem output (1, H, W), label row (max_label_length,))."""
        texts = [sample["text"] for sample in self.read_record(split)["samples"]]
        return CachedImages(self.split_dir(split), self.encode(texts), stem or self.stem)

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Strings -> ``(N, max_label_length)`` label rows."""
        if not texts:
            return torch.zeros((0, self.max_label_length), dtype=torch.long)
        return convert_strings_to_labels(texts, self.inverse_mapping, self.max_label_length)

    def indices_by_family(self, split: str = "test") -> dict[str, list[int]]:
        """Sample indices of a split grouped by font family, e.g. to compare CER on the
        held-out families with CER on the families seen in training."""
        family_of = {font.name: font.family for font in list_fonts()}
        groups: dict[str, list[int]] = {}
        for index, sample in enumerate(self.read_record(split)["samples"]):
            groups.setdefault(family_of.get(sample["font"], sample["font"]), []).append(index)
        return groups

    def __repr__(self) -> str:
        lines = [super().__repr__()]
        if "records" in self.__dict__:  # only if already computed: repr stays cheap
            lines.append(
                "  fingerprints: "
                + ", ".join(f"{split} {key}" for split, key in self.fingerprints.items())
            )
            lines.append(f"  train/val fonts: {font_families(self.fonts['train'])}")
        return "\n".join(lines)


def _get(args: dict, name: str, default: Any) -> Any:
    """``args[name]`` unless missing or None (0 is a valid size)."""
    value = args.get(name)
    return default if value is None else value


class SyntheticLines(SyntheticTextImages):
    """Synthetic handwritten lines, IAMLines-shaped: ``x`` is ``(B, 1, image_height,
    image_width)`` with ink ~ 1, ``y`` is ``(B, max_label_length)``. See the module docstring.

    Lines are rendered at the stem's height, so the stem only shrinks lines that are too
    long for the width (and, when augmenting, jitters scale, slant and position).

    >>> data = SyntheticLines({"max_label_length": 20})
    >>> data.config()["input_dims"], data.config()["output_dims"], data.max_text_length
    ((1, 56, 1024), (20, 1), 18)
    """

    kind = "synthetic_lines"
    stream_tag = 0x11E5
