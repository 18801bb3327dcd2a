"""Hyperparameter sweeps: a W&B sweep YAML, run locally with Optuna (``text-recognizer sweep``).

Online users hand a YAML in ``training/sweeps/`` to ``wandb sweep`` and start
``wandb agent``s. Offline, this module runs the same file with Optuna:

* ``sweep_space.py`` turns the YAML into suggestions, a sampler, a pruner and a direction;
* the study lives in SQLite (``sqlite:///<output_dir>/study.db``), so ``--workers N``
  independent processes share it the way W&B agents share a sweep, and machines can join by
  pointing ``--storage`` at one database (SQLite on a local disk for one machine; a server
  such as ``postgresql+psycopg://...`` for several, since SQLite over NFS is unsafe);
* ``early_terminate`` -> Optuna's MedianPruner: after ``min_iter`` epochs a trial whose
  metric is worse than the median of earlier trials at the same epoch stops
  (``callbacks.optuna_pruning.PruningCallback`` reports the metric after each validation);
* each trial calls ``train_fn(config, trial) -> float`` (default: ``run_experiment.run``);
* at the end: a results table (CSV and Markdown) and a parameter-importance plot
  (``sweep_results.py``).

One agent per GPU: with ``--workers N`` each worker is a process (``sweep_processes.py``);
with GPUs present, worker ``i`` sees only GPU ``i % n_gpus`` through
``CUDA_VISIBLE_DEVICES`` (``--gpus 0,1`` picks them; ``--gpus none`` hides all).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import math
import os
import socket
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from text_recognizer.training.sweep_processes import run_worker_processes
from text_recognizer.training.sweep_results import (
    best_command,
    results_table,
    to_markdown,
    write_results,
)
from text_recognizer.training.sweep_space import (
    load_sweep_config,
    make_pruner,
    make_sampler,
    metric_and_direction,
    suggest_config,
)

DEFAULT_TRAIN_FN = "text_recognizer.training.sweep:train_with_run_experiment"
DEFAULT_OUTPUT_ROOT = Path("logs") / "sweeps"
TrainFn = Callable[[dict[str, Any], Any], float]  # (config, optuna trial) -> metric value


# ---------------------------------------------------------------- train functions


def train_with_run_experiment(config: dict[str, Any], trial: Any) -> float:
    """The default ``train_fn``: one ``run_experiment.run`` per trial, with pruning.

    ``config`` holds ``text-recognizer train`` flags; returns the best value of the sweep
    metric (the best checkpoint's score when the metric is the checkpoint monitor).
    """
    from text_recognizer.callbacks.optuna_pruning import PruningCallback
    from text_recognizer.training import run_experiment

    metric = trial.study.user_attrs.get("metric", "val/loss")
    pruning = PruningCallback(trial, monitor=metric)
    config = {**config, "monitor": config.get("monitor", metric)}
    if "callbacks" in inspect.signature(run_experiment.run).parameters:
        result = run_experiment.run(config, callbacks=[pruning])
    else:  # pragma: no cover - a run_experiment without the callbacks hook
        warnings.warn(
            "run_experiment.run takes no callbacks: trials will not be pruned", stacklevel=2
        )
        result = run_experiment.run(config)
    trial.set_user_attr("log_dir", result.get("log_dir"))
    pruning.raise_if_pruned()
    value = (
        result.get("best_model_score")
        if result.get("monitor") == metric
        else result.get("metrics", {}).get(metric)
    )
    if value is None:
        raise RuntimeError(f"the run logged no {metric!r}; the sweep metric must be logged")
    return float(value)


def toy_objective(config: dict[str, Any], trial: Any) -> float:
    """A pretend training run (a noisy bowl, one "epoch" per step) for trying sweeps in
    seconds: ``--train-fn text_recognizer.training.sweep:toy_objective``.

    Reports a value per epoch, so pruning happens too. Any parameters work; numbers far from
    their range's middle score worse.
    """
    import random

    rng = random.Random(trial.number)
    base = sum(
        (math.log10(v) + 3) ** 2 if k == "lr" else 0.0
        for k, v in config.items()
        if isinstance(v, float) and v > 0
    )
    value = float("inf")
    for epoch in range(int(config.get("max_epochs", 5))):
        value = base + 1.0 / (epoch + 1) + 0.01 * rng.random()
        trial.report(value, step=epoch)
        if trial.should_prune():
            import optuna

            raise optuna.TrialPruned(f"pruned at epoch {epoch}")
    trial.set_user_attr("pid", os.getpid())
    return value


def resolve_train_fn(train_fn: TrainFn | str) -> TrainFn:
    """A callable, or ``"module:function"`` imported now."""
    if callable(train_fn):
        return train_fn
    module_name, _, attr = train_fn.partition(":")
    if not attr:
        raise ValueError(f"train_fn {train_fn!r}: expected module:function")
    function = importlib.import_module(module_name)
    for part in attr.split("."):
        function = getattr(function, part)
    return function


def _train_fn_path(train_fn: TrainFn | str) -> str:
    """What a worker process imports: ``module:qualname`` of a module-level function."""
    if isinstance(train_fn, str):
        return train_fn
    module, name = train_fn.__module__, train_fn.__qualname__
    if module == "__main__" or "<" in name:
        raise ValueError(
            "with --workers > 1 the train function must be importable: define it "
            "at module level in a file and pass 'module:function'"
        )
    return f"{module}:{name}"


# ---------------------------------------------------------------- the study


def storage_url(output_dir: str | os.PathLike) -> str:
    """The default storage: an SQLite file in the sweep's output directory."""
    return f"sqlite:///{Path(output_dir).resolve() / 'study.db'}"


def open_study(spec: dict[str, Any], worker_index: int = 0, create: bool = False) -> Any:
    """Create (or join) the study described by ``spec``, with this worker's sampler."""
    import optuna

    sweep = spec["sweep"]
    metric, direction = metric_and_direction(sweep)
    kwargs = {}
    if spec["storage"].startswith("sqlite"):  # wait for the file lock instead of failing
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 120}}
    # A heartbeat marks the trials of a killed worker FAILED instead of RUNNING forever.
    with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna's terms
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(
            spec["storage"], heartbeat_interval=30, grace_period=120, **kwargs
        )
    study = optuna.create_study(
        study_name=spec["study_name"],
        storage=storage,
        direction=direction,
        sampler=make_sampler(sweep, seed=spec["seed"] + worker_index, parallel=spec["workers"] > 1),
        pruner=make_pruner(sweep, enabled=spec["prune"]),
        load_if_exists=True,  # several machines may start the same sweep
    )
    if create:
        study.set_user_attr("metric", metric)  # what train functions should return
    return study


