"""Experiment tracking with Weights & Biases that works with no account and no network.

``text-recognizer train --wandb`` calls :func:`make_wandb_logger`. Whether the run goes to the
W&B cloud is decided once, by :func:`configure_wandb_env`:

* the user set ``WANDB_MODE`` (or ran ``wandb offline``/``wandb disabled``): that mode wins;
* the user has credentials (``WANDB_API_KEY``, a ``~/.netrc`` entry written by ``wandb login``,
  or an ``api_key`` in their W&B settings file): ``online``;
* otherwise: ``offline``. The run is written to ``<logs_dir>/wandb/offline-run-*`` and can be
  uploaded later with ``wandb sync`` (see :func:`offline_sync_instructions`).

Every file W&B writes (runs, staged artifacts, caches, settings, debug logs) goes under the
logs directory, never into ``$HOME``: experiments stay self-contained, and CI machines and
shared clusters stay clean. We never invent an API key: with a bad key an "online" run
retries for ~40 s before giving up.
"""

from __future__ import annotations

import argparse
import configparser
import datetime as dt
import json
import netrc
import os
import platform
import socket
import subprocess
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from text_recognizer.util import atomic_write_text

if TYPE_CHECKING:
    from pytorch_lightning.loggers import WandbLogger

DEFAULT_PROJECT = "text-recognizer"
DEFAULT_BASE_URL = "https://api.wandb.ai"
MODES = ("online", "offline", "disabled")

# Where W&B keeps each kind of file, relative to the logs directory. ``WANDB_DIR`` itself is
# the logs directory: W&B creates ``wandb/`` inside it for the run folders.
WANDB_DIR_VARS = {
    "WANDB_DATA_DIR": "wandb/data",  # artifact staging: the files an offline run will upload
    "WANDB_CACHE_DIR": "wandb/cache",  # artifact cache and wandb-core debug logs
    "WANDB_CONFIG_DIR": "wandb/config",  # the "global" settings file W&B may write
    "WANDB_ARTIFACT_DIR": "wandb/artifacts",  # where artifact.download() puts files
}
CREDENTIALS_FILE = "wandb/config/credentials.json"  # short-lived tokens (identity federation)

# Environment variables we set ourselves, so a second call (a notebook, a sweep worker that
# inherited our environment) can tell our choices from the user's.
_AUTO_MODE_VAR = "TEXT_RECOGNIZER_WANDB_AUTO_MODE"
_USER_CONFIG_DIR_VAR = "TEXT_RECOGNIZER_WANDB_USER_CONFIG_DIR"

GIT_STATE_FILENAME = "git_state.json"
GIT_DIFF_FILENAME = "git.diff"
SYSTEM_INFO_FILENAME = "system_info.json"


# ---------------------------------------------------------------- environment


def configure_wandb_env(
    logs_dir: str | os.PathLike, env: MutableMapping[str, str] | None = None
) -> str:
    """Point every W&B directory under ``logs_dir`` and return the mode to run in.

    Returns ``"online"``, ``"offline"`` or ``"disabled"``, and also exports it as
    ``WANDB_MODE`` so that any ``wandb.init`` in this process (and its children) agrees.
    ``env`` defaults to ``os.environ``; tests pass a dict.
    """
    env = os.environ if env is None else env
    logs_dir = Path(logs_dir).expanduser().resolve()
    user_settings = _read_user_settings(env)

    # Remember the user's own config dir before we redirect W&B's, so later calls (and child
    # processes) still find their settings file.
    if _USER_CONFIG_DIR_VAR not in env:
        env[_USER_CONFIG_DIR_VAR] = env.get("WANDB_CONFIG_DIR", "")

    env["WANDB_DIR"] = str(logs_dir)
    for var, relative in WANDB_DIR_VARS.items():
        env[var] = str(logs_dir / relative)
        Path(env[var]).mkdir(parents=True, exist_ok=True)
    env["WANDB_CREDENTIALS_FILE"] = str(logs_dir / CREDENTIALS_FILE)
    # A self-hosted server chosen with `wandb login --host` lives in the settings file that
    # W&B can no longer see: carry it over as an environment variable.
    if "WANDB_BASE_URL" not in env and user_settings.get("base_url"):
        env["WANDB_BASE_URL"] = user_settings["base_url"]
    git_root = _git_root()
    if git_root is not None:  # W&B would otherwise look for a repository in the logs dir
        env.setdefault("WANDB_GIT_ROOT", str(git_root))

    mode = _explicit_mode(env, user_settings)
    if mode is None:
        source = find_wandb_credentials(env)
        mode = "online" if source else "offline"
        if source == "settings file" and "WANDB_API_KEY" not in env:
            # The user's own key, kept in this process's environment only (never on disk):
            # W&B reads the settings file from the redirected config dir, not theirs.
            env["WANDB_API_KEY"] = user_settings["api_key"]
        env[_AUTO_MODE_VAR] = mode
    env["WANDB_MODE"] = mode
    return mode


