"""The Label Studio export -> dataset converter, on hand-made export JSON.

Each test builds a page whose content at a known place is known, writes the export an
annotator would produce (percent coordinates, rotation about the top-left corner), and
checks the crops, texts, paragraph records and the report of what could not be used.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from text_recognizer.annotation.convert import convert_export, line_results, load_export
from text_recognizer.annotation.geometry import crop_rect, pixels_to_percent, rect_corners, rect_iou
from text_recognizer.data.annotated_lines import AnnotatedLines

PAGE_W, PAGE_H = 300, 200


def pattern(width: int, height: int, seed: int = 0) -> Image.Image:
    """An asymmetric test card: 6-px blocks of random gray, so any wrong turn or shift shows."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(math.ceil(height / 6), math.ceil(width / 6)))
    return Image.fromarray(np.kron(blocks, np.ones((6, 6)))[:height, :width].astype(np.uint8))


def rect_value(x, y, w, h, rotation=0.0, width=PAGE_W, height=PAGE_H):
    return pixels_to_percent((x, y, w, h, rotation), width, height)


def region(region_id, value, text=None, with_rect=True, width=PAGE_W, height=PAGE_H):
    """The results one annotated line gives: a rectangle and/or its per-region text."""
    common = {
        "id": region_id,
        "to_name": "image",
        "original_width": width,
        "original_height": height,
    }
    results = []
    if with_rect:
        results.append({**common, "type": "rectangle", "from_name": "bbox", "value": value})
    if text is not None:
        results.append(
            {
                **common,
                "type": "textarea",
                "from_name": "transcription",
                "value": {**value, "text": text},
            }
        )
    return results


def task(task_id, page_id, results=None, annotations=None):
    if annotations is None:
        annotations = [] if results is None else [{"id": task_id, "result": results}]
    return {
        "id": task_id,
        "data": {"image": f"http://127.0.0.1:9/{page_id}.png", "page_id": page_id},
        "annotations": annotations,
    }


