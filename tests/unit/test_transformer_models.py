"""Lab 03 models: LineCNN (CTC), LineCNNTransformer, ResnetTransformer and their building
blocks. Tiny configurations only: every test runs in well under a second or two on a CPU."""

from __future__ import annotations

import argparse
import warnings

import pytest
import torch

from text_recognizer.data.util import convert_strings_to_labels
from text_recognizer.lit_models.ctc import CTCLitModel
from text_recognizer.lit_models.transformer import TransformerLitModel
from text_recognizer.lit_models.util import ctc_greedy_decode, ids_to_strings
from text_recognizer.metadata.emnist import INVERSE_MAPPING, MAPPING
from text_recognizer.models.line_cnn import LineCNN, num_windows
from text_recognizer.models.line_cnn_transformer import LineCNNTransformer
from text_recognizer.models.resnet_transformer import ResnetTransformer
from text_recognizer.models.transformer_util import (
    PositionalEncoding,
    PositionalEncodingImage,
    TransformerTextDecoder,
    generate_square_subsequent_mask,
    sinusoidal_encoding,
)

START, END, PAD = INVERSE_MAPPING["<S>"], INVERSE_MAPPING["<E>"], INVERSE_MAPPING["<P>"]
MAX_LENGTH = 7
CONFIG = {"input_dims": (1, 16, 64), "output_dims": (MAX_LENGTH, 1), "mapping": MAPPING}
TINY_TF = {"tf_dim": 16, "tf_fc_dim": 32, "tf_nhead": 2, "tf_layers": 1, "tf_dropout": 0.1}
TINY_ARGS = {
    LineCNNTransformer: {"conv_dim": 4, "fc_dim": 16, **TINY_TF},
    ResnetTransformer: {"resnet_stages": 1, **TINY_TF},
}
TRANSFORMERS = [LineCNNTransformer, ResnetTransformer]


def tiny(model_class, config=CONFIG):
    torch.manual_seed(0)
    return model_class(config, TINY_ARGS[model_class])


def script(module: torch.nn.Module) -> torch.jit.ScriptModule:
    """TorchScript a model, or a LightningModule the Lightning way (``to_torchscript``)."""
    with warnings.catch_warnings():  # recent torch and Lightning warn TorchScript is deprecated
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*found in ScriptModule constants")  # torch's
        if hasattr(module, "to_torchscript"):
            return module.to_torchscript()
        return torch.jit.script(module)


# ---------------------------------------------------------------- positions and masks


def test_sinusoidal_encoding_is_bounded_and_unique_per_position():
    pe = sinusoidal_encoding(d_model=16, max_len=50)
    assert pe.shape == (50, 16)
    assert pe.abs().max() <= 1.0
    assert torch.allclose(pe[:, 0], torch.sin(torch.arange(50.0)))  # fastest pair: wavelength 2pi
    assert len({tuple(row.tolist()) for row in pe}) == 50
    # Neighbours are more alike than distant positions: what lets attention use distance.
    assert torch.dist(pe[10], pe[11]) < torch.dist(pe[10], pe[40])
    with pytest.raises(ValueError, match="even"):
        sinusoidal_encoding(d_model=5, max_len=3)


def test_positional_encoding_adds_the_same_positions_to_every_item():
    pe = PositionalEncoding(d_model=8, max_len=10).eval()
    out = pe(torch.zeros(3, 6, 8))  # (B, S, E)
    assert torch.equal(out[0], out[2])
    assert torch.equal(out[0], sinusoidal_encoding(8, 10)[:6])


def test_image_positional_encoding_codes_rows_then_columns():
    pe = PositionalEncodingImage(d_model=8, max_h=5, max_w=7)
    out = pe(torch.zeros(2, 8, 4, 6))  # a map smaller than the maximum
    assert out.shape == (2, 8, 4, 6)
    rows, cols = out[0, :4], out[0, 4:]
    assert torch.equal(rows, rows[:, :, :1].expand_as(rows))  # row code constant along width
    assert torch.equal(cols, cols[:, :1, :].expand_as(cols))  # column code constant along height
    assert len({tuple(out[0, :, h, w].tolist()) for h in range(4) for w in range(6)}) == 24
    with pytest.raises(ValueError, match="multiple of 4"):
        PositionalEncodingImage(d_model=6, max_h=2, max_w=2)


