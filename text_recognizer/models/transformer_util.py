"""Transformer building blocks shared by the line and paragraph readers.

A Transformer has no built-in notion of order: attention treats its inputs as a set. So we
add *positional encodings* (sinusoids, as in "Attention Is All You Need") to token
embeddings (1D) and to image feature maps (2D), and give the decoder a *causal mask* so
that, while training with teacher forcing, position t cannot peek at tokens after t.

``TransformerTextDecoder`` bundles the text side that every encoder-decoder model here
shares: embed tokens, add positions, attend to the image features ("memory"), classify.
"""

from __future__ import annotations

import argparse
import math

import torch
from torch import nn


def sinusoidal_encoding(d_model: int, max_len: int) -> torch.Tensor:
    """The fixed sin/cos table of shape (max_len, d_model): even channels sin, odd cos.

    Channel pair i oscillates with wavelength 2pi * 10000^(2i/d_model), so nearby positions
    get similar vectors and every position a unique one.

    >>> pe = sinusoidal_encoding(d_model=4, max_len=3)
    >>> pe.shape
    torch.Size([3, 4])
    >>> pe[0].tolist()  # position 0: sin(0) = 0, cos(0) = 1
    [0.0, 1.0, 0.0, 1.0]
    """
    if d_model % 2:
        raise ValueError(f"d_model must be even for sin/cos pairs, got {d_model}")
    position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)  # (max_len, 1)
    inv_freq = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(position * inv_freq)  # (max_len, d_model / 2)
    pe[:, 1::2] = torch.cos(position * inv_freq)
    return pe


def generate_square_subsequent_mask(size: int) -> torch.Tensor:
    """Causal attention mask (size, size): 0 where query i may attend to key j (j <= i),
    -inf above the diagonal. Added to attention scores, -inf becomes weight 0 after softmax.

    >>> generate_square_subsequent_mask(3)
    tensor([[0., -inf, -inf],
            [0., 0., -inf],
            [0., 0., 0.]])
    """
    return torch.triu(torch.full((size, size), float("-inf")), diagonal=1)


