"""Does the release recognizer's confidence tell a good read from a bad one?

    .venv/bin/python scripts/bench_confidence.py            # ~1 min on 2 cores
    .venv/bin/python scripts/bench_confidence.py --num 60
    make bench BENCH=confidence

A mixed set is built from the first ``--num`` pages of the FIXED SyntheticParagraphs test
split (never trained on), each shown seven ways: as rendered (clean), inverted (light ink
on dark), blurred (Gaussian, radius 4), shrunk to a quarter of its size, a blank page of the
same size (truth: no text), uniform noise (truth: no text), and a page of Greek, Cyrillic,
CJK and math symbols that the model's character set lacks (truth: those characters). The
real-handwriting dev lines are added when ``../shared/real_handwriting_dev`` is present.

Every case is read once. A read is *good* when its CER is below 0.1 and *bad* when above
0.5 (the cases in between are left out of the AUROC). Reported: the AUROC of the page
confidence for telling good from bad (target >= 0.9, issue 17; exit status 1 below it),
and at the model card's ``low_confidence`` threshold the share of good reads wrongly marked
low and the share of bad reads caught, overall and per kind. The table is printed and
written to ``bench/results/confidence.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing the package

from text_recognizer import evaluation  # noqa: E402

RESULTS = REPO / "bench" / "results"
NUM = 40
TARGET_AUROC = 0.9
GOOD_CER, BAD_CER = 0.1, 0.5
# The release model's data settings (as in bench_recognizer): the same fixed test split.
DATA_ARGS = {"num_test": 200, "sentence_source": "offline", "num_train": 0, "num_val": 0}
FOREIGN = "αβγδεζηθικλμνξπρστφχψω ЖЗИЙКЛМНПФЦЧШЩЮЯ 漢字書道 ∑∫√∞≈≠"


def foreign_page(size: tuple[int, int], seed: int) -> tuple[Image.Image, str]:
    """Two lines of characters outside the model's mapping, in matplotlib's DejaVu Sans
    (shipped with matplotlib, so present wherever the suite runs)."""
    from matplotlib import font_manager

    rng = np.random.default_rng(seed)
    lines = ["".join(rng.choice(list(FOREIGN), 24)).strip() for _ in range(2)]
    font = ImageFont.truetype(font_manager.findfont("DejaVu Sans"), 40)
    page = Image.new("L", size, 255)
    ImageDraw.Draw(page).multiline_text((30, 40), "\n".join(lines), font=font, fill=0, spacing=30)
    return page, "\n".join(lines)


def mixed_cases(images: list[Image.Image], texts: list[str]) -> list[tuple[str, Image.Image, str]]:
    """``(kind, image, truth)``: every page in the seven ways the module docstring lists."""
    cases = []
    for index, (image, text) in enumerate(zip(images, texts)):
        page = image.convert("L")
        width, height = page.size
        noise = np.random.default_rng(index).integers(0, 256, (height, width), dtype=np.uint8)
        cases += [
            ("clean", page, text),
            ("inverted", ImageOps.invert(page), text),
            ("blurred", page.filter(ImageFilter.GaussianBlur(4)), text),
            ("shrunk", page.resize((width // 4, height // 4), Image.Resampling.BILINEAR), text),
            ("blank", Image.new("L", page.size, 255), ""),
            ("noise", Image.fromarray(noise), ""),
            ("out-of-charset", *foreign_page(page.size, index)),
        ]
    return cases


def auroc(confidences: list[float], good: list[bool]) -> float:
    """Probability that a random good read has a higher confidence than a random bad one.

    >>> auroc([0.9, 0.8, 0.3], [True, True, False]), auroc([0.2, 0.9], [True, False])
    (1.0, 0.0)
    """
    from torchmetrics.functional.classification import binary_auroc

    return float(binary_auroc(torch.tensor(confidences), torch.tensor(good, dtype=torch.long)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=NUM, help="test pages (default %(default)s)")
    parser.add_argument("--output", type=Path, default=RESULTS / "confidence.md")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.\w+` is deprecated")
    if os.environ.get("TEXT_RECOGNIZER_FAST") == "1":
        args.num = min(args.num, 8)

    from text_recognizer.data.synthetic_paragraphs import SyntheticParagraphs
    from text_recognizer.recognizer import ParagraphTextRecognizer
    from text_recognizer.util import atomic_write_text

    recognizer = ParagraphTextRecognizer()
    threshold = recognizer.low_confidence_threshold
    images, texts, _ = evaluation.heldout_pages(SyntheticParagraphs(DATA_ARGS), args.num)
    cases = mixed_cases(images, texts)
    real = evaluation.real_dev_dir()
    if real.is_dir():
        cases += [
            ("real dev line", path, truth) for _, path, truth in evaluation.find_examples(real)
        ]

    rows = []  # (kind, cer, confidence, low)
    for kind, image, truth in cases:
        prediction = recognizer.predict_details(image)
        error = evaluation.cer(
            evaluation.normalize_text(prediction.text), evaluation.normalize_text(truth)
        )
        rows.append((kind, error, prediction.confidence, prediction.low_confidence))

    judged = [r for r in rows if r[1] < GOOD_CER or r[1] > BAD_CER]
    good = [r[1] < GOOD_CER for r in judged]
    score = auroc([r[2] for r in judged], good)
    good_low = np.mean([r[3] for r, g in zip(judged, good) if g])
    bad_low = np.mean([r[3] for r, g in zip(judged, good) if not g])

    lines = [
        f"# Confidence: good reads (CER < {GOOD_CER}) vs bad reads (CER > {BAD_CER})",
        "",
        f"Model {recognizer.name} {recognizer.version}; {args.num} test pages x 7 kinds"
        + (", plus the real dev lines" if real.is_dir() else "")
        + f"; {len(judged)} of {len(rows)} reads are good or bad ({sum(good)} good).",
        "",
        f"**AUROC {score:.3f}** (target {TARGET_AUROC}). At the card's low-confidence "
        f"threshold {threshold}: {100 * good_low:.0f} % of good reads marked low, "
        f"{100 * bad_low:.0f} % of bad reads caught.",
        "",
        "| kind | reads | mean CER | good | bad | mean confidence | marked low |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == kind]
        lines.append(
            f"| {kind} | {len(mine)} | {np.mean([r[1] for r in mine]):.3f} "
            f"| {sum(r[1] < GOOD_CER for r in mine)} | {sum(r[1] > BAD_CER for r in mine)} "
            f"| {np.mean([r[2] for r in mine]):.3f} | {sum(r[3] for r in mine)} |"
        )
    report = "\n".join(lines) + "\n"
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.output, report)
    print(f"written: {args.output}")
    return 0 if score >= TARGET_AUROC else 1


if __name__ == "__main__":
    sys.exit(main())
