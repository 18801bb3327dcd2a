"""MNIST's real download path against a loopback server serving a generated MNIST-format
fixture: good checksum accepted, corruption rejected, nothing partial left, cache hit."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from tests.fixtures.http_server import LoopbackFileServer
from tests.fixtures.idx import write_idx
from text_recognizer.data.download import ChecksumError, DownloadError, sha256sum
from text_recognizer.data.mnist import MNIST

N_TRAIN, N_TEST = 24, 8


def make_fixture(root) -> dict[str, tuple[str, str]]:
    """Write a tiny MNIST in the real format (gzipped IDX) and return its file table."""
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, N_TEST, dtype=np.uint8),
    }
    files = {}
    for key, array in arrays.items():
        name = f"{key}.gz"
        (root / name).write_bytes(gzip.compress(write_idx(array)))
        files[key] = (name, sha256sum(root / name))
    return files


@pytest.fixture
def served(tmp_path):
    served_dir = tmp_path / "served"
    served_dir.mkdir()
    files = make_fixture(served_dir)
    with LoopbackFileServer(served_dir) as server:
        yield server, files, tmp_path


def make_module(server, files, tmp_path) -> MNIST:
    return MNIST(
        {
            "mnist_base_url": server.url,
            "mnist_files": files,
            "download_dir": tmp_path / "cache",
            "processed_path": tmp_path / "mnist.npz",
            "batch_size": 4,
            "num_workers": 0,
        }
    )


def test_good_checksum_is_accepted_and_data_loads(served):
    server, files, tmp_path = served
    data = make_module(server, files, tmp_path)
    data.prepare_data()
    data.setup()
    assert len(data.data_train) + len(data.data_val) == N_TRAIN
    assert len(data.data_test) == N_TEST
    x, y = next(iter(data.train_dataloader()))
    assert x.shape == (4, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
    assert y.dtype.is_floating_point is False


def test_corrupted_file_is_rejected_and_nothing_partial_is_left(served):
    server, files, tmp_path = served
    (server.root / files["train_labels"][0]).write_bytes(b"\x00corrupted bytes")
    data = make_module(server, files, tmp_path)
    with pytest.raises(ChecksumError, match="corrupted or has changed"):
        data.prepare_data()
    cache = tmp_path / "cache"
    names = sorted(p.name for p in cache.iterdir())
    assert files["train_labels"][0] not in names
    assert all(not name.startswith("tmp") for name in names), names  # no temporary leftovers
    assert not (tmp_path / "mnist.npz").exists()


def test_second_call_makes_no_request(served):
    server, files, tmp_path = served
    make_module(server, files, tmp_path).download()
    first = sum(server.requests.values())
    assert first == 4
    make_module(server, files, tmp_path).download()
    assert sum(server.requests.values()) == first


def test_offline_fails_fast_naming_the_alternative(tmp_path, expect_network_attempt):
    data = MNIST({"download_dir": tmp_path / "cache", "processed_path": tmp_path / "x.npz"})
    with pytest.raises(DownloadError, match="Offline alternative: --data_class Digits"):
        data.prepare_data()
    assert expect_network_attempt  # it tried the real URL, and the guard refused it
