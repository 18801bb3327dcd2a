"""Label Studio export JSON -> line crops, texts and paragraph records a DataModule reads.

Label Studio's JSON export is a list of tasks; each task has its ``data`` (our manifest
row: ``image`` URL, ``page_id``) and its ``annotations``, each a ``result`` list. With the
labeling config of :mod:`~text_recognizer.annotation.label_config`, one text line is TWO
results sharing one region ``id``::

    {"id": "r1", "type": "rectangle", "from_name": "bbox", "original_width": 720, ...,
     "value": {"x": 8.5, "y": 40.1, "width": 38.2, "height": 10.0, "rotation": 358.8}}
    {"id": "r1", "type": "textarea", "from_name": "transcription", ...,
     "value": {"x": 8.5, ..., "text": ["Is it far to the"]}}

Coordinates are PERCENT of the image size (so they survive resizing); ``(x, y)`` is the
rectangle's top-left corner and ``rotation`` is in degrees, clockwise on screen, about that
corner. :mod:`~text_recognizer.annotation.geometry` turns them into pixels and cuts such a
rectangle out upright (:func:`~text_recognizer.annotation.geometry.crop_rect`), whatever its
rotation.

Nothing is dropped silently: every task, region or value that cannot become a training
line is a :class:`Problem` in the :class:`ConversionReport` (returned, and written to
``report.json``), with the task, region and reason, and whether the line was kept anyway.

Output (the folder appears atomically and replaces an older conversion)::

    <out_dir>/lines/<page>-<k>.png     upright line crops, natural polarity
    <out_dir>/lines.json               one record per line: file, text, page, task, rect
    <out_dir>/paragraphs/<page>.png    each page's handwritten part (union of its lines)
    <out_dir>/paragraphs.json          one record per page: file, text (lines joined by \\n)
    <out_dir>/report.json              the conversion report
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from PIL import Image

from text_recognizer.annotation.geometry import (
    Rect,
    bounding_box,
    crop_rect,
    inside_fraction,
    percent_to_pixels,
    pixels_to_percent,
    rect_corners,
)
from text_recognizer.annotation.label_config import DATA_KEY, IMAGE_NAME, RECTANGLE_NAME, TEXT_NAME
from text_recognizer.metadata.emnist import MAPPING
from text_recognizer.util import atomic_directory, read_image_pil

LINES_FILENAME, PARAGRAPHS_FILENAME, REPORT_FILENAME = (
    "lines.json",
    "paragraphs.json",
    "report.json",
)
MIN_SIDE_PX = 2.0  # a rectangle thinner than this holds no line: a mis-click
MIN_INSIDE_FRACTION = 0.5  # keep a rectangle partly outside the image if half of it is inside
RECT_TYPES = ("rectangle", "rectanglelabels")
CHARSET = {token for token in MAPPING if len(token) == 1}  # characters a line label may hold


# ---------------------------------------------------------------------------- the report
@dataclass(frozen=True)
class Problem:
    """One thing in the export that did not become a clean training line."""

    kind: str  # e.g. "missing_transcription", "empty_task", "zero_size_box"
    task_id: int | None
    message: str
    region_id: str | None = None
    page_id: str | None = None
    kept: bool = False  # True: the line was still used (e.g. a box slightly off the image)


@dataclass
class ConversionReport:
    tasks: int = 0
    annotated_tasks: int = 0
    lines: int = 0
    pages: int = 0
    problems: list[Problem] = field(default_factory=list)

    def add(self, kind: str, task: dict, message: str, **extra: Any) -> None:
        page_id = (task.get("data") or {}).get("page_id")
        self.problems.append(Problem(kind, task.get("id"), message, page_id=page_id, **extra))

    @property
    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(p.kind for p in self.problems).items()))

    @property
    def dropped(self) -> list[Problem]:
        return [p for p in self.problems if not p.kept]

    def to_dict(self) -> dict[str, Any]:
        return {
            "tasks": self.tasks,
            "annotated_tasks": self.annotated_tasks,
            "pages": self.pages,
            "lines": self.lines,
            "problem_counts": self.counts,
            "problems": [asdict(p) for p in self.problems],
        }

    def summary(self) -> str:
        """A few human-readable lines: what was converted, what was not and why."""
        lines = [
            f"{self.tasks} tasks, {self.annotated_tasks} annotated: "
            f"{self.lines} lines on {self.pages} pages converted"
        ]
        if not self.problems:
            lines.append("no problems")
        for problem in self.problems:
            where = f"task {problem.task_id}" + (f" ({problem.page_id})" if problem.page_id else "")
            where += f", region {problem.region_id}" if problem.region_id else ""
            action = "kept" if problem.kept else "dropped"
            lines.append(f"  {problem.kind} [{action}] {where}: {problem.message}")
        return "\n".join(lines)


@dataclass(frozen=True)
class LineRecord:
    task_id: int
    page_id: str
    region_id: str
    text: str
    rect: Rect  # pixels of the page image
    box: tuple[int, int, int, int]  # axis-aligned bounds of rect
    file: str = ""  # the crop, relative to the output folder


# ---------------------------------------------------------------------------- conversion
ImageSource = str | os.PathLike | Callable[[str], Image.Image] | None


def image_loader(images: ImageSource) -> Callable[[str], Image.Image]:
    """How to get a task's image from its URL: a folder (file = the URL's last path part,
    e.g. the forms' ``images/``), a function, or None (fetch the URL itself)."""
    if callable(images):
        return images
    if images is None:
        return lambda url: read_image_pil(url, grayscale=True)
    folder = Path(images)

    def from_folder(url: str) -> Image.Image:
        name = Path(urlparse(url).path).name
        return read_image_pil(folder / name, grayscale=True)

    return from_folder


