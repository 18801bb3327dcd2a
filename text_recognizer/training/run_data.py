"""Read a training run's metrics and prediction tables into pandas, from local files only.

W&B's public API (``wandb.Api().run(...)``) reads runs from the server, so it cannot see
offline runs. Everything a run logs is on disk anyway:

* Lightning's ``CSVLogger`` writes ``metrics.csv``: :func:`load_metrics`, :func:`epoch_metrics`;
* ``PredictionTableCallback`` writes ``predictions/epoch_NNN.csv``: :func:`load_prediction_tables`;
* an offline W&B run keeps config, history, summary and artifact manifests in its
  ``run-<id>.wandb`` transaction log: :func:`load_wandb_run` decodes it with W&B's own
  protobuf definitions (the files ``config.yaml``/``wandb-summary.json`` only appear for
  runs that synced).

Then :func:`plot_learning_curves` and :func:`plot_generalization_gap` draw the two plots
every training run deserves.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

# ---------------------------------------------------------------- Lightning CSV metrics


def find_metrics_csv(path: str | os.PathLike) -> Path:
    """``path`` itself if it is a file, else the newest ``metrics.csv`` below it."""
    path = Path(path)
    if path.is_file():
        return path
    candidates = sorted(path.rglob("metrics.csv"), key=lambda p: p.stat().st_mtime)
    if not candidates:
        raise FileNotFoundError(f"no metrics.csv under {path} (was a CSVLogger attached?)")
    return candidates[-1]


def load_metrics(path: str | os.PathLike) -> pd.DataFrame:
    """Lightning's ``metrics.csv`` as logged: one row per logging call, NaN where a metric was
    not logged in that call (train and val metrics arrive at different steps)."""
    return pd.read_csv(find_metrics_csv(path))


def epoch_metrics(df: pd.DataFrame) -> pd.DataFrame:
    """One row per epoch: the last value each metric took during that epoch.

    >>> raw = pd.DataFrame({"epoch": [0, 0, 1, 1], "step": [9, 9, 19, 19],
    ...                     "train/loss": [2.0, None, 1.0, None],
    ...                     "val/loss": [None, 2.5, None, 1.5]})
    >>> epoch_metrics(raw)[["train/loss", "val/loss"]].values.tolist()
    [[2.0, 2.5], [1.0, 1.5]]
    """
    if "epoch" not in df.columns:
        raise ValueError("expected an 'epoch' column (Lightning's CSVLogger writes one)")
    per_epoch = df.dropna(subset=["epoch"]).groupby("epoch", sort=True).last()  # last non-NaN
    return per_epoch.reset_index().astype({"epoch": int})


# ---------------------------------------------------------------- prediction tables


def load_prediction_tables(path: str | os.PathLike) -> pd.DataFrame:
    """Every ``predictions/epoch_NNN.csv`` below ``path``, in one DataFrame.

    The ``image`` column becomes an absolute path, ready for ``PIL.Image.open``.
    """
    path = Path(path)
    files = sorted(path.rglob("epoch_*.csv")) if path.is_dir() else [path]
    files = [f for f in files if f.parent.name == "predictions" or f == path]
    if not files:
        raise FileNotFoundError(f"no predictions/epoch_*.csv under {path}")
    frames = []
    for file in files:
        frame = pd.read_csv(
            file, keep_default_na=False, dtype={"ground_truth": str, "prediction": str}
        )
        frame["image"] = [str(file.parent / p) for p in frame["image"]]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True).sort_values(["epoch", "index"], ignore_index=True)


# ---------------------------------------------------------------- W&B offline runs

_HEADER = struct.Struct("<4sHB")  # b":W&B", magic 0xBEE1, version 0
_CHUNK = struct.Struct("<IHB")  # crc32, length, type (LevelDB log format)
_BLOCK_SIZE = 32 * 1024
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


class WandbRunFileError(ValueError):
    """The file is not a W&B transaction log, or it is corrupt."""


def read_wandb_records(path: str | os.PathLike) -> Iterator[Any]:
    """Decode a ``run-<id>.wandb`` file into ``wandb_internal_pb2.Record`` messages.

    The file is a LevelDB-style log: 32 KiB blocks of checksummed chunks, one protobuf
    ``Record`` per logical record. A truncated tail (a run that crashed mid-write) ends the
    iteration quietly; a checksum mismatch raises.
    """
    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    if len(data) < _HEADER.size:
        raise WandbRunFileError(f"{path}: too short to be a W&B run file")
    ident, magic, version = _HEADER.unpack_from(data)
    if ident != b":W&B" or magic != 0xBEE1 or version != 0:
        raise WandbRunFileError(f"{path}: not a W&B run file (header {data[:7]!r})")
    pos, pending = _HEADER.size, b""
    while pos + _CHUNK.size <= len(data):
        if _BLOCK_SIZE - pos % _BLOCK_SIZE < _CHUNK.size:  # block trailer: zero padding
            pos += _BLOCK_SIZE - pos % _BLOCK_SIZE
            continue
        checksum, length, kind = _CHUNK.unpack_from(data, pos)
        pos += _CHUNK.size
        chunk = data[pos : pos + length]
        pos += length
        if kind == 0 or len(chunk) < length:  # padding, or a truncated final write
            continue
        if zlib.crc32(chunk, zlib.crc32(bytes([kind]))) != checksum:
            raise WandbRunFileError(f"{path}: checksum mismatch at byte {pos - length}")
        if kind == _FULL:
            raw = chunk
        elif kind == _FIRST:
            pending = chunk
            continue
        elif kind == _MIDDLE:
            pending += chunk
            continue
        else:  # _LAST
            raw, pending = pending + chunk, b""
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        yield record


@dataclass
class WandbRun:
    """What an offline W&B run recorded, decoded from its run directory."""

    path: Path
    id: str = ""
    project: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    system: pd.DataFrame = field(default_factory=pd.DataFrame)  # the System tab: one row per sample
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    git: dict[str, str] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None

    def table(self, key: str) -> pd.DataFrame:
        """The last ``wandb.Table`` logged under ``key``, image cells as local PNG paths.

        W&B stores each logged table as a ``run_table`` artifact; an offline run keeps the
        artifact's files in its staging folder (under ``WANDB_DATA_DIR``) until it syncs.
        """
        table_path = f"{key}.table.json"  # W&B names the table file after the key
        matches = [
            a
            for a in self.artifacts
            if a["type"] == "run_table" and any(f["path"] == table_path for f in a["files"])
        ]
        if not matches:
            raise KeyError(f"no table {key!r} in run {self.id}")
        entries = {f["path"]: f for f in matches[-1]["files"]}  # the last one logged
        table_entry = entries[table_path]
        table = json.loads(Path(table_entry["local_path"]).read_text())

        def cell(value: Any) -> Any:
            if isinstance(value, dict) and value.get("_type") == "image-file":
                return entries[value["path"]]["local_path"]
            return value

        rows = [[cell(v) for v in row] for row in table["data"]]
        return pd.DataFrame(rows, columns=table["columns"])


def find_wandb_runs(logs_dir: str | os.PathLike) -> list[Path]:
    """Every W&B run directory (``offline-run-*`` or ``run-*``) below ``logs_dir``, oldest
    first."""
    runs = {p.parent for p in Path(logs_dir).rglob("run-*.wandb")}
    return sorted(runs, key=lambda p: p.name.split("-", 2)[-1])


def load_wandb_run(run_dir: str | os.PathLike) -> WandbRun:
    """Decode an offline (or synced) W&B run directory into a :class:`WandbRun`.

    ``run_dir`` may also be a logs directory holding exactly one run, or the ``latest-run``
    link W&B maintains. Read a run after ``tracking.finish_wandb``: a run still being written
    lacks its last records (``exit_code`` is then None).
    """
    run_dir = Path(run_dir).resolve()
    logs = list(run_dir.glob("run-*.wandb"))
    if not logs:
        found = find_wandb_runs(run_dir)
        if len(found) != 1:
            raise FileNotFoundError(f"expected one W&B run under {run_dir}, found {len(found)}")
        run_dir, logs = found[0], list(found[0].glob("run-*.wandb"))
    run = WandbRun(path=run_dir)
    rows: list[dict[str, Any]] = []
    stats: list[dict[str, Any]] = []
    for record in read_wandb_records(logs[0]):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.id, run.project = record.run.run_id, record.run.project
            _apply(run.config, record.run.config.update, record.run.config.remove)
            run.git = {"commit": record.run.git.commit, "remote_url": record.run.git.remote_url}
        elif kind == "config":
            _apply(run.config, record.config.update, record.config.remove)
        elif kind == "summary":
            _apply(run.summary, record.summary.update, record.summary.remove)
        elif kind == "history":
            row: dict[str, Any] = {}
            for item in record.history.item:
                _set(row, _path(item), _history_value(item))
            rows.append(row)
        elif kind == "stats":  # W&B's system monitor: cpu, memory, disk, network, gpu.*
            stats.append({item.key: json.loads(item.value_json) for item in record.stats.item})
        elif kind == "artifact":
            run.artifacts.append(_artifact(record.artifact))
        elif kind == "files":
            run.files.extend(f.path for f in record.files.files)
        elif kind == "environment":
            from google.protobuf.json_format import MessageToDict

            run.environment.update(MessageToDict(record.environment))
        elif kind == "exit":
            run.exit_code = record.exit.exit_code
    run.config.pop("_wandb", None)
    run.summary = {k: v for k, v in run.summary.items() if not k.startswith("_wandb")}
    run.history = pd.DataFrame(rows)
    run.system = pd.DataFrame(stats)
    return run


def _path(item: Any) -> list[str]:
    return list(item.nested_key) if item.nested_key else [item.key]


def _set(target: dict[str, Any], path: list[str], value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def _apply(target: dict[str, Any], updates: Any, removes: Any) -> None:
    for item in updates:
        _set(target, _path(item), json.loads(item.value_json))
    for item in removes:
        *parents, last = _path(item)
        node = target
        for key in parents:
            node = node.get(key, {})
        node.pop(last, None)


def _history_value(item: Any) -> Any:
    if item.value_json:
        return json.loads(item.value_json)
    which = item.WhichOneof("value")
    if which == "json":
        return json.loads(item.json)
    return None if which in (None, "none") else getattr(item, which)


def _artifact(record: Any) -> dict[str, Any]:
    return {
        "name": record.name,
        "type": record.type,
        "aliases": list(record.aliases),
        "digest": record.digest,
        "metadata": json.loads(record.metadata) if record.metadata else {},
        "files": [
            {"path": e.path, "size": e.size, "digest": e.digest, "local_path": e.local_path}
            for e in record.manifest.contents
        ],
    }


# ---------------------------------------------------------------- plots


def plot_learning_curves(df: pd.DataFrame, metrics: list[str] | None = None):
    """One panel per metric (``loss``, ``acc``, ``cer``, ...): train and val against epoch.

    ``df`` is :func:`epoch_metrics` output, or raw ``metrics.csv`` rows (collapsed here).
    Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    df = _per_epoch(df)
    names = metrics or sorted(
        {c.split("/", 1)[1] for c in df.columns if c.startswith(("train/", "val/"))}
    )
    if not names:
        raise ValueError("no train/* or val/* columns to plot")
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names):
        for split in ("train", "val"):
            column = f"{split}/{name}"
            if column in df.columns and df[column].notna().any():
                ax.plot(df["epoch"], df[column], marker="o", label=split)
        ax.set(title=name, xlabel="epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def generalization_gap(df: pd.DataFrame, metric: str = "loss") -> pd.Series:
    """``train/<metric> - val/<metric>`` per epoch: how much better the model does on the data
    it trained on. For a loss (lower is better) the gap is negative once the model fits its
    training data better than unseen data; a gap that keeps falling while ``train/<metric>``
    improves means overfitting.

    >>> gap = generalization_gap(pd.DataFrame({"epoch": [0, 1], "train/loss": [1.0, 0.5],
    ...                                        "val/loss": [1.1, 0.9]}))
    >>> gap.round(2).tolist()
    [-0.1, -0.4]
    """
    df = _per_epoch(df)
    for column in (f"train/{metric}", f"val/{metric}"):
        if column not in df.columns:
            raise ValueError(f"no {column!r} column; have {sorted(df.columns)}")
    return (df[f"train/{metric}"] - df[f"val/{metric}"]).rename(f"gap/{metric}")


def plot_generalization_gap(df: pd.DataFrame, metric: str = "loss"):
    """Plot :func:`generalization_gap` against epoch and return the Figure.

    The train loss of an epoch is averaged while the weights change (and with dropout on),
    so a small positive gap early on is normal; what matters is the trend.
    """
    import matplotlib.pyplot as plt

    df = _per_epoch(df)
    gap = generalization_gap(df, metric)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(df["epoch"], gap, marker="o", color="tab:red")
    ax.axhline(0.0, color="gray", linewidth=1)
    ax.set(
        title=f"generalization gap: train/{metric} - val/{metric}",
        xlabel="epoch",
        ylabel=f"train - val {metric}",
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _per_epoch(df: pd.DataFrame) -> pd.DataFrame:
    """Collapse raw CSV rows (several per epoch) into one row per epoch if needed."""
    if "epoch" in df.columns and df["epoch"].duplicated().any():
        return epoch_metrics(df)
    return df
