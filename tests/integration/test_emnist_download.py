"""EMNIST's real download + processing path against a loopback server serving a tiny
``matlab.zip`` in the real format (``matlab/emnist-byclass.mat``, the same MATLAB struct
layout): shapes, orientation, label mapping, balancing, corruption and cache behaviour."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from scipy.io import savemat

from tests.fixtures.http_server import LoopbackFileServer
from text_recognizer.data.download import ChecksumError, DownloadError, sha256sum
from text_recognizer.data.emnist import EMNIST, MAT_MEMBER, ZIP_FILENAME
from text_recognizer.metadata.emnist import MAPPING

pytestmark = pytest.mark.integration

# EMNIST byclass's own table: label -> ASCII code of 0-9, A-Z, a-z.
BYCLASS_CODES = [*range(48, 58), *range(65, 91), *range(97, 123)]
EXTRA_ZEROS = 20  # make class 0 over-represented so balancing has work to do
LABEL_PIXEL = (20, 14)  # where each fixture image stores its own EMNIST label


def make_images(labels: np.ndarray) -> np.ndarray:
    """Upright images with an unmistakable orientation: a bright bar across the TOP rows,
    and the image's EMNIST label written into one pixel (to check the label mapping)."""
    images = np.zeros((len(labels), 28, 28), dtype=np.uint8)
    images[:, :3, :] = 255
    images[:, LABEL_PIXEL[0], LABEL_PIXEL[1]] = labels
    return images


def to_matlab_rows(images: np.ndarray) -> np.ndarray:
    """Upright (N, 28, 28) -> (N, 784) rows flattened column by column, as in the .mat."""
    return images.transpose(0, 2, 1).reshape(len(images), -1)


def write_matlab_zip(path) -> dict[str, np.ndarray]:
    train_labels = np.concatenate([np.repeat(np.arange(62), 2), np.zeros(EXTRA_ZEROS, int)])
    test_labels = np.arange(62)
    split = {}
    for name, labels in (("train", train_labels), ("test", test_labels)):
        split[name] = {
            "images": to_matlab_rows(make_images(labels)),
            "labels": labels.reshape(-1, 1).astype(np.float64),  # (N, 1) doubles, as in NIST's
            "writers": np.zeros((len(labels), 1)),
        }
    mapping = np.stack([np.arange(62), BYCLASS_CODES], axis=1).astype(np.float64)
    mat_path = path.parent / "emnist-byclass.mat"
    savemat(mat_path, {"dataset": {**split, "mapping": mapping}})
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(mat_path, MAT_MEMBER)
        archive.writestr("matlab/emnist-letters.mat", b"another split, ignored")
    mat_path.unlink()
    return {"train_labels": train_labels, "test_labels": test_labels}


@pytest.fixture
def served(tmp_path):
    served_dir = tmp_path / "served"
    served_dir.mkdir()
    labels = write_matlab_zip(served_dir / ZIP_FILENAME)
    with LoopbackFileServer(served_dir) as server:
        yield server, sha256sum(served_dir / ZIP_FILENAME), labels, tmp_path


def make_module(server, sha256, tmp_path, **extra) -> EMNIST:
    return EMNIST(
        {
            "emnist_url": f"{server.url}/{ZIP_FILENAME}",
            "emnist_sha256": sha256,
            "download_dir": tmp_path / "cache",
            "processed_path": tmp_path / "emnist.npz",
            "batch_size": 8,
            "num_workers": 0,
            **extra,
        }
    )


def test_processed_images_are_upright_labelled_and_balanced(served):
    server, sha256, labels, tmp_path = served
    data = make_module(server, sha256, tmp_path)
    data.prepare_data()
    data.setup()

    with np.load(tmp_path / "emnist.npz") as arrays:
        images, targets = arrays["train_images"], arrays["train_labels"]
        assert images.shape == (62 * 2, 28, 28) and images.dtype == np.uint8  # 20 extra dropped
        assert np.bincount(targets).max() == 2  # balanced: no class above the mean count
        assert arrays["test_images"].shape == (62, 28, 28)
    # Orientation: the bar is across the top rows, not down the left columns.
    assert (images[:, :3, :] == 255).all() and (images[:, 5:, 0] == 0).all()
    # Label mapping round trip: the label stored in the pixel names the same character.
    stored = images[:, LABEL_PIXEL[0], LABEL_PIXEL[1]]
    assert [MAPPING[t] for t in targets] == [chr(BYCLASS_CODES[s]) for s in stored]
    assert MAPPING[targets[stored == 10][0]] == "A"  # byclass 10 is "A": index 10 + 4 tokens

    assert len(data.data_train) + len(data.data_val) == 62 * 2 and len(data.data_test) == 62
    x, y = next(iter(data.train_dataloader()))
    assert x.shape == (8, 1, 28, 28) and x.dtype.is_floating_point
    assert x.min() >= 0 and x.max() == 1.0
    assert y.dtype == np.int64 or str(y.dtype) == "torch.int64"
    assert data.config()["mapping"] == MAPPING and data.config()["input_dims"] == (1, 28, 28)


