"""Hyperparameter sweeps: a W&B sweep YAML, run locally with Optuna (``text-recognizer sweep``).

The YAML in ``training/sweeps/`` is the single source of truth for the search space. Online
users hand it to ``wandb sweep`` and start ``wandb agent``s. Offline, this module reads the
same file and runs it with Optuna:

* ``parameters`` -> ``trial.suggest_*`` calls (:func:`suggest_config`), ``method`` -> a
  sampler (bayes: TPE, random, grid), ``metric`` -> the study's direction;
* the study lives in SQLite (``sqlite:///<output_dir>/study.db``), so ``--workers N``
  independent processes share it the way W&B agents share a sweep, and machines can join by
  pointing ``--storage`` at one database (SQLite on a local disk for one machine; a server
  such as ``postgresql+psycopg://...`` for several, since SQLite over NFS is unsafe);
* ``early_terminate`` -> Optuna's MedianPruner: after ``min_iter`` epochs a trial whose
  metric is worse than the median of earlier trials at the same epoch stops
  (``callbacks.optuna_pruning.PruningCallback`` reports the metric after each validation);
* each trial calls ``train_fn(config, trial) -> float`` (default: ``run_experiment.run``);
* at the end: a results table (CSV and Markdown) and a parameter-importance plot.

One agent per GPU: with GPUs present, worker ``i`` sees only GPU ``i % n_gpus`` through
``CUDA_VISIBLE_DEVICES`` (``--gpus 0,1`` picks them; ``--gpus none`` hides all).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from text_recognizer.util import atomic_write_text

SWEEPS_DIRNAME = Path(__file__).resolve().parent / "sweeps"
DEFAULT_TRAIN_FN = "text_recognizer.training.sweep:train_with_run_experiment"
DEFAULT_OUTPUT_ROOT = Path("logs") / "sweeps"
SPEC_FILENAME = "sweep_spec.json"
TrainFn = Callable[[dict[str, Any], Any], float]


# ---------------------------------------------------------------- the search space


def load_sweep_config(config: str | os.PathLike | dict) -> dict[str, Any]:
    """A W&B sweep config from a dict, a YAML path, or a name in ``training/sweeps/``."""
    if isinstance(config, dict):
        return config
    path = Path(config)
    if not path.exists():
        path = SWEEPS_DIRNAME / f"{config}.yaml"
    if not path.exists():
        known = ", ".join(p.stem for p in SWEEPS_DIRNAME.glob("*.yaml"))
        raise FileNotFoundError(f"no sweep config {config!r} (a YAML path, or one of: {known})")
    loaded = yaml.safe_load(path.read_text())
    if not isinstance(loaded, dict) or not isinstance(loaded.get("parameters"), dict):
        raise ValueError(f"{path}: a W&B sweep config needs a `parameters` mapping")
    return loaded


def suggest_config(parameters: dict[str, dict[str, Any]], trial: Any) -> dict[str, Any]:
    """Turn W&B ``parameters`` into values for one Optuna trial.

    >>> import optuna
    >>> trial = optuna.trial.FixedTrial({"lr": 0.01, "layers": 2, "act": "relu"})
    >>> suggest_config({"lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
    ...                 "layers": {"min": 1, "max": 4}, "act": {"values": ["relu", "gelu"]},
    ...                 "epochs": {"value": 3}}, trial)
    {'lr': 0.01, 'layers': 2, 'act': 'relu', 'epochs': 3}
    """
    config = {}
    for name, spec in parameters.items():
        if not isinstance(spec, dict):
            raise ValueError(f"parameter {name!r}: expected a mapping, got {spec!r}")
        distribution = spec.get("distribution") or _infer_distribution(spec)
        if "value" in spec:
            config[name] = spec["value"]
        elif distribution == "categorical":
            config[name] = trial.suggest_categorical(name, list(spec["values"]))
        elif distribution == "int_uniform":
            config[name] = trial.suggest_int(name, int(spec["min"]), int(spec["max"]))
        elif distribution == "uniform":
            config[name] = trial.suggest_float(name, float(spec["min"]), float(spec["max"]))
        elif distribution == "q_uniform":
            config[name] = trial.suggest_float(
                name, float(spec["min"]), float(spec["max"]), step=float(spec.get("q", 1.0))
            )
        elif distribution == "log_uniform_values":
            config[name] = trial.suggest_float(
                name, float(spec["min"]), float(spec["max"]), log=True
            )
        elif distribution == "log_uniform":  # W&B: min and max are natural-log exponents
            config[name] = trial.suggest_float(
                name, math.exp(spec["min"]), math.exp(spec["max"]), log=True
            )
        else:
            raise ValueError(
                f"parameter {name!r}: distribution {distribution!r} has no Optuna equivalent "
                "here; use values, value, uniform, int_uniform, q_uniform, log_uniform_values "
                "or log_uniform"
            )
    return config


def _infer_distribution(spec: dict[str, Any]) -> str | None:
    """W&B's default: ``values`` -> categorical, int bounds -> int_uniform, else uniform."""
    if "values" in spec:
        return "categorical"
    if "min" in spec and "max" in spec:
        ints = all(
            isinstance(spec[k], int) and not isinstance(spec[k], bool) for k in ("min", "max")
        )
        return "int_uniform" if ints else "uniform"
    return None


