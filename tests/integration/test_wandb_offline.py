"""A real offline W&B run through Lightning: everything lands in the logs dir, nothing in $HOME,
and the run's config, summary, prediction table, checkpoint artifact and git/system files can
be read back from local files alone."""

import os
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger

from text_recognizer.callbacks.prediction_table import WANDB_KEY, PredictionTableCallback
from text_recognizer.data.digits import Digits
from text_recognizer.lit_models.base import BaseLitModel
from text_recognizer.models.mlp import MLP
from text_recognizer.training import run_data, tracking
from text_recognizer.training.artifact_store import ArtifactStore

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NUM_EXAMPLES = 4


class DigitsWithExamples(BaseLitModel):
    """BaseLitModel that keeps the first validation batch's predictions as text, the way
    TransformerLitModel exposes ``last_val_examples``."""

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        if batch_idx == 0:
            x, y = batch
            predictions = self(x).argmax(dim=1)  # (B,)
            self.last_val_examples = [
                (x[i], str(int(y[i])), str(int(predictions[i]))) for i in range(NUM_EXAMPLES)
            ]


@pytest.fixture
def isolated_home(tmp_path, monkeypatch):
    """An empty $HOME and working directory, offline mode, no credentials; the whole
    environment (which configure_wandb_env changes) and W&B's service restored afterwards."""
    saved_environ = dict(os.environ)
    home = tmp_path / "home"
    home.mkdir()
    os.environ["HOME"] = str(home)
    for var in [v for v in os.environ if v.startswith(("WANDB_", "XDG_", "TEXT_RECOGNIZER_W"))]:
        del os.environ[var]
    os.environ.pop("NETRC", None)
    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    yield home
    import wandb

    wandb.teardown()  # stop W&B's background service, which captured this environment
    os.environ.clear()
    os.environ.update(saved_environ)


def test_offline_run_keeps_everything_local(tmp_path, isolated_home):
    logs_dir = tmp_path / "logs"
    pl.seed_everything(0)
    data = Digits({"batch_size": 64, "num_workers": 0})
    args = {"lr": 3e-3, "fc1": 32, "fc2": 16, "fc_dropout": 0.0, "batch_size": 64}
    lit_model = DigitsWithExamples(MLP(data.config(), args), args)

    logger = tracking.make_wandb_logger(args, logs_dir, lit_model, watch_log_freq=5)
    assert logger.experiment.settings.mode == "offline"
    checkpoint = ModelCheckpoint(dirpath=logs_dir / "checkpoints", monitor="val/loss", save_top_k=1)
    trainer = pl.Trainer(
        max_epochs=2,
        accelerator="cpu",
        logger=[CSVLogger(logs_dir, name="digits"), logger],
        callbacks=[
            checkpoint,
            PredictionTableCallback(every_n_epochs=1, max_examples=NUM_EXAMPLES),
        ],
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=5,
    )
    trainer.fit(lit_model, datamodule=data)
    # The local artifact store mirrors to the active (offline) W&B run too.
    store = ArtifactStore.default(logs_dir)
    staged = store.log_artifact(
        "digits-mlp",
        "model",
        checkpoint.best_model_path,
        produced_by=logger.experiment.id,
        aliases=["best"],
    )
    run_dir = Path(logger.experiment.settings.sync_dir)
    instructions = tracking.finish_wandb(logger)

    assert f"wandb sync {run_dir}" in instructions
    assert run_dir.is_relative_to(logs_dir)
    assert sorted(isolated_home.rglob("*")) == []  # nothing written to $HOME

    run = run_data.load_wandb_run(logs_dir)
    assert run.path == run_dir.resolve() and run.exit_code == 0
    assert run.config["lr"] == 3e-3 and run.config["fc1"] == 32  # hyperparameters
    assert 0 < run.summary["val/loss"] < 2.4  # below chance (ln 10 = 2.3)
    assert any(k.startswith("gradients/") for k in run.history.columns)  # watch()
    assert run.git["commit"]  # W&B's own git capture

    # Git state and system info saved as run files (uploaded on sync).
    files = run_dir / "files"
    for name in ("git_state.json", "git.diff", "system_info.json"):
        assert name in run.files and (files / name).is_file()
    assert '"torch"' in (files / "system_info.json").read_text()

    # Prediction table with images, decoded from the offline run.
    table = run.table(WANDB_KEY)
    assert list(table.columns) == ["epoch", "index", "image", "ground_truth", "prediction", "cer"]
    assert len(table) == NUM_EXAMPLES and set(table["epoch"]) == {1}  # the last epoch's
    for image_path in table["image"]:
        assert Path(image_path).read_bytes().startswith(b"\x89PNG")
        assert Path(image_path).is_relative_to(logs_dir)

    # Checkpoints logged as artifacts (log_model="all"), staged under the logs dir.
    models = [a for a in run.artifacts if a["type"] == "model" and a["name"].startswith("model-")]
    assert len(models) >= 1 and "best" in models[-1]["aliases"]
    checkpoint_file = models[-1]["files"][0]
    assert checkpoint_file["path"] == "model.ckpt"
    assert Path(checkpoint_file["local_path"]).is_relative_to(logs_dir)
    assert torch.load(checkpoint_file["local_path"], weights_only=False)["state_dict"]
    mirrored = [a for a in run.artifacts if a["name"] == "digits-mlp"]
    assert mirrored and mirrored[0]["metadata"]["local_id"] == staged.id

    # The same predictions as local files, for pandas users.
    local = run_data.load_prediction_tables(logs_dir)
    assert len(local) == 2 * NUM_EXAMPLES and set(local["epoch"]) == {0, 1}
    assert (local["cer"] >= 0).all() and all(Path(p).is_file() for p in local["image"])
    metrics = run_data.epoch_metrics(run_data.load_metrics(logs_dir))
    assert list(metrics["epoch"]) == [0, 1] and metrics["val/loss"].notna().all()
