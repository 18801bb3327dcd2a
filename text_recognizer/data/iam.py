"""The IAM Handwriting Database: download, extract and parse the forms into lines and paragraphs.

:class:`IAM` is not a DataModule: it is the raw dataset that :class:`IAMLines`,
:class:`IAMParagraphs` and :class:`IAMSyntheticParagraphs` crop their examples from.

Each IAM form has an XML file (layout: https://fki.tic.heia-fr.ch/databases/iam-handwriting-database,
"XML File Format (DTD)")::

    <form id="a01-000u" writer-id="000" width="2479" height="3542" ...>
      <machine-printed-part>
        <machine-print-line text="A MOVE to stop Mr. Gaitskell from nominating any more Labour"/>
        ...
      </machine-printed-part>
      <handwritten-part>
        <line id="a01-000u-00" text="A MOVE to stop Mr. Gaitskell from" segmentation="ok" ...>
          <word id="a01-000u-00-00" tag="AT" text="A">
            <cmp x="408" y="768" width="27" height="51"/>   one per connected component
          </word>
          ...

A line's ink box is the union of the ``cmp`` boxes of its words; a paragraph's box is the
union of its (padded) line boxes, and its text is the line texts joined by newlines. This
follows FSDL's text_recognizer/data/iam.py (the-full-stack/fsdl-text-recognizer-2022),
including the split: the LWITLRT test forms are the test set, its two validation sets are
merged into one, and every other form is training data.
"""

from __future__ import annotations

import argparse
import html
import logging
import os
import re
import shutil
import xml.etree.ElementTree as ElementTree
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

from PIL import Image

from text_recognizer.data.download import download_file
from text_recognizer.metadata import iam as metadata
from text_recognizer.metadata.iam_paragraphs import NEW_LINE_TOKEN
from text_recognizer.util import atomic_directory, read_image_pil

logger = logging.getLogger(__name__)

