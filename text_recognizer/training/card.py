"""The model card: what a staged model is, how it was made and how good and fast it is
(``card.json`` for code, ``card.md`` for people), and the release targets it is held to."""

from __future__ import annotations

import argparse
import datetime as dt
import platform
from pathlib import Path
from typing import Any

import torch

from text_recognizer.metadata.emnist import BLANK
from text_recognizer.metadata.shared import REPO_DIRNAME
from text_recognizer.recognizer import (
    ONNX_FILENAME,
    TORCHSCRIPT_FILENAME,
)


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
