"""Stage a trained checkpoint as a release artifact: ``text-recognizer stage``.

    text-recognizer stage --checkpoint logs/release/version_0/checkpoints/epoch=...ckpt \\
        --name paragraph_text_recognizer [--out DIR] [--num_eval 200] [--tesseract]

A checkpoint is a training file (Lightning, optimizer state, Python classes). An artifact is
what the product loads: ``model.ts`` (TorchScript, scripted: the course's format),
``model.onnx`` (onnxruntime; TorchScript is deprecated in torch 2.14), and a model card,
``card.json`` + ``card.md``, that says what the model is, how it was made (training command,
data fingerprints, git SHA) and how good and fast it is (held-out CER in distribution and on
the held-out font family, latency per paragraph for each format, Tesseract on the same
images when asked). ``recognizer.ParagraphTextRecognizer`` reads only the artifact.

Exporting lives in :mod:`~text_recognizer.training.export`, the card in
:mod:`~text_recognizer.training.card`, scoring in :mod:`text_recognizer.evaluation`; this
module runs them in order. The artifact is assembled in a temporary folder next to the target and swapped in by a
rename, so a reader never sees half an artifact. The checkpoint and the staged model are
recorded in the local artifact store (``<logs_dir>/artifacts``) with their lineage:
``run train -> checkpoint -> run stage -> model``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch

from text_recognizer.evaluation import (
    heldout_pages,
    latency,
    score_by_family,
    tesseract_reader,
)
from text_recognizer.recognizer import (
    ARTIFACTS_DIRNAME,
    CARD_FILENAME,
    DEFAULT_NAME,
    ONNX_FILENAME,
    TORCHSCRIPT_FILENAME,
    ParagraphTextRecognizer,
)
from text_recognizer.training.card import build_card, card_markdown
from text_recognizer.training.export import export_onnx, export_torchscript, load_checkpoint
from text_recognizer.util import atomic_directory

NUM_EVAL = 200  # test pages scored into the card (the fixed SyntheticParagraphs test split)
NUM_LATENCY = 30  # pages timed per backend


# ---------------------------------------------------------------------- evaluation
def evaluate(
    artifact_dir: Path, data, holdout: set[str], num_eval: int, num_latency: int, tesseract: bool
) -> dict[str, Any]:
    """Score the artifact (both formats) and optionally Tesseract on the fixed test pages."""
    images, texts, families = heldout_pages(data, num_eval)
    results: dict[str, Any] = {"test_split_fingerprint": data.paragraphs.fingerprints["test"]}
    outputs = {}
    for backend in ("torchscript", "onnx"):
        recognizer = ParagraphTextRecognizer(artifact_dir, backend=backend)
        outputs[backend] = [p.text for p in recognizer.predict_batch(images)]
        results[backend] = {
            **score_by_family(outputs[backend], texts, families, holdout),
            "latency_batch1": latency(recognizer.predict, images[:num_latency]),
        }
    results["parity_pages_equal"] = sum(
        a == b for a, b in zip(outputs["torchscript"], outputs["onnx"])
    )
    if tesseract:
        os.environ["OMP_THREAD_LIMIT"] = "1"  # Tesseract's best single-image setting here
        tesseract_text = tesseract_reader(6)  # one uniform block: its best paragraph setting
        predictions = [tesseract_text(image) for image in images]
        results["tesseract"] = {
            **score_by_family(predictions, texts, families, holdout),
            "latency_batch1": latency(tesseract_text, images[:num_latency]),
            "version": _tesseract_version(),
            "config": "--psm 6, OMP_THREAD_LIMIT=1",
        }
    real = evaluate_real_handwriting(artifact_dir, tesseract)
    if real:
        results["real_handwriting"] = real
    results["load_average"] = list(os.getloadavg())
    results["cpu_count"] = os.cpu_count()
    results["torch_threads"] = torch.get_num_threads()
    return results


def evaluate_real_handwriting(artifact_dir: Path, tesseract: bool) -> dict[str, Any] | None:
    """Ours (and Tesseract ``--psm 7``, its line mode) on the real-handwriting dev set, if
    it is on this machine (:func:`text_recognizer.evaluation.real_dev_dir`)."""
    from text_recognizer import evaluation

    folder = evaluation.real_dev_dir()
    examples = evaluation.find_examples(folder) if folder.is_dir() else []
    if not examples:
        return None
    readers = {"torchscript": ParagraphTextRecognizer(artifact_dir).predict}
    if tesseract:
        readers["tesseract_psm7"] = evaluation.tesseract_reader(7)
    results: dict[str, Any] = {"folder": folder.name, "images": len(examples)}
    for key, read in readers.items():
        scored = evaluation.score_examples(read, examples)
        results[key] = {k: scored[k] for k in ("cer", "edits", "chars", "median_s")}
        results[key]["texts"] = {name: text for name, (text, _, _) in scored["per_image"].items()}
    return results


def _tesseract_version() -> str:
    import pytesseract

    return str(pytesseract.get_tesseract_version())


# ---------------------------------------------------------------------- staging
def stage(
    checkpoint: str | Path,
    name: str = DEFAULT_NAME,
    out: str | Path | None = None,
    version: str | None = None,
    num_eval: int = NUM_EVAL,
    num_latency: int = NUM_LATENCY,
    tesseract: bool = False,
    command: str | None = None,
    wall_time_s: float | None = None,
    logs_dir: str | Path = "logs",
    record_lineage: bool = True,
    notes: list[str] | None = None,
) -> Path:
    """Checkpoint -> artifact folder ``out`` (default ``text_recognizer/artifacts/<name>``).
    ``num_eval=0`` skips evaluation (the card then has no metrics). Returns the folder."""
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"no checkpoint at {checkpoint}")
    target = Path(out) if out else ARTIFACTS_DIRNAME / name
    target.parent.mkdir(parents=True, exist_ok=True)
    model, hparams, data = load_checkpoint(checkpoint)
    version = version or dt.datetime.now(dt.UTC).strftime("%Y.%m.%d.%H%M")
    holdout = {f.strip() for f in (hparams.get("holdout_families") or "").split(",") if f.strip()}
    with atomic_directory(target, replace=True) as tmp:  # readers see the old or the new
        files = {"torchscript": tmp / TORCHSCRIPT_FILENAME, "onnx": tmp / ONNX_FILENAME}
        export_torchscript(model, files["torchscript"])
        export_onnx(model, files["onnx"], int(data.config()["input_dims"][1]))
        card = build_card(name, version, model, hparams, data, files, checkpoint, command, notes)
        if wall_time_s is not None:
            card["training"]["wall_time_s"] = float(wall_time_s)
        _write_card(tmp, card)  # the recognizer reads it during evaluation
        if num_eval:
            card["evaluation"] = evaluate(tmp, data, holdout, num_eval, num_latency, tesseract)
            _write_card(tmp, card)
            # Monitoring's drift reference ships with the model (no rendering in production).
            from text_recognizer.monitoring.drift import write_artifact_reference

            write_artifact_reference(ParagraphTextRecognizer(tmp), limit=num_eval)
    if record_lineage:
        _record_lineage(checkpoint, target, card, Path(logs_dir))
    return target


def _write_card(directory: Path, card: dict[str, Any]) -> None:
    (directory / CARD_FILENAME).write_text(json.dumps(card, indent=2) + "\n")
    (directory / "card.md").write_text(card_markdown(card))


def _record_lineage(checkpoint: Path, target: Path, card: dict[str, Any], logs_dir: Path) -> None:
    """checkpoint (produced by its training run) -> consumed by this stage run -> model."""
    from text_recognizer.training.artifact_store import ArtifactStore

    store = ArtifactStore.default(logs_dir)
    run_dir = checkpoint.parent.parent  # <logs>/<experiment>/version_N/checkpoints/x.ckpt
    train_run = f"train:{run_dir.parent.name}/{run_dir.name}"
    stage_run = f"stage:{card['name']}:{card['version']}"
    ckpt = store.log_artifact(
        f"{card['name']}-checkpoint",
        "checkpoint",
        checkpoint,
        produced_by=train_run,
        metadata={"epoch": card["training"]["epoch"]},
    )
    store.use_artifact(ckpt.name, ckpt.version, consumed_by=stage_run)
    metrics = card.get("evaluation", {}).get("torchscript", {})
    store.log_artifact(
        card["name"],
        "model",
        target,
        produced_by=stage_run,
        aliases=["staged"],
        metadata={k: metrics.get(k) for k in ("cer", "cer_in_distribution", "cer_heldout_family")}
        | {"version": card["version"], "git_sha": card["training"]["git_sha"]},
    )


def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--checkpoint", type=Path, required=True, help="a training .ckpt")
    parser.add_argument("--name", default=DEFAULT_NAME, help=f"artifact name ({DEFAULT_NAME})")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default text_recognizer/artifacts/NAME)",
    )
    parser.add_argument("--version", default=None, help="artifact version (default: UTC date)")
    parser.add_argument(
        "--num_eval",
        type=int,
        default=NUM_EVAL,
        help=f"test pages to score into the card; 0 skips evaluation (default {NUM_EVAL})",
    )
    parser.add_argument(
        "--num_latency",
        type=int,
        default=NUM_LATENCY,
        help=f"pages timed per backend (default {NUM_LATENCY})",
    )
    parser.add_argument(
        "--tesseract", action="store_true", help="also score Tesseract (pytesseract)"
    )
    parser.add_argument("--command", default=None, help="training command to record in the card")
    parser.add_argument("--wall_time_s", type=float, default=None, help="training wall time")
    parser.add_argument("--logs_dir", type=Path, default=Path("logs"), help="artifact store root")
    parser.add_argument(
        "--no_lineage", action="store_true", help="do not record in the local artifact store"
    )
    parser.add_argument(
        "--note",
        action="append",
        default=[],
        help="what changed in this release (repeatable; the card's 'What changed' list)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = add_to_argparse(
        argparse.ArgumentParser(
            prog="text-recognizer stage",
            description="Checkpoint -> TorchScript + ONNX + model card in text_recognizer/artifacts/.",
        )
    )
    args = parser.parse_args(argv)
    try:
        target = stage(
            args.checkpoint,
            args.name,
            args.out,
            args.version,
            args.num_eval,
            args.num_latency,
            args.tesseract,
            args.command,
            args.wall_time_s,
            args.logs_dir,
            not args.no_lineage,
            args.note,
        )
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    card = json.loads((target / CARD_FILENAME).read_text())
    print(f"staged {card['name']} {card['version']} in {target}")
    ev = card.get("evaluation")
    if ev:
        ts = ev["torchscript"]
        print(
            f"CER {ts['cer']:.4f} (in-distribution {ts['cer_in_distribution']:.4f}, held-out "
            f"family {ts['cer_heldout_family']:.4f}); p50 {ts['latency_batch1']['p50_s']:.3f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
