"""Read a line by sliding the character CNN across it (Lab 02).

The simplest line reader there is: cut the line into windows (by default 28 pixels wide, one
per character slot), classify each window with the single-character ``CNN``, and stack the
answers. It works when characters sit exactly in their slots (no overlap); when they overlap,
windows straddle two characters, which motivates the models of Lab 03 (CTC, Transformers).
"""

from __future__ import annotations

import argparse
from typing import Any

import torch
from torch import nn

from text_recognizer.models.cnn import CNN

WINDOW_WIDTH = 28
WINDOW_STRIDE = 28


class LineCNNSimple(nn.Module):
    """Apply ``CNN`` to every window of a line image: (B, C, H, W) -> (B, num_classes, S).

    S = (W - window_width) // window_stride + 1 windows, all classified in one batch.

    >>> config = {"input_dims": (1, 28, 28 * 5), "output_dims": (5,), "mapping": list("abc")}
    >>> LineCNNSimple(config, {"conv_dim": 4})(torch.zeros(2, 1, 28, 28 * 5)).shape
    torch.Size([2, 3, 5])
    """

    def __init__(
        self, data_config: dict[str, Any], args: argparse.Namespace | dict | None = None
    ) -> None:
        super().__init__()
        args = vars(args) if isinstance(args, argparse.Namespace) else dict(args or {})
        self.data_config = data_config
        self.window_width = args.get("window_width", WINDOW_WIDTH)
        self.window_stride = args.get("window_stride", WINDOW_STRIDE)
        self.limit_output_length = args.get("limit_output_length", False)
        self.num_classes = len(data_config["mapping"])
        self.output_length = data_config["output_dims"][0]
        channels, height, _ = data_config["input_dims"]
        cnn_config = {**data_config, "input_dims": (channels, height, self.window_width)}
        self.cnn = CNN(cnn_config, args)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) line images -> (B, num_classes, S) logits, one column per window."""
        B, C, H, W = x.shape
        if W < self.window_width:
            raise ValueError(f"line is {W} pixels wide, less than one window ({self.window_width})")
        windows = x.unfold(3, self.window_width, self.window_stride)  # (B, C, H, S, WW)
        S = windows.shape[3]
        windows = windows.permute(0, 3, 1, 2, 4).reshape(B * S, C, H, self.window_width)
        logits = self.cnn(windows)  # (B * S, num_classes)
        logits = logits.reshape(B, S, self.num_classes).permute(0, 2, 1)  # (B, num_classes, S)
        if self.limit_output_length:
            logits = logits[:, :, : self.output_length]
        return logits

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        CNN.add_to_argparse(parser)
        parser.add_argument(
            "--window_width",
            type=int,
            default=WINDOW_WIDTH,
            help=f"width of each window the CNN reads (default {WINDOW_WIDTH})",
        )
        parser.add_argument(
            "--window_stride",
            type=int,
            default=WINDOW_STRIDE,
            help=f"step between windows (default {WINDOW_STRIDE})",
        )
        parser.add_argument(
            "--limit_output_length",
            action="store_true",
            help="keep only the first output_dims[0] windows (to match labels)",
        )
        return parser