def run_worker(
    spec: dict[str, Any], worker_index: int, n_trials: int, train_fn: TrainFn | None = None
) -> None:
    """One agent: run ``n_trials`` trials of the shared study, one after another."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.INFO)  # one line per finished trial
    study = open_study(spec, worker_index)
    train = train_fn or resolve_train_fn(spec["train_fn"])
    sweep, overrides, output_dir = spec["sweep"], spec["overrides"], Path(spec["output_dir"])

    def objective(trial: Any) -> float:
        config = {**suggest_config(sweep["parameters"], trial), **overrides}
        config.setdefault("logs_dir", str(output_dir / "trials"))
        config.setdefault("experiment_name", f"trial_{trial.number:04d}")
        config.setdefault("progress_bar", False)
        trial.set_user_attr("worker", f"{socket.gethostname()}:{worker_index}")
        return train(config, trial)

    # Like a W&B agent, a worker goes on after a failed run; the trial is recorded as FAIL
    # with its traceback in the worker's log.
    study.optimize(objective, n_trials=n_trials, gc_after_trial=True, catch=(Exception,))


def sweep_paths(
    config: str | os.PathLike | dict,
    study_name: str | None = None,
    output_dir: str | os.PathLike | None = None,
) -> tuple[str, Path]:
    """The study name (default: the config's file name) and output directory (default
    ``logs/sweeps/<study name>``)."""
    name = study_name or (Path(config).stem if not isinstance(config, dict) else "sweep")
    return name, Path(output_dir or DEFAULT_OUTPUT_ROOT / name)


def run_sweep(
    config: str | os.PathLike | dict,
    n_trials: int = 10,
    workers: int = 1,
    output_dir: str | os.PathLike | None = None,
    study_name: str | None = None,
    storage: str | None = None,
    train_fn: TrainFn | str = DEFAULT_TRAIN_FN,
    overrides: dict[str, Any] | None = None,
    seed: int = 0,
    prune: bool = True,
    gpus: str = "auto",
) -> Any:
    """Run a sweep and return the Optuna study. :func:`write_results` then saves the table
    and the importance plot.

    With ``workers == 1`` trials run in this process (``train_fn`` may be any callable);
    with more, each worker is a separate process that imports ``train_fn`` by name.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sweep = load_sweep_config(config)
    name, output_dir = sweep_paths(config, study_name, output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "sweep": sweep,
        "study_name": name,
        "storage": storage or storage_url(output_dir),
        "output_dir": str(output_dir.resolve()),
        "train_fn": _train_fn_path(train_fn) if workers > 1 else "",
        "overrides": dict(overrides or {}),
        "seed": seed,
        "prune": prune,
        "workers": workers,
    }
    open_study(spec, create=True)
    if workers == 1:
        run_worker(spec, 0, n_trials, train_fn=resolve_train_fn(train_fn))
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    else:
        run_worker_processes(spec, n_trials, gpus)
    return open_study(spec)


