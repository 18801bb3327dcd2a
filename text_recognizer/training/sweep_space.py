"""A sweep's search space: a W&B sweep YAML read for Optuna.

The YAML in ``training/sweeps/`` is the single source of truth; online users hand it to
``wandb sweep``, and ``training/sweep.py`` runs it locally. This module maps its keys:

* ``parameters`` -> ``trial.suggest_*`` calls (:func:`suggest_config`);
* ``method`` -> a sampler (bayes: TPE, random, grid; :func:`make_sampler`);
* ``early_terminate`` -> Optuna's MedianPruner after ``min_iter`` epochs (:func:`make_pruner`);
* ``metric: {name, goal}`` -> the study's direction (:func:`metric_and_direction`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import yaml

SWEEPS_DIRNAME = Path(__file__).resolve().parent / "sweeps"


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
