"""Every data/model pair of Lab 02 runs end to end through ``run_experiment.main`` (one
batch of train/val/test with ``--fast_dev_run``), offline; plus one short real run that
checks the logs, the best checkpoint and the returned summary."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.fixtures.http_server import LoopbackFileServer
from text_recognizer.training import run_experiment

pytestmark = pytest.mark.training

FAST = [
    "--fast_dev_run",
    "--batch_size",
    "8",
    "--num_workers",
    "0",
    "--no-progress_bar",
    "--accelerator",
    "cpu",
]


def train(tmp_path, *argv: str) -> int:
    return run_experiment.main([*argv, *FAST, "--logs_dir", str(tmp_path / "logs")])


def test_digits_mlp(tmp_path):
    assert train(tmp_path, "--data_class", "Digits", "--model_class", "MLP") == 0


def test_digits_cnn_with_one_cycle(tmp_path):
    assert (
        train(
            tmp_path,
            "--data_class",
            "Digits",
            "--model_class",
            "CNN",
            "--conv_dim",
            "8",
            "--one_cycle_max_lr",
            "0.01",
        )
        == 0
    )


@pytest.fixture
def small_synthetic_characters(tmp_path, monkeypatch):
    """SyntheticCharacters renders into tmp_path, few images per split by default."""
    from text_recognizer.data import synthetic_characters

    monkeypatch.setattr(synthetic_characters, "DATA_DIRNAME", tmp_path / "characters")
    for name, size in (("NUM_TRAIN", 300), ("NUM_VAL", 100), ("NUM_TEST", 100)):
        monkeypatch.setattr(synthetic_characters, name, size)
    return tmp_path / "characters"


def test_synthetic_characters_cnn(tmp_path, small_synthetic_characters):
    assert (
        train(
            tmp_path,
            "--data_class",
            "SyntheticCharacters",
            "--model_class",
            "CNN",
            "--num_train",
            "200",
            "--conv_dim",
            "8",
            "--fc_dim",
            "16",
            "--test",
        )
        == 0
    )
    assert list(small_synthetic_characters.glob("*.npz"))


def test_emnist_lines_line_cnn_simple(tmp_path, monkeypatch, small_synthetic_characters):
    from text_recognizer.data import emnist_lines

    monkeypatch.setattr(emnist_lines, "PROCESSED_DATA_DIRNAME", tmp_path / "processed")
    assert (
        train(
            tmp_path,
            "--data_class",
            "EMNISTLines",
            "--model_class",
            "LineCNNSimple",
            "--max_length",
            "8",
            "--num_train",
            "16",
            "--num_val",
            "8",
            "--num_test",
            "8",
            "--min_overlap",
            "0",
            "--max_overlap",
            "0",
            "--sentence_source",
            "offline",
            "--conv_dim",
            "8",
            "--fc_dim",
            "16",
            "--test",
        )
        == 0
    )
    assert list((tmp_path / "processed" / "emnist_lines").glob("synthetic_len8_*.npz"))
    assert list(small_synthetic_characters.glob("*.npz"))  # lines drew on these characters


def test_emnist_fixture_cnn(tmp_path, monkeypatch):
    """EMNIST's real download + processing code, fed by the loopback fixture server."""
    from tests.integration.test_emnist_download import write_matlab_zip
    from text_recognizer.data import emnist
    from text_recognizer.data.download import sha256sum

    served = tmp_path / "served"
    served.mkdir()
    write_matlab_zip(served / emnist.ZIP_FILENAME)
    monkeypatch.setattr(emnist, "SHA256", sha256sum(served / emnist.ZIP_FILENAME))
    monkeypatch.setattr(emnist, "DOWNLOADED_DATA_DIRNAME", tmp_path / "downloaded")
    monkeypatch.setattr(emnist, "PROCESSED_DATA_DIRNAME", tmp_path / "processed")
    with LoopbackFileServer(served) as server:
        code = train(
            tmp_path,
            "--data_class",
            "EMNIST",
            "--model_class",
            "CNN",
            "--emnist_url",
            f"{server.url}/{emnist.ZIP_FILENAME}",
            "--conv_dim",
            "8",
        )
    assert code == 0 and (tmp_path / "processed" / "emnist" / "byclass_balanced.npz").exists()


def test_mnist_fixture_mlp(tmp_path, monkeypatch):
    from tests.integration.test_mnist_download import make_fixture
    from text_recognizer.data import mnist
    from text_recognizer.metadata import mnist as mnist_metadata

    served = tmp_path / "served"
    served.mkdir()
    monkeypatch.setattr(mnist_metadata, "FILES", make_fixture(served))
    monkeypatch.setattr(mnist, "DOWNLOADED_DATA_DIRNAME", tmp_path / "downloaded")
    monkeypatch.setattr(mnist, "PROCESSED_DATA_DIRNAME", tmp_path / "processed")
    with LoopbackFileServer(served) as server:
        code = train(
            tmp_path,
            "--data_class",
            "MNIST",
            "--model_class",
            "MLP",
            "--mnist_base_url",
            server.url,
        )
    assert code == 0


@pytest.mark.slow
def test_short_real_run_logs_checkpoints_and_reports(tmp_path, capsys):
    logs = tmp_path / "logs"
    result = run_experiment.run(
        {
            "data_class": "Digits",
            "model_class": "CNN",
            "conv_dim": 8,
            "fc_dim": 32,
            "max_epochs": 2,
            "limit_train_batches": 3,
            "batch_size": 32,
            "num_workers": 0,
            "accelerator": "cpu",
            "progress_bar": False,
            "logs_dir": logs,
            "test": True,
            "stop_early": 5,
            "seed": 1,
            "experiment_name": "smoke",
        }
    )
    log_dir = logs / "smoke" / "version_0"
    assert result["log_dir"] == str(log_dir) and result["monitor"] == "val/loss"
    assert (log_dir / "metrics.csv").exists() and list((log_dir / "tensorboard").glob("events.*"))
    with open(log_dir / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["epoch"] for row in rows if row.get("val/loss")} == {"0", "1"}
    best = result["best_model_path"]
    assert best and best.startswith(str(log_dir / "checkpoints")) and "val_loss=" in best
    assert result["best_model_score"] == pytest.approx(
        min(float(row["val/loss"]) for row in rows if row.get("val/loss")), rel=1e-4
    )
    assert set(result["test_metrics"]) == {"test/loss", "test/acc"}
    assert 0 <= result["metrics"]["val/acc"] <= 1
    text = run_experiment.summary(result)
    assert str(log_dir) in text and best in text and "Test: test/acc=" in text


@pytest.mark.slow
def test_wandb_and_profiler_hooks(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")  # the wiring, not W&B itself (tested elsewhere)
    result = run_experiment.run(
        {
            "data_class": "Digits",
            "model_class": "MLP",
            "max_epochs": 1,
            "limit_train_batches": 10,
            "limit_val_batches": 1,
            "batch_size": 16,
            "num_workers": 0,
            "accelerator": "cpu",
            "progress_bar": False,
            "logs_dir": tmp_path / "logs",
            "wandb": True,
            "profile": True,
        }
    )
    loggers = [type(logger).__name__ for logger in result["trainer"].loggers]
    assert loggers == ["CSVLogger", "TensorBoardLogger", "WandbLogger"]
    assert (Path(result["profile_dir"]) / "trace.json").exists()
    assert result["profile_dir"] in run_experiment.summary(result)
