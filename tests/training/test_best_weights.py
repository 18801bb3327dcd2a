"""Lineage must name the weights it stages: ``run()`` hands back the BEST checkpoint's weights
(not the last epoch's), and a model staged from the checkpoint artifact (as Lab 04 does)
computes exactly what that checkpoint computes.

The run is rigged so that its best epoch is not its last: the checkpoint monitors
``val/loss`` with ``mode="max"``, so "best" is the worst epoch, the first one of a model
that is learning."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from text_recognizer.training import run_experiment, stage
from text_recognizer.training.artifact_store import ArtifactStore

pytestmark = [pytest.mark.training, pytest.mark.slow]


@pytest.fixture(scope="module")
def rigged_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("best")
    args = {
        "data_class": "SyntheticLines",
        "model_class": "LineCNNTransformer",
        "image_height": 32,
        "image_width": 96,
        "max_text_length": 8,
        "max_label_length": 10,
        "num_train": 32,
        "num_val": 8,
        "num_test": 8,
        "batch_size": 8,
        "num_workers": 0,
        "conv_dim": 4,
        "fc_dim": 16,
        "tf_dim": 16,
        "tf_fc_dim": 32,
        "tf_nhead": 2,
        "tf_layers": 1,
        "lr": 3e-3,
        "max_epochs": 3,
        "monitor": "val/loss",
        "monitor_mode": "max",  # "best" = the worst epoch, so not the last one
        "seed": 0,
        "data_dir": root / "data",
        "logs_dir": root / "logs",
        "progress_bar": False,
    }
    result = run_experiment.run(args)
    return result, root


def _outputs(model: torch.nn.Module, result) -> torch.Tensor:
    data = result["data"]
    data.setup("fit")
    x, _ = next(iter(data.val_dataloader()))
    model.eval()
    with torch.no_grad():
        return model(x)


def test_run_hands_back_the_best_checkpoints_weights(rigged_run):
    result, _ = rigged_run
    best = torch.load(result["best_model_path"], map_location="cpu", weights_only=False)
    assert best["epoch"] < 2, "the rigged run's best epoch should not be the last"
    returned = result["lit_model"].state_dict()
    for key, value in best["state_dict"].items():
        assert torch.equal(returned[key].cpu(), value), key
    assert result["weights"] == f"best checkpoint (epoch {best['epoch']})"


def test_a_model_staged_from_the_checkpoint_artifact_equals_the_checkpoint(rigged_run):
    result, root = rigged_run
    store = ArtifactStore(root / "artifacts", mirror_to_wandb=False)
    store.log_artifact("ckpt", "checkpoint", result["best_model_path"], produced_by="train")
    directory = store.use_artifact("ckpt", "latest", consumed_by="stage")
    staged, _, _ = stage.load_checkpoint(directory / Path(result["best_model_path"]).name)
    expected, _, _ = stage.load_checkpoint(result["best_model_path"])
    assert torch.equal(_outputs(staged, result), _outputs(expected, result))
    assert torch.equal(_outputs(result["lit_model"].model, result), _outputs(expected, result))