def test_unbalanced_option_keeps_every_example(served):
    server, sha256, labels, tmp_path = served
    data = make_module(server, sha256, tmp_path, emnist_balance=False)
    data.prepare_data()
    with np.load(tmp_path / "emnist.npz") as arrays:
        assert len(arrays["train_labels"]) == len(labels["train_labels"])
        assert (arrays["test_labels"] == labels["test_labels"] + 4).all()


def test_corrupted_zip_is_rejected_and_nothing_partial_is_left(served):
    server, sha256, labels, tmp_path = served
    (server.root / ZIP_FILENAME).write_bytes(b"PK\x03\x04 not the real file")
    data = make_module(server, sha256, tmp_path)
    with pytest.raises(ChecksumError, match="corrupted or has changed"):
        data.prepare_data()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == []  # no zip, no temporary file
    assert not (tmp_path / "emnist.npz").exists()


def test_second_download_makes_no_request(served):
    server, sha256, labels, tmp_path = served
    make_module(server, sha256, tmp_path).download()
    assert sum(server.requests.values()) == 1
    make_module(server, sha256, tmp_path).download()
    assert sum(server.requests.values()) == 1


def test_zip_without_byclass_file_gets_a_clear_error(served):
    server, _, labels, tmp_path = served
    with zipfile.ZipFile(server.root / ZIP_FILENAME, "w") as archive:
        archive.writestr("matlab/emnist-letters.mat", b"")
    data = make_module(server, sha256sum(server.root / ZIP_FILENAME), tmp_path)
    with pytest.raises(ValueError, match="does not contain matlab/emnist-byclass.mat"):
        data.prepare_data()
    assert not (tmp_path / "emnist.npz").exists()


def test_offline_fails_fast_naming_the_alternative(tmp_path, expect_network_attempt):
    data = EMNIST({"download_dir": tmp_path / "cache", "processed_path": tmp_path / "x.npz"})
    with pytest.raises(
        DownloadError, match="Offline alternative: --data_class SyntheticCharacters"
    ):
        data.prepare_data()
    assert expect_network_attempt  # it tried the real URLs, and the guard refused them
    assert not (tmp_path / "x.npz").exists()


def test_emnist_lines_draw_real_format_characters_slot_by_slot(served):
    from text_recognizer.data.emnist_lines import EMNISTLines

    server, sha256, labels, tmp_path = served
    char_args = {
        "emnist_url": f"{server.url}/{ZIP_FILENAME}",
        "emnist_sha256": sha256,
        "download_dir": tmp_path / "cache",
        "processed_path": tmp_path / "emnist.npz",
    }
    lines = EMNISTLines(
        {
            "char_source": "emnist",
            "char_data_args": char_args,
            "max_length": 12,
            "num_train": 6,
            "num_val": 3,
            "num_test": 3,
            "min_overlap": 0,
            "max_overlap": 0,
            "sentence_source": "offline",
            "processed_dir": tmp_path / "lines",
            "num_workers": 0,
        }
    )
    lines.prepare_data()
    lines.setup()
    padding = MAPPING.index("<P>")
    for split in ("train", "val", "test"):
        for image, label in getattr(lines, f"data_{split}"):
            pixels = (image[0] * 255).round().long()  # (28, 12 * 28)
            text = "".join(MAPPING[t] for t in label if t != padding)
            assert text and set(text) <= set(MAPPING[4:66]) | {" "}  # EMNIST has no punctuation
            for slot, char in enumerate(text):
                stored = int(pixels[LABEL_PIXEL[0], 28 * slot + LABEL_PIXEL[1]])
                if char == " ":
                    assert pixels[:, 28 * slot : 28 * slot + 28].sum() == 0
                else:
                    assert chr(BYCLASS_CODES[stored]) == char
