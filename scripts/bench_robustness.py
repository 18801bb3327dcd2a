"""Capture conditions: the release recognizer and Tesseract on the same pages, as a user's
scan or phone photo would show them.

    .venv/bin/python scripts/bench_robustness.py           # ~5 min on 2 idle cores, mostly
                                                           # Tesseract on the large scans
    .venv/bin/python scripts/bench_robustness.py --num 20 --no-tesseract
    make bench BENCH=robustness

Pages: the first ``--num`` paragraphs of the release model's FIXED SyntheticParagraphs test
split (never trained on), each under every condition in
``text_recognizer.data.capture_conditions.CONDITIONS`` (light-on-dark IAM-style crops, a
2,400-px scan, faint pencil, a phone shadow, a blurred phone photo, tinted paper, a small
crop). The recognizer's input normalization exists so that every row reads about as well
as "as rendered"; a row far above it is a preprocessing bug, not a model limit (this bench
found one: a phone shadow flipped the polarity test on faint pages, CER 21 % -> 6.5 %
once fixed). Columns: CER (total edits / total characters) for ours (the served default
backend) and Tesseract 5 ``--psm 6``, and ours minus "as rendered". The table is printed
and written to ``bench/results/robustness.md``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # Tesseract's OpenMP: set before it starts

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing the package

from text_recognizer import evaluation  # noqa: E402  (after the path and Tesseract setup)
from text_recognizer.util import atomic_write_text  # noqa: E402

RESULTS = REPO / "bench" / "results"
NUM = 40


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=NUM, help=f"test pages (default {NUM})")
    parser.add_argument("--no-tesseract", action="store_true", help="skip the Tesseract column")
    parser.add_argument("--output", type=Path, default=RESULTS / "robustness.md")
    args = parser.parse_args(argv)
    if os.environ.get("TEXT_RECOGNIZER_FAST") == "1":
        args.num = min(args.num, 8)

    from text_recognizer.data.capture_conditions import CONDITIONS
    from text_recognizer.data.synthetic_paragraphs import SyntheticParagraphs
    from text_recognizer.recognizer import ParagraphTextRecognizer

    recognizer = ParagraphTextRecognizer(num_threads=1)
    data = SyntheticParagraphs(recognizer.card["training"]["data_args"])
    images, texts, _ = evaluation.heldout_pages(data, args.num)
    tesseract = None
    if not args.no_tesseract and shutil.which("tesseract"):
        tesseract = evaluation.tesseract_reader(6)

    rows, clean = [], None
    for name, condition in CONDITIONS.items():
        pages = [condition(image) for image in images]
        ours = [evaluation.normalize_text(p.text) for p in recognizer.predict_batch(pages)]
        cer = evaluation.corpus_cer(ours, texts)
        clean = cer if clean is None else clean
        peer = "–"
        if tesseract is not None:
            read = [evaluation.normalize_text(tesseract(page)) for page in pages]
            peer = f"{100 * evaluation.corpus_cer(read, texts):.2f}%"
        rows.append(f"| {name} | {100 * cer:.2f}% | {100 * (cer - clean):+.2f} | {peer} |")
        print(f"{name}: ours {cer:.4f}, Tesseract {peer}", flush=True)

    table = "\n".join(
        [
            "# Capture conditions: CER on the same test pages under each",
            "",
            f"{recognizer.name} {recognizer.version} ({recognizer.backend}); the first "
            f"{len(images)} pages of the fixed SyntheticParagraphs test split.",
            "",
            "| condition | ours CER | ours minus as rendered (points) "
            "| Tesseract 5 `--psm 6` CER |",
            "|---|---:|---:|---:|",
            *rows,
            "",
        ]
    )
    atomic_write_text(args.output, table)
    print(f"\n{table}\nwritten: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
