"""TransformerLitModel: teacher-forced training, greedy decoding and CER for text models.

Training shows the decoder the true previous characters (teacher forcing) and asks for the
next one at every position at once: one cross-entropy over the sequence, with padding
ignored. Validation and test also *read* the images the way inference will, feeding back
the model's own predictions (greedy decoding), and score the text with the character error
rate: edit distance / length of the true text.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn
from torchmetrics.text import CharErrorRate

from text_recognizer.lit_models.base import BaseLitModel
from text_recognizer.lit_models.util import ids_to_strings
from text_recognizer.metadata.emnist import PADDING

NUM_LOGGED_EXAMPLES = 8


class TransformerLitModel(BaseLitModel):
    """Wraps a model with ``teacher_forward(x, y) -> (B, C, Sy)`` logits and
    ``forward(x) -> (B, S)`` greedily decoded token ids (LineCNNTransformer,
    ResnetTransformer). Batches are ``(images, labels)`` with labels ``<S> text <E> <P>...``.

    Logs ``{split}/loss`` and, for val and test, ``{split}/cer``. After each validation
    epoch ``last_val_examples`` holds (image, true text, predicted text) for the first few
    validation images, for callbacks that log prediction tables.
    """

    monitor = "val/cer"
    monitor_mode = "min"

    def __init__(self, model: nn.Module, args: argparse.Namespace | dict | None = None) -> None:
        super().__init__(model, args)
        self.padding_index = self.mapping.index(PADDING)
        self.loss_fn = nn.CrossEntropyLoss(ignore_index=self.padding_index)
        self.val_cer = CharErrorRate()
        self.test_cer = CharErrorRate()
        self.num_logged_examples = self.args.get("num_logged_examples", NUM_LOGGED_EXAMPLES)
        self.last_val_examples: list[tuple[torch.Tensor, str, str]] = []

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        BaseLitModel.add_to_argparse(parser)
        parser.add_argument(
            "--num_logged_examples",
            type=int,
            default=NUM_LOGGED_EXAMPLES,
            help="validation predictions kept for logging callbacks",
        )
        return parser

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) -> (B, S) token ids: what inference and the TorchScript export run."""
        return self.model(x)

    def teacher_forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.model.teacher_forward(x, y)

    def _loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = self.teacher_forward(x, y[:, :-1])  # (B, C, S - 1): read <S> t1 t2 ...
        return self.loss_fn(logits, y[:, 1:])  # predict t1 t2 ... <E>, ignoring <P>

    def _loss_and_ids(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Evaluation: the teacher-forced loss, and the ids the model reads on its own."""
        return self._loss(x, y), self(x)

    def decode(self, ids: torch.Tensor) -> list[str]:
        """Token ids (B, S) -> strings, special tokens stripped."""
        return ids_to_strings(ids, self.mapping)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        x, y = batch
        loss = self._loss(x, y)
        self.log("train/loss", loss, prog_bar=True, on_step=False, on_epoch=True)
        return loss

    def _evaluate(self, batch: tuple[torch.Tensor, torch.Tensor], split: str) -> list[str]:
        x, y = batch
        loss, ids = self._loss_and_ids(x, y)
        self.log(f"{split}/loss", loss, prog_bar=True, on_step=False, on_epoch=True, sync_dist=True)
        predictions = self.decode(ids)
        targets = self.decode(y)
        cer = getattr(self, f"{split}_cer")
        cer(predictions, targets)
        self.log(f"{split}/cer", cer, prog_bar=True, on_step=False, on_epoch=True)
        return predictions

    def on_validation_epoch_start(self) -> None:
        self.last_val_examples = []

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        predictions = self._evaluate(batch, "val")
        missing = self.num_logged_examples - len(self.last_val_examples)
        if missing > 0:
            x, y = batch
            targets = self.decode(y[:missing])
            for image, target, prediction in zip(x[:missing], targets, predictions[:missing]):
                self.last_val_examples.append((image.detach().cpu(), target, prediction))

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")
