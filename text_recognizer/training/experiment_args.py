"""What ``text-recognizer train`` trains, and with which flags: class registries and the parser.

Classes are picked by name from the registries below (or given as ``module:Class``) and
imported only when chosen, so a dataset whose module is missing or needs an uninstalled
package gives a clear error instead of breaking every run. Parsing has two phases: first
``--data_class``/``--model_class``/``--lit_model_class``, then each chosen class adds its own
flags (``add_to_argparse``), so ``--help`` documents every flag of that combination.
``run_experiment.run`` trains with the result.
"""

from __future__ import annotations

import argparse
import importlib
import re
from pathlib import Path
from typing import Any

from text_recognizer.models import MODEL_CLASSES

# name -> "module:Class". Modules are imported only when their name is chosen.
DATA_CLASSES = {
    "Digits": "text_recognizer.data.digits:Digits",
    "MNIST": "text_recognizer.data.mnist:MNIST",
    "EMNIST": "text_recognizer.data.emnist:EMNIST",
    "EMNISTLines": "text_recognizer.data.emnist_lines:EMNISTLines",
    "SyntheticCharacters": "text_recognizer.data.synthetic_characters:SyntheticCharacters",
    "SyntheticLines": "text_recognizer.data.synthetic_lines:SyntheticLines",
    "SyntheticParagraphs": "text_recognizer.data.synthetic_paragraphs:SyntheticParagraphs",
    "SyntheticParagraphLines": (
        "text_recognizer.data.synthetic_paragraph_lines:SyntheticParagraphLines"
    ),
    "IAMLines": "text_recognizer.data.iam_lines:IAMLines",
    "IAMReleaseLines": "text_recognizer.data.iam_release_lines:IAMReleaseLines",
    "IAMParagraphs": "text_recognizer.data.iam_paragraphs:IAMParagraphs",
    "IAMSyntheticParagraphs": "text_recognizer.data.iam_synthetic_paragraphs:IAMSyntheticParagraphs",
    "AnnotatedLines": "text_recognizer.data.annotated_lines:AnnotatedLines",
}
LIT_MODEL_CLASSES = {
    "BaseLitModel": "text_recognizer.lit_models.base:BaseLitModel",
    "TransformerLitModel": "text_recognizer.lit_models.transformer:TransformerLitModel",
    "CTCLitModel": "text_recognizer.lit_models.ctc:CTCLitModel",
}
DATA_CLASS, MODEL_CLASS, LIT_MODEL_CLASS = "Digits", "MLP", "BaseLitModel"
MAX_EPOCHS = 10
LOGS_DIR = "logs"


class RegistryError(ValueError):
    """A class name that is unknown, or whose module cannot be imported (the message says why)."""


def import_class(name: str, registry: dict[str, str], kind: str = "class") -> type:
    """Import a class by registry name, or by an explicit ``module:Class`` path.

    >>> import_class("MLP", MODEL_CLASSES, "model").__name__
    'MLP'
    >>> import_class("Nope", MODEL_CLASSES, "model")
    Traceback (most recent call last):
    ...
    text_recognizer.training.experiment_args.RegistryError: unknown model 'Nope'; choose one of ...
    """
    target = registry.get(name) or (name if ":" in name else None)
    if target is None:
        raise RegistryError(
            f"unknown {kind} {name!r}; choose one of {', '.join(registry)} or give module:Class"
        )
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and (module_name == error.name or module_name.startswith(error.name + ".")):
            raise RegistryError(
                f"{kind} {name!r} lives in {module_name}, which is not in this installation "
                f"(a later lab adds it, or the name is misspelled)"
            ) from error
        raise RegistryError(
            f"{kind} {name!r} needs the package {error.name!r}, which is not installed: {error}"
        ) from error
    except ImportError as error:
        raise RegistryError(f"{kind} {name!r}: importing {module_name} failed: {error}") from error
    cls = getattr(module, class_name, None)
    if cls is None:
        raise RegistryError(f"{kind} {name!r}: {module_name} has no {class_name}")
    return cls


def lit_model_name(args: argparse.Namespace, model_class: type) -> str:
    """``--lit_model_class`` if given, else the model's declared ``lit_model_class``."""
    return args.lit_model_class or getattr(model_class, "lit_model_class", LIT_MODEL_CLASS)


