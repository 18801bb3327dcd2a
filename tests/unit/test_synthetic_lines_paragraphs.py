"""SyntheticLines and SyntheticParagraphs: IAM shapes and mapping, determinism, the fixed
test split, disjoint splits, held-out font families, line-level ground truth, the cache.

Everything is tiny (a few dozen small images) so the whole file runs in seconds."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from text_recognizer.data import synthetic_lines, synthetic_splits
from text_recognizer.data.synthetic import font_families, list_fonts
from text_recognizer.data.synthetic_lines import SyntheticLines
from text_recognizer.data.synthetic_paragraphs import SyntheticParagraphs, render_paragraph
from text_recognizer.lit_models.util import ids_to_strings
from text_recognizer.metadata import emnist, iam_lines, iam_paragraphs

LINES = {
    "image_height": 24,
    "image_width": 160,
    "max_label_length": 12,
    "num_train": 12,
    "num_val": 4,
    "num_test": 8,
    "gen_workers": 1,
    "num_workers": 0,
    "batch_size": 4,
}
PARAGRAPHS = {
    "image_height": 64,
    "image_width": 80,
    "max_lines": 3,
    "max_text_length": 10,
    "max_label_length": 40,
    "num_train": 6,
    "num_val": 2,
    "num_test": 4,
    "gen_workers": 1,
    "num_workers": 0,
    "batch_size": 3,
}
HELD_OUT = "Hershey Sans"


def make(cls, tmp_path, name: str, **changes):
    """A prepared and set-up DataModule caching into its own folder under ``tmp_path``."""
    base = LINES if cls is SyntheticLines else PARAGRAPHS
    data = cls({**base, "data_dir": tmp_path / name, **changes})
    data.prepare_data()
    data.setup()
    return data


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("synthetic")


@pytest.fixture(scope="module")
def lines(cache):
    return make(SyntheticLines, cache, "lines")


@pytest.fixture(scope="module")
def paragraphs(cache):
    return make(SyntheticParagraphs, cache, "paragraphs")


def pixels(data, split: str) -> bytes:
    return (data.split_dir(split) / synthetic_splits.PIXELS_FILENAME).read_bytes()


def image_digests(data, split: str) -> set[str]:
    dataset = getattr(data, f"data_{split}")
    return {hashlib.sha256(dataset.image(i).tobytes()).hexdigest() for i in range(len(dataset))}


# ------------------------------------------------------------------- shapes and mapping
def test_defaults_match_iam_shapes_and_mappings():
    lines, paragraphs = SyntheticLines(), SyntheticParagraphs()
    assert lines.config()["input_dims"] == iam_lines.DIMS
    assert lines.config()["output_dims"] == iam_lines.OUTPUT_DIMS
    assert lines.config()["mapping"] == iam_lines.MAPPING == emnist.MAPPING
    assert paragraphs.config()["input_dims"] == iam_paragraphs.DIMS
    assert paragraphs.config()["output_dims"] == iam_paragraphs.OUTPUT_DIMS
    assert paragraphs.config()["mapping"] == iam_paragraphs.MAPPING
    assert not lines.stem.augment and lines.train_stem.augment  # augment training only
    assert SyntheticLines({"augment_data": False}).train_stem.augment is False


@pytest.mark.parametrize("name", ["lines", "paragraphs"])
def test_batches_have_the_configured_shapes_ranges_and_decodable_labels(name, request):
    data = request.getfixturevalue(name)
    for split in ("train", "val", "test"):
        loader = getattr(data, f"{split}_dataloader")()
        x, y = next(iter(loader))
        batch_size = min(data.batch_size, len(getattr(data, f"data_{split}")))
        assert x.shape == (batch_size, *data.input_dims) and x.dtype == torch.float32
        assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
        assert float(x.mean()) < 0.35  # ink ~ 1 on a ~0 background: mostly background
        assert y.shape == (batch_size, data.max_label_length) and y.dtype == torch.long
        decoded = ids_to_strings(y, data.mapping)  # labels round-trip to the texts
        if split == "train":  # shuffled
            assert set(decoded) <= set(data.texts(split))
        else:
            assert decoded == data.texts(split)[:batch_size]
        assert all(0 < len(t) <= data.max_label_length - 2 for t in data.texts(split))
    assert "fingerprints" in repr(data) and f"train {len(data.data_train)}" in repr(data)


def test_line_lengths_follow_the_flags(cache):
    data = SyntheticLines({**LINES, "min_text_length": 6, "data_dir": cache / "lengths"})
    texts = [t for split in ("train", "val", "test") for t in data.texts(split)]
    assert all(6 <= len(t) <= data.max_text_length == 10 for t in texts)
    with pytest.raises(ValueError, match="max_text_length"):
        SyntheticLines({"max_label_length": 12, "max_text_length": 11})
    with pytest.raises(ValueError, match="min_text_length"):
        SyntheticLines({"min_text_length": 9, "max_text_length": 8})


# ------------------------------------------------------------------------- determinism
def test_same_seed_same_bytes_other_seed_other_train_and_val(lines, cache):
    again = make(SyntheticLines, cache, "lines-again")
    other = make(SyntheticLines, cache, "lines-seed1", seed=1)
    assert again.fingerprints == lines.fingerprints
    for split in ("train", "val", "test"):
        assert pixels(again, split) == pixels(lines, split)
    assert other.fingerprints["train"] != lines.fingerprints["train"]
    assert pixels(other, "train") != pixels(lines, "train")
    assert other.texts("val") != lines.texts("val")


def test_test_split_is_fixed_whatever_the_seed_and_font_flags(lines, cache):
    other = make(SyntheticLines, cache, "lines-fixed", seed=7, holdout_families=HELD_OUT)
    assert other.fingerprints["test"] == lines.fingerprints["test"]
    assert pixels(other, "test") == pixels(lines, "test")
    # a bigger test split only appends: the first images never change
    bigger = SyntheticLines({**LINES, "num_test": 12, "data_dir": cache / "lines-bigger"})
    assert bigger.texts("test")[:8] == lines.texts("test")
    bigger.prepare_data()
    first = bigger.load_split("test")
    assert [first.image(i).tobytes() for i in range(8)] == [
        lines.data_test.image(i).tobytes() for i in range(8)
    ]


def test_rendering_in_parallel_gives_the_same_bytes(cache, monkeypatch):
    monkeypatch.setattr(SyntheticLines, "chunk_size", 4)  # 3 chunks of train lines
    one = make(SyntheticLines, cache, "lines-1-worker", num_val=0, num_test=0)
    two = make(SyntheticLines, cache, "lines-2-workers", num_val=0, num_test=0, gen_workers=2)
    assert pixels(one, "train") == pixels(two, "train")


# ------------------------------------------------------------------ disjoint splits
def test_no_train_test_overlap_in_texts_images_or_streams(lines):
    texts = {split: set(lines.texts(split)) for split in ("train", "val", "test")}
    assert not texts["train"] & texts["test"] and not texts["val"] & texts["test"]
    assert not texts["train"] & texts["val"]
    assert not image_digests(lines, "train") & image_digests(lines, "test")
    assert len(set(lines.fingerprints.values())) == 3
    streams = {split: lines.stream(split) for split in ("train", "val", "test")}
    assert len(set(streams.values())) == 3


def test_texts_stay_disjoint_even_when_collisions_are_likely(cache):
    # 1-3 character snippets repeat all the time ("of", "a", "is"): only exclusion helps
    data = SyntheticLines(
        {
            **LINES,
            "max_label_length": 5,
            "num_train": 200,
            "num_val": 50,
            "num_test": 50,
            "data_dir": cache / "short",
        }
    )
    train, val, test = (set(data.texts(split)) for split in ("train", "val", "test"))
    assert len(data.texts("train")) == 200
    assert not train & test and not val & test and not train & val


def test_held_out_family_never_reaches_train_or_val(cache):
    # enough test lines that the held-out family (1 of ~120 with the npm fonts) appears
    data = make(
        SyntheticLines, cache, "holdout", holdout_families=HELD_OUT, num_train=24, num_test=600
    )
    family_of = {font.name: font.family for font in list_fonts()}
    for split in ("train", "val"):
        record = data.read_record(split)
        assert HELD_OUT not in {font["family"] for font in record["fonts"]}
        assert HELD_OUT not in {family_of[s["font"]] for s in record["samples"]}
    assert font_families(data.fonts["test"]) == font_families(list_fonts())
    assert HELD_OUT in data.indices_by_family("test")  # there to measure generalization
    with pytest.raises(ValueError, match="unknown font"):
        SyntheticLines({"holdout_families": "No Such Hand"})


# -------------------------------------------------------------------------- the cache
def test_cache_record_and_no_rerendering(lines, monkeypatch):
    directory = lines.split_dir("train")
    assert directory.parent == lines.data_dir and directory.name == lines.fingerprints["train"]
    assert sorted(p.name for p in lines.data_dir.iterdir()) == sorted(lines.fingerprints.values())
    record = json.loads((directory / "record.json").read_text())
    for key in ("fingerprint", "generator_version", "fonts", "seed", "params", "samples"):
        assert key in record
    assert record["params"]["num"] == 12 and record["params"]["render_height"] == 24
    assert [s["text"] for s in record["samples"]] == lines.texts("train")

    def fail(*args, **kwargs):
        raise AssertionError("rendered again although cached")

    monkeypatch.setattr(synthetic_lines, "render_chunks", fail)
    SyntheticLines({**LINES, "data_dir": lines.data_dir}).prepare_data()


# ------------------------------------------------------------------------- paragraphs
def test_paragraphs_have_line_level_ground_truth(paragraphs):
    record = paragraphs.read_record("train")
    counts = set()
    for index, sample in enumerate(record["samples"]):
        lines, boxes = sample["lines"], sample["line_boxes"]
        assert "\n".join(lines) == sample["text"] == paragraphs.texts("train")[index]
        assert 1 <= len(lines) == len(boxes) <= paragraphs.max_lines
        counts.add(len(lines))
        height, width = paragraphs.data_train.shapes[index]
        for (x0, y0, x1, y1), below in zip(boxes, boxes[1:] + [None]):
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
            if below is not None:  # top to bottom
                assert (y0 + y1) / 2 < (below[1] + below[3]) / 2
    assert len(counts) > 1  # paragraphs of different lengths


def test_paragraph_lines_share_one_writer_and_one_sheet_of_paper():
    page, boxes, font = render_paragraph(["one two three", "four five", "six"], 3, line_height=40)
    array = np.asarray(page)
    inked = np.zeros(array.shape, bool)
    for x0, y0, x1, y1 in boxes:
        inked[y0:y1, x0:x1] = True
    paper = array[~inked]
    assert paper.mean() > 150 and array[inked].min() < paper.mean() - 60  # dark ink, light paper
    assert font in {f.name for f in list_fonts()}
    again, _, _ = render_paragraph(["one two three", "four five", "six"], 3, line_height=40)
    assert again.tobytes() == page.tobytes()


def test_paragraph_determinism_and_fixed_test(paragraphs, cache):
    again = make(SyntheticParagraphs, cache, "paragraphs-seed1", seed=1)
    assert pixels(again, "test") == pixels(paragraphs, "test")
    assert pixels(again, "train") != pixels(paragraphs, "train")
    assert not set(again.texts("train")) & set(paragraphs.texts("test"))
