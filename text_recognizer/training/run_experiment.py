"""Train any model on any dataset from the command line: ``text-recognizer train ...``.

    text-recognizer train --data_class SyntheticCharacters --model_class CNN --max_epochs 3
    text-recognizer train --data_class EMNISTLines --model_class LineCNNSimple --help

The class registries and the two-phase flag parser live in ``experiment_args.py``; this
module builds the data, model, loggers, callbacks and Trainer from the parsed flags and runs
them (:func:`run`), then prints where everything went (:func:`summary`, :func:`main`).

Every run logs to ``--logs_dir`` with a CSV logger AND a TensorBoard logger (same run
directory) and keeps the best checkpoint by the lit model's ``monitor`` metric. Text models
(lit models that keep ``last_val_examples``) also save a table of validation predictions
every ``--predictions_every_n_epochs`` epochs; ``--wandb`` adds Weights & Biases (offline
without an account), with that table, the config, git state, system info, gradients and
checkpoints as artifacts.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

from text_recognizer.models import MODEL_CLASSES
from text_recognizer.training.experiment_args import (
    DATA_CLASSES,
    LIT_MODEL_CLASSES,
    RegistryError,
    args_with_defaults,
    build_parser,  # also this module's API: build_parser(argv).parse_args(argv) -> run()
    import_class,
    lit_model_name,
    trainer_kwargs,
)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def run(args: argparse.Namespace | dict, callbacks: list | None = None) -> dict[str, Any]:
    """Train (and with ``test`` evaluate) one model; returns what a notebook needs next.

    Keys: ``log_dir``, ``best_model_path`` (None without validation), ``best_model_score``,
    ``monitor``, ``metrics`` (last logged values), ``test_metrics`` (with ``test``),
    ``wall_time_s``, ``wandb_sync`` (how to upload an offline W&B run, or ""), and the live
    ``trainer``, ``lit_model`` (holding the BEST checkpoint's weights when there is one;
    ``weights`` says which) and ``data`` objects. ``args`` may be a partial dict: missing
    options take their CLI defaults. ``callbacks`` are added to the Trainer's (e.g. a sweep's
    pruning callback).
    """
    import pytorch_lightning as pl
    import torch
    from pytorch_lightning.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint
    from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

    args = args_with_defaults(args)  # a partial dict: CLI defaults for the rest
    start = time.perf_counter()
    pl.seed_everything(args.seed, workers=True)

    data_class = import_class(args.data_class, DATA_CLASSES, "data class")
    model_class = import_class(args.model_class, MODEL_CLASSES, "model")
    lit_model_class = import_class(
        lit_model_name(args, model_class), LIT_MODEL_CLASSES, "lit model"
    )
    data = data_class(args)
    model = model_class(data_config=data.config(), args=args)
    if args.load_checkpoint:
        lit_model = lit_model_class.load_from_checkpoint(
            args.load_checkpoint, model=model, args=args
        )
    else:
        lit_model = lit_model_class(model, args=args)

    monitor = args.monitor or getattr(lit_model_class, "monitor", "val/loss")
    mode = args.monitor_mode or getattr(lit_model_class, "monitor_mode", "min")
    name = args.experiment_name or f"{args.data_class}-{args.model_class}"
    name = re.sub(r"[^\w.-]+", "_", name)
    csv_logger = CSVLogger(save_dir=args.logs_dir, name=name)
    tensorboard_logger = TensorBoardLogger(
        save_dir=args.logs_dir,
        name=name,
        version=csv_logger.version,
        sub_dir="tensorboard",
        default_hp_metric=False,
    )
    log_dir = Path(csv_logger.log_dir)
    metric_label = monitor.replace("/", "_")
    checkpoint = ModelCheckpoint(
        dirpath=log_dir / "checkpoints",
        monitor=monitor,
        mode=mode,
        save_top_k=1,
        filename=f"epoch={{epoch:03d}}-{metric_label}={{{monitor}:.4f}}",
        auto_insert_metric_name=False,
    )
    all_callbacks: list[pl.Callback] = [checkpoint, LearningRateMonitor(logging_interval="step")]
    if args.stop_early:
        all_callbacks.append(EarlyStopping(monitor=monitor, mode=mode, patience=args.stop_early))
    if (
        args.predictions_every_n_epochs > 0
        and hasattr(lit_model, "last_val_examples")
        and not args.fast_dev_run
    ):
        from text_recognizer.callbacks.prediction_table import PredictionTableCallback

        all_callbacks.append(
            PredictionTableCallback(
                every_n_epochs=args.predictions_every_n_epochs,
                max_examples=getattr(lit_model, "num_logged_examples", 8) or 1,
            )
        )
    all_callbacks.extend(callbacks or [])
    loggers: list = [csv_logger, tensorboard_logger]
    if args.wandb:  # W&B online with credentials, else offline under logs_dir (syncable later)
        from text_recognizer.training.tracking import make_wandb_logger

        loggers.append(
            make_wandb_logger(
                args, args.logs_dir, model=model, name=name, watch_log_freq=args.log_every_n_steps
            )
        )
    profiler = None
    if args.profile:
        from text_recognizer.training.profiling import make_profiler

        profiler = make_profiler(log_dir / "profile")

    trainer = pl.Trainer(
        **trainer_kwargs(args),
        logger=loggers,
        callbacks=all_callbacks,
        profiler=profiler,
        default_root_dir=args.logs_dir,
        enable_progress_bar=args.progress_bar,
    )
    trainer.fit(lit_model, datamodule=data)
    metrics = {key: float(value) for key, value in trainer.callback_metrics.items()}

    best_model_path = checkpoint.best_model_path or None
    test_metrics = None
    if args.test:
        results = trainer.test(
            lit_model, datamodule=data, ckpt_path="best" if best_model_path else None
        )
        test_metrics = {key: float(value) for key, value in results[0].items()} if results else {}
    # Hand back the weights the checkpoint (and any lineage built on it) names, not the last
    # epoch's: after fit() the module holds the last weights, which may be worse.
    weights = "last epoch"
    if best_model_path:
        best = torch.load(best_model_path, map_location="cpu", weights_only=False)
        lit_model.load_state_dict(best["state_dict"])
        weights = f"best checkpoint (epoch {best.get('epoch')})"
    wandb_sync = ""
    if args.wandb:
        from text_recognizer.training.tracking import finish_wandb

        wandb_sync = finish_wandb(loggers[-1])

    return {
        "log_dir": str(log_dir),
        "best_model_path": best_model_path,
        "best_model_score": _float(checkpoint.best_model_score),
        "monitor": monitor,
        "metrics": metrics,
        "test_metrics": test_metrics,
        "wall_time_s": time.perf_counter() - start,
        "wandb_sync": wandb_sync,
        "profile_dir": str(log_dir / "profile") if args.profile else None,
        "trainer": trainer,
        "lit_model": lit_model,  # with the best checkpoint's weights when there is one
        "weights": weights,
        "data": data,
    }


def summary(result: dict[str, Any]) -> str:
    """Where the logs and checkpoint went, and the final metrics, in a few lines."""
    lines = []
    if not result["trainer"].fast_dev_run:
        log_dir = result["log_dir"]
        lines.append(
            f"Logs: {log_dir} (metrics.csv; TensorBoard: "
            f"tensorboard --logdir {Path(log_dir).parent})"
        )
    if result["best_model_path"]:
        lines.append(
            f"Best checkpoint ({result['monitor']}={result['best_model_score']:.4f}): "
            f"{result['best_model_path']}"
        )
    shown = {k: v for k, v in result["metrics"].items() if k.startswith(("val/", "train/"))}
    if shown:
        lines.append("Final: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(shown.items())))
    if result["test_metrics"]:
        lines.append(
            "Test: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(result["test_metrics"].items()))
        )
    if result.get("profile_dir"):
        lines.append(f"Profile: {result['profile_dir']} (trace.json, summary.txt)")
    if result.get("wandb_sync"):
        lines.append(result["wandb_sync"])
    lines.append(f"Wall time: {result['wall_time_s']:.1f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the process exit status (2 for bad flags, 1 for errors)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser(argv).parse_args(argv)
    except SystemExit as exit_:  # --help or a usage error: argparse has printed why
        return exit_.code if isinstance(exit_.code, int) else 0
    from text_recognizer.data.download import DownloadError

    try:
        result = run(args)
    except (DownloadError, RegistryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if result["trainer"].is_global_zero:
        print(summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