def _int_or_float(text: str) -> int | float:
    """Lightning's convention: an int counts batches, a float is a fraction."""
    return float(text) if any(c in text for c in ".eE") else int(text)


def _int_or_str(text: str) -> int | str:
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def _int_or_bool(text: str) -> int | bool:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return int(text)


def _add_class_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--data_class",
        default=DATA_CLASS,
        help=f"DataModule name or module:Class (default {DATA_CLASS})",
    )
    parser.add_argument(
        "--model_class",
        default=MODEL_CLASS,
        help=f"model name or module:Class (default {MODEL_CLASS})",
    )
    parser.add_argument(
        "--lit_model_class",
        default=None,
        help="LightningModule name or module:Class (default: the model's "
        f"lit_model_class attribute, else {LIT_MODEL_CLASS})",
    )


def _add_experiment_flags(group: argparse._ArgumentGroup) -> None:
    add = group.add_argument
    add("--seed", type=int, default=0, help="seeds Python, NumPy, PyTorch and data (default 0)")
    add(
        "--logs_dir",
        type=Path,
        default=Path(LOGS_DIR),
        help=f"where CSV, TensorBoard logs and checkpoints go (default ./{LOGS_DIR})",
    )
    add(
        "--experiment_name",
        default=None,
        help="run folder name under logs_dir (default DATA_CLASS-MODEL_CLASS)",
    )
    add(
        "--stop_early",
        type=int,
        default=0,
        metavar="PATIENCE",
        help="stop after this many validations without improvement (default 0: off)",
    )
    add(
        "--monitor",
        default=None,
        help="metric for the best checkpoint and early stopping (default: the lit model's "
        "monitor, e.g. val/loss; val/cer for CTC and Transformer models)",
    )
    add(
        "--monitor_mode",
        choices=["min", "max"],
        default=None,
        help="whether lower or higher --monitor is better (default: the lit model's)",
    )
    add("--load_checkpoint", type=Path, default=None, help="start from these weights (.ckpt)")
    add(
        "--test", action="store_true", help="evaluate the best checkpoint on the test set after fit"
    )
    add(
        "--wandb",
        action="store_true",
        help="also log to Weights & Biases: online with credentials, else offline under "
        "logs_dir (wandb sync later)",
    )
    add("--wandb_project", default=None, help="W&B project (default text-recognizer)")
    add(
        "--predictions_every_n_epochs",
        type=int,
        default=1,
        metavar="N",
        help="every N epochs, save a table of validation images, true and predicted text and "
        "CER to the run's predictions/ folder (and W&B) if the lit model keeps examples "
        "(default 1; 0: off)",
    )
    add(
        "--profile",
        action="store_true",
        help="profile a few training steps with torch.profiler into the run's profile/ folder",
    )
    add(
        "--progress_bar",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="show Lightning's progress bar (default on)",
    )


