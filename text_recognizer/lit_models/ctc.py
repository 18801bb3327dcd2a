"""CTCLitModel: train a per-window line reader (LineCNN) with CTC loss (Lab 03).

A LineCNN emits one class per window, but nobody labels which window shows which character.
Connectionist Temporal Classification (CTC) sums the probability of every alignment that
spells the target (characters may span several windows; the blank ``<B>`` fills gaps and
separates double letters), so the model learns alignment by itself. Decoding is the greedy
"best path": argmax per window, merge repeats, drop blanks. One forward pass, no loop:
much faster than a Transformer decoder, which is why it makes a good fast line reader.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from text_recognizer.lit_models.transformer import TransformerLitModel
from text_recognizer.lit_models.util import ctc_greedy_decode
from text_recognizer.metadata.emnist import BLANK, SPECIAL_TOKENS


class CTCLitModel(TransformerLitModel):
    """Wraps a model whose forward gives per-window logits (B, C, S), e.g. ``LineCNN``.

    Labels are the usual rows ``<S> text <E> <P>...``: CTC targets are their non-special
    tokens. ``forward(x)`` returns decoded token ids (B, max_output_length), ``text <P>...``,
    so inference code treats it like ``TransformerLitModel``. Validation/test CER, logging
    and ``last_val_examples`` are inherited from ``TransformerLitModel``.
    """

    def __init__(self, model: nn.Module, args: argparse.Namespace | dict | None = None) -> None:
        super().__init__(model, args)
        self.blank_index = self.mapping.index(BLANK)
        self.special_indices = [self.mapping.index(t) for t in SPECIAL_TOKENS if t in self.mapping]
        self.max_output_length = int(self.data_config["output_dims"][0])
        # zero_infinity: a target longer than the model's S windows cannot be aligned; such a
        # batch then adds 0 to the loss instead of inf (which would turn every weight to NaN).
        self.ctc_loss = nn.CTCLoss(blank=self.blank_index, zero_infinity=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) -> (B, max_output_length) token ids, greedily CTC-decoded."""
        return self.decode_logits(self.model(x))

    def decode_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, C, S) logits -> (B, max_output_length) token ids."""
        return ctc_greedy_decode(
            logits, self.blank_index, self.padding_index, self.max_output_length
        )

    def ctc_loss_from_logits(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """CTC loss of (B, C, S) logits against label rows (B, Sy)."""
        log_probs = torch.log_softmax(logits, dim=1).permute(2, 0, 1)  # (S, B, C)
        num_windows, batch_size = log_probs.shape[0], log_probs.shape[1]
        is_text = ~torch.isin(y, torch.tensor(self.special_indices, device=y.device))  # (B, Sy)
        targets = y[is_text]  # all texts concatenated, row by row
        target_lengths = is_text.sum(dim=1)  # (B,)
        input_lengths = torch.full((batch_size,), num_windows, dtype=torch.long, device=y.device)
        return self.ctc_loss(log_probs, targets, input_lengths, target_lengths)

    def _loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.ctc_loss_from_logits(self.model(x), y)

    def _loss_and_ids(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.model(x)  # (B, C, S): one pass serves both
        return self.ctc_loss_from_logits(logits, y), self.decode_logits(logits)
