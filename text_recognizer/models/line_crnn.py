"""LineCRNN: a convolutional-recurrent line reader for CTC (the release model's reader).

CRNN (Shi, Bai and Yao, 2015) is the classic recipe for reading a line of text:

1. a small CNN turns the line image (B, 1, H, W) into a feature map whose height is
   pooled away, one column of features every 4 input pixels: a sequence (B, T, D), T = W/4;
2. a bidirectional LSTM lets every column see the whole line (left AND right context:
   "rn" vs "m", where a word ends);
3. a linear layer gives per-column character logits (B, C, T), C including the CTC blank.

Compared with LineCNN (Lab 03) it adds the recurrent context; compared with the
ResnetTransformer it has no autoregressive decoding loop: one forward pass, any width (the
LSTM runs over however many columns there are), so it exports to TorchScript and ONNX with
a dynamic width axis, and greedy CTC decoding is a tiny post-process.
Trained with :class:`~text_recognizer.lit_models.ctc.CTCLitModel`.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch
from torch import nn

CONV_DIM = 16
RNN_DIM = 128
RNN_LAYERS = 2
RNN_DROPOUT = 0.1
DOWNSAMPLE_HEIGHT = 32  # five height-halving convolutions


def conv_block(
    in_channels: int, out_channels: int, stride: tuple[int, int] = (1, 1)
) -> nn.Sequential:
    """3x3 conv (padding 1: size kept, or divided by ``stride``) -> BatchNorm -> ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def output_length(width: int) -> int:
    """Columns T the model emits for an input ``width`` pixels wide (two stride-2 convs
    with padding 1: each gives ceil(w / 2)).

    >>> output_length(512), output_length(30)
    (128, 8)
    """
    return (((width + 1) // 2) + 1) // 2


class LineCRNN(nn.Module):
    """Line image (B, 1, H, W), ink ~ 1, H >= 32, any W -> logits (B, C, ~W/4) for CTC.

    >>> config = {"input_dims": (1, 32, 256), "output_dims": (20, 1), "mapping": list("abcde")}
    >>> model = LineCRNN(config, {"conv_dim": 4, "rnn_dim": 8})
    >>> model(torch.zeros(2, 1, 32, 100)).shape  # (B, C, T): T = output_length(100) = 25
    torch.Size([2, 5, 25])
    """

    lit_model_class = "CTCLitModel"

    def __init__(
        self, data_config: dict[str, Any], args: argparse.Namespace | dict | None = None
    ) -> None:
        super().__init__()
        self.data_config = data_config
        args = vars(args) if isinstance(args, argparse.Namespace) else dict(args or {})
        channels, height, _ = data_config["input_dims"]
        if height < DOWNSAMPLE_HEIGHT:
            raise ValueError(f"LineCRNN needs images at least {DOWNSAMPLE_HEIGHT} px tall")
        c = int(args.get("conv_dim", CONV_DIM))
        rnn_dim = int(args.get("rnn_dim", RNN_DIM))
        rnn_layers = int(args.get("rnn_layers", RNN_LAYERS))
        rnn_dropout = float(args.get("rnn_dropout", RNN_DROPOUT))
        num_classes = len(data_config["mapping"])

        # Height shrinks 32x, width 4x, by strided convolutions (cheaper on a CPU than
        # convolution + pooling). Channels grow as the map shrinks, so the full-resolution
        # layers stay thin.
        self.cnn = nn.Sequential(
            conv_block(channels, c, stride=(2, 2)),  # (B, c, H/2, W/2)
            conv_block(c, 2 * c, stride=(2, 2)),  # (B, 2c, H/4, W/4): the final width
            conv_block(2 * c, 2 * c),
            conv_block(2 * c, 4 * c, stride=(2, 1)),  # (B, 4c, H/8, W/4)
            conv_block(4 * c, 4 * c),
            conv_block(4 * c, 6 * c, stride=(2, 1)),  # (B, 6c, H/16, W/4)
            conv_block(6 * c, 8 * c, stride=(2, 1)),  # (B, 8c, H/32, W/4)
        )
        feature_height = height // DOWNSAMPLE_HEIGHT
        self.project = nn.Linear(8 * c * feature_height, 2 * rnn_dim)  # column -> (2 * rnn_dim)
        self.rnn = nn.LSTM(
            2 * rnn_dim,
            rnn_dim,
            num_layers=rnn_layers,
            bidirectional=True,
            batch_first=True,
            dropout=rnn_dropout if rnn_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(rnn_dropout)
        self.classifier = nn.Linear(2 * rnn_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cnn(x)  # (B, 8c, H/32, T)
        b, c, h, t = x.shape
        x = x.permute(0, 3, 1, 2).reshape(b, t, c * h)  # (B, T, 8c * H/32): one vector per column
        x = torch.relu(self.project(x))  # (B, T, 2 * rnn_dim)
        x, _ = self.rnn(x)  # (B, T, 2 * rnn_dim): both directions
        x = self.classifier(self.dropout(x))  # (B, T, C)
        return x.permute(0, 2, 1)  # (B, C, T), as CTCLitModel expects

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument(
            "--conv_dim",
            type=int,
            default=CONV_DIM,
            help=f"channels of the first conv block; later ones use 2x, 4x, 6x, 8x (default {CONV_DIM})",
        )
        parser.add_argument(
            "--rnn_dim", type=int, default=RNN_DIM, help=f"LSTM size per direction ({RNN_DIM})"
        )
        parser.add_argument(
            "--rnn_layers", type=int, default=RNN_LAYERS, help=f"LSTM layers ({RNN_LAYERS})"
        )
        parser.add_argument(
            "--rnn_dropout", type=float, default=RNN_DROPOUT, help=f"dropout ({RNN_DROPOUT})"
        )
        return parser
