"""The ``text-recognizer`` command: one entry point, one subcommand per job.

    text-recognizer train ...      train a model (Lab 02+), see ``train --help``
    text-recognizer sweep ...      hyperparameter search (Optuna, W&B sweep YAML)
    text-recognizer download NAME  fetch a dataset into the cache (needs the network)
    text-recognizer stage ...      checkpoint -> TorchScript + ONNX + model card (release)
    text-recognizer predict IMAGE  read handwriting with the staged release model
    text-recognizer monitor ...    evaluation store: simulate traffic, drift checks, report

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


def _monitor(argv: list[str]) -> int:
    from text_recognizer.monitoring import cli

    return cli.main(argv) or 0


def _stage(argv: list[str]) -> int:
    from text_recognizer.training import stage

    return stage.main(argv) or 0


def _predict(argv: list[str]) -> int:
    """Print each image's text; exit 1 (one line on stderr per bad input) if any failed."""
    from text_recognizer.recognizer import DEFAULT_BACKEND, SERVING_BACKENDS

    parser = argparse.ArgumentParser(
        prog="text-recognizer predict",
        description="Read handwritten paragraphs with the staged release recognizer.",
    )
    parser.add_argument("images", nargs="+", help="image paths, http(s) URLs or base64 text")
    parser.add_argument("--artifact_dir", default=None, help="artifact folder (default: release)")
    parser.add_argument(
        "--backend",
        choices=SERVING_BACKENDS,
        default=DEFAULT_BACKEND,
        help="model format (default %(default)s)",
    )
    parser.add_argument(
        "--details", action="store_true", help="also print per-line confidences and boxes"
    )
    args = parser.parse_args(argv)
    from text_recognizer.recognizer import ImageReadError, ParagraphTextRecognizer

    try:
        recognizer = ParagraphTextRecognizer(args.artifact_dir, backend=args.backend)
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    failed = 0
    for source in args.images:
        label = source if len(source) <= 80 else source[:77] + "..."
        try:
            prediction = recognizer.predict_details(source)
        except (ImageReadError, OSError) as error:
            print(f"error: {label}: {error}", file=sys.stderr)
            failed += 1
            continue
        if len(args.images) > 1:
            print(f"== {label}")
        print(prediction.text)
        if args.details:
            for text, confidence, box in zip(
                prediction.line_texts, prediction.line_confidences, prediction.line_boxes
            ):
                print(f"  [{confidence:.2f}] {box} {text}")
            print(f"  confidence {prediction.confidence:.2f}")
    return 1 if failed else 0


COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "train": (_train, "train a model: text-recognizer train --help"),
    "sweep": (_sweep, "run a W&B sweep config locally with Optuna: text-recognizer sweep --help"),
    "download": (_download, "download a dataset into the cache (needs the network)"),
    "stage": (_stage, "checkpoint -> release artifact: text-recognizer stage --help"),
    "predict": (_predict, "read images with the staged release model: predict IMAGE..."),
    "monitor": (_monitor, "monitoring: simulate / drift / report: text-recognizer monitor --help"),
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
