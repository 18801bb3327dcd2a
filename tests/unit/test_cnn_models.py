"""Shapes and behaviour of the character CNN and the sliding-window LineCNNSimple."""

from __future__ import annotations

import argparse

import pytest
import torch

from text_recognizer.metadata.emnist import MAPPING
from text_recognizer.models.cnn import CNN, ConvBlock
from text_recognizer.models.line_cnn_simple import LineCNNSimple

CHAR_CONFIG = {"input_dims": (1, 28, 28), "output_dims": (1,), "mapping": MAPPING}
SMALL = {"conv_dim": 4, "fc_dim": 16}


def line_config(length: int) -> dict:
    return {"input_dims": (1, 28, 28 * length), "output_dims": (length,), "mapping": MAPPING}


def test_conv_block_keeps_spatial_size():
    assert ConvBlock(3, 5)(torch.randn(2, 3, 13, 17)).shape == (2, 5, 13, 17)


@pytest.mark.parametrize("dims", [(1, 28, 28), (1, 8, 8)])
def test_cnn_outputs_one_logit_per_class(dims):
    config = {**CHAR_CONFIG, "input_dims": dims}
    model = CNN(config, SMALL)
    assert model(torch.randn(3, *dims)).shape == (3, len(MAPPING))
    assert model.data_config is config


def test_cnn_reads_hyperparameters_from_args_and_namespace():
    from_dict = CNN(CHAR_CONFIG, {"conv_dim": 6, "fc_dim": 10, "fc_dropout": 0.1})
    from_namespace = CNN(CHAR_CONFIG, argparse.Namespace(conv_dim=6, fc_dim=10, fc_dropout=0.1))
    for model in (from_dict, from_namespace):
        assert model.conv1.conv.out_channels == 6 and model.fc1.out_features == 10
        assert model.dropout.p == 0.1
    parser = CNN.add_to_argparse(argparse.ArgumentParser())
    defaults = vars(parser.parse_args([]))
    assert set(defaults) == {"conv_dim", "fc_dim", "fc_dropout"}
    assert CNN(CHAR_CONFIG, defaults).fc1.out_features == defaults["fc_dim"]


def test_cnn_rejects_images_of_the_wrong_size():
    with pytest.raises(ValueError, match="expects"):
        CNN(CHAR_CONFIG, SMALL)(torch.randn(1, 1, 32, 32))


@pytest.mark.parametrize(("stride", "windows"), [(28, 6), (14, 11), (20, 8)])
def test_line_cnn_simple_outputs_one_column_per_window(stride, windows):
    model = LineCNNSimple(line_config(6), {**SMALL, "window_stride": stride})
    assert model(torch.randn(2, 1, 28, 28 * 6)).shape == (2, len(MAPPING), windows)


def test_line_cnn_simple_equals_the_cnn_applied_window_by_window():
    torch.manual_seed(0)
    model = LineCNNSimple(line_config(4), {**SMALL, "window_stride": 20}).eval()
    x = torch.randn(2, 1, 28, 28 * 4)
    out = model(x)  # (B, C, S)
    for s in range(out.shape[-1]):
        window = x[:, :, :, 20 * s : 20 * s + 28]
        torch.testing.assert_close(out[:, :, s], model.cnn(window))


def test_line_cnn_simple_can_limit_its_output_to_the_label_length():
    model = LineCNNSimple(
        line_config(3), {**SMALL, "window_stride": 14, "limit_output_length": True}
    )
    assert model(torch.randn(1, 1, 28, 28 * 3)).shape == (1, len(MAPPING), 3)


def test_line_cnn_simple_trains_with_cross_entropy_over_the_sequence_dim():
    model = LineCNNSimple(line_config(3), SMALL)
    logits = model(torch.randn(2, 1, 28, 84))  # (B, C, S)
    loss = torch.nn.functional.cross_entropy(logits, torch.randint(0, len(MAPPING), (2, 3)))
    loss.backward()
    assert model.cnn.conv1.conv.weight.grad is not None and torch.isfinite(loss)


def test_line_cnn_simple_rejects_lines_narrower_than_a_window():
    with pytest.raises(ValueError, match="less than one window"):
        LineCNNSimple(line_config(1), SMALL)(torch.randn(1, 1, 28, 20))
