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

The artifact is assembled in a temporary folder next to the target and swapped in by a
rename, so a reader never sees half an artifact. The checkpoint and the staged model are
recorded in the local artifact store (``<logs_dir>/artifacts``) with their lineage:
``run train -> checkpoint -> run stage -> model``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from text_recognizer.evaluation import corpus_cer, normalize_text
from text_recognizer.metadata.emnist import BLANK
from text_recognizer.metadata.shared import REPO_DIRNAME
from text_recognizer.recognizer import (
    ARTIFACTS_DIRNAME,
    CARD_FILENAME,
    DEFAULT_NAME,
    ONNX_FILENAME,
    TORCHSCRIPT_FILENAME,
    ParagraphTextRecognizer,
)
from text_recognizer.util import atomic_directory

ONNX_OPSET = 17
NUM_EVAL = 200  # test pages scored into the card (the fixed SyntheticParagraphs test split)
NUM_LATENCY = 30  # pages timed per backend


# ---------------------------------------------------------------------- checkpoint -> model
def load_checkpoint(checkpoint: str | Path) -> tuple[torch.nn.Module, dict[str, Any], Any]:
    """Rebuild the trained ``nn.Module`` (eval mode), its hyperparameters and its data module
    (not prepared: only its config and fingerprints are needed) from a Lightning checkpoint."""
    from text_recognizer.training.run_experiment import DATA_CLASSES, MODEL_CLASSES, import_class

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    hparams = dict(state.get("hyper_parameters", {}))
    data_class = import_class(hparams.get("data_class", "SyntheticParagraphLines"), DATA_CLASSES)
    model_class = import_class(hparams.get("model_class", "LineCRNN"), MODEL_CLASSES)
    data = data_class(hparams)
    model = model_class(data.config(), hparams)
    weights = {
        k.removeprefix("model."): v
        for k, v in state["state_dict"].items()
        if k.startswith("model.")
    }
    model.load_state_dict(weights)
    model.eval()
    hparams["_epoch"], hparams["_global_step"] = state.get("epoch"), state.get("global_step")
    return model, hparams, data


def export_torchscript(model: torch.nn.Module, path: Path) -> None:
    """Script (not trace) the model: any batch size and width work."""
    torch.jit.script(model).save(str(path))


def export_onnx(model: torch.nn.Module, path: Path, height: int) -> None:
    """ONNX with dynamic batch and width axes, checked against PyTorch at another width."""
    import onnxruntime as ort

    example = torch.rand(1, 1, height, 256)
    torch.onnx.export(
        model,
        (example,),
        str(path),
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch", 3: "width"}, "logits": {0: "batch", 2: "columns"}},
        opset_version=ONNX_OPSET,
        dynamo=False,
    )
    check = torch.rand(2, 1, height, 400)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": check.numpy()})[0]
    with torch.no_grad():
        want = model(check).numpy()
    if got.shape != want.shape or not np.allclose(got, want, atol=1e-3):
        raise RuntimeError(f"ONNX export disagrees with PyTorch (max diff {abs(got - want).max()})")


# ---------------------------------------------------------------------- evaluation
def heldout_pages(data, num: int | None = None) -> tuple[list, list[str], list[str]]:
    """The first ``num`` pages of the FIXED test split: (images, texts, font families)."""
    from text_recognizer.data.synthetic import list_fonts
    from text_recognizer.data.synthetic_lines import CachedImages

    paragraphs = data.paragraphs if hasattr(data, "paragraphs") else data
    # The test split never depends on train/val, and a smaller --num_test only drops pages
    # from the end: so render (or find) only the pages asked for.
    size = min(num or paragraphs.sizes["test"], paragraphs.sizes["test"])
    paragraphs = type(paragraphs)(
        {**paragraphs.args, "num_train": 0, "num_val": 0, "num_test": size}
    )
    paragraphs.prepare_data()
    record = paragraphs.read_record("test")
    samples = record["samples"]
    pages = CachedImages(
        paragraphs.split_dir("test"), torch.zeros(len(record["samples"]), 1), paragraphs.stem
    )
    family_of = {font.name: font.family for font in list_fonts()}
    images = [pages.image(i) for i in range(len(samples))]
    texts = [s["text"] for s in samples]
    families = [family_of.get(s["font"], s["font"]) for s in samples]
    return images, texts, families


