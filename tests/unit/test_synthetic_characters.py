"""SyntheticCharacters: EMNIST-compatible shapes, mapping, balance, caching and fingerprints."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from text_recognizer.data.synthetic_characters import CLASS_CHARS, SyntheticCharacters
from text_recognizer.data.util import convert_strings_to_labels
from text_recognizer.metadata import emnist

SMALL = {
    "num_train": 200,
    "num_val": 90,
    "num_test": 80,
    "gen_workers": 1,
    "num_workers": 0,
    "batch_size": 32,
    "fonts_include": "Hershey Sans,Hershey Script",
}


@pytest.fixture
def make(tmp_path):
    def factory(**changes) -> SyntheticCharacters:
        return SyntheticCharacters({**SMALL, "data_dir": tmp_path, **changes})

    return factory


@pytest.fixture
def ready(make) -> SyntheticCharacters:
    data = make()
    data.prepare_data()
    data.setup()
    return data


def test_config_matches_emnist(make):
    config = make().config()
    assert config["input_dims"] == (1, 28, 28) and config["output_dims"] == (1,)
    assert config["mapping"] == emnist.MAPPING
    assert " " not in CLASS_CHARS and len(CLASS_CHARS) == len(emnist.CHARSET) - 1


def test_tensors_shapes_ranges_and_balanced_targets(ready):
    for dataset, n in ((ready.data_train, 200), (ready.data_val, 90), (ready.data_test, 80)):
        x, y = dataset.data, dataset.targets
        assert x.shape == (n, 1, 28, 28) and x.dtype == torch.float32
        assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.5
        assert y.dtype == torch.int64
        counts = np.bincount(y.numpy(), minlength=len(emnist.MAPPING))
        class_counts = counts[[emnist.INVERSE_MAPPING[c] for c in CLASS_CHARS]]
        assert class_counts.max() - class_counts.min() <= 1, "balanced over classes"
        assert counts.sum() == class_counts.sum(), "only printable, non-space classes"
    xb, yb = next(iter(ready.train_dataloader()))
    assert xb.shape == (32, 1, 28, 28) and yb.shape == (32,)


def test_targets_round_trip_through_the_mapping(ready):
    targets = ready.data_train.targets.tolist()
    chars = [emnist.MAPPING[t] for t in targets]
    assert all(c in emnist.CHARSET and c != " " for c in chars)
    assert [emnist.INVERSE_MAPPING[c] for c in chars] == targets
    row = convert_strings_to_labels(["".join(chars[:5])], emnist.INVERSE_MAPPING, 8)[0]
    assert row[1:6].tolist() == targets[:5]


def test_cache_files_and_fingerprint_record(ready):
    for split in ("train", "val", "test"):
        path = ready.cache_path(split)
        assert path.name == f"{ready.fingerprints[split]}.npz" and path.exists()
        record = json.loads(path.with_suffix(".json").read_text())
        assert record["fingerprint"] == ready.fingerprints[split]
        assert record["generator_version"] and record["params"]["split"] == split
        assert {f["family"] for f in record["fonts"]} == {"Hershey Sans", "Hershey Script"}
    assert not list(ready.data_dir.glob("*.tmp")), "no temporary files left behind"
    assert len(set(ready.fingerprints.values())) == 3, "each split has its own fingerprint"


def test_cached_splits_are_not_generated_again(ready, make, monkeypatch):
    again = make()
    monkeypatch.setattr(again, "generate", lambda split: pytest.fail("regenerated a cached split"))
    again.prepare_data()
    again.setup()
    assert torch.equal(again.data_train.data, ready.data_train.data)


def test_same_seed_identical_bytes_other_seed_different(ready, make, tmp_path):
    images, labels = ready.generate("val")
    again, again_labels = make().generate("val")
    assert np.array_equal(images, again) and np.array_equal(labels, again_labels)
    other = make(seed=1)
    assert other.fingerprints["val"] != ready.fingerprints["val"]
    assert not np.array_equal(other.generate("val")[0], images)


def test_splits_are_disjoint_by_construction(ready):
    train = ready.data_train.data.flatten(1)
    val = ready.data_val.data.flatten(1)
    distances = torch.cdist(val, train)  # (num_val, num_train)
    assert distances.min() > 0, "no validation image also appears in training"


def test_heldout_family_is_only_in_test(make):
    data = make(fonts_include=None, heldout_families="Hershey Cursive")
    families = {split: {f.family for f in fonts} for split, fonts in data.fonts.items()}
    assert families["test"] == {"Hershey Cursive"}
    assert "Hershey Cursive" not in families["train"] | families["val"]
    record_families = {f["family"] for f in data.records["train"]["fonts"]}
    assert "Hershey Cursive" not in record_families


def test_font_options_are_checked(make):
    with pytest.raises(ValueError, match="available families"):
        make(fonts_include="Comic Sans")


def test_add_to_argparse():
    parser = SyntheticCharacters.add_to_argparse(argparse.ArgumentParser())
    args = parser.parse_args(
        [
            "--num_train",
            "10",
            "--heldout_families",
            "Kristi,Breip",
            "--fonts_exclude",
            "Hershey Sans",
        ]
    )
    assert args.num_train == 10 and args.heldout_families == "Kristi,Breip"
    assert args.fonts_exclude == "Hershey Sans" and args.batch_size > 0
