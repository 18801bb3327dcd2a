"""Line segmentation (stems/segment.py): the boxes match the rendered truth, for any mode,
size and a little tilt; blank and tiny images give no lines; line tensors and batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from text_recognizer.data.synthetic import list_fonts
from text_recognizer.data.synthetic_paragraphs import render_paragraph
from text_recognizer.stems.normalize import normalize_page
from text_recognizer.stems.segment import (
    LineStripStem,
    crop_line,
    pad_batch,
    segment_lines,
)

LINES = [
    "The quick brown fox jumps",
    "over the lazy dog, again",
    "and again, until the end",
    "of the page.",
]


def iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


@pytest.fixture(scope="module")
def pages():
    """Seeded synthetic pages (several writers, the always-installed Hershey fonts: their
    ink stays inside the true boxes) with their true line boxes, normalized as the
    recognizer normalizes them (a page may be rendered light-on-dark)."""
    fonts = list_fonts(kinds=["hershey"])
    rendered = [
        render_paragraph(LINES[: 2 + seed % 3], seed, line_height=40, fonts=fonts)
        for seed in range(8)
    ]
    return [(normalize_page(page), truth, font) for page, truth, font in rendered]


def test_boxes_match_the_true_lines(pages):
    overlaps = []
    for page, truth, font in pages:
        boxes = [line.box for line in segment_lines(page)]
        assert len(boxes) == len(truth), font
        for box, true_box in zip(boxes, truth):
            # faint, blurred ends of a stroke may fall below the ink threshold: boxes can be
            # tighter than the truth, but each sits on its own line
            assert true_box[1] <= (box[1] + box[3]) / 2 <= true_box[3], (font, box, true_box)
            assert iou(box, true_box) > 0.4, (font, box, true_box)
            overlaps.append(iou(box, true_box))
        assert all(a[1] < b[1] for a, b in zip(boxes, boxes[1:]))  # top to bottom
    assert np.mean(overlaps) > 0.7


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "I;16", "1"])
def test_any_mode_gives_the_same_lines(pages, mode):
    page, truth, _ = pages[0]
    converted = (
        page.convert(mode)
        if mode != "I;16"
        else Image.fromarray(np.asarray(page).astype(np.uint16) * 257)
    )
    assert len(segment_lines(converted)) == len(truth)


def test_tilted_page(pages):
    page, truth, _ = pages[1]
    for angle in (-3, 3):
        tilted = page.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)
        assert len(segment_lines(tilted)) == len(truth), angle


def test_huge_page_boxes_scale(pages):
    page, truth, _ = pages[2]
    big = page.resize((page.width * 6, page.height * 6))  # segmented on a shrunk copy
    small_boxes = [line.box for line in segment_lines(page)]
    big_boxes = [line.box for line in segment_lines(big)]
    assert len(big_boxes) == len(truth)
    for small, large in zip(small_boxes, big_boxes):
        assert iou(tuple(6 * v for v in small), large) > 0.8
        assert large[2] <= big.width and large[3] <= big.height


@pytest.mark.parametrize("size", [(1, 1), (3, 2), (400, 300)])
def test_blank_and_tiny_images_have_no_lines(size):
    assert segment_lines(Image.new("L", size, 255)) == []
    assert segment_lines(Image.new("RGB", size, (30, 30, 30))) == []  # uniform dark: no ink


def test_crops_and_line_tensors(pages):
    page, truth, _ = pages[0]
    lines = segment_lines(page)
    stem = LineStripStem(image_height=32, max_width=1024, width_multiple=16)
    tensors = [stem(crop_line(page, line)) for line in lines]
    for tensor in tensors:
        assert tensor.shape[:2] == (1, 32) and tensor.shape[2] % 16 == 0
        assert 0.0 <= float(tensor.min()) and float(tensor.max()) <= 1.0
        assert float(tensor.max()) > 0.5  # ink made it into the crop
    batch = pad_batch(tensors)
    assert batch.shape == (len(lines), 1, 32, max(t.shape[-1] for t in tensors))
    assert torch.equal(batch[0, :, :, : tensors[0].shape[-1]], tensors[0])
    # deterministic: the same crop gives the same bytes
    assert torch.equal(stem(crop_line(page, lines[0])), tensors[0])