def score(predictions: list[str], texts: list[str], families: list[str], holdout: set[str]) -> dict:
    """CER overall, on families seen in training, and on the held-out families."""
    preds = [normalize_text(p) for p in predictions]
    seen = [i for i, f in enumerate(families) if f not in holdout]
    held = [i for i, f in enumerate(families) if f in holdout]
    return {
        "cer": corpus_cer(preds, texts),
        "cer_in_distribution": corpus_cer([preds[i] for i in seen], [texts[i] for i in seen]),
        "cer_heldout_family": corpus_cer([preds[i] for i in held], [texts[i] for i in held]),
        "pages": len(texts),
        "pages_in_distribution": len(seen),
        "pages_heldout_family": len(held),
    }


def latency(function, images: list, repeats: int = 1) -> dict[str, float]:
    """p50/p95/mean seconds per call of ``function(image)`` over ``images``."""
    function(images[0])  # warm-up: first calls allocate and compile
    times = []
    for image in images:
        for _ in range(repeats):
            start = time.perf_counter()
            function(image)
            times.append(time.perf_counter() - start)
    return {
        "p50_s": float(np.percentile(times, 50)),
        "p95_s": float(np.percentile(times, 95)),
        "mean_s": float(np.mean(times)),
        "n": len(times),
    }


