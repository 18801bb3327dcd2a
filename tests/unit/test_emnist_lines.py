"""EMNISTLines with stand-in characters and sentences (the real ones are exercised by the
training tests): slot alignment of images and labels, overlap, determinism, caching."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch

from text_recognizer.data import emnist_lines
from text_recognizer.data.emnist_lines import EMNISTLines, construct_line
from text_recognizer.data.util import BaseDataset
from text_recognizer.metadata.emnist import INVERSE_MAPPING, MAPPING

CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # no punctuation
SPLIT_MARK = {"train": 1, "val": 2, "test": 3}  # pixel (0, 0) says which split a char is from
CODE_PIXEL = (14, 14)  # pixel that stores the character's mapping index


class TinyChars:
    """Stands in for SyntheticCharacters: 2 images per character per split, each image
    carrying its own label and split in two pixels (so lines can be checked slot by slot)."""

    def __init__(self, args: dict) -> None:
        self.args = args

    def prepare_data(self) -> None:
        pass

    def setup(self, stage=None) -> None:
        for split, mark in SPLIT_MARK.items():
            targets = torch.tensor([INVERSE_MAPPING[c] for c in CHARS for _ in range(2)])
            images = torch.zeros(len(targets), 1, 28, 28)
            images[:, 0, 5:20, 5:20] = 0.5  # some "ink"
            images[:, 0, 0, 0] = mark / 255
            images[:, 0, CODE_PIXEL[0], CODE_PIXEL[1]] = targets.float() / 255
            setattr(self, f"data_{split}", BaseDataset(images, targets))


class FakeSentences:
    """Stands in for SentenceGenerator: seeded words, with punctuation to be dropped."""

    corpus_id = "fake"

    def __init__(self, max_length: int = 80, seed: int = 0, source: str = "auto") -> None:
        self.max_length, self.rng = max_length, np.random.default_rng(seed)

    def generate(self, max_length: int | None = None) -> str:
        words = [
            "".join(self.rng.choice(list(CHARS), self.rng.integers(1, 6))) + "," for _ in range(6)
        ]
        length = int(self.rng.integers(1, (max_length or self.max_length) + 1))
        return " ".join(words)[:length]


@pytest.fixture(autouse=True)
def stand_ins(monkeypatch):
    monkeypatch.setitem(emnist_lines.CHAR_SOURCES, "synthetic", f"{__name__}:TinyChars")
    fake = types.ModuleType("text_recognizer.data.sentence_generator")
    fake.SentenceGenerator = FakeSentences
    monkeypatch.setitem(sys.modules, "text_recognizer.data.sentence_generator", fake)


def make(tmp_path, **args) -> EMNISTLines:
    defaults = {
        "max_length": 10,
        "num_train": 12,
        "num_val": 4,
        "num_test": 4,
        "min_overlap": 0.0,
        "max_overlap": 0.0,
        "processed_dir": tmp_path,
        "batch_size": 4,
        "num_workers": 0,
    }
    data = EMNISTLines({**defaults, **args})
    data.prepare_data()
    data.setup()
    return data


def test_shapes_config_and_value_range(tmp_path):
    data = make(tmp_path)
    assert data.config()["input_dims"] == (1, 28, 280) and data.config()["output_dims"] == (10,)
    assert data.mapping == MAPPING
    assert (len(data.data_train), len(data.data_val), len(data.data_test)) == (12, 4, 4)
    x, y = next(iter(data.train_dataloader()))
    assert x.shape == (4, 1, 28, 280) and x.dtype == torch.float32 and 0 <= x.min() <= x.max() <= 1
    assert y.shape == (4, 10) and y.dtype == torch.int64


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_without_overlap_each_slot_holds_its_labelled_character(tmp_path, split):
    data = make(tmp_path)
    padding = INVERSE_MAPPING["<P>"]
    for image, label in getattr(data, f"data_{split}"):
        pixels = torch.round(image[0] * 255).long()  # (28, 280)
        for slot, target in enumerate(label.tolist()):
            left = 28 * slot
            if target in (padding, INVERSE_MAPPING[" "]):
                assert pixels[:, left : left + 28].sum() == 0  # blank slot
            else:
                assert pixels[CODE_PIXEL[0], left + CODE_PIXEL[1]] == target
                assert pixels[0, left] == SPLIT_MARK[split]  # no character crosses splits
    texts = ["".join(MAPPING[t] for t in label if t != padding) for _, label in data.data_train]
    assert all("," not in text and text == text.strip() and text for text in texts)


def test_overlap_makes_lines_narrower(tmp_path):
    def ink_width(data):
        columns = torch.stack([x[0].amax(0) for x, _ in data.data_train])  # (N, W)
        lengths = [int((y != INVERSE_MAPPING["<P>"]).sum()) for _, y in data.data_train]
        return columns, lengths

    flat, lengths = ink_width(make(tmp_path / "a"))
    half, half_lengths = ink_width(make(tmp_path / "b", min_overlap=0.5, max_overlap=0.5))
    assert lengths == half_lengths  # same seed: same sentences
    for row, n in enumerate(lengths):
        if n > 1:
            last_flat = int(torch.nonzero(flat[row]).max())
            last_half = int(torch.nonzero(half[row]).max())
            assert last_half < last_flat
            assert last_half <= 14 * (n - 1) + 28


def test_same_seed_same_bytes_other_seed_other_lines(tmp_path):
    def arrays(directory, seed):
        data = make(directory, seed=seed, min_overlap=0.1, max_overlap=0.3)
        with np.load(data.processed_path) as saved:
            return {key: saved[key].copy() for key in saved.files}

    first, again, other = (
        arrays(tmp_path / "a", 0),
        arrays(tmp_path / "b", 0),
        arrays(tmp_path / "c", 1),
    )
    assert first.keys() == again.keys()
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first["train_images"], other["train_images"])


def test_generation_is_cached(tmp_path, monkeypatch):
    make(tmp_path)
    monkeypatch.setattr(EMNISTLines, "character_data", lambda self: pytest.fail("regenerated"))
    assert len(make(tmp_path).data_train) == 12  # read back from the .npz
    assert [p.name for p in tmp_path.iterdir()] == [make(tmp_path).processed_path.name]


def test_start_end_tokens_frame_the_text(tmp_path):
    data = make(tmp_path, with_start_end_tokens=True)
    for _, label in data.data_train:
        tokens = [MAPPING[t] for t in label]
        assert tokens[0] == "<S>" and "<E>" in tokens
        assert all(t == "<P>" for t in tokens[tokens.index("<E>") + 1 :])


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(ValueError, match="char_source"):
        EMNISTLines({"char_source": "nope"})
    with pytest.raises(ValueError, match="overlap"):
        EMNISTLines({"min_overlap": 0.5, "max_overlap": 0.2})
    with pytest.raises(RuntimeError, match="prepare_data"):
        EMNISTLines({"processed_dir": tmp_path}).setup()


def test_construct_line_clips_at_the_canvas_edge():
    char = np.full((28, 28), 200, dtype=np.uint8)
    line = construct_line([char] * 5, overlap=0.0, width=100)
    assert line.shape == (28, 100) and (line == 200).all()
