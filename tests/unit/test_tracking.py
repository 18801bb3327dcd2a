"""W&B environment set-up: offline unless the user logged in, files never in $HOME."""

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from text_recognizer.training import tracking


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty $HOME and working directory; no W&B variables from the outer environment."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    return home


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(home), **extra}


def test_offline_without_credentials_and_nothing_in_home(tmp_path, home):
    env = clean_env(home)
    logs = tmp_path / "logs"
    assert tracking.find_wandb_credentials(env) is None
    assert tracking.configure_wandb_env(logs, env) == "offline"
    assert env["WANDB_MODE"] == "offline"
    for var in ("WANDB_DIR", *tracking.WANDB_DIR_VARS, "WANDB_CREDENTIALS_FILE"):
        assert Path(env[var]).is_relative_to(logs.resolve()), var
    assert all(Path(env[var]).is_dir() for var in tracking.WANDB_DIR_VARS)
    assert "WANDB_API_KEY" not in env  # never a dummy key
    assert sorted(home.rglob("*")) == []


def test_explicit_wandb_mode_wins(tmp_path, home):
    for mode in ("disabled", "online", "offline"):
        env = clean_env(home, WANDB_MODE=mode)
        assert tracking.configure_wandb_env(tmp_path / mode, env) == mode
        assert env["WANDB_MODE"] == mode
    env = clean_env(home, WANDB_MODE="dryrun")  # the old spelling of offline
    assert tracking.configure_wandb_env(tmp_path / "dry", env) == "offline"
    with pytest.raises(ValueError, match="WANDB_MODE='sometimes'"):
        tracking.configure_wandb_env(tmp_path / "bad", clean_env(home, WANDB_MODE="sometimes"))


def test_wandb_offline_command_in_working_directory_is_respected(tmp_path, home):
    settings = Path.cwd() / "wandb" / "settings"  # what `wandb offline` writes
    settings.parent.mkdir()
    settings.write_text("[default]\nmode = offline\n")
    env = clean_env(home, WANDB_API_KEY="x" * 40)
    assert tracking.configure_wandb_env(tmp_path / "logs", env) == "offline"


def test_online_when_logged_in_with_netrc(tmp_path, home):
    (home / ".netrc").write_text("machine api.wandb.ai\n  login user\n  password " + "a" * 40)
    env = clean_env(home)
    assert tracking.find_wandb_credentials(env) == str(home / ".netrc")
    assert tracking.configure_wandb_env(tmp_path / "logs", env) == "online"
    # A .netrc entry for another host is not a W&B login.
    (home / ".netrc").write_text("machine example.com\n  login user\n  password secret\n")
    assert tracking.find_wandb_credentials(clean_env(home)) is None


def test_self_hosted_server_and_settings_key_carry_over(tmp_path, home):
    config_dir = home / ".config" / "wandb"
    config_dir.mkdir(parents=True)
    (config_dir / "settings").write_text(
        "[default]\nbase_url = https://wandb.example.com\napi_key = " + "k" * 40 + "\n"
    )
    env = clean_env(home)
    assert tracking.find_wandb_credentials(env) == "settings file"
    assert tracking.configure_wandb_env(tmp_path / "logs", env) == "online"
    assert env["WANDB_BASE_URL"] == "https://wandb.example.com"
    assert env["WANDB_API_KEY"] == "k" * 40  # the user's real key, in memory only
    assert Path(env["WANDB_CONFIG_DIR"]).is_relative_to(tmp_path / "logs")


def test_second_call_redetects_instead_of_trusting_its_own_choice(tmp_path, home):
    env = clean_env(home)
    assert tracking.configure_wandb_env(tmp_path / "a", env) == "offline"
    env["WANDB_API_KEY"] = "z" * 40  # the user logs in (e.g. wandb.login() in a notebook)
    assert tracking.configure_wandb_env(tmp_path / "b", env) == "online"
    assert Path(env["WANDB_DIR"]) == (tmp_path / "b").resolve()


def make_repo(tmp_path: Path) -> tuple[Path, list[str]]:
    """A repository with one commit of train.py -> (its path, the git command prefix)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "train.py").write_text("lr = 1e-3\n")
    subprocess.run([*git, "add", "train.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    return repo, git


def test_git_state_records_commit_and_uncommitted_diff(tmp_path, home):
    repo, git = make_repo(tmp_path)
    (repo / "train.py").write_text("lr = 3e-4\n")
    (repo / "notes.txt").write_text("new\n")

    state = tracking.write_git_state(tmp_path / "out", repo=repo)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert state["commit"] == head.strip() and state["dirty"] is True
    assert state["untracked"] == ["notes.txt"]
    diff = (tmp_path / "out" / tracking.GIT_DIFF_FILENAME).read_text()
    assert "-lr = 1e-3" in diff and "+lr = 3e-4" in diff
    saved = json.loads((tmp_path / "out" / tracking.GIT_STATE_FILENAME).read_text())
    assert saved == state


def test_git_describe_agrees_with_git_state_on_dirty(tmp_path, home):
    """The model card's git_sha and a run's git_state.json use one reading of "dirty":
    an untracked file alone makes the tree dirty, a clean tree does not."""
    repo, git = make_repo(tmp_path)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert tracking.git_describe(repo) == head.strip()
    (repo / "notes.txt").write_text("new\n")
    assert tracking.git_describe(repo) == head.strip() + "-dirty"
    assert tracking.git_state(repo)[0]["dirty"] is True


def test_system_info_file(tmp_path):
    info = tracking.write_system_info(tmp_path)
    saved = json.loads((tmp_path / tracking.SYSTEM_INFO_FILENAME).read_text())
    assert saved == info and saved["torch"] and saved["cpu_count"] >= 1


def test_offline_sync_instructions():
    def logger(mode):
        settings = SimpleNamespace(mode=mode, sync_dir="/logs/wandb/offline-run-x")
        return SimpleNamespace(_experiment=SimpleNamespace(settings=settings))

    assert "wandb sync /logs/wandb/offline-run-x" in tracking.offline_sync_instructions(
        logger("offline")
    )
    assert tracking.offline_sync_instructions(logger("online")) == ""
    assert tracking.offline_sync_instructions(None) == ""
    assert tracking.offline_sync_instructions(SimpleNamespace(_experiment=None)) == ""
    assert tracking.finish_wandb(None) == ""  # no W&B run: nothing to finish
