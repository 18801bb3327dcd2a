"""``text-recognizer train``'s registry and two-phase argument parsing (no training here)."""

from __future__ import annotations

import pytest

from text_recognizer.models import MODEL_CLASSES
from text_recognizer.training import experiment_args
from text_recognizer.training.experiment_args import (
    RegistryError,
    build_parser,
    import_class,
    lit_model_name,
)
from text_recognizer.training.run_experiment import main


def test_registry_names_and_module_paths_resolve():
    assert import_class("CNN", MODEL_CLASSES).__name__ == "CNN"
    assert import_class("text_recognizer.models.mlp:MLP", MODEL_CLASSES).__name__ == "MLP"


def test_unknown_missing_and_broken_classes_give_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(RegistryError, match="unknown model 'Nope'; choose one of MLP, CNN"):
        import_class("Nope", MODEL_CLASSES, "model")
    ghost = {"Ghost": "text_recognizer.data.ghost_module:Ghost"}
    with pytest.raises(RegistryError, match="lives in text_recognizer.data.ghost_module, which is"):
        import_class("Ghost", ghost, "data class")
    (tmp_path / "needs_dep.py").write_text("import not_an_installed_package_xyz\nclass A: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RegistryError, match="needs the package 'not_an_installed_package_xyz'"):
        import_class("needs_dep:A", {}, "model")
    with pytest.raises(RegistryError, match="has no Missing"):
        import_class("text_recognizer.models.cnn:Missing", {}, "model")


def test_lit_model_comes_from_the_model_unless_overridden():
    class Plain:
        pass

    class Declares:
        lit_model_class = "CTCLitModel"

    parse = build_parser([]).parse_args
    assert lit_model_name(parse([]), Plain) == "BaseLitModel"
    assert lit_model_name(parse([]), Declares) == "CTCLitModel"
    override = parse(["--lit_model_class", "BaseLitModel"])
    assert lit_model_name(override, Declares) == "BaseLitModel"


def test_help_documents_the_chosen_classes_flags(capsys):
    assert main(["--data_class", "Digits", "--model_class", "CNN", "--help"]) == 0
    out = capsys.readouterr().out
    for heading in (
        "Classes:",
        "Experiment:",
        "Trainer (Lightning):",
        "Data: Digits:",
        "Model: CNN:",
        "Lit model: BaseLitModel:",
    ):
        assert heading in out
    for flag in (
        "--conv_dim",
        "--fc_dropout",
        "--batch_size",
        "--lr",
        "--one_cycle_max_lr",
        "--max_epochs",
        "--stop_early",
        "--logs_dir",
        "--fast_dev_run",
        "--test",
        "--accelerator",
        "--limit_val_batches",
        "--precision",
        "--strategy",
        "--wandb",
        "--profile",
    ):
        assert flag in out, flag
    assert "--fc1" not in out  # the MLP's flags appear only when the MLP is chosen


def test_bad_class_name_exits_with_a_short_message(capsys):
    assert main(["--model_class", "NoSuchModel"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'NoSuchModel'" in err and "usage:" not in err


def test_flag_types_follow_lightning_conventions():
    parse = build_parser([]).parse_args
    args = parse(
        [
            "--limit_train_batches",
            "5",
            "--limit_val_batches",
            "0.5",
            "--devices",
            "2",
            "--fast_dev_run",
        ]
    )
    assert args.limit_train_batches == 5 and isinstance(args.limit_train_batches, int)
    assert args.limit_val_batches == 0.5 and args.devices == 2 and args.fast_dev_run is True
    defaults = parse([])
    assert defaults.accelerator == "auto" and defaults.devices == "auto"
    assert defaults.fast_dev_run is False and defaults.stop_early == 0
    assert parse(["--fast_dev_run", "3"]).fast_dev_run == 3
    assert str(defaults.logs_dir) == experiment_args.LOGS_DIR


class DataWithSeed:
    """A data class that declares --seed and --batch_size itself, like several in the course."""

    @staticmethod
    def add_to_argparse(parser):
        parser.add_argument("--seed", type=int, default=123, help="generation seed")
        parser.add_argument("--batch_size", type=int, default=4)
        parser.add_argument("--only_here", type=int, default=7)
        return parser


def test_a_flag_declared_twice_is_shared_not_a_crash():
    argv = ["--data_class", f"{__name__}:DataWithSeed"]
    parser = build_parser(argv)
    args = parser.parse_args([*argv, "--seed", "5"])
    assert args.seed == 5 and args.batch_size == 4 and args.only_here == 7
    assert parser.parse_args(argv).seed == 0  # the experiment's declaration came first


def test_multi_node_ddp_flags_reach_the_trainer(monkeypatch):
    """``--strategy ddp --devices 4 --num_nodes 2`` builds an 8-process DDP Trainer; a node
    learns its place from the launcher's environment (torchrun and SLURM set these)."""
    import pytorch_lightning as pl
    from lightning_utilities.core.rank_zero import rank_zero_only as utils_rank_zero_only
    from pytorch_lightning.strategies import DDPStrategy
    from pytorch_lightning.utilities.rank_zero import rank_zero_only

    # Building a DDP Trainer sets the process-wide "am I rank 0?" flags to this node's global
    # rank (4); restore them, or every later Trainer in this process would skip its logging.
    monkeypatch.setattr(rank_zero_only, "rank", rank_zero_only.rank)
    monkeypatch.setattr(utils_rank_zero_only, "rank", utils_rank_zero_only.rank)
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29500")
    monkeypatch.setenv("NODE_RANK", "1")
    argv = ["--accelerator", "cpu", "--devices", "4", "--strategy", "ddp", "--num_nodes", "2"]
    args = build_parser(argv).parse_args(argv)
    kwargs = experiment_args.trainer_kwargs(args)
    assert (kwargs["devices"], kwargs["strategy"], kwargs["num_nodes"]) == (4, "ddp", 2)
    trainer = pl.Trainer(**kwargs, logger=False, enable_progress_bar=False)  # nothing launched
    assert isinstance(trainer.strategy, DDPStrategy)
    assert (trainer.num_nodes, trainer.num_devices, trainer.world_size) == (2, 4, 8)
    assert trainer.node_rank == 1 and trainer.global_rank == 4  # local rank 0 of node 1
    assert rank_zero_only.rank == 4  # what the monkeypatch above undoes