def test_square_subsequent_mask_blocks_exactly_the_future():
    mask = generate_square_subsequent_mask(5)
    i, j = torch.meshgrid(torch.arange(5), torch.arange(5), indexing="ij")
    assert torch.equal(torch.isinf(mask), j > i)
    assert torch.all(mask[j <= i] == 0)


@pytest.mark.parametrize("model_class", TRANSFORMERS)
def test_teacher_forcing_is_causal(model_class):
    """Changing token k must not change the logits of positions before k."""
    model = tiny(model_class).eval()
    x = torch.rand(2, *CONFIG["input_dims"])
    y = torch.randint(4, len(MAPPING), (2, MAX_LENGTH - 1))
    y_changed = y.clone()
    y_changed[:, 3] = (y[:, 3] + 1 - 4) % (len(MAPPING) - 4) + 4
    with torch.no_grad():
        a, b = model.teacher_forward(x, y), model.teacher_forward(x, y_changed)
    assert torch.allclose(a[:, :, :3], b[:, :, :3], atol=1e-6)
    assert not torch.allclose(a[:, :, 3:], b[:, :, 3:])


# ---------------------------------------------------------------- shapes and decoding


@pytest.mark.parametrize("model_class", TRANSFORMERS)
def test_transformer_model_shapes(model_class):
    model = tiny(model_class)
    x = torch.rand(3, *CONFIG["input_dims"])
    y = torch.full((3, MAX_LENGTH - 1), START)
    assert model.teacher_forward(x, y).shape == (3, len(MAPPING), MAX_LENGTH - 1)  # (B, C, Sy)
    model.eval()
    with torch.no_grad():
        tokens = model(x)
    assert tokens.shape == (3, MAX_LENGTH) and tokens.dtype == torch.long
    assert torch.all(tokens[:, 0] == START)
    assert model_class.lit_model_class == "TransformerLitModel"


@pytest.mark.parametrize("model_class", TRANSFORMERS)
def test_image_is_encoded_once_per_forward(model_class):
    model = tiny(model_class).eval()
    encoder = model.line_cnn if model_class is LineCNNTransformer else model.resnet
    calls = []
    encoder.register_forward_hook(lambda *_: calls.append(1))
    with torch.no_grad():
        model(torch.rand(2, *CONFIG["input_dims"]))
    assert len(calls) == 1


def test_paragraph_mapping_with_newline_and_resnet_feature_sizes():
    config = {"input_dims": (1, 40, 72), "output_dims": (9,), "mapping": [*MAPPING, "\n"]}
    model = ResnetTransformer(config, {**TINY_TF, "resnet_stages": 2}).eval()
    assert model.encode(torch.rand(1, 1, 40, 72)).shape == (1, 5 * 9, 16)  # stride 8: (B, Sx, E)
    with torch.no_grad():
        assert model(torch.rand(2, 1, 40, 72)).shape == (2, 9)
    assert model.teacher_forward(torch.rand(2, 1, 40, 72), torch.ones(2, 8).long()).shape[1] == 84


class _PlannedLogits(torch.nn.Module):
    """Stands in for the decoder's classifier: at step t, row b says plan[b, t]."""

    def __init__(self, plan: torch.Tensor, num_classes: int) -> None:
        super().__init__()
        self.plan, self.num_classes, self.steps = plan, num_classes, 0

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:  # (B, E) -> (B, C)
        self.steps += 1
        return torch.nn.functional.one_hot(self.plan[:, self.steps], self.num_classes).float()


def test_greedy_decode_pads_after_end_and_stops_when_all_ended():
    a, b = INVERSE_MAPPING["a"], INVERSE_MAPPING["b"]
    decoder = TransformerTextDecoder(len(MAPPING), 8, 16, 2, 32, 1, 0.0, START, END, PAD).eval()
    # Row 0 ends at step 2 but the model keeps "talking" after; row 1 ends at step 4.
    plan = torch.tensor([[START, a, END, b, b, b, b, b], [START, a, a, a, END, b, b, b]])
    decoder.fc = _PlannedLogits(plan, len(MAPPING))
    with torch.no_grad():
        tokens = decoder.greedy_decode(torch.zeros(2, 3, 16), 8)
    assert tokens.tolist() == [
        [START, a, END, PAD, PAD, PAD, PAD, PAD],
        [START, a, a, a, END, PAD, PAD, PAD],
    ]
    assert decoder.fc.steps == 4  # stopped as soon as every row had emitted <E>


