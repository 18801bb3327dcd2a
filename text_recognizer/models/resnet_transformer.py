"""ResnetTransformer: a ResNet reads the page, a Transformer decoder writes the text (Lab 03).

The encoder is torchvision's ResNet-18, built from scratch (``weights=None``: nothing is
downloaded) with a 1-channel first convolution for grayscale images. Its feature map
(B, 512, H/32, W/32) is projected to the Transformer width, tagged with 2D positions and
flattened into a sequence of H/32 * W/32 "memory" vectors. The decoder then writes the
characters one at a time, newlines included, attending to whichever part of the page it
needs: the same model reads lines and whole paragraphs.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch
import torchvision
from torch import nn

from text_recognizer.models.transformer_util import (
    PositionalEncodingImage,
    TransformerTextDecoder,
    add_transformer_args,
)

TF_DIM = 256
TF_FC_DIM = 1024
TF_NHEAD = 4
TF_LAYERS = 4
TF_DROPOUT = 0.4
RESNET_STAGES = 4  # keep all four residual stages of ResNet-18
RESNET_CHANNELS = (64, 128, 256, 512)  # output channels after stage 1, 2, 3, 4


def feature_map_size(size: int, stages: int) -> int:
    """Height or width of the ResNet-18 feature map after ``stages`` residual stages.

    The stem (stride-2 conv, stride-2 max pool) and each stage after the first halve the
    size, rounding up: the total stride is 2 ** (stages + 1), so 32 for the full network.

    >>> feature_map_size(576, stages=4), feature_map_size(640, stages=4)
    (18, 20)
    >>> feature_map_size(28, stages=2)  # stride 8
    4
    """
    for _ in range(stages + 1):
        size = (size + 1) // 2
    return size


class ResnetTransformer(nn.Module):
    """Image (B, 1, H, W) -> token ids (B, max_output_length), greedily decoded.

    >>> from text_recognizer.metadata.emnist import MAPPING
    >>> config = {"input_dims": (1, 32, 64), "output_dims": (6,), "mapping": MAPPING}
    >>> model = ResnetTransformer(config, {"resnet_stages": 1, "tf_dim": 16,
    ...     "tf_fc_dim": 32, "tf_nhead": 2, "tf_layers": 1}).eval()
    >>> model(torch.zeros(2, 1, 32, 64)).shape  # (B, max_output_length)
    torch.Size([2, 6])
    >>> model.teacher_forward(torch.zeros(2, 1, 32, 64), torch.ones(2, 5).long()).shape
    torch.Size([2, 83, 5])
    """

    lit_model_class = "TransformerLitModel"

    def __init__(self, data_config: dict[str, Any], args: argparse.Namespace | dict | None = None):
        super().__init__()
        args = vars(args) if isinstance(args, argparse.Namespace) else dict(args or {})
        self.data_config = data_config
        mapping = list(data_config["mapping"])
        channels, height, width = data_config["input_dims"]
        self.max_output_length = int(data_config["output_dims"][0])
        tf_dim = args.get("tf_dim", TF_DIM)
        stages = args.get("resnet_stages", RESNET_STAGES)
        if not 1 <= stages <= 4:
            raise ValueError(f"resnet_stages must be 1 to 4, got {stages}")

        # Encoder. weights=None: random initialization, never a download.
        resnet = torchvision.models.resnet18(weights=None)
        # ResNet expects RGB; our images are grayscale (channels = 1), so swap the first conv.
        conv1 = nn.Conv2d(channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        residual_stages = [resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4][:stages]
        self.resnet = nn.Sequential(
            conv1, resnet.bn1, resnet.relu, resnet.maxpool, *residual_stages
        )  # drops ResNet's average pool and classifier: we want the spatial map
        self.encoder_projection = nn.Conv2d(RESNET_CHANNELS[stages - 1], tf_dim, kernel_size=1)
        self.enc_pos_encoder = PositionalEncodingImage(
            tf_dim, max_h=feature_map_size(height, stages), max_w=feature_map_size(width, stages)
        )
        nn.init.kaiming_normal_(self.encoder_projection.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(self.encoder_projection.bias)

        self.decoder = TransformerTextDecoder(
            num_classes=len(mapping),
            max_output_length=self.max_output_length,
            d_model=tf_dim,
            nhead=args.get("tf_nhead", TF_NHEAD),
            dim_feedforward=args.get("tf_fc_dim", TF_FC_DIM),
            num_layers=args.get("tf_layers", TF_LAYERS),
            dropout=args.get("tf_dropout", TF_DROPOUT),
            start_token=mapping.index("<S>"),
            end_token=mapping.index("<E>"),
            padding_token=mapping.index("<P>"),
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) image -> (B, Sx, E) memory, Sx = H' * W' feature-map positions."""
        x = self.resnet(x)  # (B, R, H', W'), H' = H / stride
        x = self.encoder_projection(x)  # (B, E, H', W')
        x = self.enc_pos_encoder(x)  # (B, E, H', W')
        x = torch.flatten(x, start_dim=2)  # (B, E, H' * W'), row by row
        return x.permute(0, 2, 1)  # (B, Sx, E)

    def teacher_forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Training: images (B, 1, H, W) and target tokens (B, Sy) -> logits (B, C, Sy)."""
        logits = self.decoder(self.encode(x), y)  # (B, Sy, C)
        return logits.permute(0, 2, 1)  # (B, C, Sy) for cross_entropy

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Inference: (B, 1, H, W) -> (B, max_output_length) token ids, <S> ... <E> <P>..."""
        memory = self.encode(x)  # (B, Sx, E), computed once per image
        return self.decoder.greedy_decode(memory, self.max_output_length)

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument(
            "--resnet_stages",
            type=int,
            default=RESNET_STAGES,
            help="ResNet-18 residual stages kept (1-4); fewer is faster, "
            "with a finer feature map (stride 2 ** (stages + 1))",
        )
        add_transformer_args(parser, TF_DIM, TF_FC_DIM, TF_NHEAD, TF_LAYERS, TF_DROPOUT)
        return parser
