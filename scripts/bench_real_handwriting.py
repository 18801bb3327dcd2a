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
(its served default backend, ONNX), Tesseract 5 with ``--psm 7`` (one text line: its
best mode for a line crop) and ``--psm 6`` (one block: its mode for a page). CER is
char-weighted over a set (total edits / total reference characters, after the model
card's whitespace normalization), per image and in total; latency is the median seconds
per image. The table is printed and written to ``bench/results/real_handwriting.md``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # Tesseract's OpenMP: set before it starts

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing the package

from text_recognizer import evaluation  # noqa: E402  (after the path and Tesseract setup)
from text_recognizer.util import atomic_write_text  # noqa: E402

RESULTS = REPO / "bench" / "results"


def engines(threads: int) -> dict[str, Callable[[Image.Image], str]]:
    """``{engine name: read(image) -> text}`` for every engine available here."""
    import torch

    from text_recognizer.recognizer import ParagraphTextRecognizer

    torch.set_num_threads(threads)
    recognizer = ParagraphTextRecognizer(num_threads=threads)  # the served default backend
    readers = {
        f"ours ({recognizer.name} {recognizer.version}, {recognizer.backend})": recognizer.predict
    }
    if shutil.which("tesseract"):
        import pytesseract

        version = pytesseract.get_tesseract_version()
        for psm in (7, 6):
            readers[f"Tesseract {version} --psm {psm}"] = evaluation.tesseract_reader(psm)
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

    dev = evaluation.real_dev_dir()
    folders = ([dev] if dev.is_dir() else []) + args.images
    for folder in args.images:
        if not folder.is_dir():
            parser.error(f"--images {folder}: not a folder")
    examples = [
        (f"{folder.name}/{name}", path, truth)
        for folder in folders
        for name, path, truth in evaluation.find_examples(folder)
    ]
    if not examples:
        print(
            f"no real handwriting here: {dev} is absent and no --images folder was given; nothing to measure"
        )
        return 0
    readers = engines(args.threads)
    results = {}
    for engine, read in readers.items():
        results[engine] = evaluation.score_examples(read, examples)
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
        r = results[engine]
        lines.append(
            f"| {engine} | {r['cer']:.3f} | {r['edits']} / {r['chars']} | {r['median_s']:.3f} |"
        )
    lines += [
        "",
        "| image | truth | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for name, _, truth in examples:
        cells = []
        for engine in names:
            text, edits, chars = results[engine]["per_image"][name]
            shown = " ".join(text.split())[:60].replace("|", "\\|")
            cells.append(f"`{shown}` ({edits}/{chars})")
        lines.append(f"| {name} | `{truth[:60]}` | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    print("\n" + table)
    atomic_write_text(args.output, table)
    print(f"written: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
