"""LineCNN: read a whole line image as a sequence of windows, left to right (Lab 03).

A stack of 3x3 convolutions shrinks the line image (1, H, W) by 8 in height and by
``width_downsample`` (8, or 4 for small handwriting) in width; a last convolution then looks
at windows of ``window_width`` pixels every ``window_stride`` pixels and collapses the height,
so the image becomes a sequence of S feature vectors along the width. A linear classifier
turns each into character logits (B, C, S): exactly what CTC loss wants, since CTC learns
which windows show which character (and which show none).
"""

from __future__ import annotations

import argparse
from typing import Any

import torch
from torch import nn

CONV_DIM = 32
FC_DIM = 256
FC_DROPOUT = 0.2
WINDOW_WIDTH = 16
WINDOW_STRIDE = 8
WIDTH_DOWNSAMPLE = 8  # the conv stack halves the height 3 times, the width 3 (or 2) times


def num_windows(
    width: int,
    window_width: int = WINDOW_WIDTH,
    stride: int = WINDOW_STRIDE,
    width_downsample: int = WIDTH_DOWNSAMPLE,
) -> int:
    """How many windows (output positions S) LineCNN produces for an image ``width`` wide.

    >>> num_windows(1024)  # 16-pixel windows every 8 pixels
    127
    >>> num_windows(128, window_width=16, stride=16)
    8
    >>> num_windows(256, window_width=8, stride=4, width_downsample=4)  # one every 4 pixels
    63
    """
    feature_width = _halve(_halve(width))
    if width_downsample == 8:
        feature_width = _halve(feature_width)
    return (feature_width - window_width // width_downsample) // (stride // width_downsample) + 1


def _halve(size: int) -> int:
    """Output size of a 3x3, stride 2, padding 1 convolution: ceil(size / 2)."""
    return (size + 1) // 2


class ConvBlock(nn.Module):
    """Conv -> BatchNorm -> ReLU; 3x3 with padding 1 keeps the size unless stride is 2."""

    def __init__(
        self, in_channels: int, out_channels: int, stride: int | tuple[int, int] = 1
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class LineCNNFeatures(nn.Module):
    """The LineCNN body: line image (B, 1, H, W) -> window features (B, S, fc_dim).

    Shared by ``LineCNN`` (adds a classifier, for CTC) and ``LineCNNTransformer`` (adds a
    Transformer decoder).
    """

    def __init__(self, data_config: dict[str, Any], args: argparse.Namespace | dict | None = None):
        super().__init__()
        args = vars(args) if isinstance(args, argparse.Namespace) else dict(args or {})
        channels, height, width = data_config["input_dims"]
        conv_dim = args.get("conv_dim", CONV_DIM)
        fc_dim = args.get("fc_dim", FC_DIM)
        window_width = args.get("window_width", WINDOW_WIDTH)
        window_stride = args.get("window_stride", WINDOW_STRIDE)
        width_downsample = args.get("width_downsample", WIDTH_DOWNSAMPLE)
        if width_downsample not in (4, 8):
            raise ValueError(f"width_downsample must be 4 or 8, got {width_downsample}")
        for name, value in [("window_width", window_width), ("window_stride", window_stride)]:
            if value <= 0 or value % width_downsample:
                raise ValueError(
                    f"{name} must be a positive multiple of {width_downsample}, got {value}"
                )
        if window_width > width:
            raise ValueError(f"window_width {window_width} is wider than the image ({width})")
        self.fc_dim = fc_dim
        self.num_windows = num_windows(width, window_width, window_stride, width_downsample)
        feature_height = _halve(_halve(_halve(height)))
        last_stride = (2, 2) if width_downsample == 8 else (2, 1)  # (height, width)

        self.convs = nn.Sequential(
            ConvBlock(channels, conv_dim),  # (B, c, H, W)
            ConvBlock(conv_dim, conv_dim),
            ConvBlock(conv_dim, conv_dim, stride=2),  # (B, c, H/2, W/2)
            ConvBlock(conv_dim, conv_dim),
            ConvBlock(conv_dim, conv_dim * 2, stride=2),  # (B, 2c, H/4, W/4)
            ConvBlock(conv_dim * 2, conv_dim * 2),
            ConvBlock(conv_dim * 2, conv_dim * 4, stride=last_stride),  # (B, 4c, H/8, W/d)
            ConvBlock(conv_dim * 4, conv_dim * 4),
        )
        # The "window": a convolution as tall as the whole feature map and window_width/d
        # wide, stepping window_stride/d feature columns at a time (d: width_downsample).
        self.window = nn.Conv2d(
            conv_dim * 4,
            fc_dim,
            kernel_size=(feature_height, window_width // width_downsample),
            stride=(feature_height, window_stride // width_downsample),
        )  # (B, fc_dim, 1, S)
        self.fc = nn.Linear(fc_dim, fc_dim)
        self.dropout = nn.Dropout(args.get("fc_dropout", FC_DROPOUT))
        # Channels-last memory layout for the conv weights and (in forward) the images: same
        # shapes, pixels stored channel-innermost, the layout oneDNN (CPU) and cuDNN (with
        # mixed precision) convolutions prefer. Training runs 20-30% faster on a CPU.
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)  # (B, 1, H, W), see __init__
        x = self.convs(x)  # (B, 4c, H/8, W/d)
        x = torch.relu(self.window(x))  # (B, fc_dim, 1, S)
        x = x.squeeze(2).permute(0, 2, 1)  # (B, S, fc_dim)
        x = self.dropout(torch.relu(self.fc(x)))  # (B, S, fc_dim)
        return x

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument(
            "--conv_dim",
            type=int,
            default=CONV_DIM,
            help="channels of the first conv layers (doubled twice)",
        )
        parser.add_argument("--fc_dim", type=int, default=FC_DIM, help="window feature size")
        parser.add_argument("--fc_dropout", type=float, default=FC_DROPOUT, help="dropout rate")
        parser.add_argument(
            "--window_width",
            type=int,
            default=WINDOW_WIDTH,
            help="pixels per window (a multiple of --width_downsample)",
        )
        parser.add_argument(
            "--window_stride",
            type=int,
            default=WINDOW_STRIDE,
            help="pixels between windows (a multiple of --width_downsample)",
        )
        parser.add_argument(
            "--width_downsample",
            type=int,
            default=WIDTH_DOWNSAMPLE,
            choices=(4, 8),
            help="how much the conv stack shrinks the width: 4 keeps twice as many columns "
            "for small, tightly spaced characters",
        )
        return parser


class LineCNN(nn.Module):
    """Line image (B, 1, H, W) -> per-window character logits (B, C, S), for CTC.

    >>> config = {"input_dims": (1, 16, 64), "output_dims": (10,), "mapping": list("abcde")}
    >>> model = LineCNN(config, {"conv_dim": 4, "fc_dim": 16})
    >>> model(torch.zeros(2, 1, 16, 64)).shape  # (B, C, S): S = num_windows(64) = 7
    torch.Size([2, 5, 7])
    """

    lit_model_class = "CTCLitModel"

    def __init__(self, data_config: dict[str, Any], args: argparse.Namespace | dict | None = None):
        super().__init__()
        self.data_config = data_config
        self.features = LineCNNFeatures(data_config, args)
        self.num_windows = self.features.num_windows
        self.classifier = nn.Linear(self.features.fc_dim, len(data_config["mapping"]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, S, fc_dim)
        x = self.classifier(x)  # (B, S, C)
        return x.permute(0, 2, 1)  # (B, C, S), the layout cross_entropy and CTC code expect

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        return LineCNNFeatures.add_to_argparse(parser)
