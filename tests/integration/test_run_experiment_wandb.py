"""``text-recognizer train --wandb`` end to end, offline, CI-sized (issue #5's acceptance test).

A tiny LineCNNTransformer trains for two epochs on a few synthetic lines through the real
command line (``run_experiment.main``). With no account and ``$HOME`` pointed at an empty
folder, the offline W&B run directory must hold everything the run page would show (config,
summary metrics, the prediction table with its images, the checkpoint artifact, git state,
system info), all of it under ``--logs_dir``, and ``$HOME`` must stay untouched. The network
guard (tests/network_guard.py) fails the test on any non-loopback connection attempt.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from text_recognizer.callbacks.prediction_table import COLUMNS, WANDB_KEY
from text_recognizer.training import run_data, run_experiment

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NUM_EXAMPLES = 4
TINY_LINES = [
    "--data_class", "SyntheticLines", "--model_class", "LineCNNTransformer",
    "--image_height", "32", "--image_width", "160", "--max_text_length", "14",
    "--max_label_length", "16", "--num_train", "16", "--num_val", "8", "--num_test", "4",
    "--batch_size", "8", "--num_workers", "0",
    "--conv_dim", "8", "--fc_dim", "32", "--tf_dim", "32", "--tf_fc_dim", "64",
    "--tf_nhead", "2", "--tf_layers", "1", "--lr", "3e-3",
]  # fmt: skip


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``root`` with its size and modification time."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
    }


@pytest.fixture
def isolated_home(tmp_path, monkeypatch):
    """A fresh $HOME (with a dotfile in it, to prove it is left alone), an empty working
    directory, no W&B credentials or settings; the environment (which configure_wandb_env
    changes) and W&B's background service are restored afterwards."""
    saved_environ = dict(os.environ)
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    (home / ".bashrc").write_text("# a user's file\n")
    os.environ["HOME"] = str(home)
    for var in [v for v in os.environ if v.startswith(("WANDB_", "XDG_", "TEXT_RECOGNIZER_W"))]:
        del os.environ[var]
    os.environ.pop("NETRC", None)
    os.environ["WANDB_SILENT"] = "true"  # no WANDB_MODE: offline must be the automatic choice
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    yield home
    import wandb

    wandb.teardown()  # stop W&B's service, which captured this environment
    os.environ.clear()
    os.environ.update(saved_environ)


def test_train_with_wandb_offline_records_the_run_under_logs_dir(tmp_path, isolated_home, capsys):
    logs_dir = tmp_path / "logs"
    home_before = snapshot(isolated_home)
    argv = [
        *TINY_LINES,
        "--data_dir", str(tmp_path / "data"), "--logs_dir", str(logs_dir),
        "--experiment_name", "wandb_offline", "--max_epochs", "2", "--accelerator", "cpu",
        "--log_every_n_steps", "1", "--num_logged_examples", str(NUM_EXAMPLES),
        "--wandb", "--no-progress_bar", "--seed", "0",
    ]  # fmt: skip
    assert run_experiment.main(argv) == 0
    printed = capsys.readouterr().out

    # Offline by default (no key anywhere), and the CLI says how to upload the run.
    (run_dir,) = run_data.find_wandb_runs(logs_dir)
    assert run_dir.name.startswith("offline-run-")
    assert "W&B ran offline" in printed and f"wandb sync {run_dir}" in printed
    assert snapshot(isolated_home) == home_before, "the run wrote to $HOME"

    run = run_data.load_wandb_run(logs_dir)
    assert run.exit_code == 0 and run.project == "text-recognizer"

    # Overview tab: hyperparameters (every CLI flag, the model's and the data's included).
    assert run.config["model_class"] == "LineCNNTransformer"
    assert run.config["tf_dim"] == 32 and run.config["lr"] == 3e-3 and run.config["max_epochs"] == 2
    assert run.config["logs_dir"] == str(logs_dir)

    # Summary metrics: the last value of each logged metric, as on the run page.
    assert {"train/loss", "val/loss", "val/cer", "epoch"} <= set(run.summary)
    assert 0 < run.summary["train/loss"] < 10 and 0 <= run.summary["val/cer"]
    history = run.history
    assert history["val/loss"].notna().sum() == 2  # one validation per epoch
    assert any(column.startswith("gradients/") for column in history.columns)  # watch()

    # Files tab: git state (commit + diff of uncommitted changes) and system info.
    files = run_dir / "files"
    for name in ("git_state.json", "git.diff", "system_info.json"):
        assert name in run.files and (files / name).is_file(), name
    git_state = json.loads((files / "git_state.json").read_text())
    assert len(git_state["commit"]) == 40 and isinstance(git_state["dirty"], bool)
    if git_state["dirty"] and not git_state["untracked"]:
        assert (files / "git.diff").read_text().startswith("diff --git")
    system = json.loads((files / "system_info.json").read_text())
    assert system["torch"] == torch.__version__ and system["cpu_count"] >= 1
    assert run.git["commit"] == git_state["commit"]  # W&B's own capture agrees
    assert run.environment  # W&B's system info record (OS, Python, hardware)

    # Tables: the validation predictions, images included, from the last epoch.
    table = run.table(WANDB_KEY)
    assert list(table.columns) == COLUMNS
    assert len(table) == NUM_EXAMPLES and set(table["epoch"]) == {1}
    for image in table["image"]:
        assert Path(image).is_relative_to(logs_dir)
        assert Path(image).read_bytes().startswith(b"\x89PNG")
    assert table["ground_truth"].str.len().gt(0).all() and (table["cer"] >= 0).all()

    # Artifacts: the best checkpoint, staged under logs_dir for upload, loadable.
    models = [a for a in run.artifacts if a["type"] == "model"]
    assert models and "best" in models[-1]["aliases"]
    (checkpoint,) = models[-1]["files"]
    assert checkpoint["path"] == "model.ckpt"
    assert Path(checkpoint["local_path"]).is_relative_to(logs_dir)
    state = torch.load(checkpoint["local_path"], map_location="cpu", weights_only=False)
    assert any(key.startswith("model.") for key in state["state_dict"])

    # The same run for TensorBoard, pandas and the artifact store: local files next to it.
    (log_dir,) = (logs_dir / "wandb_offline").glob("version_*")
    assert list((log_dir / "tensorboard").glob("events.out.tfevents.*"))
    metrics = run_data.epoch_metrics(run_data.load_metrics(log_dir))
    assert metrics["epoch"].tolist() == [0, 1]
    local = run_data.load_prediction_tables(log_dir)
    assert len(local) == 2 * NUM_EXAMPLES and set(local["epoch"]) == {0, 1}
    assert list(local["ground_truth"][-NUM_EXAMPLES:]) == list(table["ground_truth"])
