"""BaseLitModel on sequence outputs (line models) and its schedule/monitor defaults."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

from text_recognizer.lit_models.base import BaseLitModel
from text_recognizer.metadata.emnist import INVERSE_MAPPING, MAPPING

PAD, A, B = INVERSE_MAPPING["<P>"], INVERSE_MAPPING["a"], INVERSE_MAPPING["b"]


class Fixed(nn.Module):
    """Returns preset logits, whatever the input."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits
        self.data_config = {"mapping": MAPPING}
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits + 0 * self.weight


def one_hot_logits(predictions: list[list[int]]) -> torch.Tensor:
    return nn.functional.one_hot(torch.tensor(predictions), len(MAPPING)).float().permute(0, 2, 1)


def test_sequence_accuracy_is_per_character_and_ignores_padding():
    # Targets "ab" + 2 padding and "a" + 3 padding; the model gets 2 of the 3 characters right
    # and predicts "a" where there is padding (which must not count either way).
    targets = torch.tensor([[A, B, PAD, PAD], [A, PAD, PAD, PAD]])
    logits = one_hot_logits([[A, A, A, A], [A, A, A, A]])  # (B, C, S)
    lit = BaseLitModel(Fixed(logits))
    lit.log = lambda *args, **kwargs: None  # not attached to a Trainer
    loss = lit.validation_step((torch.zeros(2, 1), targets), 0)
    assert loss is None
    assert lit.val_acc.compute() == torch.tensor(2 / 3)


def test_sequence_loss_is_cross_entropy_over_every_position():
    targets = torch.tensor([[A, B, PAD]])
    logits = torch.randn(1, len(MAPPING), 3)
    lit = BaseLitModel(Fixed(logits))
    lit.log = lambda *args, **kwargs: None
    expected = nn.functional.cross_entropy(logits, targets)
    torch.testing.assert_close(lit.training_step((torch.zeros(1, 1), targets), 0), expected)


def test_one_cycle_spans_the_whole_run_by_default():
    lit = BaseLitModel(Fixed(torch.zeros(1, len(MAPPING))), {"one_cycle_max_lr": 0.1})
    lit._trainer = SimpleNamespace(estimated_stepping_batches=42)
    scheduler = lit.configure_optimizers()["lr_scheduler"]["scheduler"]
    assert scheduler.total_steps == 42
    explicit = BaseLitModel(
        Fixed(torch.zeros(1, 1)), {"one_cycle_max_lr": 0.1, "one_cycle_total_steps": 7}
    )
    assert explicit.configure_optimizers()["lr_scheduler"]["scheduler"].total_steps == 7


def test_best_checkpoint_metric_is_declared():
    assert (BaseLitModel.monitor, BaseLitModel.monitor_mode) == ("val/loss", "min")
