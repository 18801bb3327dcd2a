"""Local sweeps: worker processes sharing one SQLite study, pruning, results files."""

import os
from pathlib import Path

import optuna
import pandas as pd
import pytest

from text_recognizer.metadata.shared import REPO_DIRNAME
from text_recognizer.training import sweep, sweep_results, sweep_space

pytestmark = pytest.mark.integration

LOG_VAR = "TEXT_RECOGNIZER_TEST_SWEEP_LOG"


def recording_objective(config, trial):
    """A cheap stand-in for training that records each call: trial number and process id."""
    with open(os.environ[LOG_VAR], "a") as log:
        log.write(f"{trial.number} {os.getpid()}\n")
    trial.set_user_attr("cuda_visible_devices", os.environ.get("CUDA_VISIBLE_DEVICES"))
    return (config["lr"] - 1e-3) ** 2 + config["tf_layers"]


def test_two_worker_processes_share_one_study(tmp_path, monkeypatch):
    log = tmp_path / "calls.log"
    monkeypatch.setenv(LOG_VAR, str(log))
    monkeypatch.setenv("PYTHONPATH", str(REPO_DIRNAME))  # workers import this test module
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    output_dir = tmp_path / "sweep"

    code = sweep.main(
        [
            "line_cnn_transformer",
            "--n-trials",
            "4",
            "--workers",
            "2",
            "--output-dir",
            str(output_dir),
            "--gpus",
            "none",
            "--train-fn",
            f"{__name__}:recording_objective",
        ]
    )
    assert code == 0

    study = optuna.load_study(
        study_name="line_cnn_transformer", storage=sweep.storage_url(output_dir)
    )
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 4
    assert sorted(t.number for t in study.trials) == [0, 1, 2, 3]
    calls = [line.split() for line in log.read_text().splitlines()]
    assert sorted(int(number) for number, _ in calls) == [0, 1, 2, 3]  # each trial ran once
    assert len({pid for _, pid in calls}) == 2  # by two separate processes
    assert os.getpid() not in {int(pid) for _, pid in calls}
    assert {t.user_attrs["cuda_visible_devices"] for t in study.trials} == {""}  # --gpus none
    assert {t.user_attrs["worker"].rsplit(":", 1)[1] for t in study.trials} == {"0", "1"}
    results = (output_dir / "results.csv").read_text().splitlines()
    assert len(results) == 5 and results[0].startswith("number,state,value")
    assert (output_dir / "results.md").is_file()
    assert all(Path(output_dir / f"worker_{i}.log").is_file() for i in (0, 1))


def test_in_process_sweep_prunes_and_writes_results(tmp_path):
    study = sweep.run_sweep(
        "line_cnn_transformer",
        n_trials=6,
        workers=1,
        output_dir=tmp_path,
        train_fn=sweep.toy_objective,
        overrides={"max_epochs": 4},
        seed=1,
    )
    states = [t.state for t in study.trials]
    assert len(states) == 6 and optuna.trial.TrialState.PRUNED in states
    assert states.count(optuna.trial.TrialState.COMPLETE) >= 2
    paths = sweep_results.write_results(study, tmp_path)
    table = sweep_results.results_table(study)
    assert len(table) == 6 and table["value"].iloc[0] == study.best_value
    assert paths["csv"].read_text().count("\n") == 7
    assert paths["markdown"].read_text().startswith("| number | state | value |")
    assert paths["importance"].read_bytes().startswith(b"\x89PNG")
    command = sweep_results.best_command(
        study, sweep_space.load_sweep_config("line_cnn_transformer"), {"max_epochs": 4}
    )
    assert command.startswith("text-recognizer train --data_class=EMNISTLines")
    assert "--with_start_end_tokens" in command and f"--lr={study.best_params['lr']}" in command


def test_a_failed_trial_is_recorded_and_the_worker_goes_on(tmp_path):
    def flaky(config, trial):
        if trial.number == 0:
            raise RuntimeError("out of memory (pretend)")
        return config["lr"]

    study = sweep.run_sweep("line_cnn_transformer", n_trials=3, output_dir=tmp_path, train_fn=flaky)
    states = [t.state.name for t in study.trials]
    assert states == ["FAIL", "COMPLETE", "COMPLETE"]
    assert study.best_value == min(t.params["lr"] for t in study.trials[1:])


@pytest.mark.training
@pytest.mark.slow
def test_default_train_fn_trains_with_run_experiment(tmp_path):
    """The real objective: each trial is a run_experiment run (Digits + MLP, tiny)."""
    config = {
        "method": "random",
        "metric": {"name": "val/loss", "goal": "minimize"},
        "parameters": {
            "lr": {"distribution": "log_uniform_values", "min": 1e-3, "max": 1e-2},
            "fc1": {"values": [16, 32]},
            "data_class": {"value": "Digits"},
            "model_class": {"value": "MLP"},
            "max_epochs": {"value": 2},
            "num_workers": {"value": 0},
        },
    }
    study = sweep.run_sweep(config, n_trials=2, output_dir=tmp_path, study_name="digits")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2
    for trial in study.trials:
        log_dir = Path(trial.user_attrs["log_dir"])
        assert log_dir.is_relative_to(tmp_path / "trials")
        metrics = pd.read_csv(log_dir / "metrics.csv")
        assert trial.value == pytest.approx(metrics["val/loss"].min(), rel=1e-5)
        assert trial.value < 2.3  # learned something (chance: ln 10)