def find_wandb_credentials(env: MutableMapping[str, str] | None = None) -> str | None:
    """Where a W&B API key would come from, or None when the user never logged in.

    Looks where ``wandb`` itself looks: environment variables, the ``.netrc`` entry for the
    server host (``wandb login`` writes it), and an ``api_key`` in the user's settings file.
    Reads only; never contacts the server.
    """
    env = os.environ if env is None else env
    if env.get("WANDB_API_KEY") or env.get("WANDB_IDENTITY_TOKEN_FILE"):
        return "environment"
    settings = _read_user_settings(env)
    base_url = env.get("WANDB_BASE_URL") or settings.get("base_url") or DEFAULT_BASE_URL
    host = urlsplit(base_url).netloc
    for path in _netrc_paths(env):
        try:
            if netrc.netrc(path).authenticators(host):
                return str(path)
        except (OSError, netrc.NetrcParseError):
            continue
    if settings.get("api_key"):
        return "settings file"
    return None


def _explicit_mode(env: MutableMapping[str, str], user_settings: dict[str, str]) -> str | None:
    """The mode the user chose (env var or `wandb offline`), ignoring one we set earlier."""
    mode = env.get("WANDB_MODE")
    if mode and mode != env.get(_AUTO_MODE_VAR):
        mode = {"dryrun": "offline", "run": "online"}.get(mode, mode)
        if mode not in MODES:
            raise ValueError(f"WANDB_MODE={mode!r}: expected one of {', '.join(MODES)}")
        return mode
    workspace = _read_settings_file(Path.cwd() / "wandb" / "settings")  # `wandb offline`
    for settings in (workspace, user_settings):
        if settings.get("mode") in MODES:
            return settings["mode"]
        if settings.get("disabled", "").lower() == "true":
            return "disabled"
    return None