class PositionalEncoding(nn.Module):
    """Add 1D sinusoidal positions to a batch of token embeddings (B, S, E), then dropout."""

    def __init__(self, d_model: int, max_len: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        # A buffer: moves with .to(device), is not trained; not persistent, so checkpoints
        # stay small and a change of max_len does not break loading.
        self.register_buffer("pe", sinusoidal_encoding(d_model, max_len), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.pe[: x.shape[1]]  # (B, S, E) + (S, E)
        return self.dropout(x)


class PositionalEncodingImage(nn.Module):
    """Add 2D sinusoidal positions to a feature map (B, E, H, W).

    The first E/2 channels encode the row, the last E/2 the column, so every pixel of the
    map gets a unique code and the decoder can tell "left of" from "below".

    >>> pe = PositionalEncodingImage(d_model=8, max_h=2, max_w=3)
    >>> pe(torch.zeros(1, 8, 2, 3)).shape
    torch.Size([1, 8, 2, 3])
    """

    def __init__(self, d_model: int, max_h: int, max_w: int) -> None:
        super().__init__()
        if d_model % 4:
            raise ValueError(f"d_model must be a multiple of 4 for 2D encodings, got {d_model}")
        half = d_model // 2
        pe_h = sinusoidal_encoding(half, max_h).T[:, :, None].expand(half, max_h, max_w)
        pe_w = sinusoidal_encoding(half, max_w).T[:, None, :].expand(half, max_h, max_w)
        pe = torch.cat([pe_h, pe_w], dim=0)  # (E, max_h, max_w)
        self.register_buffer("pe", pe.contiguous(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pe[:, : x.shape[2], : x.shape[3]]  # (B, E, H, W) + (E, H, W)


class TransformerTextDecoder(nn.Module):
    """Token embedding + positions + ``nn.TransformerDecoder`` + a linear classifier.

    ``memory`` is the encoded image, a sequence of feature vectors (B, Sx, E); the decoder
    cross-attends to it while reading the tokens so far. Two ways to use it:

    - ``forward(memory, y)``: teacher forcing; logits for every position of ``y`` at once.
    - ``greedy_decode(memory, max_length)``: inference; feed back the argmax token one step
      at a time. It re-runs the decoder on the whole prefix each step (no key/value cache):
      quadratic in length, but simple, and the image encoder still runs only once.

    >>> dec = TransformerTextDecoder(num_classes=6, max_output_length=5, d_model=8, nhead=2,
    ...     dim_feedforward=16, num_layers=1, dropout=0.0, start_token=1, end_token=2,
    ...     padding_token=3)
    >>> memory = torch.zeros(2, 7, 8)  # (B, Sx, E)
    >>> dec(memory, torch.ones(2, 4, dtype=torch.long)).shape  # (B, Sy, C)
    torch.Size([2, 4, 6])
    >>> dec.greedy_decode(memory, 5).shape  # (B, max_length), starts with <S>
    torch.Size([2, 5])
    """

    def __init__(
        self,
        num_classes: int,
        max_output_length: int,
        d_model: int,
        nhead: int,
        dim_feedforward: int,
        num_layers: int,
        dropout: float,
        start_token: int,
        end_token: int,
        padding_token: int,
    ) -> None:
        super().__init__()
        self.start_token = start_token
        self.end_token = end_token
        self.padding_token = padding_token
        self.max_output_length = max_output_length
        self.embedding_scale = math.sqrt(d_model)

        self.embedding = nn.Embedding(num_classes, d_model)
        self.pos_encoder = PositionalEncoding(d_model, max_len=max_output_length, dropout=dropout)
        # Pre-norm layers (LayerNorm before attention/MLP, as in GPT-2 and nanoGPT) train
        # stably at higher learning rates than the original post-norm ones.
        layer = nn.TransformerDecoderLayer(
            d_model, nhead, dim_feedforward, dropout, batch_first=True, norm_first=True
        )
        self.transformer = nn.TransformerDecoder(layer, num_layers, norm=nn.LayerNorm(d_model))
        self.fc = nn.Linear(d_model, num_classes)
        mask = generate_square_subsequent_mask(max_output_length)
        self.register_buffer("causal_mask", mask, persistent=False)
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.uniform_(self.fc.weight, -0.1, 0.1)
        nn.init.zeros_(self.fc.bias)

    def hidden_states(self, memory: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(B, Sx, E) memory, (B, Sy) token ids -> (B, Sy, E) decoder outputs."""
        sy = y.shape[1]
        if sy > self.max_output_length:
            raise ValueError(f"got {sy} tokens, the decoder handles {self.max_output_length}")
        y = self.embedding(y) * self.embedding_scale  # (B, Sy, E)
        y = self.pos_encoder(y)  # (B, Sy, E)
        mask = self.causal_mask[:sy, :sy]  # (Sy, Sy)
        return self.transformer(y, memory, tgt_mask=mask)  # (B, Sy, E)

    def forward(self, memory: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: (B, Sx, E), (B, Sy) -> logits (B, Sy, C), where position t
        predicts token t + 1 having seen tokens 0..t only."""
        return self.fc(self.hidden_states(memory, y))  # (B, Sy, C)

    def greedy_decode(self, memory: torch.Tensor, max_length: int) -> torch.Tensor:
        """(B, Sx, E) -> token ids (B, max_length): <S>, the argmax tokens, <E>, then <P>.

        Stops early once every sequence has emitted <E>; everything after a sequence's <E>
        is <P>, so outputs compare equal to labels made by ``convert_strings_to_labels``.
        """
        batch_size = memory.shape[0]
        tokens = torch.full(
            (batch_size, max_length), self.padding_token, dtype=torch.long, device=memory.device
        )  # (B, S)
        tokens[:, 0] = self.start_token
        finished = torch.zeros(batch_size, dtype=torch.bool, device=memory.device)  # (B,)
        for t in range(1, max_length):
            hidden = self.hidden_states(memory, tokens[:, :t])  # (B, t, E)
            next_token = self.fc(hidden[:, -1]).argmax(dim=-1)  # (B,): only the last position
            next_token = next_token.masked_fill(finished, self.padding_token)
            tokens[:, t] = next_token
            finished = finished | (next_token == self.end_token)
            if bool(finished.all()):
                break
        return tokens


def add_transformer_args(
    parser: argparse.ArgumentParser, dim: int, fc_dim: int, nhead: int, layers: int, dropout: float
) -> None:
    """Add the decoder flags every Transformer model shares, with that model's defaults."""
    parser.add_argument("--tf_dim", type=int, default=dim, help="Transformer width (d_model)")
    parser.add_argument(
        "--tf_fc_dim", type=int, default=fc_dim, help="Transformer feed-forward hidden size"
    )
    parser.add_argument("--tf_nhead", type=int, default=nhead, help="attention heads")
    parser.add_argument("--tf_layers", type=int, default=layers, help="decoder layers")
    parser.add_argument("--tf_dropout", type=float, default=dropout, help="Transformer dropout")
