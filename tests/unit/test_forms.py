"""The raw handwriting-forms generator: deterministic pages, truthful hidden boxes, manifest."""

from __future__ import annotations

import csv
import hashlib
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image, ImageDraw

from text_recognizer.annotation.forms import (
    MANIFEST_COLUMNS,
    PROMPT,
    generate_forms,
    serve,
    write_manifest,
)
from text_recognizer.annotation.geometry import crop_rect, rect_corners

NUM_PAGES = 3
INK = 128  # darker than this is ink


def digest(folder) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    return generate_forms(tmp_path_factory.mktemp("forms") / "forms", NUM_PAGES, seed=3)


def test_same_seed_same_bytes_other_seed_other_pages(collection, tmp_path):
    again = generate_forms(tmp_path / "again", NUM_PAGES, seed=3)
    assert digest(again.root) == digest(collection.root)
    other = generate_forms(tmp_path / "other", 1, seed=4)
    first = "form-000.png"
    assert (other.images_dir / first).read_bytes() != (collection.images_dir / first).read_bytes()


def test_existing_collection_is_kept_and_other_arguments_refused(collection):
    before = digest(collection.images_dir)
    assert generate_forms(collection.root, NUM_PAGES, seed=3).root == collection.root
    assert digest(collection.images_dir) == before
    with pytest.raises(ValueError, match="delete it"):
        generate_forms(collection.root, NUM_PAGES, seed=99)


def test_hidden_truth_boxes_are_inside_the_page_and_hold_all_the_handwriting(collection):
    truth = collection.truth()
    assert sorted(truth) == [f"form-{k:03d}" for k in range(NUM_PAGES)]
    for page in truth.values():
        image = Image.open(collection.images_dir / page.image)
        assert image.size == (page.width, page.height) and image.mode == "L"
        assert 1 <= len(page.lines) <= 4
        handwriting = np.zeros((page.height, page.width), bool)
        top = page.height
        for line in page.lines:
            corners = rect_corners(line.rect)
            assert (corners >= 0).all() and (corners[:, 0] <= page.width).all()
            assert (corners[:, 1] <= page.height).all()
            x0, y0, x1, y1 = line.box
            assert 0 <= x0 < x1 <= page.width and 0 <= y0 < y1 <= page.height
            assert line.text.strip() and "\n" not in line.text
            crop = np.asarray(crop_rect(image, line.rect))
            assert (crop < INK).mean() > 0.02  # the rectangle holds ink
            mask = Image.new("1", (page.width, page.height), 0)
            ImageDraw.Draw(mask).polygon([tuple(p) for p in corners.tolist()], fill=1)
            handwriting |= np.asarray(mask, bool)
            top = min(top, y0)
        # Below the printed part, every ink pixel is inside some line's rectangle.
        ink = np.asarray(image) < INK
        ink[: top - 4] = False
        stray = ink & ~handwriting
        assert stray.sum() <= 0.002 * ink.sum(), stray.sum()


def test_the_truth_is_what_is_written_not_what_is_printed(collection):
    for page in collection.truth().values():
        written, printed = " ".join(line.text for line in page.lines), page.printed_text
        assert sorted(written) == sorted(printed)  # same letters; a slip swaps two of them
        assert sum(a != b for a, b in zip(written, printed)) in (0, 2)
        assert PROMPT not in page.text


def test_manifest_lists_every_page_url_and_nothing_hidden(collection):
    with open(collection.manifest_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == MANIFEST_COLUMNS
    assert [row["page_id"] for row in rows] == sorted(collection.truth())
    assert all(row["image"] == f"http://127.0.0.1:8081/{row['page_id']}.png" for row in rows)
    assert "truth" not in collection.manifest_path.read_text()
    write_manifest(collection, "http://127.0.0.1:5555/")
    assert collection.manifest()[0]["image"] == "http://127.0.0.1:5555/form-000.png"


def test_server_serves_images_with_cors_on_loopback_but_not_the_truth(collection):
    server = serve(collection.root)
    try:
        assert server.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{server.url}/form-000.png", timeout=5) as response:
            body = response.read()
            assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert body == (collection.images_dir / "form-000.png").read_bytes()
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{server.url}/hidden/truth.json", timeout=5)
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{server.url}/../hidden/truth.json", timeout=5)
        assert server.httpd.server_address[0] == "127.0.0.1"
    finally:
        server.stop()
