"""Real handwriting: the release recognizer against Tesseract on images nobody here wrote.

    .venv/bin/python scripts/bench_real_handwriting.py                 # the dev set
    .venv/bin/python scripts/bench_real_handwriting.py --images DIR    # plus your images
    make bench BENCH=real_handwriting

Synthetic CER says how well the model reads our own generator; this says how well it
reads people. Images: the small public dev set in ``../shared/real_handwriting_dev/``
(three Bentham manuscript lines; override with ``$TEXT_RECOGNIZER_REAL_DEV``) when it is
there, and every ``NAME.png`` (or .jpg) with a ``NAME.txt`` transcription in each
``--images`` folder: lines, words or whole pages, any polarity.

Engines, all on the same images in one run, one CPU thread each: the release recognizer
(TorchScript), Tesseract 5 with ``--psm 7`` (one text line: its best mode for a line
crop) and ``--psm 6`` (one block: its mode for a page). CER is char-weighted over a set
(total edits / total reference characters, after the model card's whitespace
normalization), per image and in total; latency is the median seconds per image. The
table is printed and written to ``bench/results/real_handwriting.md``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # Tesseract's OpenMP: set before it starts

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing the package

DEV_ENV = "TEXT_RECOGNIZER_REAL_DEV"
DEV_DIR = REPO.parent / "shared" / "real_handwriting_dev"
RESULTS = REPO / "bench" / "results"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def find_examples(directory: Path) -> list[tuple[str, Path, str]]:
    """``(name, image path, ground truth)`` for every image with a same-stem ``.txt``."""
    examples = []
    for image in sorted(directory.iterdir()):
        text = image.with_suffix(".txt")
        if image.suffix.lower() in IMAGE_SUFFIXES and text.is_file():
            examples.append((image.stem, image, text.read_text().strip()))
    return examples


def edits_and_length(prediction: str, truth: str) -> tuple[int, int]:
    """Character edits (Levenshtein) after whitespace normalization, and the truth's length.

    >>> edits_and_length("brain ", "brain."), edits_and_length("a  b\\n\\nc", "a b\\nc")
    ((1, 6), (0, 5))
    """
    from torchmetrics.functional.text import char_error_rate

    from text_recognizer.training.stage import normalize_text

    prediction, truth = normalize_text(prediction), normalize_text(truth)
    if not truth:
        return len(prediction), 0
    return round(float(char_error_rate(prediction, truth)) * len(truth)), len(truth)


def engines(threads: int) -> dict[str, Callable[[Image.Image], str]]:
    """``{engine name: read(image) -> text}`` for every engine available here."""
    import torch

    from text_recognizer.recognizer import ParagraphTextRecognizer

    torch.set_num_threads(threads)
    recognizer = ParagraphTextRecognizer(backend="torchscript", num_threads=threads)
    readers: dict[str, Callable[[Image.Image], str]] = {
        f"ours ({recognizer.name} {recognizer.version})": recognizer.predict
    }
    if shutil.which("tesseract"):
        import pytesseract

        version = pytesseract.get_tesseract_version()
        for psm in (7, 6):
            readers[f"Tesseract {version} --psm {psm}"] = lambda image, psm=psm: (
                pytesseract.image_to_string(image, config=f"--psm {psm}")
            )
    return readers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--images", type=Path, action="append", default=[], help="a folder of NAME.png + NAME.txt"
    )
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for every engine")
    parser.add_argument("--output", type=Path, default=RESULTS / "real_handwriting.md")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.\w+` is deprecated")

    dev = Path(os.environ.get(DEV_ENV) or DEV_DIR)
    folders = ([dev] if dev.is_dir() else []) + args.images
    for folder in args.images:
        if not folder.is_dir():
            parser.error(f"--images {folder}: not a folder")
    examples = [
        (f"{folder.name}/{name}", path, truth)
        for folder in folders
        for name, path, truth in find_examples(folder)
    ]
    if not examples:
        print(
            f"no real handwriting here: {dev} is absent and no --images folder was given; nothing to measure"
        )
        return 0
    images = {name: Image.open(path).convert("L") for name, path, _ in examples}
    readers = engines(args.threads)

    results: dict[str, dict[str, tuple[str, int, int, float]]] = {}
    for engine, read in readers.items():
        read(next(iter(images.values())))  # warm-up
        results[engine] = {}
        for name, _, truth in examples:
            start = time.perf_counter()
            text = read(images[name])
            seconds = time.perf_counter() - start
            results[engine][name] = (text, *edits_and_length(text, truth), seconds)
        print(f"{engine}: done", flush=True)

    names = list(readers)
    lines = [
        "# Real handwriting: release recognizer vs Tesseract",
        "",
        f"{len(examples)} images from {', '.join(str(f) for f in folders)}; "
        f"{args.threads} CPU thread(s) per engine. CER = total edits / total reference characters.",
        "",
        "| engine | total CER | edits / chars | median s per image |",
        "|---|---:|---:|---:|",
    ]
    for engine in names:
        rows = results[engine].values()
        edits, chars = sum(r[1] for r in rows), sum(r[2] for r in rows)
        median = float(np.median([r[3] for r in rows]))
        lines.append(
            f"| {engine} | {edits / max(chars, 1):.3f} | {edits} / {chars} | {median:.3f} |"
        )
    lines += [
        "",
        "| image | truth | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for name, _, truth in examples:
        cells = []
        for engine in names:
            text, edits, chars, _ = results[engine][name]
            shown = " ".join(text.split())[:60].replace("|", "\\|")
            cells.append(f"`{shown}` ({edits}/{chars})")
        lines.append(f"| {name} | `{truth[:60]}` | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    print("\n" + table)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_name(f".{args.output.name}.tmp")
    tmp.write_text(table)
    os.replace(tmp, args.output)
    print(f"written: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