@pytest.mark.parametrize("model_class", TRANSFORMERS)
def test_greedy_decode_of_a_model_that_always_ends(model_class):
    model = tiny(model_class).eval()
    with torch.no_grad():
        model.decoder.fc.bias[END] = 100.0  # <E> always wins
        tokens = model(torch.rand(2, *CONFIG["input_dims"]))
    assert tokens.tolist() == [[START, END] + [PAD] * (MAX_LENGTH - 2)] * 2
    assert ids_to_strings(tokens, MAPPING) == ["", ""]


@pytest.mark.parametrize("model_class", TRANSFORMERS)
def test_torchscript_matches_eager(model_class):
    model = tiny(model_class).eval()
    scripted = script(model)
    x = torch.rand(4, *CONFIG["input_dims"])
    with torch.no_grad():
        assert torch.equal(scripted(x), model(x))


def test_torchscript_matches_eager_with_every_line_option():
    """Context encoder, 4x width downsampling and a (training-only) CTC head all script."""
    torch.manual_seed(0)
    args = {
        **TINY_ARGS[LineCNNTransformer],
        "tf_encoder_layers": 1,
        "width_downsample": 4,
        "window_width": 8,
        "window_stride": 4,
        "ctc_weight": 0.3,
    }
    model = LineCNNTransformer(CONFIG, args).eval()
    assert model.line_cnn.num_windows == num_windows(64, 8, 4, width_downsample=4) == 15
    x = torch.rand(4, *CONFIG["input_dims"])
    with torch.no_grad():
        assert torch.equal(script(model)(x), model(x))


def test_models_build_from_their_argparse_defaults_and_flags():
    for model_class in [*TRANSFORMERS, LineCNN]:
        parser = model_class.add_to_argparse(argparse.ArgumentParser())
        args = parser.parse_args([])
        assert args.tf_dim == 256 if model_class is not LineCNN else args.window_width == 16
    parser = ResnetTransformer.add_to_argparse(argparse.ArgumentParser())
    args = parser.parse_args(["--resnet_stages", "1", "--tf_dim", "8", "--tf_nhead", "2"])
    model = ResnetTransformer(CONFIG, args)
    assert model.decoder.embedding.embedding_dim == 8
    assert model.encoder_projection.in_channels == 64


def test_bad_flags_give_clear_errors():
    with pytest.raises(ValueError, match="multiple of 8"):
        LineCNN(CONFIG, {"window_width": 12})
    with pytest.raises(ValueError, match="multiple of 4"):
        LineCNN(CONFIG, {"width_downsample": 4, "window_width": 6})
    with pytest.raises(ValueError, match="4 or 8"):
        LineCNN(CONFIG, {"width_downsample": 2})
    with pytest.raises(ValueError, match="wider than the image"):
        LineCNN(CONFIG, {"window_width": 128})
    with pytest.raises(ValueError, match="resnet_stages"):
        ResnetTransformer(CONFIG, {"resnet_stages": 5})


# ---------------------------------------------------------------- LineCNN and CTC


def test_line_cnn_windows():
    model = LineCNN(CONFIG, {"conv_dim": 4, "fc_dim": 16, "window_width": 16, "window_stride": 8})
    logits = model(torch.rand(2, *CONFIG["input_dims"]))
    assert logits.shape == (2, len(MAPPING), num_windows(64, 16, 8)) == (2, 83, 7)
    assert LineCNN.lit_model_class == "CTCLitModel"


