"""The offline Digits DataModule, the MLP and the classification LightningModule."""

import pytorch_lightning as pl
import torch

from text_recognizer.data.digits import Digits
from text_recognizer.lit_models.base import BaseLitModel
from text_recognizer.models.mlp import MLP


def test_digits_splits_are_disjoint_sized_and_scaled():
    data = Digits({"batch_size": 16, "num_workers": 0})
    data.prepare_data()
    data.setup()
    sizes = len(data.data_train), len(data.data_val), len(data.data_test)
    assert sum(sizes) == 1797 and min(sizes) > 200
    x, y = next(iter(data.train_dataloader()))
    assert x.shape == (16, 1, 8, 8) and x.dtype == torch.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert y.dtype == torch.int64 and 0 <= y.min() and y.max() <= 9
    assert "Digits" in repr(data) and "train 1221" in repr(data)


def test_test_split_does_not_depend_on_seed():
    a, b = Digits({"seed": 1}), Digits({"seed": 2})
    a.setup(), b.setup()
    assert a.data_test.indices == b.data_test.indices
    assert a.data_train.indices != b.data_train.indices


def test_mlp_learns_digits_with_lightning(tmp_path):
    pl.seed_everything(0)
    data = Digits({"batch_size": 64, "num_workers": 0})
    model = BaseLitModel(
        MLP(data.config(), {"fc1": 64, "fc2": 32, "fc_dropout": 0.0}), {"lr": 3e-3}
    )
    trainer = pl.Trainer(
        max_epochs=5,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(model, datamodule=data)
    assert trainer.callback_metrics["val/acc"] > 0.85  # chance is 0.10