def make_sampler(sweep: dict[str, Any], seed: int, parallel: bool = False) -> Any:
    """``method`` -> an Optuna sampler. TPE's ``constant_liar`` stops parallel workers from
    proposing the same point while their trials are still running."""
    import optuna

    method = sweep.get("method", "bayes")
    if method == "bayes":
        return optuna.samplers.TPESampler(seed=seed, constant_liar=parallel)
    if method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if method == "grid":
        space = {}
        for name, spec in sweep["parameters"].items():
            if "value" in spec:
                continue
            if "values" not in spec:
                raise ValueError(f"grid search needs `values` for every parameter ({name!r})")
            space[name] = list(spec["values"])
        return optuna.samplers.GridSampler(space, seed=seed)
    raise ValueError(f"method {method!r}: expected bayes, random or grid")


def make_pruner(sweep: dict[str, Any], enabled: bool = True) -> Any:
    """``early_terminate`` -> MedianPruner that waits ``min_iter`` epochs (W&B's Hyperband
    ``min_iter``); no ``early_terminate`` or ``enabled=False`` -> no pruning."""
    import optuna

    early = sweep.get("early_terminate")
    if not enabled or not early:
        return optuna.pruners.NopPruner()
    min_iter = int(early.get("min_iter", 1))
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=max(min_iter - 1, 0))


def metric_and_direction(sweep: dict[str, Any]) -> tuple[str, str]:
    """``metric: {name, goal}`` -> ``(name, "minimize" | "maximize")``."""
    metric = sweep.get("metric") or {}
    if "name" not in metric:
        raise ValueError("the sweep config needs `metric: {name: ..., goal: minimize|maximize}`")
    goal = metric.get("goal", "minimize")
    if goal not in ("minimize", "maximize"):
        raise ValueError(f"metric goal {goal!r}: expected minimize or maximize")
    return metric["name"], goal


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