def _latest_annotation(task: dict, report: ConversionReport) -> dict | None:
    """The annotation to use: the most recent one not cancelled (others are reported)."""
    annotations = task.get("annotations") or []
    usable = [a for a in annotations if not a.get("was_cancelled")]
    for cancelled in [a for a in annotations if a.get("was_cancelled")]:
        report.add("cancelled_annotation", task, f"annotation {cancelled.get('id')} was skipped")
    if not usable:
        return None
    usable.sort(
        key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""), a.get("id") or 0)
    )
    for older in usable[:-1]:
        report.add(
            "extra_annotation",
            task,
            f"annotation {older.get('id')} ignored: the task has a newer one ({usable[-1].get('id')})",
        )
    return usable[-1]


def task_lines(
    task: dict, report: ConversionReport, image_size: tuple[int, int] | None = None
) -> list[LineRecord]:
    """The usable lines of one task (reading order), reporting everything else.

    ``image_size`` is the real ``(width, height)`` of the task's image; without it the
    results' ``original_width/height`` are used.
    """
    page_id = str((task.get("data") or {}).get("page_id") or f"task-{task.get('id')}")
    annotation = _latest_annotation(task, report)
    if annotation is None or not annotation.get("result"):
        report.add("empty_task", task, "no annotation with any region: nothing to convert")
        return []
    report.annotated_tasks += 1
    regions: dict[str, dict[str, dict]] = {}
    for result in annotation["result"]:
        kind = result.get("type")
        region_id = str(result.get("id"))
        if kind in RECT_TYPES:
            regions.setdefault(region_id, {})["rect"] = result
        elif kind == "textarea":
            regions.setdefault(region_id, {})["text"] = result
        else:
            report.add(
                "unsupported_region",
                task,
                f"a {kind!r} result (from {result.get('from_name')!r}): only rectangles with "
                "a transcription become lines",
                region_id=region_id,
            )
    lines = []
    for region_id, parts in regions.items():
        rect_result, text_result = parts.get("rect"), parts.get("text")
        if rect_result is None:
            texts = (text_result.get("value") or {}).get("text") or []
            report.add(
                "missing_rectangle",
                task,
                f"transcription {texts!r} has no rectangle: where is the line?",
                region_id=region_id,
            )
            continue
        if text_result is None:
            report.add(
                "missing_transcription",
                task,
                "rectangle without a transcription",
                region_id=region_id,
            )
            continue
        texts = [str(t) for t in (text_result.get("value") or {}).get("text") or []]
        if len(texts) > 1:
            report.add(
                "multiple_transcriptions",
                task,
                f"{len(texts)} transcriptions {texts!r}: joined with spaces",
                region_id=region_id,
                kept=True,
            )
        text = " ".join(" ".join(texts).split())  # one space between words, no newlines
        if not text:
            report.add(
                "empty_transcription", task, "the transcription is empty", region_id=region_id
            )
            continue
        unknown = sorted(set(text) - CHARSET)
        if unknown:
            report.add(
                "unknown_characters",
                task,
                f"{unknown} in {text!r} are not in the model's character set: the line is "
                "converted, but AnnotatedLines will leave it out of training",
                region_id=region_id,
                kept=True,
            )
        width = int((image_size or (0, 0))[0] or rect_result.get("original_width") or 0)
        height = int((image_size or (0, 0))[1] or rect_result.get("original_height") or 0)
        if width <= 0 or height <= 0:
            report.add(
                "unknown_image_size",
                task,
                "no original_width/original_height and no image: cannot place the box",
                region_id=region_id,
            )
            continue
        original = (rect_result.get("original_width"), rect_result.get("original_height"))
        if image_size and all(original) and tuple(original) != tuple(image_size):
            report.add(
                "image_size_mismatch",
                task,
                f"annotated on a {original[0]}x{original[1]} image, the image is "
                f"{image_size[0]}x{image_size[1]}: percent coordinates scaled to it",
                region_id=region_id,
                kept=True,
            )
        rect = percent_to_pixels(rect_result["value"], width, height)
        if rect[2] < MIN_SIDE_PX or rect[3] < MIN_SIDE_PX:
            report.add(
                "zero_size_box",
                task,
                f"the rectangle is {rect[2]:.1f} x {rect[3]:.1f} px (text {text!r})",
                region_id=region_id,
            )
            continue
        inside = inside_fraction(rect, width, height)
        if inside < 0.999:
            keep = inside >= MIN_INSIDE_FRACTION
            report.add(
                "box_outside_image",
                task,
                f"only {inside:.0%} of the rectangle is inside the image"
                + (": the rest is filled with paper" if keep else ""),
                region_id=region_id,
                kept=keep,
            )
            if not keep:
                continue
        box = bounding_box(rect_corners(rect))
        lines.append(LineRecord(int(task.get("id") or 0), page_id, region_id, text, rect, box))
    # Reading order: top to bottom by the rectangle's centre.
    return sorted(lines, key=lambda line: rect_corners(line.rect).mean(0)[1])