@pytest.fixture
def page_dir(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    return folder


def save_page(page_dir, page_id, page: Image.Image) -> None:
    page.save(page_dir / f"{page_id}.png")


def mean_abs_diff(a: Image.Image, b: Image.Image, border: int = 0) -> float:
    x, y = np.asarray(a, float), np.asarray(b, float)
    assert x.shape == y.shape, (x.shape, y.shape)
    if border:
        x, y = x[border:-border, border:-border], y[border:-border, border:-border]
    return float(np.abs(x - y).mean())


def read_lines(out):
    return json.loads((out / "lines.json").read_text())


# ---------------------------------------------------------------------------- geometry
def test_percent_coordinates_give_pixel_crops(page_dir, tmp_path):
    card = pattern(60, 18)
    page = Image.new("L", (PAGE_W, PAGE_H), 255)
    page.paste(card, (30, 50))
    save_page(page_dir, "p0", page)
    value = {"x": 10.0, "y": 25.0, "width": 20.0, "height": 9.0, "rotation": 0}  # percent
    export = [task(1, "p0", region("a", value, ["Hello"]))]
    report = convert_export(export, tmp_path / "out", images=page_dir)

    (line,) = read_lines(tmp_path / "out")
    assert line["rect"] == [30.0, 50.0, 60.0, 18.0, 0.0]
    assert line["text"] == "Hello" and line["page_id"] == "p0"
    crop = Image.open(tmp_path / "out" / line["file"])
    assert crop.size == (60, 18)
    assert mean_abs_diff(crop, card) < 1.0
    assert report.lines == 1 and report.problems == []


def test_rotated_90_degrees_gives_the_upright_line(page_dir, tmp_path):
    card = pattern(40, 12, seed=1)
    page = Image.new("L", (PAGE_W, PAGE_H), 255)
    px, py = 100, 60
    page.paste(card.transpose(Image.Transpose.ROTATE_270), (px, py))  # 90 deg clockwise
    save_page(page_dir, "p0", page)
    # Clockwise by 90 about the top-left corner: that corner is now the top-RIGHT one.
    value = rect_value(px + card.height, py, card.width, card.height, 90)
    convert_export([task(1, "p0", region("a", value, ["turned"]))], tmp_path / "out", page_dir)

    (line,) = read_lines(tmp_path / "out")
    crop = Image.open(tmp_path / "out" / line["file"])
    assert crop.size == card.size
    assert mean_abs_diff(crop, card) < 1.0
    # The same rectangle read without its rotation is NOT the line.
    wrong = crop_rect(page, (px + card.height, py, card.width, card.height, 0))
    assert mean_abs_diff(wrong, card) > 30


def test_rotated_30_degrees_gives_the_upright_line(page_dir, tmp_path):
    card = pattern(72, 24, seed=2)
    rotated = card.rotate(-30, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    page = Image.new("L", (PAGE_W, PAGE_H), 255)
    px, py = 80, 40
    page.paste(rotated, (px, py))
    save_page(page_dir, "p0", page)
    # Where the card's top-left corner went: rotate it about the card's centre (clockwise
    # on screen, y down), then shift to the centre of the pasted, expanded image.
    a = math.radians(30)
    dx, dy = -card.width / 2, -card.height / 2
    corner_x = px + rotated.width / 2 + dx * math.cos(a) - dy * math.sin(a)
    corner_y = py + rotated.height / 2 + dx * math.sin(a) + dy * math.cos(a)
    value = rect_value(corner_x, corner_y, card.width, card.height, 30)
    convert_export([task(1, "p0", region("a", value, ["tilted"]))], tmp_path / "out", page_dir)

    (line,) = read_lines(tmp_path / "out")
    crop = Image.open(tmp_path / "out" / line["file"])
    assert crop.size == card.size
    right = mean_abs_diff(crop, card, border=3)  # two resamplings blur block edges a little
    assert right < 15, right
    for wrong_rotation in (0, -30, 60):
        wrong = crop_rect(page, (corner_x, corner_y, card.width, card.height, wrong_rotation))
        assert mean_abs_diff(wrong, card, border=3) > 3 * right


def test_rect_iou_of_rotated_rectangles():
    assert rect_iou((10, 10, 50, 20, 30), (10, 10, 50, 20, 30)) == pytest.approx(1.0)
    assert rect_iou((10, 10, 50, 20, 0), (100, 100, 5, 5, 0)) == 0.0
    # A rectangle turned 90 degrees about its own centre overlaps in the 20x20 middle only.
    corners = rect_corners((0, 0, 40, 20, 0))
    assert corners.mean(0).tolist() == [20.0, 10.0]
    assert rect_iou((0, 0, 40, 20, 0), (30, -10, 40, 20, 90)) == pytest.approx(400 / 1200)


# ---------------------------------------------------------------------------- bad input
def test_partial_annotations_are_reported_not_dropped_silently(page_dir, tmp_path):
    save_page(page_dir, "p0", pattern(PAGE_W, PAGE_H))
    results = [
        *region("good", rect_value(10, 10, 100, 20), ["first line"]),
        *region("no-text", rect_value(10, 40, 100, 20)),  # rectangle, no transcription
        *region("no-rect", rect_value(10, 70, 100, 20), ["floating text"], with_rect=False),
        *region("blank", rect_value(10, 100, 100, 20), ["   "]),
        *region("zero", rect_value(10, 130, 0, 20), ["zero width"]),
        *region("gone", rect_value(PAGE_W + 5, 10, 50, 20), ["off the page"]),
        *region("half", rect_value(PAGE_W - 30, 160, 50, 20), ["partly  off"]),
        *region("accent", rect_value(10, 175, 100, 20), ["caf\u00e9"]),
        {"id": "poly", "type": "polygonlabels", "from_name": "poly", "value": {"points": []}},
    ]
    report = convert_export([task(7, "p0", results)], tmp_path / "out", page_dir)

    kinds = {(p.region_id, p.kind, p.kept) for p in report.problems}
    assert kinds == {
        ("no-text", "missing_transcription", False),
        ("no-rect", "missing_rectangle", False),
        ("blank", "empty_transcription", False),
        ("zero", "zero_size_box", False),
        ("gone", "box_outside_image", False),
        ("half", "box_outside_image", True),
        ("poly", "unsupported_region", False),
        ("accent", "unknown_characters", True),
    }
    assert all(p.task_id == 7 and p.page_id == "p0" for p in report.problems)
    texts = [line["text"] for line in read_lines(tmp_path / "out")]
    assert texts == ["first line", "partly off", "caf\u00e9"]  # reading order; spaces normalized
    written = json.loads((tmp_path / "out" / "report.json").read_text())
    assert written["lines"] == 3 and written["problem_counts"]["box_outside_image"] == 2
    assert len(written["problems"]) == len(report.problems) == 8
    assert "missing_transcription [dropped] task 7 (p0), region no-text" in report.summary()


def test_empty_and_cancelled_tasks_are_reported(page_dir, tmp_path):
    save_page(page_dir, "p1", pattern(PAGE_W, PAGE_H))
    export = [
        task(1, "p0"),  # never annotated
        task(2, "p0", results=[]),  # submitted with no region
        task(3, "p0", annotations=[{"id": 30, "was_cancelled": True, "result": []}]),  # skipped
        task(4, "p1", region("a", rect_value(5, 5, 80, 20), ["kept"])),
    ]
    report = convert_export(export, tmp_path / "out", page_dir)

    assert [p.kind for p in report.problems if p.kind == "empty_task"] == ["empty_task"] * 3
    assert {p.task_id for p in report.problems if p.kind == "empty_task"} == {1, 2, 3}
    assert [p.kind for p in report.problems if p.task_id == 3] == [
        "cancelled_annotation",
        "empty_task",
    ]
    assert (report.tasks, report.annotated_tasks, report.lines, report.pages) == (4, 1, 1, 1)
    paragraphs = json.loads((tmp_path / "out" / "paragraphs.json").read_text())
    assert [p["page_id"] for p in paragraphs] == ["p1"] and paragraphs[0]["text"] == "kept"


def test_newest_annotation_wins_and_the_older_one_is_reported(page_dir, tmp_path):
    save_page(page_dir, "p0", pattern(PAGE_W, PAGE_H))
    old = {
        "id": 1,
        "updated_at": "2026-01-01T00:00:00Z",
        "result": region("a", rect_value(5, 5, 80, 20), ["old"]),
    }
    new = {
        "id": 2,
        "updated_at": "2026-02-01T00:00:00Z",
        "result": region("a", rect_value(5, 5, 80, 20), ["new"]),
    }
    report = convert_export([task(1, "p0", annotations=[new, old])], tmp_path / "out", page_dir)
    assert [line["text"] for line in read_lines(tmp_path / "out")] == ["new"]
    assert [p.kind for p in report.problems] == ["extra_annotation"]


def test_unreadable_image_is_reported(page_dir, tmp_path):
    export = [task(1, "missing", region("a", rect_value(5, 5, 80, 20), ["x"]))]
    report = convert_export(export, tmp_path / "out", page_dir)
    assert [p.kind for p in report.problems] == ["image_unreadable"]
    assert report.lines == 0


def test_not_a_json_export_fails_clearly():
    with pytest.raises(ValueError, match="exportType=JSON"):
        load_export([{"image": "x", "bbox": []}])  # JSON_MIN rows have no "data"


# ---------------------------------------------------------------------------- round trip
def test_posted_results_convert_back_and_load_as_a_datamodule(page_dir, tmp_path):
    """line_results (what we post) -> export -> convert -> AnnotatedLines batches."""
    rng = np.random.default_rng(0)
    lines = [((20.5, 30.25, 150, 24, 2.5), "first line"), ((22, 80, 120, 24, 358.0), "second")]
    export = []
    for k in range(3):
        save_page(
            page_dir, f"p{k}", Image.fromarray(rng.integers(0, 256, (PAGE_H, PAGE_W), np.uint8))
        )
        export.append(task(k + 1, f"p{k}", line_results(lines, (PAGE_W, PAGE_H))))
    report = convert_export(export, tmp_path / "out", page_dir)
    assert report.problems == [] and report.lines == 6

    records = read_lines(tmp_path / "out")
    for record, (rect, text) in zip(records, lines * 3):
        assert record["text"] == text
        assert rect_iou(record["rect"], rect) > 0.999
        assert Image.open(tmp_path / "out" / record["file"]).size == (
            round(rect[2]),
            round(rect[3]),
        )

    data = AnnotatedLines(
        {
            "data_dir": tmp_path / "out",
            "image_height": 16,
            "image_width": 96,
            "batch_size": 4,
            "num_workers": 0,
            "max_label_length": 16,
            "val_fraction": 0.34,
        }
    )
    data.prepare_data()
    data.setup()
    assert {k: len(v) for k, v in data.pages_by_split.items()} == {"train": 2, "val": 1, "test": 0}
    assert (len(data.data_train), len(data.data_val)) == (4, 2)
    x, y = next(iter(data.train_dataloader()))
    assert tuple(x.shape) == (4, 1, 16, 96) and tuple(y.shape) == (4, 16)


def test_datamodule_without_a_conversion_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="convert_export"):
        AnnotatedLines({"data_dir": tmp_path}).prepare_data()