def split_trials(n_trials: int, workers: int) -> list[int]:
    """Share ``n_trials`` out among ``workers`` so the total is exact.

    >>> split_trials(5, 2)
    [3, 2]
    """
    return [n_trials // workers + (i < n_trials % workers) for i in range(workers)]


def count_gpus() -> int:
    """NVIDIA GPUs on this machine, from ``nvidia-smi -L`` (0 without a driver). Asking
    ``nvidia-smi`` instead of torch keeps CUDA uninitialized in the parent process."""
    executable = shutil.which("nvidia-smi")
    if executable is None:
        return 0
    try:
        listing = subprocess.run(
            [executable, "-L"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in listing.splitlines())


def gpu_assignment(workers: int, gpus: str = "auto") -> list[str | None]:
    """``CUDA_VISIBLE_DEVICES`` for each worker: one GPU each, round robin; None = inherit.

    >>> gpu_assignment(3, "0,1")
    ['0', '1', '0']
    >>> gpu_assignment(2, "none")
    ['', '']
    """
    if gpus == "none":
        return [""] * workers
    if gpus == "auto":
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is not None:
            ids = [g.strip() for g in visible.split(",") if g.strip()]
        else:
            ids = [str(i) for i in range(count_gpus())]
        if not ids:
            return [None] * workers
    else:
        ids = [g.strip() for g in gpus.split(",") if g.strip()]
        if not ids:
            raise ValueError(f"--gpus {gpus!r}: expected ids like 0,1, or auto, or none")
    return [ids[i % len(ids)] for i in range(workers)]


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
        _run_worker_processes(spec, n_trials, gpus)
    return open_study(spec)


def _run_worker_processes(spec: dict[str, Any], n_trials: int, gpus: str) -> None:
    """Start one process per worker (like ``wandb agent``), wait, and fail if any failed."""
    output_dir = Path(spec["output_dir"])
    spec_path = output_dir / SPEC_FILENAME
    atomic_write_text(spec_path, json.dumps(spec, indent=2))
    workers = spec["workers"]
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    processes = []
    for index, (count, gpu) in enumerate(
        zip(split_trials(n_trials, workers), gpu_assignment(workers, gpus))
    ):
        if count == 0:
            continue
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", threads)}
        if gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpu
        log_path = output_dir / f"worker_{index}.log"
        command = [
            sys.executable,
            "-m",
            "text_recognizer.training.sweep",
            "--worker",
            str(spec_path),
            "--worker-index",
            str(index),
            "--n-trials",
            str(count),
        ]
        with open(log_path, "w") as log:
            processes.append(
                (
                    index,
                    log_path,
                    subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT),
                )
            )
        devices = {None: "not set", "": "none"}.get(gpu, gpu)
        print(f"worker {index}: {count} trials, CUDA_VISIBLE_DEVICES {devices}, log {log_path}")
    failed = []
    for index, log_path, process in processes:
        if process.wait() != 0:
            tail = "".join(log_path.read_text().splitlines(keepends=True)[-20:])
            failed.append(f"worker {index} exited with {process.returncode}:\n{tail}")
    if failed:
        raise RuntimeError("\n".join(failed))


# ---------------------------------------------------------------- results


def results_table(study: Any) -> Any:
    """One row per trial, best first: number, state, value, params, duration, worker."""
    import pandas as pd

    rows = []
    for trial in study.get_trials(deepcopy=False):
        duration = (
            (trial.datetime_complete - trial.datetime_start).total_seconds()
            if trial.datetime_complete and trial.datetime_start
            else None
        )
        rows.append(
            {
                "number": trial.number,
                "state": trial.state.name,
                "value": trial.value,
                **trial.params,
                "last_epoch": max(trial.intermediate_values, default=None),
                "duration_s": duration,
                "worker": trial.user_attrs.get("worker"),
            }
        )
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    ascending = study.direction.name == "MINIMIZE"
    return table.sort_values(
        ["value", "number"], ascending=[ascending, True], na_position="last", ignore_index=True
    )


def to_markdown(df: Any, floatfmt: str = ".4g") -> str:
    """A DataFrame as a GitHub Markdown table (no ``tabulate`` needed).

    >>> import pandas as pd
    >>> print(to_markdown(pd.DataFrame({"a": [1, 2], "b": [0.123456, None]})))
    | a | b |
    |---|---|
    | 1 | 0.1235 |
    | 2 |  |
    """

    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        return format(value, floatfmt) if isinstance(value, float) else str(value)

    lines = [
        "| " + " | ".join(map(str, df.columns)) + " |",
        "|" + "|".join("---" for _ in df.columns) + "|",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def param_importances(study: Any) -> dict[str, float]:
    """Optuna's parameter importances over completed trials ({} if there are too few)."""
    import optuna

    complete = [
        t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE
    ]
    varied = {name for t in complete for name in t.params}
    if len(complete) < 2 or not varied:
        return {}
    try:
        return dict(optuna.importance.get_param_importances(study))
    except (RuntimeError, ValueError):  # e.g. every completed trial has the same value
        return {}


def plot_param_importances(importances: dict[str, float], path: str | os.PathLike) -> Path:
    """A horizontal bar chart of ``importances`` saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    names = list(importances)[::-1]  # most important at the top
    fig, ax = plt.subplots(figsize=(6, 0.5 * len(names) + 1.2))
    ax.barh(names, [importances[n] for n in names], color="tab:blue")
    ax.set(
        xlabel="importance (fraction of the metric's variation)", title="hyperparameter importance"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def write_results(study: Any, output_dir: str | os.PathLike) -> dict[str, Path]:
    """``results.csv``, ``results.md`` and (with enough trials) ``param_importance.png``."""
    output_dir = Path(output_dir)
    table = results_table(study)
    paths = {"csv": output_dir / "results.csv", "markdown": output_dir / "results.md"}
    table.to_csv(paths["csv"], index=False)
    paths["markdown"].write_text(to_markdown(table) + "\n")
    importances = param_importances(study)
    if importances:
        paths["importance"] = plot_param_importances(
            importances, output_dir / "param_importance.png"
        )
        (output_dir / "param_importance.json").write_text(json.dumps(importances, indent=2))
    return paths


def best_command(study: Any, sweep: dict[str, Any], overrides: dict[str, Any]) -> str:
    """The ``text-recognizer train`` command that reruns the best trial."""
    fixed = {k: v["value"] for k, v in sweep["parameters"].items() if "value" in v}
    config = {**fixed, **study.best_trial.params, **overrides}
    flags = [f"--{k}" if v is True else f"--{k}={v}" for k, v in config.items() if v is not False]
    return "text-recognizer train " + " ".join(flags)


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
