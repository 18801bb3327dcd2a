"""LineCNNTransformer: LineCNN window features, read out by a Transformer decoder (Lab 03).

Where ``LineCNN`` + CTC must emit one label per window, a decoder writes the text one
character at a time, attending to whichever windows it needs: no alignment assumptions,
and it learns a character-level language model on the way.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch
from torch import nn

from text_recognizer.models.line_cnn import LineCNNFeatures
from text_recognizer.models.transformer_util import (
    PositionalEncoding,
    TransformerTextDecoder,
    add_transformer_args,
)

TF_DIM = 256
TF_FC_DIM = 1024
TF_NHEAD = 4
TF_LAYERS = 4
TF_DROPOUT = 0.2
TF_ENCODER_LAYERS = 0


class LineCNNTransformer(nn.Module):
    """Line image (B, 1, H, W) -> token ids (B, max_output_length), greedily decoded.

    >>> from text_recognizer.metadata.emnist import MAPPING
    >>> config = {"input_dims": (1, 16, 64), "output_dims": (6,), "mapping": MAPPING}
    >>> model = LineCNNTransformer(config, {"conv_dim": 4, "fc_dim": 16, "tf_dim": 16,
    ...     "tf_fc_dim": 32, "tf_nhead": 2, "tf_layers": 1}).eval()
    >>> model(torch.zeros(2, 1, 16, 64)).shape  # (B, max_output_length)
    torch.Size([2, 6])
    >>> model.teacher_forward(torch.zeros(2, 1, 16, 64), torch.ones(2, 5).long()).shape
    torch.Size([2, 83, 5])
    """

    lit_model_class = "TransformerLitModel"

    def __init__(self, data_config: dict[str, Any], args: argparse.Namespace | dict | None = None):
        super().__init__()
        args = vars(args) if isinstance(args, argparse.Namespace) else dict(args or {})
        self.data_config = data_config
        mapping = list(data_config["mapping"])
        self.max_output_length = int(data_config["output_dims"][0])
        tf_dim = args.get("tf_dim", TF_DIM)
        dropout = args.get("tf_dropout", TF_DROPOUT)

        # Encoder: image -> (B, S, fc_dim) window features -> (B, S, tf_dim), plus positions.
        self.line_cnn = LineCNNFeatures(data_config, args)
        self.encoder_projection = nn.Linear(self.line_cnn.fc_dim, tf_dim)
        self.enc_pos_encoder = PositionalEncoding(
            tf_dim, max_len=self.line_cnn.num_windows, dropout=dropout
        )
        # Optional self-attention over the windows, so each one sees the whole line before
        # the decoder reads it (a "context" encoder; 0 layers: the windows go straight in).
        encoder_layers = args.get("tf_encoder_layers", TF_ENCODER_LAYERS)
        self.context_encoder: nn.Module = nn.Identity()
        if encoder_layers > 0:
            layer = nn.TransformerEncoderLayer(
                tf_dim,
                args.get("tf_nhead", TF_NHEAD),
                args.get("tf_fc_dim", TF_FC_DIM),
                dropout,
                batch_first=True,
                norm_first=True,
            )
            self.context_encoder = nn.TransformerEncoder(
                layer, encoder_layers, norm=nn.LayerNorm(tf_dim), enable_nested_tensor=False
            )
        # Optional auxiliary CTC head on the encoder (hybrid CTC/attention training, see
        # TransformerLitModel's --ctc_weight): per-window character logits give the encoder
        # a direct, alignment-free signal, so it learns to read before the decoder has
        # learned where to look. Built only when training uses it; inference never does.
        self.ctc_head: nn.Module | None = None
        if args.get("ctc_weight", 0.0) > 0:
            self.ctc_head = nn.Linear(tf_dim, len(mapping))
        self.decoder = TransformerTextDecoder(
            num_classes=len(mapping),
            max_output_length=self.max_output_length,
            d_model=tf_dim,
            nhead=args.get("tf_nhead", TF_NHEAD),
            dim_feedforward=args.get("tf_fc_dim", TF_FC_DIM),
            num_layers=args.get("tf_layers", TF_LAYERS),
            dropout=dropout,
            start_token=mapping.index("<S>"),
            end_token=mapping.index("<E>"),
            padding_token=mapping.index("<P>"),
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) image -> (B, Sx, E) memory for the decoder."""
        x = self.line_cnn(x)  # (B, Sx, fc_dim)
        x = self.encoder_projection(x)  # (B, Sx, E)
        x = self.enc_pos_encoder(x)  # (B, Sx, E)
        return self.context_encoder(x)  # (B, Sx, E)

    def teacher_forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Training: images (B, 1, H, W) and target tokens (B, Sy) -> logits (B, C, Sy)."""
        logits = self.decoder(self.encode(x), y)  # (B, Sy, C)
        return logits.permute(0, 2, 1)  # (B, C, Sy) for cross_entropy

    def teacher_forward_with_ctc(
        self, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Hybrid training: decoder logits (B, C, Sy) and CTC head logits (B, C, Sx), from
        one pass of the encoder."""
        if self.ctc_head is None:
            raise RuntimeError("this model has no CTC head: build it with ctc_weight > 0")
        memory = self.encode(x)  # (B, Sx, E)
        logits = self.decoder(memory, y)  # (B, Sy, C)
        ctc_logits = self.ctc_head(memory)  # (B, Sx, C)
        return logits.permute(0, 2, 1), ctc_logits.permute(0, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Inference: (B, 1, H, W) -> (B, max_output_length) token ids, <S> ... <E> <P>..."""
        memory = self.encode(x)  # (B, Sx, E), computed once per image
        return self.decoder.greedy_decode(memory, self.max_output_length)

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        LineCNNFeatures.add_to_argparse(parser)
        add_transformer_args(parser, TF_DIM, TF_FC_DIM, TF_NHEAD, TF_LAYERS, TF_DROPOUT)
        parser.add_argument(
            "--tf_encoder_layers",
            type=int,
            default=TF_ENCODER_LAYERS,
            help="self-attention layers over the windows before the decoder (0: none)",
        )
        return parser
