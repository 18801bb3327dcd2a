"""Optuna pruning for Lightning: stop a sweep trial early when it is clearly losing.

``text-recognizer sweep`` adds this callback to each trial's Trainer. After every validation
it reports the monitored metric to the Optuna trial; the study's pruner (MedianPruner)
compares it with earlier trials at the same epoch and may say "stop". optuna-integration
ships a similar callback; this one is a few lines and has no extra dependency.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl


class PruningCallback(pl.Callback):
    """Report ``monitor`` to the Optuna trial after each validation; stop a hopeless trial.

    The step is the epoch, so trials with different batch sizes compare at the same point.
    When the pruner says stop, training ends cleanly after the current epoch (loggers and
    checkpoints finish normally); call :meth:`raise_if_pruned` after ``fit`` to mark the
    trial PRUNED. (optuna-integration has a similar callback; this one is a few lines.)
    """

    def __init__(self, trial: Any, monitor: str) -> None:
        self.trial = trial
        self.monitor = monitor
        self.pruned_at: int | None = None
        self._reported: set[int] = set()

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        epoch = trainer.current_epoch
        if value is None or epoch in self._reported:  # e.g. several validations per epoch
            return
        self._reported.add(epoch)
        self.trial.report(float(value), step=epoch)
        if self.trial.should_prune():
            self.pruned_at = epoch
            trainer.should_stop = True

    def raise_if_pruned(self) -> None:
        """Raise ``optuna.TrialPruned`` if the pruner stopped this trial."""
        import optuna

        if self.pruned_at is not None:
            raise optuna.TrialPruned(f"{self.monitor} pruned at epoch {self.pruned_at}")
