"""Reading runs from local files: Lightning CSV metrics, prediction tables, W&B run logs."""

import json
import struct
import zlib

import matplotlib
import pandas as pd
import pytest
from wandb.proto import wandb_internal_pb2 as pb

from text_recognizer.training import run_data

matplotlib.use("Agg")

BLOCK = 32 * 1024


def write_wandb_log(path, records, truncate_last=0):
    """Write records the way W&B does: a 7-byte header, then LevelDB-log chunks that never
    cross a 32 KiB block boundary (long records are split FIRST/MIDDLE/LAST)."""
    out = bytearray(b":W&B" + struct.pack("<HB", 0xBEE1, 0))
    for record in records:
        data, first = record.SerializeToString(), True
        while True:
            left = BLOCK - len(out) % BLOCK
            if left < 7:
                out += b"\0" * left
                continue
            chunk, data = data[: left - 7], data[left - 7 :]
            kind = (1 if not data else 2) if first else (4 if not data else 3)
            crc = zlib.crc32(chunk, zlib.crc32(bytes([kind])))
            out += struct.pack("<IHB", crc, len(chunk), kind) + chunk
            first = False
            if not data:
                break
    path.write_bytes(bytes(out[: len(out) - truncate_last]))


def make_records():
    run = pb.Record()
    run.run.run_id, run.run.project = "abc123", "demo"
    run.run.config.update.add(key="lr", value_json="0.001")
    run.run.config.update.add(key="_wandb", value_json="{}")
    run.run.git.commit = "f" * 40
    config = pb.Record()
    config.config.update.add(key="tf_dim", value_json="128")
    records = [run, config]
    for step in range(3):
        history = pb.Record()
        history.history.item.add(key="val/cer", value_json=json.dumps(0.5 - 0.1 * step))
        history.history.item.add(nested_key=["gradients/w", "_type"], value_json='"histogram"')
        history.history.item.add(key="_step", value_json=str(step))
        records.append(history)
        summary = pb.Record()
        summary.summary.update.add(key="val/cer", value_json=json.dumps(0.5 - 0.1 * step))
        records.append(summary)
    stats = pb.Record()  # one sample of W&B's system monitor
    stats.stats.item.add(key="cpu", value_json="12.5")
    stats.stats.item.add(key="memory_percent", value_json="40.0")
    records.append(stats)
    big = pb.Record()  # larger than a block: exercises FIRST/MIDDLE/LAST chunks
    big.artifact.name, big.artifact.type = "model-abc123", "model"
    big.artifact.aliases.extend(["latest", "best"])
    big.artifact.metadata = json.dumps({"note": "x" * 70_000})
    big.artifact.manifest.contents.add(path="model.ckpt", size=3, local_path="/staging/f")
    exit_ = pb.Record()
    exit_.exit.exit_code = 0
    return [*records, big, exit_]


def test_wandb_run_log_round_trip(tmp_path):
    run_dir = tmp_path / "wandb" / "offline-run-20260101_000000-abc123"
    run_dir.mkdir(parents=True)
    write_wandb_log(run_dir / "run-abc123.wandb", make_records())

    run = run_data.load_wandb_run(tmp_path)  # finds the one run below the logs dir
    assert run.id == "abc123" and run.project == "demo" and run.exit_code == 0
    assert run.config == {"lr": 0.001, "tf_dim": 128}  # W&B's internal key dropped
    assert run.summary == {"val/cer": pytest.approx(0.3)}
    assert run.history["val/cer"].round(6).tolist() == [0.5, 0.4, 0.3]
    assert run.history["gradients/w"][0] == {"_type": "histogram"}
    assert run.git["commit"] == "f" * 40
    assert run.system.to_dict("records") == [{"cpu": 12.5, "memory_percent": 40.0}]
    [artifact] = run.artifacts
    assert artifact["aliases"] == ["latest", "best"] and len(artifact["metadata"]["note"]) == 70_000
    assert artifact["files"] == [
        {"path": "model.ckpt", "size": 3, "digest": "", "local_path": "/staging/f"}
    ]
    assert run_data.find_wandb_runs(tmp_path) == [run_dir]


def test_wandb_run_log_errors(tmp_path):
    path = tmp_path / "run-x.wandb"
    write_wandb_log(path, make_records(), truncate_last=5)  # a run killed mid-write
    records = list(run_data.read_wandb_records(path))
    assert len(records) == len(make_records()) - 1
    path.write_bytes(b"not a run file at all")
    with pytest.raises(run_data.WandbRunFileError, match="not a W&B run file"):
        list(run_data.read_wandb_records(path))
    write_wandb_log(path, make_records())
    data = bytearray(path.read_bytes())
    data[40] ^= 0xFF  # flip a byte inside the first record
    path.write_bytes(bytes(data))
    with pytest.raises(run_data.WandbRunFileError, match="checksum mismatch"):
        list(run_data.read_wandb_records(path))
    with pytest.raises(FileNotFoundError, match="expected one W&B run"):
        run_data.load_wandb_run(tmp_path / "empty")


