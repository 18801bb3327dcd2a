"""Can the Lab 03 text models learn at all? Overfit one hand-made batch.

No dataset: four random-noise "images", each paired with a fixed string. A model that
cannot memorize four strings has a bug (wrong shift between inputs and targets, a mask
that leaks or blocks too much, a loss that counts padding, ...). The real memorization
tests on synthetic lines and paragraphs build on the same tiny settings.
"""

from __future__ import annotations

import time
import warnings

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from text_recognizer.data.util import convert_strings_to_labels
from text_recognizer.lit_models.ctc import CTCLitModel
from text_recognizer.lit_models.transformer import TransformerLitModel
from text_recognizer.metadata.emnist import INVERSE_MAPPING, MAPPING
from text_recognizer.models.line_cnn import LineCNN
from text_recognizer.models.line_cnn_transformer import LineCNNTransformer
from text_recognizer.models.resnet_transformer import ResnetTransformer

pytestmark = pytest.mark.training

TEXTS = ["hello", "world!", "fsdl", "a b c"]
MAX_LENGTH = 8  # the longest text plus <S> and <E>
STEPS = 60
CONFIG = {"input_dims": (1, 16, 64), "output_dims": (MAX_LENGTH, 1), "mapping": MAPPING}
TINY_TF = {"tf_dim": 32, "tf_fc_dim": 64, "tf_nhead": 2, "tf_layers": 1, "tf_dropout": 0.0}
CASES = {  # model, its tiny hyperparameters, the LightningModule that trains it
    "LineCNNTransformer": (
        LineCNNTransformer,
        {"conv_dim": 8, "fc_dim": 32, "fc_dropout": 0.0, **TINY_TF},
        TransformerLitModel,
    ),
    "ResnetTransformer": (ResnetTransformer, {"resnet_stages": 1, **TINY_TF}, TransformerLitModel),
    "LineCNN-CTC": (
        LineCNN,
        {"conv_dim": 8, "fc_dim": 32, "fc_dropout": 0.0, "window_width": 8, "window_stride": 8},
        CTCLitModel,
    ),
}


class LossRecorder(pl.Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []
        self.seconds: list[float] = []

    def on_train_batch_start(self, *args) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, *args) -> None:
        self.seconds.append(time.perf_counter() - self._start)
        self.losses.append(float(outputs["loss"]))


@pytest.mark.parametrize("case", list(CASES))
def test_overfits_one_batch(case, tmp_path):
    model_class, args, lit_class = CASES[case]
    pl.seed_everything(0, verbose=False)
    x = torch.rand(len(TEXTS), *CONFIG["input_dims"])  # (B, 1, H, W) noise
    y = convert_strings_to_labels(TEXTS, INVERSE_MAPPING, MAX_LENGTH)  # (B, S)
    loader = DataLoader(TensorDataset(x, y), batch_size=len(TEXTS))
    lit = lit_class(model_class(CONFIG, args), {"lr": 3e-3})
    recorder = LossRecorder()
    trainer = pl.Trainer(
        max_epochs=STEPS,
        overfit_batches=1,
        check_val_every_n_epoch=STEPS,  # validate (greedy decode + CER) once, at the end
        num_sanity_val_steps=0,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=[recorder],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "does not have many workers", overfit_batches notes
        trainer.fit(lit, loader, loader)

    assert len(recorder.losses) == STEPS
    assert recorder.losses[-1] < recorder.losses[0] / 10, recorder.losses[::10]
    assert trainer.callback_metrics["val/cer"] < 0.25
    # The examples a prediction-table callback would log: (image, truth, prediction).
    image, truth, prediction = lit.last_val_examples[0]
    assert image.shape == CONFIG["input_dims"] and truth == TEXTS[0]
    assert isinstance(prediction, str)
    print(
        f"{case}: loss {recorder.losses[0]:.2f} -> {recorder.losses[-1]:.3f}, "
        f"{1000 * sorted(recorder.seconds)[STEPS // 2]:.0f} ms/step"
    )