def test_width_downsample_4_gives_twice_the_windows_at_the_same_cost_in_pixels():
    args = {"conv_dim": 4, "fc_dim": 16}
    coarse = LineCNN(CONFIG, {**args, "window_width": 16, "window_stride": 8})
    fine = LineCNN(CONFIG, {**args, "width_downsample": 4, "window_width": 16, "window_stride": 4})
    x = torch.rand(2, *CONFIG["input_dims"])
    assert coarse(x).shape[-1] == 7
    assert fine(x).shape[-1] == num_windows(64, 16, 4, width_downsample=4) == 13


def test_ctc_greedy_decode_merges_repeats_and_drops_blanks():
    blank = INVERSE_MAPPING["<B>"]
    ell, oh = INVERSE_MAPPING["l"], INVERSE_MAPPING["o"]
    path = torch.tensor([[ell, ell, blank, ell, oh, oh, blank, blank]])  # "l" "l" "o"
    logits = torch.nn.functional.one_hot(path, len(MAPPING)).permute(0, 2, 1).float()
    ids = ctc_greedy_decode(logits, blank, PAD, max_length=5)
    assert ids_to_strings(ids, MAPPING) == ["llo"]
    assert ids.tolist() == [[ell, ell, oh, PAD, PAD]]
    assert ctc_greedy_decode(logits, blank, PAD, max_length=2).tolist() == [[ell, ell]]


def test_ctc_lit_model_loss_decoding_and_torchscript():
    model = LineCNN(CONFIG, {"conv_dim": 4, "fc_dim": 16})
    lit = CTCLitModel(model).eval()
    x = torch.rand(3, *CONFIG["input_dims"])
    y = convert_strings_to_labels(["ab", "c", ""], INVERSE_MAPPING, MAX_LENGTH)
    with torch.no_grad():
        loss, ids = lit._loss_and_ids(x, y)
        assert torch.isfinite(loss) and loss > 0
        assert ids.shape == (3, MAX_LENGTH)
        assert torch.equal(script(lit)(x), lit(x))  # the vectorized decode scripts faithfully


def test_hybrid_ctc_attention_loss_mixes_both_losses_and_trains_the_ctc_head():
    torch.manual_seed(0)
    args = {
        **TINY_ARGS[LineCNNTransformer],
        "tf_dropout": 0.0,
        "fc_dropout": 0.0,
        "ctc_weight": 0.25,
    }
    model = LineCNNTransformer(CONFIG, args)
    lit = TransformerLitModel(model, args)
    x = torch.rand(3, *CONFIG["input_dims"])
    y = convert_strings_to_labels(["ab", "c", "de"], INVERSE_MAPPING, MAX_LENGTH)

    loss = lit._loss(x, y)
    logits, ctc_logits = model.teacher_forward_with_ctc(x, y[:, :-1])
    assert ctc_logits.shape == (3, len(MAPPING), model.line_cnn.num_windows)  # (B, C, Sx)
    attention = lit.loss_fn(logits, y[:, 1:])
    ctc = lit.ctc_loss_from_logits(ctc_logits, y)
    assert torch.allclose(loss, 0.75 * attention + 0.25 * ctc)
    loss.backward()
    assert model.ctc_head.weight.grad.abs().sum() > 0

    # Without the flag there is no head (no unused parameters) and the loss is plain CE.
    plain = LineCNNTransformer(CONFIG, TINY_ARGS[LineCNNTransformer])
    assert plain.ctc_head is None
    with pytest.raises(ValueError, match="no CTC head"):  # built without the flag
        TransformerLitModel(plain, {"ctc_weight": 0.25})
    with pytest.raises(ValueError, match="no CTC head"):
        TransformerLitModel(ResnetTransformer(CONFIG, TINY_ARGS[ResnetTransformer]), args)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        TransformerLitModel(model, {"ctc_weight": 1.0})


# ---------------------------------------------------------------- ids -> strings


def test_ids_to_strings_inverts_convert_strings_to_labels():
    mapping = [*MAPPING, "\n"]
    texts = ["Hello, world!", "two\nlines", "", "x"]
    labels = convert_strings_to_labels(texts, {c: i for i, c in enumerate(mapping)}, 20)
    assert ids_to_strings(labels, mapping) == texts
    # Reading stops at <E> even if the model keeps going afterwards.
    labels[0, 3] = END
    assert ids_to_strings(labels[:1], mapping) == ["He"]
