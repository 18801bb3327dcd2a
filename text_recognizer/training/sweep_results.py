"""A finished sweep's results: a table of trials, parameter importances, the best command.

Everything reads an Optuna study (``sweep.run_sweep`` returns one; ``optuna.load_study``
opens a stored one). :func:`write_results` saves ``results.csv``, ``results.md`` and, with
enough completed trials, ``param_importance.png`` and ``.json`` next to the study.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any


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