def load_export(source: str | os.PathLike | list) -> list[dict]:
    """A Label Studio JSON export (path or parsed list) -> its tasks; a clear error for the
    other export formats."""
    tasks = source if isinstance(source, list) else json.loads(Path(source).read_text())
    if not isinstance(tasks, list) or any(
        not isinstance(t, dict) or "data" not in t for t in tasks
    ):
        raise ValueError(
            "not a Label Studio JSON export (a list of tasks with 'data' and 'annotations'); "
            "export with exportType=JSON, not JSON_MIN or CSV"
        )
    return tasks


def convert_export(
    export: str | os.PathLike | list,
    out_dir: str | os.PathLike,
    images: ImageSource = None,
) -> ConversionReport:
    """Convert a Label Studio JSON export into line crops, texts and paragraph records in
    ``out_dir`` (see the module docstring); returns the report (also ``report.json``).

    ``images`` says where the page images are: a folder, a ``url -> PIL image`` function,
    or None to fetch each task's URL.
    """
    tasks = load_export(export)
    load = image_loader(images)
    report = ConversionReport(tasks=len(tasks))
    out_dir = Path(out_dir)
    # An older conversion is replaced whole: readers see the old one or the new one.
    with atomic_directory(out_dir, replace=True) as tmp:
        (tmp / "lines").mkdir()
        (tmp / "paragraphs").mkdir()
        all_lines, paragraphs = [], []
        for task in tasks:
            url = (task.get("data") or {}).get(DATA_KEY)
            has_regions = any(a.get("result") for a in task.get("annotations") or [])
            image = None
            if url and has_regions:
                try:
                    image = load(str(url))
                except (OSError, ValueError) as error:
                    report.add("image_unreadable", task, f"{url}: {error}")
                    continue
            lines = task_lines(task, report, image.size if image is not None else None)
            if not lines:
                continue
            if image is None:
                report.add("image_unreadable", task, f"the task has no {DATA_KEY!r} URL")
                continue
            saved = []
            for k, line in enumerate(lines):
                file = f"lines/{line.page_id}-{k:02d}.png"
                crop_rect(image, line.rect).save(tmp / file)
                saved.append(LineRecord(**{**asdict(line), "file": file}))
            x0 = max(0, min(line.box[0] for line in lines))
            y0 = max(0, min(line.box[1] for line in lines))
            x1 = min(image.width, max(line.box[2] for line in lines))
            y1 = min(image.height, max(line.box[3] for line in lines))
            paragraph_file = f"paragraphs/{lines[0].page_id}.png"
            image.crop((x0, y0, x1, y1)).save(tmp / paragraph_file)
            paragraphs.append(
                {
                    "file": paragraph_file,
                    "page_id": lines[0].page_id,
                    "task_id": lines[0].task_id,
                    "image": url,
                    "box": [x0, y0, x1, y1],
                    "text": "\n".join(line.text for line in saved),
                    "lines": [line.file for line in saved],
                }
            )
            all_lines += saved
        report.lines, report.pages = len(all_lines), len(paragraphs)
        (tmp / LINES_FILENAME).write_text(
            json.dumps([asdict(line) for line in all_lines], indent=1, ensure_ascii=False)
        )
        (tmp / PARAGRAPHS_FILENAME).write_text(json.dumps(paragraphs, indent=1, ensure_ascii=False))
        (tmp / REPORT_FILENAME).write_text(json.dumps(report.to_dict(), indent=1))
    return report


# ---------------------------------------------------------------------------- the other way
def line_results(
    lines: Iterable[tuple[Sequence[float], str]],
    image_size: tuple[int, int],
    id_prefix: str = "line",
) -> list[dict[str, Any]]:
    """Label Studio ``result`` entries for lines given as ``(rect in pixels, text)``: a
    rectangle and its per-region transcription, sharing a region id. What an annotator's
    work looks like in the API (used to pre-annotate, or to post the generator's truth).

    >>> [r["type"] for r in line_results([((10, 20, 100, 30, 0), "Hi")], (200, 100))]
    ['rectangle', 'textarea']
    """
    width, height = image_size
    results = []
    for k, (rect, text) in enumerate(lines):
        value = pixels_to_percent(rect, width, height)
        common = {
            "id": f"{id_prefix}{k}",
            "to_name": IMAGE_NAME,
            "original_width": width,
            "original_height": height,
            "image_rotation": 0,
        }
        results.append({**common, "type": "rectangle", "from_name": RECTANGLE_NAME, "value": value})
        results.append(
            {
                **common,
                "type": "textarea",
                "from_name": TEXT_NAME,
                "value": {**value, "text": [text]},
            }
        )
    return results
