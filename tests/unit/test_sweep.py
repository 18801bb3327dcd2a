"""Sweep building blocks: W&B YAML -> Optuna suggestions, samplers, pruning, results."""

import math
from types import SimpleNamespace

import optuna
import pytest

from text_recognizer.callbacks.optuna_pruning import PruningCallback
from text_recognizer.training import sweep, sweep_space

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_shipped_yaml_is_a_valid_wandb_sweep_for_the_cli():
    config = sweep_space.load_sweep_config("line_cnn_transformer")
    assert sweep_space.metric_and_direction(config) == ("val/cer", "minimize")
    assert config["method"] == "bayes"
    assert {"lr", "tf_dim", "tf_layers", "tf_dropout", "batch_size"} <= set(config["parameters"])
    assert config["parameters"]["model_class"]["value"] == "LineCNNTransformer"
    command = config["command"]
    assert command[:3] == ["${env}", "text-recognizer", "train"] and "--wandb" in command
    # Every parameter maps onto an Optuna suggestion.
    trial = optuna.create_study().ask()
    values = sweep_space.suggest_config(config["parameters"], trial)
    assert 1e-4 <= values["lr"] <= 3e-3 and values["tf_dim"] in (64, 128, 256)
    assert values["with_start_end_tokens"] is True
    assert set(trial.params) == {"lr", "tf_dim", "tf_layers", "tf_dropout", "batch_size"}


def test_every_supported_distribution():
    parameters = {
        "a": {"values": ["x", "y"]},
        "b": {"min": 1, "max": 3},  # ints -> int_uniform
        "c": {"min": 0.0, "max": 1.0},  # floats -> uniform
        "d": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
        "e": {"distribution": "log_uniform", "min": math.log(1e-3), "max": math.log(1.0)},
        "f": {"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.25},
        "g": {"value": 7},
    }
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        values = sweep_space.suggest_config(parameters, study.ask())
        assert values["a"] in ("x", "y") and values["b"] in (1, 2, 3)
        assert isinstance(values["b"], int) and 0.0 <= values["c"] <= 1.0
        assert 1e-5 <= values["d"] <= 1e-1 and 1e-3 <= values["e"] <= 1.0
        assert values["f"] in (0.0, 0.25, 0.5, 0.75, 1.0) and values["g"] == 7
    distributions = study.trials[0].distributions
    assert distributions["d"].log and distributions["e"].log and not distributions["c"].log


def test_unsupported_distributions_say_so():
    with pytest.raises(ValueError, match="'normal' has no Optuna equivalent"):
        sweep_space.suggest_config(
            {"x": {"distribution": "normal", "mu": 0, "sigma": 1}}, optuna.create_study().ask()
        )
    with pytest.raises(ValueError, match="grid search needs `values`"):
        sweep_space.make_sampler({"method": "grid", "parameters": {"x": {"min": 0, "max": 1}}}, 0)
    with pytest.raises(ValueError, match="method 'hyperband'"):
        sweep_space.make_sampler({"method": "hyperband", "parameters": {}}, 0)
    with pytest.raises(ValueError, match="needs `metric"):
        sweep_space.metric_and_direction({"parameters": {}})
    with pytest.raises(FileNotFoundError, match="line_cnn_transformer"):
        sweep_space.load_sweep_config("no_such_sweep")


def test_samplers_and_pruners_follow_the_yaml():
    assert isinstance(
        sweep_space.make_sampler({"method": "random"}, 0), optuna.samplers.RandomSampler
    )
    assert isinstance(sweep_space.make_sampler({"method": "bayes"}, 0), optuna.samplers.TPESampler)
    pruner = sweep_space.make_pruner({"early_terminate": {"type": "hyperband", "min_iter": 3}})
    assert isinstance(pruner, optuna.pruners.MedianPruner) and pruner._n_warmup_steps == 2
    assert isinstance(sweep_space.make_pruner({}), optuna.pruners.NopPruner)
    assert isinstance(
        sweep_space.make_pruner({"early_terminate": {}}, enabled=False), optuna.pruners.NopPruner
    )


def fake_trainer(value, epoch):
    return SimpleNamespace(
        sanity_checking=False,
        current_epoch=epoch,
        should_stop=False,
        callback_metrics={"val/cer": value},
    )


def test_pruning_callback_stops_a_trial_worse_than_the_median():
    study = optuna.create_study(
        direction="minimize",
        pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=1),
    )
    good = study.ask()
    callback = PruningCallback(good, monitor="val/cer")
    for epoch, value in enumerate([0.5, 0.3, 0.2]):
        trainer = fake_trainer(value, epoch)
        callback.on_validation_end(trainer, None)
        assert not trainer.should_stop
    callback.raise_if_pruned()  # not pruned: no exception
    study.tell(good, 0.2)

    bad = study.ask()
    callback = PruningCallback(bad, monitor="val/cer")
    callback.on_validation_end(fake_trainer(0.9, 0), None)  # warm-up epoch: never pruned
    assert callback.pruned_at is None
    sanity = fake_trainer(0.99, 1)
    sanity.sanity_checking = True
    callback.on_validation_end(sanity, None)  # sanity checks are not reported
    trainer = fake_trainer(0.8, 1)
    callback.on_validation_end(trainer, None)
    assert trainer.should_stop and callback.pruned_at == 1
    assert bad.storage.get_trial(bad._trial_id).intermediate_values == {0: 0.9, 1: 0.8}
    with pytest.raises(optuna.TrialPruned, match="epoch 1"):
        callback.raise_if_pruned()


def test_cli_rejects_bad_input(capsys):
    assert sweep.main(["line_cnn_transformer", "--set", "oops"]) == 2
    assert sweep.main(["line_cnn_transformer", "--workers", "0"]) == 2
    assert sweep.main(["no_such_sweep"]) == 1
    assert "no sweep config 'no_such_sweep'" in capsys.readouterr().err
