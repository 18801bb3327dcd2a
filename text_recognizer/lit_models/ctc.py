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
from text_recognizer.metadata.emnist import BLANK


class CTCLitModel(TransformerLitModel):
    """Wraps a model whose forward gives per-window logits (B, C, S), e.g. ``LineCNN``.

    Labels are the usual rows ``<S> text <E> <P>...``: CTC targets are their non-special
    tokens. ``forward(x)`` returns decoded token ids (B, max_output_length), ``text <P>...``,
    so inference code treats it like ``TransformerLitModel``. Validation/test CER, logging
    and ``last_val_examples`` are inherited from ``TransformerLitModel``.
    """

    def __init__(self, model: nn.Module, args: argparse.Namespace | dict | None = None) -> None:
        super().__init__(model, args)
        if self.blank_index < 0:
            raise ValueError(f"CTC needs {BLANK} in the mapping")
        self.max_output_length = int(self.data_config["output_dims"][0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) -> (B, max_output_length) token ids, greedily CTC-decoded."""
        return self.decode_logits(self.model(x))

    def decode_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, C, S) logits -> (B, max_output_length) token ids."""
        return ctc_greedy_decode(
            logits, self.blank_index, self.padding_index, self.max_output_length
        )

    def _loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.ctc_loss_from_logits(self.model(x), y)

    def _loss_and_ids(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.model(x)  # (B, C, S): one pass serves both
        return self.ctc_loss_from_logits(logits, y), self.decode_logits(logits)
