"""Evaluation, in one place: CER, text normalization, latency timing, the Tesseract
baseline, the fixed held-out synthetic pages (scored per font family), and real handwriting.

Real handwriting: folders of images with transcriptions, any reader.

Synthetic CER says how well the model reads our generator; these functions say how well
a reader (ours, Tesseract, any ``image -> text`` function) reads people. A folder holds
``NAME.png`` (or .jpg) + ``NAME.txt`` pairs: lines, words or whole pages. The score is
char-weighted over a set (total edits / total reference characters, after
:func:`normalize_text`), so a long line counts more than a one-word crop. Used by
``text-recognizer stage`` (the model card's real-handwriting figure) and by
``scripts/bench_real_handwriting.py`` (``make bench``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

REAL_DEV_ENV = "TEXT_RECOGNIZER_REAL_DEV"
# The course's small public dev set lives next to the repository (not inside it)
REAL_DEV_DIR = Path(__file__).resolve().parents[2] / "shared" / "real_handwriting_dev"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def normalize_text(text: str) -> str:
    """Compare paragraphs line by line: no empty lines, single spaces, no trailing spaces
    (Tesseract pads lines and adds blank ones).

    >>> normalize_text("Hello  \\n\\n world\\n")
    'Hello\\nworld'
    """
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def real_dev_dir() -> Path:
    """The real-handwriting dev folder: ``$TEXT_RECOGNIZER_REAL_DEV`` or ``../shared/...``."""
    return Path(os.environ.get(REAL_DEV_ENV) or REAL_DEV_DIR)


def find_examples(directory: Path) -> list[tuple[str, Path, str]]:
    """``(name, image path, transcription)`` for every image with a same-stem ``.txt``."""
    examples = []
    for image in sorted(Path(directory).iterdir()):
        text = image.with_suffix(".txt")
        if image.suffix.lower() in IMAGE_SUFFIXES and text.is_file():
            examples.append((image.stem, image, text.read_text().strip()))
    return examples


def edits(prediction: str, truth: str) -> tuple[int, int]:
    """(character edits, reference length) after :func:`normalize_text` on both sides.

    >>> edits("brain ", "brain."), edits("a  b\\n\\nc", "a b\\nc"), edits("xy", "")
    ((1, 6), (0, 5), (2, 0))
    """
    from torchmetrics.functional.text import char_error_rate

    prediction, truth = normalize_text(prediction), normalize_text(truth)
    if not truth:
        return len(prediction), 0
    return round(float(char_error_rate(prediction, truth)) * len(truth)), len(truth)


def cer(prediction: str, target: str) -> float:
    """Character error rate of one prediction: edit distance / len(target), raw strings
    (no normalization). The ONE definition every reader, table and monitor uses.

    >>> round(cer("helo", "hello"), 6), cer("", ""), cer("x", "")
    (0.2, 0.0, 1.0)
    """
    return corpus_cer([prediction], [target])


def corpus_cer(predictions: Sequence[str], targets: Sequence[str]) -> float:
    """Char-weighted CER over a set: total edits / total target characters. An empty
    target set scores 1.0 if anything was read, else 0.0; an empty list is nan.

    >>> round(corpus_cer(["helo", "world"], ["hello", "world"]), 6), corpus_cer([], [])
    (0.1, nan)
    """
    from torchmetrics.functional.text import char_error_rate

    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions for {len(targets)} targets")
    if not targets:
        return float("nan")
    if not any(targets):
        return float(sum(len(p) for p in predictions) > 0)
    return float(char_error_rate(list(predictions), list(targets)))


def score_examples(
    read: Callable[[Image.Image], str], examples: list[tuple[str, Path, str]]
) -> dict[str, Any]:
    """Read every example once (after one warm-up call) and score the set:
    ``{"cer", "edits", "chars", "median_s", "per_image": {name: (text, edits, chars)}}``."""
    images = {name: Image.open(path).convert("L") for name, path, _ in examples}
    if examples:
        read(images[examples[0][0]])  # warm-up: lazy initialisation, allocator
    per_image, seconds = {}, []
    for name, _, truth in examples:
        start = time.perf_counter()
        text = read(images[name])
        seconds.append(time.perf_counter() - start)
        per_image[name] = (text, *edits(text, truth))
    total_edits = sum(e for _, e, _ in per_image.values())
    total_chars = sum(c for _, _, c in per_image.values())
    return {
        "cer": total_edits / max(total_chars, 1),
        "edits": total_edits,
        "chars": total_chars,
        "median_s": sorted(seconds)[len(seconds) // 2] if seconds else float("nan"),
        "per_image": per_image,
    }


def tesseract_reader(psm: int) -> Callable[[Image.Image], str]:
    """Tesseract 5 with page segmentation mode ``psm`` (7: one line, 6: one block)."""
    import pytesseract

    return lambda image: pytesseract.image_to_string(image, config=f"--psm {psm}")


# ---------------------------------------------------------------- synthetic pages
def heldout_pages(data, num: int | None = None) -> tuple[list, list[str], list[str]]:
    """The first ``num`` pages of the FIXED test split: (images, texts, font families)."""
    paragraphs = data.paragraphs if hasattr(data, "paragraphs") else data
    # The test split never depends on train/val, and a smaller --num_test only drops pages
    # from the end: so render (or find) only the pages asked for.
    size = min(num or paragraphs.sizes["test"], paragraphs.sizes["test"])
    paragraphs = type(paragraphs)(
        {**paragraphs.args, "num_train": 0, "num_val": 0, "num_test": size}
    )
    return split_pages(paragraphs, "test")


def split_pages(data, split: str) -> tuple[list, list[str], list[str]]:
    """Every page of one split of a synthetic data module (``SyntheticParagraphs`` or
    ``SyntheticLines``), rendered and cached first if needed: (images, texts, families)."""
    import torch

    from text_recognizer.data.synthetic import list_fonts
    from text_recognizer.data.synthetic_splits import CachedImages

    data.prepare_data()
    samples = data.read_record(split)["samples"]
    pages = CachedImages(data.split_dir(split), torch.zeros(len(samples), 1), data.stem)
    family_of = {font.name: font.family for font in list_fonts()}
    images = [pages.image(i) for i in range(len(samples))]
    texts = [s["text"] for s in samples]
    families = [family_of.get(s["font"], s["font"]) for s in samples]
    return images, texts, families


def score_by_family(
    predictions: list[str], texts: list[str], families: list[str], holdout: set[str]
) -> dict:
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
