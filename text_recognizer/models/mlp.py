"""A multi-layer perceptron: the first model of the course (Lab 01)."""

from __future__ import annotations

import argparse
import math
from typing import Any

import torch
from torch import nn

FC1_DIM = 512
FC2_DIM = 128
FC_DROPOUT = 0.5


class MLP(nn.Module):
    """Flatten the image, then Linear -> ReLU -> Dropout twice, then Linear to class logits.

    >>> model = MLP({"input_dims": (1, 8, 8), "mapping": list(range(10))})
    >>> model(torch.zeros(4, 1, 8, 8)).shape
    torch.Size([4, 10])
    """

    def __init__(self, data_config: dict[str, Any], args: argparse.Namespace | dict | None = None):
        super().__init__()
        args = vars(args) if isinstance(args, argparse.Namespace) else dict(args or {})
        self.data_config = data_config
        input_dim = math.prod(data_config["input_dims"])
        num_classes = len(data_config["mapping"])
        fc1_dim = args.get("fc1", FC1_DIM)
        fc2_dim = args.get("fc2", FC2_DIM)
        dropout = args.get("fc_dropout", FC_DROPOUT)

        self.fc1 = nn.Linear(input_dim, fc1_dim)
        self.fc2 = nn.Linear(fc1_dim, fc2_dim)
        self.fc3 = nn.Linear(fc2_dim, num_classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(x, 1)  # (B, C, H, W) -> (B, C*H*W)
        x = self.dropout(torch.relu(self.fc1(x)))  # (B, fc1)
        x = self.dropout(torch.relu(self.fc2(x)))  # (B, fc2)
        return self.fc3(x)  # (B, num_classes) logits

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--fc1", type=int, default=FC1_DIM, help="first hidden layer width")
        parser.add_argument("--fc2", type=int, default=FC2_DIM, help="second hidden layer width")
        parser.add_argument("--fc_dropout", type=float, default=FC_DROPOUT, help="dropout rate")
        return parser