def _add_trainer_flags(group: argparse._ArgumentGroup) -> None:
    add = group.add_argument
    add(
        "--max_epochs", type=int, default=MAX_EPOCHS, help=f"epochs to train (default {MAX_EPOCHS})"
    )
    add(
        "--accelerator",
        default="auto",
        help="cpu, gpu, mps or auto (default auto: CUDA if present)",
    )
    add(
        "--devices",
        type=_int_or_str,
        default="auto",
        help="number of devices, a list like 0,1, or auto (default auto)",
    )
    add("--strategy", default="auto", help="e.g. ddp, ddp_spawn, auto (default auto)")
    add("--num_nodes", type=int, default=1, help="machines for distributed training (default 1)")
    add(
        "--precision",
        default="32-true",
        help="32-true, 16-mixed, bf16-mixed, 64-true, ... (default 32-true)",
    )
    add(
        "--overfit_batches",
        type=_int_or_float,
        default=0.0,
        help="train and validate on this many training batches (int) or fraction (default 0: off)",
    )
    add(
        "--fast_dev_run",
        type=_int_or_bool,
        nargs="?",
        const=True,
        default=False,
        help="run N (default 1) train/val/test batches to smoke-test the code, no logging",
    )
    for split in ("train", "val", "test"):
        add(
            f"--limit_{split}_batches",
            type=_int_or_float,
            default=1.0,
            help=f"use this many {split} batches (int) or this fraction (float) (default 1.0)",
        )
    add("--gradient_clip_val", type=float, default=None, help="clip gradient norm (default off)")
    add(
        "--accumulate_grad_batches",
        type=int,
        default=1,
        help="sum gradients over N batches per optimizer step (default 1)",
    )
    add(
        "--check_val_every_n_epoch", type=int, default=1, help="validate every N epochs (default 1)"
    )
    add(
        "--log_every_n_steps",
        type=int,
        default=50,
        help="log training metrics every N steps (default 50)",
    )
    add("--deterministic", action="store_true", help="use deterministic algorithms only (slower)")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """Phase 1 reads the class names from ``argv``; phase 2 builds the full parser with
    argument groups for the experiment, the Trainer and each chosen class's flags."""
    names = argparse.ArgumentParser(add_help=False)
    _add_class_flags(names)
    known, _ = names.parse_known_args(argv)

    parser = argparse.ArgumentParser(
        prog="text-recognizer train",
        description="Train a model on a dataset with PyTorch Lightning; logs to CSV and "
        "TensorBoard and keeps the best checkpoint.",
        epilog=f"data classes: {', '.join(DATA_CLASSES)}\nmodels: {', '.join(MODEL_CLASSES)}\n"
        f"lit models: {', '.join(LIT_MODEL_CLASSES)}\n"
        "Any of them can also be given as module:Class.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    group = parser.add_argument_group("Classes")
    _add_class_flags(group)
    _add_experiment_flags(parser.add_argument_group("Experiment"))
    _add_trainer_flags(parser.add_argument_group("Trainer (Lightning)"))
    try:
        data_class = import_class(known.data_class, DATA_CLASSES, "data class")
        model_class = import_class(known.model_class, MODEL_CLASSES, "model")
        lit_name = lit_model_name(known, model_class)
        lit_model_class = import_class(lit_name, LIT_MODEL_CLASSES, "lit model")
    except RegistryError as error:  # a short message, not argparse's full usage dump
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    for title, cls in (
        (f"Data: {known.data_class}", data_class),
        (f"Model: {known.model_class}", model_class),
        (f"Lit model: {lit_name}", lit_model_class),
    ):
        if hasattr(cls, "add_to_argparse"):
            cls.add_to_argparse(_SharedFlags(parser, parser.add_argument_group(title)))
    return parser


class _SharedFlags:
    """An argument group that lets a class re-declare a flag another part already added
    (``--seed``, ``--batch_size``, ...): the first declaration wins, instead of argparse's
    "conflicting option string" crash, so independent classes combine freely."""

    def __init__(self, parser: argparse.ArgumentParser, group: argparse._ArgumentGroup) -> None:
        self._parser, self._group = parser, group

    def add_argument(self, *names: str, **kwargs: Any) -> argparse.Action:
        taken = self._parser._option_string_actions  # argparse's table of every flag so far
        existing = next((taken[name] for name in names if name in taken), None)
        return existing or self._group.add_argument(*names, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._group, name)


def trainer_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The ``pl.Trainer`` keyword arguments among the parsed flags (see ``_add_trainer_flags``)."""
    names = [
        "max_epochs",
        "accelerator",
        "devices",
        "strategy",
        "num_nodes",
        "precision",
        "overfit_batches",
        "fast_dev_run",
        "limit_train_batches",
        "limit_val_batches",
        "limit_test_batches",
        "gradient_clip_val",
        "accumulate_grad_batches",
        "check_val_every_n_epoch",
        "log_every_n_steps",
        "deterministic",
    ]
    return {name: getattr(args, name) for name in names}


def args_with_defaults(args: argparse.Namespace | dict) -> argparse.Namespace:
    """``args`` as a Namespace; a (partial) dict gets the CLI default of every flag it leaves
    out, for the classes it names (``{"max_epochs": 1}`` -> Digits + MLP defaults)."""
    if not isinstance(args, dict):
        return args
    argv = [
        f"--{k}={v}"
        for k, v in args.items()
        if k in ("data_class", "model_class", "lit_model_class") and v
    ]
    defaults = vars(build_parser(argv).parse_args(argv))
    return argparse.Namespace(**{**defaults, **args})
