"""The classification LightningModule: loss, accuracy, optimizer and scheduler from options."""

from __future__ import annotations

import argparse
from typing import Any

import pytorch_lightning as pl
import torch
import torchmetrics
from torch import nn

OPTIMIZER = "Adam"
LR = 1e-3
LOSS = "cross_entropy"
ONE_CYCLE_TOTAL_STEPS = None  # None: the whole run, as Lightning estimates it


class BaseLitModel(pl.LightningModule):
    """Wraps any ``models/`` module whose forward returns class logits ``(B, C)``, or one
    column of logits per position, ``(B, C, S)``, for targets ``(B, S)`` (line models).

    Options (``args``): ``optimizer`` (a ``torch.optim`` class name), ``lr``, ``loss`` (a
    ``torch.nn.functional`` name), ``one_cycle_max_lr`` (turns on OneCycleLR) and
    ``one_cycle_total_steps`` (default: every step of the run).

    Accuracy is per character and ignores ``<P>`` padding when the mapping has it, so a line
    model cannot score well by predicting padding. ``monitor``/``monitor_mode`` name the
    metric that picks the best checkpoint (``run_experiment`` reads them).
    """

    monitor = "val/loss"
    monitor_mode = "min"

    def __init__(self, model: nn.Module, args: argparse.Namespace | dict | None = None) -> None:
        super().__init__()
        self.model = model
        self.args = vars(args) if isinstance(args, argparse.Namespace) else dict(args or {})
        self.data_config = getattr(model, "data_config", {})
        self.mapping = self.data_config.get("mapping", [])

        self.optimizer_class = getattr(torch.optim, self.args.get("optimizer", OPTIMIZER))
        self.lr = self.args.get("lr", LR)
        self.loss_fn = getattr(torch.nn.functional, self.args.get("loss", LOSS))
        self.one_cycle_max_lr = self.args.get("one_cycle_max_lr")
        self.one_cycle_total_steps = self.args.get("one_cycle_total_steps", ONE_CYCLE_TOTAL_STEPS)

        num_classes = max(len(self.mapping), 2)
        padding = self.mapping.index("<P>") if "<P>" in self.mapping else None
        self.train_acc, self.val_acc, self.test_acc = (
            torchmetrics.Accuracy(task="multiclass", num_classes=num_classes, ignore_index=padding)
            for _ in range(3)
        )
        # Hyperparameters go into checkpoints and loggers; the model itself is saved as weights.
        self.save_hyperparameters({k: v for k, v in self.args.items() if _is_simple(v)})

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument(
            "--optimizer",
            type=str,
            default=OPTIMIZER,
            help="a torch.optim class name, e.g. Adam, AdamW, SGD",
        )
        parser.add_argument("--lr", type=float, default=LR, help="learning rate")
        parser.add_argument(
            "--one_cycle_max_lr",
            type=float,
            default=None,
            help="use a OneCycleLR schedule peaking at this learning rate",
        )
        parser.add_argument(
            "--one_cycle_total_steps",
            type=int,
            default=ONE_CYCLE_TOTAL_STEPS,
            help="OneCycleLR length in optimizer steps (default: the whole run)",
        )
        parser.add_argument(
            "--loss",
            type=str,
            default=LOSS,
            help="a torch.nn.functional loss name, e.g. cross_entropy",
        )
        return parser

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_class(self.parameters(), lr=self.lr)
        if self.one_cycle_max_lr is None:
            return optimizer
        total_steps = self.one_cycle_total_steps or int(self.trainer.estimated_stepping_batches)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=self.one_cycle_max_lr, total_steps=total_steps
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], split: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)  # (B, C) or (B, C, S); y is (B,) or (B, S)
        loss = self.loss_fn(logits, y)
        accuracy = getattr(self, f"{split}_acc")
        accuracy(logits, y)
        self.log(f"{split}/loss", loss, prog_bar=split != "test", on_step=False, on_epoch=True)
        self.log(f"{split}/acc", accuracy, prog_bar=True, on_step=False, on_epoch=True)
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test")


def _is_simple(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | type(None))
