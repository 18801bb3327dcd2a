"""The ``text-recognizer`` command: one entry point, one subcommand per job.

    text-recognizer train ...      train a model (Lab 02+), see ``train --help``
    text-recognizer sweep ...      hyperparameter search (Optuna, W&B sweep YAML)
    text-recognizer download NAME  fetch a dataset into the cache (needs the network)

Subcommands import their modules lazily so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from text_recognizer import __version__


def _download(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="text-recognizer download", description="Download a dataset into the local cache."
    )
    parser.add_argument("name", choices=["mnist", "emnist"], help="dataset to download")
    args = parser.parse_args(argv)
    from text_recognizer.data.download import DownloadError

    if args.name == "mnist":
        from text_recognizer.data.mnist import MNIST as DataClass
    else:
        from text_recognizer.data.emnist import EMNIST as DataClass
    try:
        DataClass().prepare_data()
    except DownloadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{args.name}: ready")
    return 0


def _train(argv: list[str]) -> int:
    from text_recognizer.training import run_experiment

    return run_experiment.main(argv) or 0


def _sweep(argv: list[str]) -> int:
    from text_recognizer.training import sweep

    return sweep.main(argv) or 0


COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "train": (_train, "train a model: text-recognizer train --help"),
    "sweep": (_sweep, "run a W&B sweep config locally with Optuna: text-recognizer sweep --help"),
    "download": (_download, "download a dataset into the cache (needs the network)"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    width = max(map(len, COMMANDS))
    usage = "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items())
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: text-recognizer COMMAND [options]\n\ncommands:\n{usage}")
        return 0
    if argv[0] == "--version":
        print(f"text-recognizer {__version__}")
        return 0
    command = COMMANDS.get(argv[0])
    if command is None:
        print(
            f"text-recognizer: unknown command {argv[0]!r}\n\ncommands:\n{usage}", file=sys.stderr
        )
        return 2
    return command[0](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