def tesseract_text(image) -> str:
    """Tesseract 5's best settings for a paragraph: one uniform block (``--psm 6``)."""
    import pytesseract

    return pytesseract.image_to_string(image, config="--psm 6")


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
            **score(outputs[backend], texts, families, holdout),
            "latency_batch1": latency(recognizer.predict, images[:num_latency]),
        }
    results["parity_pages_equal"] = sum(
        a == b for a, b in zip(outputs["torchscript"], outputs["onnx"])
    )
    if tesseract:
        os.environ["OMP_THREAD_LIMIT"] = "1"  # Tesseract's best single-image setting here
        predictions = [tesseract_text(image) for image in images]
        results["tesseract"] = {
            **score(predictions, texts, families, holdout),
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


# ---------------------------------------------------------------------- the card
def git_sha() -> str:
    """The code's commit, ``-dirty`` when it has uncommitted changes (the same reading as a
    run's git_state.json: :func:`text_recognizer.training.tracking.git_describe`)."""
    from text_recognizer.training.tracking import git_describe

    return git_describe(REPO_DIRNAME)


def training_command(hparams: dict[str, Any]) -> str:
    """A ``text-recognizer train`` command rebuilt from the checkpoint's hyperparameters."""
    skip = {"logs_dir", "load_checkpoint", "progress_bar", "wandb", "profile", "test"}
    parts = ["text-recognizer", "train"]
    for key, value in sorted(hparams.items()):
        if key.startswith("_") or key in skip or value is None or value is False:
            continue
        parts += [f"--{key}"] if value is True else [f"--{key}", str(value)]
    return " ".join(_quote(p) for p in parts)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


ARCHITECTURE_NOTE = (
    "Line segmentation (horizontal ink projection along the estimated skew) + a CRNN line "
    "reader (strided CNN, height pooled to 1, one column per 4 px -> 2-layer BiLSTM -> "
    "linear) trained with CTC, greedy decoding. Chosen over the Lab 03 ResnetTransformer "
    "because on 2 CPU cores it trains in well under an hour (lines are small, CTC needs no "
    "teacher forcing), runs in one forward pass per line with no decoding loop (fast, and "
    "it exports cleanly to TorchScript and ONNX with a dynamic width), and the segmenter "
    "is shared code, so training crops equal inference crops."
)
KNOWN_LIMITS = [
    "Trained on synthetic handwriting only ({fonts} fonts in {families} families, rendered "
    "offline); real handwriting reads much worse than synthetic pages: see the "
    "real-handwriting figure (3 dev lines: far too few to rank models finely).",
    "Characters outside the 79-symbol mapping (e.g. accents, currency) cannot be emitted.",
    "One column of text, roughly horizontal (skew up to ~4 degrees); tables, multi-column "
    "pages, vertical or curved text are not segmented correctly.",
    "Lines touching heavily may merge; a merged or split line is read as one line.",
    "Confidence is a heuristic (mean winning probability), not calibrated.",
    "A blank but noisy photo may yield short spurious lines (read as a few characters, "
    "with low confidence).",
    "Latency figures were measured on a shared 2-core CPU; see load_average.",
]
CONFIDENCE_NOTE = (
    "Line confidence: mean, over the characters a line emitted, of the softmax probability "
    "of the winning class at the column where each character starts (no characters: mean "
    "winning probability over all columns). Paragraph confidence: mean over lines (0 if no "
    "lines). A ranking signal for monitoring, not a calibrated probability."
)


def build_card(
    name: str,
    version: str,
    model: torch.nn.Module,
    hparams: dict,
    data,
    files: dict[str, Path],
    checkpoint: Path,
    command: str | None,
    notes: list[str] | None = None,
) -> dict[str, Any]:
    from text_recognizer.stems.segment import segmenter_config

    config = data.config()
    return {
        "name": name,
        "version": version,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "architecture": {
            "summary": ARCHITECTURE_NOTE,
            "model_class": type(model).__name__,
            "parameters": int(sum(p.numel() for p in model.parameters())),
            "repr": repr(model),
        },
        "model_args": {
            k: hparams[k]
            for k in ("conv_dim", "rnn_dim", "rnn_layers", "rnn_dropout")
            if k in hparams
        },
        "data_config": {
            "input_dims": list(config["input_dims"]),
            "output_dims": list(config["output_dims"]),
            "mapping": list(config["mapping"]),
        },
        "files": {"torchscript": TORCHSCRIPT_FILENAME, "onnx": ONNX_FILENAME},
        "file_sizes_bytes": {key: path.stat().st_size for key, path in files.items()},
        "mapping": list(config["mapping"]),
        "blank_index": list(config["mapping"]).index(BLANK),
        "stem": data.stem.config(),
        "crop_margin": getattr(data, "crop_margin", None) or _crop_margin(),
        "segmenter": segmenter_config(),
        "training": {
            "command": command or training_command(hparams),
            "checkpoint": str(checkpoint),
            "epoch": hparams.get("_epoch"),
            "global_step": hparams.get("_global_step"),
            "seed": hparams.get("seed"),
            "holdout_families": hparams.get("holdout_families"),
            "data_args": data_args(hparams, type(data)),
            "git_sha": git_sha(),
            "data_fingerprints": {
                "pages": data.paragraphs.fingerprints,
                "lines": data.fingerprints,
            },
            "environment": {
                "python": platform.python_version(),
                "torch": torch.__version__,
                "platform": platform.platform(),
            },
        },
        "confidence": CONFIDENCE_NOTE,
        "known_limits": _known_limits(),
        "notes": list(notes or []),
    }


def data_args(hparams: dict[str, Any], data_class: type) -> dict[str, Any]:
    """The data module's own flags from the hyperparameters (no local paths): enough to
    rebuild the same (fingerprinted) splits anywhere, e.g. the fixed test split."""
    parser = argparse.ArgumentParser(add_help=False)
    data_class.add_to_argparse(parser)
    names = {action.dest for action in parser._actions} - {
        "data_dir",
        "lines_data_dir",
        "num_workers",
        "gen_workers",
        "batch_size",
    }
    return {k: v for k, v in sorted(hparams.items()) if k in names}


def _known_limits() -> list[str]:
    from text_recognizer.data.synthetic import font_families, list_fonts

    fonts = list_fonts()
    return [KNOWN_LIMITS[0].format(fonts=len(fonts), families=len(font_families(fonts)))] + (
        KNOWN_LIMITS[1:]
    )


def _crop_margin() -> float:
    from text_recognizer.data.synthetic_paragraph_lines import CROP_MARGIN

    return CROP_MARGIN


def card_markdown(card: dict[str, Any]) -> str:
    """The card for humans: what, how made, how good, how fast, limits."""
    ev = card.get("evaluation") or {}
    sizes = card["file_sizes_bytes"]
    train = card["training"]
    lines = [
        f"# Model card: {card['name']} (version {card['version']})",
        "",
        "## What it is",
        card["architecture"]["summary"],
        "",
        f"- Model: `{card['architecture']['model_class']}`, "
        f"{card['architecture']['parameters']:,} parameters, args `{card['model_args']}`",
        "- Files: "
        + ", ".join(f"`{card['files'][k]}` {sizes[k] / 1e6:.2f} MB" for k in sizes)
        + f" (total {sum(sizes.values()) / 1e6:.2f} MB)",
        f"- Stem: `{card['stem']}`; crop margin {card['crop_margin']}",
        f"- Segmenter: `{card['segmenter']}`",
        f"- Mapping: {len(card['mapping'])} classes, blank `{card['mapping'][card['blank_index']]}`"
        f" at {card['blank_index']}",
        "",
        *(
            ["## What changed", *[f"- {note}" for note in card["notes"]], ""]
            if card.get("notes")
            else []
        ),
        "## How it was made",
        f"- Command: `{train['command']}`",
        f"- Epoch {train['epoch']}, step {train['global_step']}, seed {train['seed']}, "
        f"held-out families: {train['holdout_families']}",
        f"- Git SHA: `{train['git_sha']}`",
        f"- Data fingerprints (pages): `{train['data_fingerprints']['pages']}`",
        f"- Data fingerprints (line crops): `{train['data_fingerprints']['lines']}`",
    ]
    if train.get("wall_time_s"):
        lines.append(f"- Training wall time: {train['wall_time_s'] / 60:.1f} min")
    if ev:
        lines += [
            "",
            "## How good and how fast",
            f"Fixed SyntheticParagraphs test split (fingerprint `{ev['test_split_fingerprint']}`), "
            f"first {ev['torchscript']['pages']} pages. CER = edits / characters of the "
            "paragraph text (lines joined by newlines). Latency: one paragraph per call "
            f"(batch 1), load average {', '.join(f'{v:.1f}' for v in ev['load_average'])} "
            f"on {ev['cpu_count']} CPUs.",
            "",
            "| reader | CER all | CER in-distribution | CER held-out family | p50 s | p95 s |",
            "|---|---|---|---|---|---|",
        ]
        for key in ("torchscript", "onnx", "tesseract"):
            if key in ev:
                r = ev[key]
                lines.append(
                    f"| {key} | {r['cer']:.4f} | {r['cer_in_distribution']:.4f} "
                    f"({r['pages_in_distribution']} pages) | {r['cer_heldout_family']:.4f} "
                    f"({r['pages_heldout_family']} pages) | {r['latency_batch1']['p50_s']:.3f} "
                    f"| {r['latency_batch1']['p95_s']:.3f} |"
                )
        lines.append(
            f"\nTorchScript and ONNX gave the same text on {ev['parity_pages_equal']} of "
            f"{ev['torchscript']['pages']} pages."
        )
        real = ev.get("real_handwriting")
        if real:
            lines += [
                "",
                f"Real handwriting: {real['images']} images of `{real['folder']}` (char-weighted "
                "CER = total edits / total characters; median seconds per image):",
                "",
                "| reader | CER | edits / chars | median s |",
                "|---|---|---|---|",
            ]
            for key in ("torchscript", "tesseract_psm7"):
                if key in real:
                    r = real[key]
                    lines.append(
                        f"| {key} | {r['cer']:.3f} | {r['edits']} / {r['chars']} | {r['median_s']:.3f} |"
                    )
        targets = release_targets(card)
        if targets:
            lines += ["", "## Release targets (issues #8, #15)", "", "| target | measured | met |"]
            lines.append("|---|---|---|")
            lines += [f"| {t} | {m} | {'yes' if ok else 'NO'} |" for t, m, ok in targets]
    lines += ["", "## Known limits", *[f"- {limit}" for limit in card["known_limits"]], ""]
    return "\n".join(lines)


def release_targets(card: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(target, measured, met) rows for the issue's release targets, from the card."""
    ev = card.get("evaluation") or {}
    if "torchscript" not in ev:
        return []
    ours = ev["torchscript"]
    total_mb = sum(card["file_sizes_bytes"].values()) / 1e6
    rows = [
        (
            "held-out synthetic CER <= 4% (in distribution)",
            f"{ours['cer_in_distribution']:.2%}",
            ours["cer_in_distribution"] <= 0.04,
        ),
        ("artifacts <= 25 MB", f"{total_mb:.1f} MB", total_mb <= 25),
    ]
    if "tesseract" in ev:
        tess = ev["tesseract"]
        rows.append(
            (
                "CER <= half of Tesseract's (same pages)",
                f"{ours['cer']:.2%} vs {tess['cer']:.2%}",
                ours["cer"] <= tess["cer"] / 2,
            )
        )
        fastest = min(ev[b]["latency_batch1"]["p50_s"] for b in ("torchscript", "onnx"))
        rows.append(
            (
                "p50 latency <= 1/5 of Tesseract's",
                f"{fastest:.3f} s vs {tess['latency_batch1']['p50_s']:.3f} s",
                fastest <= tess["latency_batch1"]["p50_s"] / 5,
            )
        )
    real = ev.get("real_handwriting") or {}
    if "tesseract_psm7" in real:
        ours_real, tess_real = real["torchscript"]["cer"], real["tesseract_psm7"]["cer"]
        rows.append(
            (
                "real-handwriting dev CER <= Tesseract's (--psm 7)",
                f"{ours_real:.3f} vs {tess_real:.3f}",
                ours_real <= tess_real,
            )
        )
    rows.append(
        (
            "CER on a held-out font family (reported)",
            f"{ours['cer_heldout_family']:.2%} ({card['training']['holdout_families']})",
            True,
        )
    )
    return rows


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