def lightning_csv(tmp_path):
    """What CSVLogger writes: train and val metrics on separate rows, NaN elsewhere."""
    rows = []
    for epoch in range(3):
        rows.append(
            {
                "epoch": epoch,
                "step": 10 * epoch + 9,
                "train/loss": 2.0 - 0.5 * epoch,
                "train/acc": 0.3 + 0.2 * epoch,
            }
        )
        rows.append(
            {
                "epoch": epoch,
                "step": 10 * epoch + 9,
                "val/loss": 2.1 - 0.4 * epoch,
                "val/acc": 0.3 + 0.15 * epoch,
            }
        )
    path = tmp_path / "logs" / "run" / "version_0" / "metrics.csv"
    path.parent.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_metrics_per_epoch_and_plots(tmp_path):
    path = lightning_csv(tmp_path)
    raw = run_data.load_metrics(tmp_path / "logs")  # finds metrics.csv below the dir
    assert len(raw) == 6 and raw["val/loss"].isna().sum() == 3
    per_epoch = run_data.epoch_metrics(raw)
    assert per_epoch["epoch"].tolist() == [0, 1, 2]
    assert per_epoch["train/loss"].tolist() == [2.0, 1.5, 1.0]
    assert per_epoch["val/loss"].round(2).tolist() == [2.1, 1.7, 1.3]
    assert run_data.generalization_gap(raw).round(2).tolist() == [-0.1, -0.2, -0.3]

    curves = run_data.plot_learning_curves(raw)
    assert [ax.get_title() for ax in curves.axes] == ["acc", "loss"]
    assert [line.get_label() for line in curves.axes[1].lines] == ["train", "val"]
    gap = run_data.plot_generalization_gap(per_epoch)
    assert gap.axes[0].lines[0].get_ydata().round(2).tolist() == [-0.1, -0.2, -0.3]
    assert gap.axes[0].get_title() == "generalization gap: train/loss - val/loss"
    with pytest.raises(ValueError, match="no 'train/cer' column"):
        run_data.generalization_gap(per_epoch, metric="cer")
    assert run_data.find_metrics_csv(path) == path
    with pytest.raises(FileNotFoundError, match="no metrics.csv"):
        run_data.load_metrics(tmp_path / "elsewhere")


def test_prediction_tables(tmp_path):
    import numpy as np
    import torch

    from text_recognizer.callbacks.prediction_table import PredictionTableCallback

    callback = PredictionTableCallback(max_examples=2)
    images = [torch.rand(1, 4, 12), torch.rand(1, 4, 12) * 3 - 1, torch.zeros(1, 4, 12)]
    for epoch in (0, 1):
        callback.log_examples(
            [(images[0], "hello", "hallo"), (images[1], "", ""), (images[2], "x", "y")],
            epoch=epoch,
            dirpath=tmp_path / "version_0" / "predictions",
        )
    table = run_data.load_prediction_tables(tmp_path)
    assert len(table) == 4 and table["epoch"].tolist() == [0, 0, 1, 1]  # max_examples=2
    assert table["ground_truth"].tolist() == ["hello", "", "hello", ""]  # "" stays a string
    assert table["cer"].tolist() == [0.2, 0.0, 0.2, 0.0]
    from PIL import Image

    pixels = np.asarray(Image.open(table["image"][1]))
    assert pixels.shape == (4, 12) and pixels.min() == 0 and pixels.max() == 255  # rescaled


def test_prediction_callback_without_examples_logs_nothing(tmp_path, caplog):
    from types import SimpleNamespace

    from text_recognizer.callbacks.prediction_table import PredictionTableCallback

    callback = PredictionTableCallback(every_n_epochs=2)
    trainer = SimpleNamespace(
        sanity_checking=False,
        current_epoch=1,
        log_dir=str(tmp_path),
        default_root_dir=str(tmp_path),
        is_global_zero=True,
        loggers=[],
    )
    with caplog.at_level("INFO"):
        for _ in range(2):
            callback.on_validation_end(trainer, SimpleNamespace())  # no last_val_examples
    assert caplog.text.count("no prediction tables will be logged") == 1  # said once
    assert not (tmp_path / "predictions").exists()
    trainer.current_epoch = 0  # epoch 1 of every 2: skipped before looking at the module
    module = SimpleNamespace(last_val_examples=[(torch_zeros(), "a", "b")])
    callback.on_validation_end(trainer, module)
    assert not (tmp_path / "predictions").exists()
    trainer.current_epoch = 3
    callback.on_validation_end(trainer, module)
    assert (tmp_path / "predictions" / "epoch_003.csv").is_file()


def torch_zeros():
    import torch

    return torch.zeros(1, 2, 3)
