"""How good are the annotations? Each annotated line is matched to the ground-truth line
it overlaps most (rotated-box IoU), and scored by IoU and CER; ground-truth lines that no
annotation covers are reported as missed. Lab 06 checks its labels with this."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from text_recognizer.annotation.forms import PageTruth
from text_recognizer.annotation.geometry import rect_iou
from text_recognizer.evaluation import cer

MIN_IOU = 0.5  # a ground-truth line counts as covered above this overlap


@dataclass(frozen=True)
class LineMatch:
    """One annotated line and the ground-truth line it overlaps most."""

    page_id: str
    text: str  # what the annotator transcribed
    truth: str  # the matched line as written
    iou: float
    cer: float


def match_to_truth(
    records: Sequence[Mapping[str, Any]], truth: Mapping[str, PageTruth], min_iou: float = MIN_IOU
) -> tuple[list[LineMatch], dict[str, list[str]]]:
    """Match annotated line ``records`` (``page_id``, ``rect``, ``text``: the converter's
    lines.json) to ``truth`` -> (one :class:`LineMatch` per record, in order; per page of
    ``truth``, the texts of its lines that no record overlaps by more than ``min_iou``).

    >>> from text_recognizer.annotation.forms import LineTruth
    >>> line = LineTruth("hello", (0, 0, 100, 20, 0), (0, 0, 100, 20))
    >>> other = LineTruth("world", (0, 40, 100, 20, 0), (0, 40, 100, 60))
    >>> page = PageTruth("p", "p.png", 100, 60, "hello world", (line, other))
    >>> record = {"page_id": "p", "rect": (0, 0, 90, 20, 0), "text": "helo"}
    >>> matches, missed = match_to_truth([record], {"p": page})
    >>> matches[0].truth, matches[0].iou, round(matches[0].cer, 6), missed
    ('hello', 0.9, 0.2, {'p': ['world']})
    """
    matches = []
    for record in records:
        lines = truth[record["page_id"]].lines
        best = max(lines, key=lambda line: rect_iou(record["rect"], line.rect))
        iou = rect_iou(record["rect"], best.rect)
        matches.append(
            LineMatch(
                record["page_id"], record["text"], best.text, iou, cer(record["text"], best.text)
            )
        )
    missed = {
        page_id: [
            line.text
            for line in page.lines
            if not any(
                r["page_id"] == page_id and rect_iou(r["rect"], line.rect) > min_iou
                for r in records
            )
        ]
        for page_id, page in truth.items()
    }
    return matches, missed