def _home(env: MutableMapping[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home())


def _user_config_dir(env: MutableMapping[str, str]) -> Path:
    configured = env.get(_USER_CONFIG_DIR_VAR, env.get("WANDB_CONFIG_DIR", ""))
    return Path(configured).expanduser() if configured else _home(env) / ".config" / "wandb"


def _read_user_settings(env: MutableMapping[str, str]) -> dict[str, str]:
    return _read_settings_file(_user_config_dir(env) / "settings")


def _read_settings_file(path: Path) -> dict[str, str]:
    """The ``[default]`` section of a W&B settings file; empty if missing or unreadable."""
    parser = configparser.ConfigParser()
    try:
        parser.read(path)
    except (OSError, configparser.Error):
        return {}
    return dict(parser["default"]) if parser.has_section("default") else {}


def _netrc_paths(env: MutableMapping[str, str]) -> list[Path]:
    if env.get("NETRC"):
        return [Path(env["NETRC"]).expanduser()]
    return [p for p in (_home(env) / ".netrc", _home(env) / "_netrc") if p.exists()]


# ---------------------------------------------------------------- run context files


def _git(*args: str, cwd: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout


def _git_root(start: Path | None = None) -> Path | None:
    """The repository holding this package (editable installs), else the working directory's."""
    for candidate in (start, Path(__file__).resolve().parent, Path.cwd()):
        if candidate is None:
            continue
        top = _git("rev-parse", "--show-toplevel", cwd=candidate)
        if top:
            return Path(top.strip())
    return None


def git_state(repo: str | os.PathLike | None = None) -> tuple[dict[str, Any], str]:
    """The one reader of the code's git state -> (state, diff). ``state``: commit, branch,
    untracked files and ``dirty`` (any uncommitted change to a tracked file, or an untracked
    file that is not ignored); ``diff`` is ``git diff HEAD``. Outside a repository (a pip
    install) ``commit`` and ``dirty`` are None."""
    root = _git_root(Path(repo) if repo else None)
    state: dict[str, Any] = {"commit": None, "branch": None, "dirty": None, "untracked": []}
    diff = ""
    if root is not None:
        state["repo"] = str(root)
        state["commit"] = (_git("rev-parse", "HEAD", cwd=root) or "").strip() or None
        state["branch"] = (_git("rev-parse", "--abbrev-ref", "HEAD", cwd=root) or "").strip()
        diff = _git("diff", "HEAD", "--binary", cwd=root) or ""
        untracked = _git("ls-files", "--others", "--exclude-standard", cwd=root) or ""
        state["untracked"] = untracked.splitlines()
        state["dirty"] = bool(diff or state["untracked"])
    return state, diff


def git_describe(repo: str | os.PathLike | None = None) -> str:
    """``<commit>``, ``<commit>-dirty`` (see :func:`git_state`), or ``unknown`` outside git."""
    state, _ = git_state(repo)
    if not state["commit"]:
        return "unknown"
    return state["commit"] + ("-dirty" if state["dirty"] else "")


def write_git_state(directory: str | os.PathLike, repo: str | os.PathLike | None = None) -> dict:
    """Write ``git_state.json`` (see :func:`git_state`) and ``git.diff``.

    The diff holds every uncommitted change to tracked files (``git diff HEAD``), so the exact
    code of a run can be rebuilt with ``git checkout <commit> && git apply git.diff``.
    Outside a repository (a pip install) the state records ``commit: null``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state, diff = git_state(repo)
    atomic_write_text(directory / GIT_DIFF_FILENAME, diff)
    atomic_write_text(directory / GIT_STATE_FILENAME, json.dumps(state, indent=2) + "\n")
    return state


def system_info() -> dict[str, Any]:
    """Python, library and hardware versions: what to compare when two runs disagree."""
    import torch

    info: dict[str, Any] = {
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "cuda_version": torch.version.cuda,
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
    }
    for package in ("pytorch_lightning", "torchmetrics", "wandb", "numpy"):
        module = sys.modules.get(package)
        info[package] = getattr(module, "__version__", None) if module else None
    return info


def write_system_info(directory: str | os.PathLike) -> dict[str, Any]:
    """Write :func:`system_info` to ``system_info.json`` in ``directory`` and return it."""
    info = system_info()
    Path(directory).mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(directory) / SYSTEM_INFO_FILENAME, json.dumps(info, indent=2) + "\n")
    return info


# ---------------------------------------------------------------- the Lightning logger


def make_wandb_logger(
    args: argparse.Namespace | dict,
    logs_dir: str | os.PathLike,
    model: Any = None,
    *,
    project: str | None = None,
    name: str | None = None,
    log_model: bool | str = "all",
    watch_log_freq: int = 100,
) -> WandbLogger:
    """A Lightning ``WandbLogger`` that records everything needed to reproduce the run.

    * hyperparameters: every simple value of ``args`` goes into the run config;
    * git state: the commit and a diff of uncommitted changes, saved as run files;
    * system info: W&B's own, plus ``system_info.json``;
    * gradients: ``watch(model, log="gradients")`` histograms every ``watch_log_freq`` steps;
    * checkpoints: ``log_model="all"`` logs each checkpoint ``ModelCheckpoint`` saves as a
      ``model`` artifact (aliases ``latest``, ``best``), offline runs included.

    The run starts here (not at the first log call) so these files exist from the start.
    ``args`` may set ``wandb_project``; the mode comes from :func:`configure_wandb_env`.
    """
    from pytorch_lightning.loggers import WandbLogger  # imported here: wandb is slow to load

    logs_dir = Path(logs_dir)
    params = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    config = {
        k: str(v) if isinstance(v, os.PathLike) else v
        for k, v in params.items()
        if isinstance(v, str | int | float | bool | None | os.PathLike)
    }
    mode = configure_wandb_env(logs_dir)
    logger = WandbLogger(
        project=project or params.get("wandb_project") or DEFAULT_PROJECT,
        name=name,
        save_dir=str(logs_dir),
        log_model=log_model,
        mode=mode,
        config=config,
        job_type="train",
    )
    # Lightning passes `anonymous=None`, which this wandb version warns about on every run.
    logger._wandb_init.pop("anonymous", None)
    run = logger.experiment  # starts the run
    if mode != "disabled":
        run_files = Path(run.dir)  # files here are part of the run (uploaded when synced)
        write_git_state(run_files)
        write_system_info(run_files)
        for filename in (GIT_STATE_FILENAME, GIT_DIFF_FILENAME, SYSTEM_INFO_FILENAME):
            run.save(str(run_files / filename), base_path=str(run_files), policy="now")
    if model is not None:
        logger.watch(model, log="gradients", log_freq=watch_log_freq, log_graph=False)
    return logger


def offline_sync_instructions(logger: Any) -> str:
    """How to upload an offline run later, or ``""`` if ``logger`` is not an offline W&B run.

    Print it at the end of training: offline runs are silently local otherwise.
    """
    run = _wandb_run(logger)
    if run is None or run.settings.mode not in ("offline", "dryrun"):
        return ""
    return (
        "W&B ran offline: this run is saved locally in\n"
        f"  {run.settings.sync_dir}\n"
        "To upload it, log in once and sync it:\n"
        "  wandb login\n"
        f"  wandb sync {run.settings.sync_dir}"
    )


def _wandb_run(logger: Any) -> Any | None:
    """The ``wandb`` Run behind a WandbLogger (or a Run itself); None for anything else."""
    if logger is None:
        return None
    experiment = getattr(logger, "_experiment", logger)  # don't start a run just to ask
    settings = getattr(experiment, "settings", None)
    if settings is None or not hasattr(settings, "sync_dir"):
        return None
    return experiment


def finish_wandb(logger: Any) -> str:
    """End the W&B run behind ``logger`` with every record on disk; return
    :func:`offline_sync_instructions` (``""`` for online runs) for the caller to print.

    ``run.finish()`` alone may return while W&B's service is still writing the run file;
    ``wandb.teardown()`` waits for it, so :mod:`run_data` can read the run right after.
    The next ``wandb.init`` starts a fresh service (a second or two).
    """
    run = _wandb_run(logger)
    if run is None:
        return ""
    import wandb

    instructions = offline_sync_instructions(logger)
    run.finish()
    wandb.teardown()
    return instructions
