"""``text-recognizer monitor``: simulate traffic, check drift, write the report.

    text-recognizer monitor simulate --store data/monitoring/store.db    # fill the store
    text-recognizer monitor drift    --store data/monitoring/store.db    # alerts -> store
    text-recognizer monitor report   --store data/monitoring/store.db --out reports/monitoring

The reference (the held-out test split through the production model) ships with a staged
model (``reference.csv`` in its artifact folder). For a model without one, or a
``--reference_limit`` beyond it, it is computed once per model version (this needs the
training data code) and cached beside the store (``<store folder>/reference/``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from text_recognizer.metadata.shared import DATA_DIRNAME

DEFAULT_STORE = DATA_DIRNAME / "monitoring" / "store.db"


def _common(parser: argparse.ArgumentParser) -> None:
    from text_recognizer.recognizer import DEFAULT_BACKEND, SERVING_BACKENDS

    parser.add_argument(
        "--store",
        default=str(DEFAULT_STORE),
        help="SQLite path or postgresql:// URL (default %(default)s)",
    )
    parser.add_argument(
        "--image_root",
        default=None,
        help="image folder (default: beside the SQLite file; required for PostgreSQL)",
    )
    parser.add_argument(
        "--artifact_dir",
        type=Path,
        default=None,
        help="staged model (default: the release artifact)",
    )
    parser.add_argument(
        "--backend",
        choices=SERVING_BACKENDS,
        default=DEFAULT_BACKEND,
        help="model format (default %(default)s)",
    )


def _reference_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="drift thresholds (default: the packaged drift.yaml)",
    )
    parser.add_argument(
        "--reference_limit",
        type=int,
        default=None,
        help="use only the first N held-out pages (default: all)",
    )
    parser.add_argument(
        "--reference_window",
        nargs=2,
        metavar=("START", "END"),
        default=None,
        help="use a trusted past window of production (ISO times) instead of the held-out split",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="text-recognizer monitor", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    simulate = commands.add_parser(
        "simulate", help="run simulated production traffic through the model"
    )
    _common(simulate)
    simulate.add_argument(
        "--hours_per_phase", type=float, default=6.0, help="length of each scenario phase"
    )
    simulate.add_argument("--rate", type=float, default=30.0, help="requests per simulated hour")
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--limit", type=int, default=None, help="stop after N requests")
    simulate.add_argument("--batch_size", type=int, default=8)
    simulate.add_argument("--no-progress_bar", dest="progress", action="store_false")
    drift = commands.add_parser(
        "drift", help="check every window for drift; write alerts to the store"
    )
    _common(drift)
    _reference_args(drift)
    report = commands.add_parser("report", help="write the HTML monitoring report")
    _common(report)
    _reference_args(report)
    report.add_argument(
        "--out", type=Path, required=True, help="output folder for index.html + PNGs"
    )
    return parser


def load_recognizer(args: argparse.Namespace) -> Any:
    from text_recognizer.recognizer import ParagraphTextRecognizer

    return ParagraphTextRecognizer(args.artifact_dir, backend=args.backend)


def load_reference(args: argparse.Namespace, store: Any) -> Any:
    from text_recognizer.monitoring import drift

    if args.reference_window:
        start, end = (datetime.fromisoformat(t) for t in args.reference_window)
        return drift.reference_from_store(store, start, end)
    return drift.build_reference(
        load_recognizer(args), limit=args.reference_limit, cache_dir=store.image_root / "reference"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from text_recognizer.monitoring.store import EvaluationStore
    from text_recognizer.monitoring.store_schema import StoreError

    try:
        store = EvaluationStore.open(args.store, image_root=args.image_root)
    except StoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    with store:
        if args.command == "simulate":
            from text_recognizer.monitoring.simulator import default_scenario, simulate

            frame = simulate(
                store,
                load_recognizer(args),
                default_scenario(args.hours_per_phase, args.rate),
                seed=args.seed,
                limit=args.limit,
                batch_size=args.batch_size,
                progress=args.progress,
            )
            print(f"logged {len(frame)} simulated requests to {store.url}")
            print(frame["shift"].value_counts().to_string())
            return 0
        from text_recognizer.monitoring.drift import load_config

        config = load_config(args.config)
        reference = load_reference(args, store)
        if args.command == "drift":
            from text_recognizer.monitoring.drift import run_drift

            result = run_drift(store, reference, config)
            print(f"{len(result.volume)} windows, {len(result.alerts)} alerts")
            frame = result.alerts_frame()
            if len(frame):
                print(
                    frame[["window_start", "check_name", "projection", "message"]].to_string(
                        index=False
                    )
                )
            return 0
        from text_recognizer.monitoring.report import write_report

        report = write_report(store, args.out, reference, config)
        print(f"report: {report.path}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