# ---------------------------------------------------------------- CLI


def _parse_set(items: list[str]) -> dict[str, Any]:
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"--set {item!r}: expected KEY=VALUE")
        overrides[key] = yaml.safe_load(value)  # 3 -> int, 1e-3 -> float, true -> bool
    return overrides


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="text-recognizer sweep",
        description="Run a W&B sweep config locally with Optuna: an SQLite study shared by "
        "worker processes, median pruning, a results table and importance plot.",
        epilog="examples:\n"
        "  text-recognizer sweep line_cnn_transformer --n-trials 20 --workers 2\n"
        "  text-recognizer sweep line_cnn_transformer --set max_epochs=2 "
        "--set num_train=2000\n"
        "  text-recognizer sweep my_sweep.yaml --storage postgresql+psycopg://host/db\n"
        "online instead: wandb sweep CONFIG.yaml && wandb agent SWEEP_ID",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("config", nargs="?", help="a W&B sweep YAML, or a name in text_recognizer/training/sweeps/")
    add("--n-trials", type=int, default=10, help="trials to run in total (default 10)")
    add(
        "--workers",
        type=int,
        default=1,
        help="worker processes sharing the study, like W&B agents (default 1)",
    )
    add("--study-name", default=None, help="default: the config's file name")
    add(
        "--storage",
        default=None,
        help="Optuna storage URL (default sqlite:///OUTPUT_DIR/study.db); join from other "
        "machines with the same URL and --study-name",
    )
    add(
        "--output-dir",
        type=Path,
        default=None,
        help=f"results, trial logs, study.db (default {DEFAULT_OUTPUT_ROOT}/STUDY_NAME)",
    )
    add(
        "--train-fn",
        default=DEFAULT_TRAIN_FN,
        help="module:function(config, trial) -> float that trains one trial (default "
        "run_experiment; text_recognizer.training.sweep:toy_objective runs in seconds)",
    )
    add(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override or add a fixed flag for every trial, e.g. --set max_epochs=2",
    )
    add("--seed", type=int, default=0, help="sampler seed (worker i uses seed + i)")
    add("--no-prune", action="store_true", help="never stop trials early")
    add(
        "--gpus",
        default="auto",
        help="GPU ids shared out one per worker (e.g. 0,1), none, or auto (default)",
    )
    add("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    add("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``text-recognizer sweep``: returns 0 on success, 1 on errors, 2 on bad flags."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        overrides = _parse_set(args.set)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 0
    except argparse.ArgumentTypeError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    if args.worker is not None:  # a worker process started by the main one
        spec = json.loads(args.worker.read_text())
        run_worker(spec, args.worker_index, args.n_trials)
        return 0
    if args.config is None:
        parser.print_usage(sys.stderr)
        return 2
    if args.workers < 1 or args.n_trials < 1:
        print(f"{parser.prog}: error: --workers and --n-trials must be >= 1", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        study = run_sweep(
            args.config,
            n_trials=args.n_trials,
            workers=args.workers,
            output_dir=args.output_dir,
            study_name=args.study_name,
            storage=args.storage,
            train_fn=args.train_fn,
            overrides=overrides,
            seed=args.seed,
            prune=not args.no_prune,
            gpus=args.gpus,
        )
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    _, output_dir = sweep_paths(args.config, args.study_name, args.output_dir)
    paths = write_results(study, output_dir)
    table = results_table(study)
    print(to_markdown(table.head(10)))
    print(
        f"\n{len(table)} trials in {time.perf_counter() - start:.0f} s; "
        + ", ".join(f"{k}: {v}" for k, v in paths.items())
    )
    if table.empty or not (table["state"] == "COMPLETE").any():
        print(
            "error: no trial completed; see the trial errors above or in worker_*.log",
            file=sys.stderr,
        )
        return 1
    print(f"best: {best_command(study, load_sweep_config(args.config), overrides)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