OFFLINE_ALTERNATIVE = (
    "a synthetic handwriting DataModule (generated locally, no download), or copy "
    f"{metadata.FILENAME} into the download folder ({{dirname}}) and run again"
)
_ENTITY = re.compile(r"&(?:#[0-9]+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


class Region(NamedTuple):
    """A box in pixels of the stored (half-size) form image; ``x2``/``y2`` exclusive."""

    x1: int
    y1: int
    x2: int
    y2: int

    @property
    def width(self) -> int:
        return self.x2 - self.x1

    @property
    def height(self) -> int:
        return self.y2 - self.y1


@dataclass(frozen=True)
class IAMLine:
    """One handwritten line of a form: its transcription, its exact ink box (union of its
    connected components) and the padded box that line crops use."""

    text: str
    ink_region: Region
    region: Region


# ---------------------------------------------------------------------------- parsing
def unescape_text(text: str) -> str:
    """Decode XML/HTML entities left in a ``text`` attribute after XML parsing.

    FSDL replaced ``&quot;`` after parsing, i.e. some IAM texts are escaped twice
    (``&amp;quot;`` in the file). Decoding only complete ``&name;`` entities keeps a
    literal ``&`` (as in "R & D") untouched.

    >>> unescape_text('&quot;Yes,&quot; she said')
    '"Yes," she said'
    >>> unescape_text("Marks & Spencer &amp co")
    'Marks & Spencer &amp co'
    """
    return _ENTITY.sub(lambda match: html.unescape(match.group(0)), text)


def ink_region(cmp_boxes: Sequence[tuple[int, int, int, int]], downsample: int) -> Region | None:
    """Union of connected-component boxes ``(x, y, width, height)`` (full-size coordinates),
    scaled to the stored image as FSDL did (integer division). None if there are none.

    >>> ink_region([(408, 768, 27, 51), (507, 766, 213, 48)], downsample=2)
    Region(x1=204, y1=383, x2=360, y2=409)
    """
    if not cmp_boxes:
        return None
    return Region(
        x1=min(x for x, _, _, _ in cmp_boxes) // downsample,
        y1=min(y for _, y, _, _ in cmp_boxes) // downsample,
        x2=max(x + w for x, _, w, _ in cmp_boxes) // downsample,
        y2=max(y + h for _, y, _, h in cmp_boxes) // downsample,
    )


def pad_line_regions(regions: Sequence[Region], pad_x: int, pad_y: int) -> list[Region]:
    """Pad each line's ink box by ``pad_x`` left/right and by ``pad_y`` above/below, but by
    at most half the vertical gap to the neighbouring line, so a crop shows no other line.

    >>> pad_line_regions([Region(10, 10, 50, 30), Region(12, 36, 40, 60)], pad_x=8, pad_y=8)
    [Region(x1=2, y1=2, x2=58, y2=33), Region(x1=4, y1=33, x2=48, y2=68)]
    """
    # Characters of adjacent lines can overlap (negative gap): then no vertical padding there.
    gaps = [max(below.y1 - above.y2, 0) for above, below in zip(regions[:-1], regions[1:])]
    gaps_above = [2 * pad_y, *gaps]
    gaps_below = [*gaps, 2 * pad_y]
    return [
        Region(
            x1=region.x1 - pad_x,
            y1=region.y1 - min(pad_y, gap_above // 2),
            x2=region.x2 + pad_x,
            y2=region.y2 + min(pad_y, gap_below // 2),
        )
        for region, gap_above, gap_below in zip(regions, gaps_above, gaps_below)
    ]


def union_region(regions: Sequence[Region]) -> Region:
    """The smallest box containing every region.

    >>> union_region([Region(2, 2, 58, 33), Region(4, 33, 48, 68)])
    Region(x1=2, y1=2, x2=58, y2=68)
    """
    return Region(
        min(r.x1 for r in regions),
        min(r.y1 for r in regions),
        max(r.x2 for r in regions),
        max(r.y2 for r in regions),
    )


def parse_form_xml(
    source: str | os.PathLike | bytes, downsample: int = metadata.DOWNSAMPLE_FACTOR
) -> list[tuple[str, Region]]:
    """``(text, ink region)`` for each handwritten line of one IAM form XML, in order.

    A line without any connected component cannot be located in the image; it is skipped
    (with a warning), so texts and regions always stay paired.
    """
    # The standard library parser: expat does not fetch external entities, and the file's
    # SHA-256 was checked at download.
    root = (
        ElementTree.fromstring(source)
        if isinstance(source, bytes)
        else ElementTree.parse(source).getroot()
    )
    lines = []
    for line in root.iterfind("handwritten-part/line"):
        boxes = [
            (int(c.get("x")), int(c.get("y")), int(c.get("width")), int(c.get("height")))
            for c in line.iterfind("word/cmp")
        ]
        region = ink_region(boxes, downsample)
        if region is None:
            logger.warning("IAM line %s has no connected components; skipped", line.get("id"))
            continue
        lines.append((unescape_text(line.get("text", "")), region))
    return lines


def read_split_file(path: str | os.PathLike) -> set[str]:
    """Form ids from an LWITLRT split file, which lists LINE ids (``a01-000u-00``) one a row.

    >>> import tempfile; f = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)
    >>> _ = f.write("a01-000u-00\\na01-000u-01\\nn02-082a-03\\n"); f.close()
    >>> sorted(read_split_file(f.name))
    ['a01-000u', 'n02-082a']
    """
    text = Path(path).read_text()
    return {"-".join(line_id.split("-")[:2]) for line_id in text.split() if line_id}


def crop_region(image: Image.Image, region: Region, fill: int = 255) -> Image.Image:
    """Crop ``region`` from an ``L`` image; parts outside the image are paper (``fill``),
    never black, since black would read as ink in natural polarity.

    >>> crop_region(Image.new("L", (10, 10), 0), Region(-2, 0, 3, 2)).getpixel((0, 0))
    255
    """
    crop = Image.new("L", (region.width, region.height), fill)
    inside = Region(
        max(region.x1, 0),
        max(region.y1, 0),
        min(region.x2, image.width),
        min(region.y2, image.height),
    )
    if inside.width > 0 and inside.height > 0:
        crop.paste(image.crop(inside), (inside.x1 - region.x1, inside.y1 - region.y1))
    return crop


# ---------------------------------------------------------------------------- the dataset
class IAM:
    """The raw IAM forms: downloads and extracts ``iamdb.zip`` once, then parses lazily.

    Options (``args``): ``iam_url`` (or env ``TEXT_RECOGNIZER_IAM_URL``) for a mirror,
    ``iam_sha256`` to match it, ``download_dir`` for where the zip and its extraction live.

    Every ``*_by_id`` property maps a form id (``"a01-000u"``) to that form's data; regions
    are in pixels of the stored, half-size form image that :meth:`load_image` returns.
    """

    def __init__(self, args: argparse.Namespace | dict | None = None) -> None:
        args = vars(args) if isinstance(args, argparse.Namespace) else dict(args or {})
        self.url = args.get("iam_url") or os.environ.get("TEXT_RECOGNIZER_IAM_URL") or metadata.URL
        self.sha256 = args.get("iam_sha256") or metadata.SHA256
        self.download_dir = Path(args.get("download_dir") or metadata.DL_DATA_DIRNAME)
        self.extracted_dir = self.download_dir / metadata.EXTRACTED_DIRNAME

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument(
            "--iam_url",
            type=str,
            default=None,
            help="mirror of iamdb.zip (default: FSDL's public copy)",
        )
        parser.add_argument(
            "--iam_sha256",
            type=str,
            default=None,
            help="SHA-256 of the mirror's file if it differs from FSDL's",
        )
        parser.add_argument(
            "--download_dir",
            type=Path,
            default=None,
            help=f"where iamdb.zip and its extraction live (default {metadata.DL_DATA_DIRNAME})",
        )
        return parser

    # ------------------------------------------------------------ download and extract
    def prepare_data(self) -> None:
        """Download (once, hash-checked) and extract (once, atomically) the dataset."""
        if (self.extracted_dir / "xml").is_dir():
            return
        alternative = OFFLINE_ALTERNATIVE.format(dirname=self.download_dir)
        zip_path = download_file(
            self.url,
            self.sha256,
            self.download_dir,
            filename=metadata.FILENAME,
            offline_alternative=alternative,
        )
        logger.info("Extracting %s", zip_path)
        with zipfile.ZipFile(zip_path) as archive, atomic_directory(self.extracted_dir) as tmp:
            prefix = metadata.EXTRACTED_DIRNAME + "/"
            for member in archive.infolist():
                name = member.filename
                if member.is_dir() or not name.startswith(prefix):
                    continue
                relative = Path(name[len(prefix) :])
                if relative.is_absolute() or ".." in relative.parts:
                    raise ValueError(f"unsafe path in {zip_path.name}: {name!r}")
                destination = tmp / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, open(destination, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            if not (tmp / "xml").is_dir():
                raise ValueError(f"{zip_path} has no {prefix}xml/ folder: not the IAM archive")

    # ------------------------------------------------------------ files
    @cached_property
    def xml_filenames_by_id(self) -> dict[str, Path]:
        self._check_prepared()
        return {path.stem: path for path in sorted((self.extracted_dir / "xml").glob("*.xml"))}

    @cached_property
    def form_filenames_by_id(self) -> dict[str, Path]:
        self._check_prepared()
        forms = self.extracted_dir / "forms"
        return {
            path.stem: path
            for path in sorted(forms.iterdir())
            if path.suffix.lower() in (".jpg", ".jpeg", ".png")
        }

    @cached_property
    def all_ids(self) -> list[str]:
        """Every form that has both an XML file and an image, sorted."""
        return sorted(set(self.xml_filenames_by_id) & set(self.form_filenames_by_id))

    def load_image(self, form_id: str) -> Image.Image:
        """The whole form (printed prompt and handwriting) as ``L``, dark ink on light paper."""
        return read_image_pil(self.form_filenames_by_id[form_id], grayscale=True)

    # ------------------------------------------------------------ labels and regions
    @cached_property
    def lines_by_id(self) -> dict[str, list[IAMLine]]:
        """Parsed handwritten lines of every form (texts, ink boxes, padded boxes)."""
        lines = {}
        for form_id in self.all_ids:
            parsed = parse_form_xml(self.xml_filenames_by_id[form_id])
            if not parsed:
                logger.warning("IAM form %s has no locatable handwritten line; skipped", form_id)
                continue
            texts, inks = zip(*parsed)
            padded = pad_line_regions(
                inks, metadata.LINE_REGION_PADDING_X, metadata.LINE_REGION_PADDING_Y
            )
            lines[form_id] = [IAMLine(t, i, r) for t, i, r in zip(texts, inks, padded)]
        return lines

    @property
    def line_strings_by_id(self) -> dict[str, list[str]]:
        return {k: [line.text for line in v] for k, v in self.lines_by_id.items()}

    @property
    def line_regions_by_id(self) -> dict[str, list[Region]]:
        """Padded line boxes: what line crops use."""
        return {k: [line.region for line in v] for k, v in self.lines_by_id.items()}

    @property
    def line_ink_regions_by_id(self) -> dict[str, list[Region]]:
        """Exact ink boxes (union of each line's connected components), unpadded."""
        return {k: [line.ink_region for line in v] for k, v in self.lines_by_id.items()}

    @property
    def paragraph_string_by_id(self) -> dict[str, str]:
        return {k: NEW_LINE_TOKEN.join(v) for k, v in self.line_strings_by_id.items()}

    @property
    def paragraph_region_by_id(self) -> dict[str, Region]:
        """The union of a form's padded line boxes: the handwritten part, no printed prompt."""
        return {k: union_region(v) for k, v in self.line_regions_by_id.items()}

    def line_crops(self, form_id: str) -> list[Image.Image]:
        image = self.load_image(form_id)
        return [crop_region(image, region) for region in self.line_regions_by_id[form_id]]

    def paragraph_crop(self, form_id: str) -> Image.Image:
        return crop_region(self.load_image(form_id), self.paragraph_region_by_id[form_id])

    # ------------------------------------------------------------ splits
    @cached_property
    def test_ids(self) -> list[str]:
        return self._ids_in(metadata.TEST_SPLIT_FILES)

    @cached_property
    def val_ids(self) -> list[str]:
        test_ids = set(self.test_ids)  # a form listed in both is a test form (as FSDL)
        return [i for i in self._ids_in(metadata.VAL_SPLIT_FILES) if i not in test_ids]

    @cached_property
    def train_ids(self) -> list[str]:
        held_out = set(self.test_ids) | set(self.val_ids)
        return [i for i in self.lines_by_id if i not in held_out]

    @property
    def ids_by_split(self) -> dict[str, list[str]]:
        return {"train": self.train_ids, "val": self.val_ids, "test": self.test_ids}

    @property
    def split_by_id(self) -> dict[str, str]:
        return {i: split for split, ids in self.ids_by_split.items() for i in ids}

    def _ids_in(self, filenames: Sequence[str]) -> list[str]:
        listed = set()
        for name in filenames:
            path = self.extracted_dir / "task" / name
            if not path.exists():
                raise FileNotFoundError(f"IAM split file missing: {path}")
            listed |= read_split_file(path)
        return [i for i in self.lines_by_id if i in listed]  # sorted, and only usable forms

    def _check_prepared(self) -> None:
        if not (self.extracted_dir / "xml").is_dir():
            raise RuntimeError(
                f"IAM is not extracted in {self.extracted_dir}: call prepare_data() first"
            )

    def __repr__(self) -> str:
        if not (self.extracted_dir / "xml").is_dir():
            return f"IAM (not downloaded yet: {self.extracted_dir})"
        sizes = ", ".join(f"{split} {len(ids)}" for split, ids in self.ids_by_split.items())
        num_lines = sum(len(lines) for lines in self.lines_by_id.values())
        return f"IAM: {len(self.lines_by_id)} forms ({sizes}), {num_lines} handwritten lines"
