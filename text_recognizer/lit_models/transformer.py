"""TransformerLitModel: teacher-forced training, greedy decoding and CER for text models.

Training shows the decoder the true previous characters (teacher forcing) and asks for the
next one at every position at once: one cross-entropy over the sequence, with padding
ignored. Validation and test also *read* the images the way inference will, feeding back
the model's own predictions (greedy decoding), and score the text with the character error
rate: edit distance / length of the true text.

Hybrid CTC/attention (``--ctc_weight w``, for models with an encoder CTC head such as
``LineCNNTransformer``): the loss becomes ``(1 - w) * cross-entropy + w * CTC``. The decoder
must discover *where* to look before its gradient can teach the encoder *what* it sees; CTC
on the encoder's own outputs teaches that from the first step, so training converges in far
fewer steps (Watanabe et al., 2017). Inference is unchanged: greedy decoding, no CTC.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn
from torchmetrics.text import CharErrorRate

from text_recognizer.lit_models.base import BaseLitModel
from text_recognizer.lit_models.util import ids_to_strings
from text_recognizer.metadata.emnist import BLANK, PADDING, SPECIAL_TOKENS

NUM_LOGGED_EXAMPLES = 8
CTC_WEIGHT = 0.0


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
        self.ctc_weight = float(self.args.get("ctc_weight", CTC_WEIGHT))
        if not 0.0 <= self.ctc_weight < 1.0:
            raise ValueError(f"ctc_weight must be in [0, 1), got {self.ctc_weight}")
        if self.ctc_weight > 0 and getattr(model, "ctc_head", None) is None:
            raise ValueError(f"{type(model).__name__} has no CTC head for --ctc_weight")
        self.blank_index = self.mapping.index(BLANK) if BLANK in self.mapping else -1
        self.special_indices = [self.mapping.index(t) for t in SPECIAL_TOKENS if t in self.mapping]
        # zero_infinity: a target longer than the model's S windows cannot be aligned; such a
        # batch then adds 0 to the loss instead of inf (which would turn every weight to NaN).
        self.ctc_loss = nn.CTCLoss(blank=max(self.blank_index, 0), zero_infinity=True)
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
        parser.add_argument(
            "--ctc_weight",
            type=float,
            default=CTC_WEIGHT,
            help="weight of an auxiliary CTC loss on the encoder (hybrid CTC/attention "
            "training; 0 = off). Needs a model with a CTC head, e.g. LineCNNTransformer",
        )
        return parser

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) -> (B, S) token ids: what inference and the TorchScript export run."""
        return self.model(x)

    def teacher_forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.model.teacher_forward(x, y)

    def _loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.ctc_weight == 0:
            logits = self.teacher_forward(x, y[:, :-1])  # (B, C, S - 1): read <S> t1 t2 ...
            return self.loss_fn(logits, y[:, 1:])  # predict t1 t2 ... <E>, ignoring <P>
        logits, ctc_logits = self.model.teacher_forward_with_ctc(x, y[:, :-1])
        attention_loss = self.loss_fn(logits, y[:, 1:])
        ctc_loss = self.ctc_loss_from_logits(ctc_logits, y)
        return (1 - self.ctc_weight) * attention_loss + self.ctc_weight * ctc_loss

    def ctc_loss_from_logits(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """CTC loss of per-window logits (B, C, S) against label rows (B, Sy)."""
        if self.blank_index < 0:
            raise ValueError(f"CTC needs {BLANK} in the mapping")
        log_probs = torch.log_softmax(logits, dim=1).permute(2, 0, 1)  # (S, B, C)
        num_windows, batch_size = log_probs.shape[0], log_probs.shape[1]
        is_text = ~torch.isin(y, torch.tensor(self.special_indices, device=y.device))  # (B, Sy)
        targets = y[is_text]  # all texts concatenated, row by row
        target_lengths = is_text.sum(dim=1)  # (B,)
        input_lengths = torch.full((batch_size,), num_windows, dtype=torch.long, device=y.device)
        return self.ctc_loss(log_probs, targets, input_lengths, target_lengths)

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
