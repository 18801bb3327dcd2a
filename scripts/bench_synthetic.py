"""Benchmark the synthetic handwriting generator and save sample sheets to look at.

Prints characters/s and lines/s, in one process and in two worker processes, and writes
``bench/results/synthetic_grid.png`` (characters) and
``bench/results/synthetic_lines_48_generator-<version>.png`` (48 random lines; the sheet of
generator 1.2.0, before the npm fonts and pencil/scan effects, is committed beside it for
comparison). Run: ``python scripts/bench_synthetic.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

from text_recognizer.data.sentence_generator import SentenceGenerator
from text_recognizer.data.synthetic import (
    GENERATOR_VERSION,
    font_families,
    list_fonts,
    load_glyphs,
    make_grid_image,
    rejected_fonts,
    render_characters,
    render_lines,
)
from text_recognizer.metadata.emnist import CHARSET

REPO = Path(__file__).resolve().parents[1]


def timed(function, *args, **kwargs):
    """(result, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def line_sheet(images: list[Image.Image], columns: int = 2, width: int = 640) -> Image.Image:
    """Lines in ``columns`` columns on grey, each shrunk to at most ``width`` px: a sheet
    to look at (and to compare with the same sheet from another generator version)."""
    images = [
        im if im.width <= width else im.resize((width, round(im.height * width / im.width)))
        for im in images
    ]
    row = max(image.height for image in images) + 6
    rows = -(-len(images) // columns)
    sheet = Image.new("L", (columns * (width + 8), rows * row), 128)
    for k, image in enumerate(images):
        sheet.paste(image, ((k % columns) * (width + 8), (k // columns) * row))
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num_chars", type=int, default=20_000)
    parser.add_argument("--num_lines", type=int, default=600)
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out_dir", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)

    fonts, load_s, _ = timed(list_fonts)
    _, glyph_s, _ = timed(lambda: [load_glyphs(f) for f in fonts])
    families = font_families(fonts)
    print(
        f"generator {GENERATOR_VERSION}: {len(fonts)} fonts in {len(families)} families {families}"
    )
    for path, reason in rejected_fonts():
        print(f"  skipped {Path(path).name}: {reason}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = [("font discovery + glyph parsing (once per process)", f"{load_s + glyph_s:.2f} s")]

    classes = [c for c in CHARSET if c != " "]
    chars = [classes[i % len(classes)] for i in range(args.num_chars)]
    images, wall, cpu = timed(render_characters, chars, args.seed, fonts, num_workers=1)
    rows.append(("characters/s, 1 process", f"{len(chars) / wall:.0f}"))
    rows.append(("characters/s per CPU-second (load-independent)", f"{len(chars) / cpu:.0f}"))
    images2, wall2, _ = timed(render_characters, chars, args.seed, fonts, num_workers=2)
    rows.append(("characters/s, 2 processes", f"{len(chars) / wall2:.0f}"))
    rows.append(("same bytes with 1 and 2 processes", str(bool(np.array_equal(images, images2)))))

    sentences = SentenceGenerator(max_length=60, seed=args.seed, source="offline")
    texts = [sentences.generate() for _ in range(args.num_lines)]
    lines, wall, cpu = timed(render_lines, texts, args.seed, height=args.height, fonts=fonts)
    mean_width = np.mean([image.width for image in lines])
    rows.append(
        (
            f"lines/s (height {args.height}, mean width {mean_width:.0f} px), 1 process",
            f"{len(texts) / wall:.0f}",
        )
    )
    rows.append(("lines/s per CPU-second (load-independent)", f"{len(texts) / cpu:.0f}"))
    _, wall2, _ = timed(
        render_lines, texts, args.seed, height=args.height, fonts=fonts, num_workers=2
    )
    rows.append(("lines/s, 2 processes", f"{len(texts) / wall2:.0f}"))

    print(f"\n{cores} CPU cores, load average {load:.1f} (other processes slow wall-clock rates)\n")
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print()

    grid_path = args.out_dir / "synthetic_grid.png"
    labels = np.array(chars)
    by_class = [images[np.flatnonzero(labels == c)[:12]] for c in classes]  # 12 of each class
    make_grid_image(np.concatenate(by_class), ncols=24, pad=1, scale=2).save(grid_path)
    lines_path = args.out_dir / f"synthetic_lines_48_generator-{GENERATOR_VERSION}.png"
    picks = np.random.default_rng(args.seed).choice(
        len(lines), size=min(48, len(lines)), replace=False
    )
    line_sheet([lines[i] for i in sorted(picks)]).quantize(32).save(lines_path, optimize=True)
    print(
        f"wrote {grid_path} (12 per class, 2 classes per row)\nwrote {lines_path} (48 random lines)"
    )


if __name__ == "__main__":
    main()
