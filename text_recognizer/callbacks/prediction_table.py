"""Log a table of validation predictions: input image, ground truth, prediction, CER.

Metrics say *how much* a model is wrong; a table of examples says *how*: a missing
space, a confused ``l``/``1``, a decoder that never stops. Looking at it every few epochs is
the cheapest debugging tool there is.

The LightningModule chooses the examples: it sets ``last_val_examples``, a list of
``(image (1, H, W) float tensor, ground truth str, prediction str)``, during validation
(``TransformerLitModel`` does). This callback only formats and writes them:

* always to local files, ``<log_dir>/predictions/epoch_NNN.csv`` plus one PNG per image, so
  offline users and pandas (``run_data.load_prediction_tables``) can read them;
* to W&B as a ``wandb.Table`` of ``wandb.Image`` when a ``WandbLogger`` is attached.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_info

from text_recognizer.util import atomic_write

COLUMNS = ["epoch", "index", "image", "ground_truth", "prediction", "cer"]
WANDB_KEY = "val/predictions"


def character_error_rate(ground_truth: str, prediction: str) -> float:
    """Edit distance between the strings divided by the length of the ground truth.

    An empty ground truth scores 0 for an empty prediction and 1 otherwise (torchmetrics
    would divide by zero).

    >>> character_error_rate("hello", "hallo")
    0.2
    >>> character_error_rate("", "x"), character_error_rate("", "")
    (1.0, 0.0)
    """
    from text_recognizer.evaluation import cer

    return round(cer(prediction, ground_truth), 6)


def to_uint8_image(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """A (1, H, W) or (H, W) float image -> (H, W) uint8 for PNG files and ``wandb.Image``.

    Values in [0, 1] are scaled by 255; anything else (e.g. normalized inputs) is min-max
    rescaled so the image stays visible.

    >>> to_uint8_image(torch.tensor([[[0.0, 0.5, 1.0]]]))
    array([[  0, 128, 255]], dtype=uint8)
    """
    array = image.detach().float().cpu().numpy() if torch.is_tensor(image) else np.asarray(image)
    array = array.astype(np.float32)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]  # (1, H, W) -> (H, W)
    if array.ndim != 2:
        raise ValueError(f"expected a (1, H, W) or (H, W) image, got shape {image.shape}")
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 1.0:
        array = (array - low) / (high - low) if high > low else np.zeros_like(array)
    return np.round(array * 255).astype(np.uint8)


class PredictionTableCallback(pl.Callback):
    """Every ``every_n_epochs`` epochs, log up to ``max_examples`` validation predictions.

    Runs after the LightningModule's own epoch-end hooks (in ``on_validation_end``), so the
    examples are those of the epoch that just finished. ``dirpath`` defaults to
    ``<trainer.log_dir>/predictions``.
    """

    def __init__(
        self, every_n_epochs: int = 1, max_examples: int = 8, dirpath: str | None = None
    ) -> None:
        if every_n_epochs < 1 or max_examples < 1:
            raise ValueError("every_n_epochs and max_examples must be at least 1")
        self.every_n_epochs = every_n_epochs
        self.max_examples = max_examples
        self.dirpath = dirpath
        self._warned = False
        self.last_table: list[dict[str, Any]] = []  # the rows written last, for notebooks

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        log_dir = trainer.log_dir  # every rank must ask: it is broadcast from rank 0
        if not trainer.is_global_zero:
            return
        default = Path(log_dir or trainer.default_root_dir) / "predictions"
        dirpath = Path(self.dirpath) if self.dirpath else default
        examples = getattr(pl_module, "last_val_examples", None)
        if examples is None:
            if not self._warned:
                rank_zero_info(
                    f"PredictionTableCallback: {type(pl_module).__name__} has no "
                    "`last_val_examples`; no prediction tables will be logged"
                )
                self._warned = True
            return
        self.log_examples(examples, epoch=trainer.current_epoch, dirpath=dirpath, trainer=trainer)

    def log_examples(
        self,
        examples: list[tuple[torch.Tensor, str, str]],
        epoch: int,
        dirpath: str | os.PathLike,
        trainer: pl.Trainer | None = None,
    ) -> list[dict[str, Any]]:
        """Write the table for one epoch locally and, if a WandbLogger is attached, to W&B."""
        dirpath = Path(dirpath)
        (dirpath / "images").mkdir(parents=True, exist_ok=True)
        rows, images = [], []
        for index, (image, ground_truth, prediction) in enumerate(examples[: self.max_examples]):
            pixels = to_uint8_image(image)  # (H, W) uint8
            relative = f"images/epoch_{epoch:03d}_{index:02d}.png"
            _save_png_atomic(pixels, dirpath / relative)
            images.append(pixels)
            rows.append(
                {
                    "epoch": epoch,
                    "index": index,
                    "image": relative,
                    "ground_truth": ground_truth,
                    "prediction": prediction,
                    "cer": character_error_rate(ground_truth, prediction),
                }
            )
        _write_csv_atomic(rows, dirpath / f"epoch_{epoch:03d}.csv")
        self.last_table = rows

        wandb_logger = find_wandb_logger(trainer) if trainer is not None else None
        if wandb_logger is not None:
            import wandb

            table = wandb.Table(columns=COLUMNS)
            for row, pixels in zip(rows, images):
                table.add_data(
                    *(row[c] for c in COLUMNS[:2]),
                    wandb.Image(pixels),
                    *(row[c] for c in COLUMNS[3:]),
                )
            wandb_logger.experiment.log(
                {WANDB_KEY: table, "trainer/global_step": trainer.global_step}
            )
        return rows


def find_wandb_logger(trainer: pl.Trainer) -> WandbLogger | None:
    """The first WandbLogger attached to a Trainer, if any."""
    return next((lg for lg in trainer.loggers if isinstance(lg, WandbLogger)), None)


def _save_png_atomic(pixels: np.ndarray, path: Path) -> None:
    with atomic_write(path, "wb") as handle:
        Image.fromarray(pixels).save(handle, format="PNG")  # (H, W) uint8 -> grayscale PNG


def _write_csv_atomic(rows: list[dict[str, Any]], path: Path) -> None:
    with atomic_write(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
