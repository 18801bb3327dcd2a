"""The release recognizer against its own formats and against Tesseract, on the same pages.

    .venv/bin/python scripts/bench_recognizer.py              # ~2 min on 2 idle cores
    .venv/bin/python scripts/bench_recognizer.py --num 100 --repeats 2
    make bench BENCH=recognizer

Every row reads the SAME held-out images in one run: the first ``--num`` paragraphs of the
FIXED SyntheticParagraphs test split (all handwriting families; never trained on), and the
test paragraphs written in the font family held out of training (a handwriting the model
never saw, named in the model card). Rows:

- the recognizer in eager PyTorch (needs the training checkpoint, not committed:
  ``--checkpoint``, or the card's if it is on this machine), TorchScript (the
  format the course teaches) and ONNX via onnxruntime (the non-deprecated export), each
  at batch 1 (one request at a time, as the app serves) and batch 8 (offline bulk reading);
- Tesseract 5 via ``pytesseract``, the peer a user would try first, with its best settings
  for this job: ``--psm 6`` (one uniform block of text, which a paragraph is) and
  ``OMP_THREAD_LIMIT=1`` (Tesseract's own advice for throughput: its OpenMP threads only
  contend on a small machine). On these pages ``--psm 4`` and ``--psm 3`` read worse, and
  upscaling the pages 1.5x or 2x first did not help on both sets, so neither is used.

Columns: CER (``evaluation.corpus_cer`` over the whole set: total edits / total
characters, lines joined by newlines on both sides); p50/p95 latency per paragraph, where a
paragraph read in a batch of 8 waits for its whole batch (so batching raises latency while
it raises throughput); throughput in paragraphs per second over all the timed pages. Every
engine gets the same number of CPU threads (``--threads``, default 1) so the comparison is
per core; a warm-up call precedes timing; the fastest of ``--repeats`` passes counts, so a
burst of other work on the machine does not decide the comparison (the load average is in
the report). The table is printed (markdown) and written to ``bench/results/recognizer.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # Tesseract's OpenMP: set before it starts

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing the package

RESULTS = REPO / "bench" / "results"
NUM = 40  # paragraphs from the start of the fixed test split
BATCH_SIZES = (1, 8)
BACKENDS = ("eager", "torchscript", "onnx")
# The release model's data settings if its card does not say (text corpus, split size).
DEFAULT_DATA_ARGS = {"num_test": 200, "sentence_source": "offline"}
DEFAULT_HOLDOUT = "Dancing Script"
TESSERACT_CONFIG = "--psm 6"


@dataclass
class Row:
    engine: str
    batch: int | str
    cer: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)  # seconds, one per paragraph
    seconds: float = float("nan")  # wall time for all paragraphs
    same_as_reference: float | None = None  # share of texts equal to TorchScript's
    note: str = ""


# ----------------------------------------------------------------------------- the pages
def load_pages(
    card: dict, num: int
) -> tuple[dict[str, list[Image.Image]], dict[str, list[str]], list[str]]:
    """``{set name: raw page images}``, ``{set name: ground truths}`` and the held-out families.

    Sets: the first ``num`` test paragraphs in the families the model was trained on (in
    distribution), and every test paragraph in a family held out of training.
    The test split is the one the model card names (its fingerprint), so the pages are the
    ones the card's CER was measured on; without a card, the release settings' split.
    """
    from text_recognizer.data.synthetic_paragraphs import SyntheticParagraphs
    from text_recognizer.evaluation import split_pages

    training = card.get("training") or {}
    holdout = _families(training.get("holdout_families")) or [DEFAULT_HOLDOUT]
    data = SyntheticParagraphs({**DEFAULT_DATA_ARGS, "num_train": 0, "num_val": 0})
    fingerprint = (card.get("evaluation") or {}).get("test_split_fingerprint") or (
        (training.get("data_fingerprints") or {}).get("pages") or {}
    ).get("test")
    if fingerprint and fingerprint != data.split_dir("test").name:
        raise ValueError(
            f"the card's test split is {fingerprint}, but these settings make "
            f"{data.split_dir('test').name}: update DEFAULT_DATA_ARGS to the card's data_args"
        )
    pages, texts, families = split_pages(data, "test")  # renders the split if not cached
    held_out = [i for i, family in enumerate(families) if family in holdout]
    seen = [i for i in range(len(pages)) if i not in set(held_out)]
    sets = {
        f"in distribution ({min(num, len(seen))})": seen[:num],
        f"held-out families ({len(held_out)})": held_out,
    }
    images = {name: [pages[i] for i in idx] for name, idx in sets.items()}
    truths = {name: [texts[i] for i in idx] for name, idx in sets.items()}
    return images, truths, holdout


def _families(value: str | Sequence[str] | None) -> list[str]:
    """The held-out families, from a comma-separated string or a list.

    >>> _families("Dancing Script, Kristi"), _families(["Kristi"]), _families(None)
    (['Dancing Script', 'Kristi'], ['Kristi'], [])
    """
    if not value:
        return []
    names = value.split(",") if isinstance(value, str) else list(value)
    return [name.strip() for name in names if name.strip()]


# ----------------------------------------------------------------------------- engines
def time_batches(
    read: Callable[[Sequence[Image.Image]], list[str]], images: Sequence[Image.Image], batch: int
) -> tuple[list[str], list[float], float]:
    """Texts, per-paragraph latencies (each waits for its whole batch) and total seconds."""
    texts, latencies = [], []
    start = time.perf_counter()
    for i in range(0, len(images), batch):
        chunk = images[i : i + batch]
        t0 = time.perf_counter()
        texts.extend(read(chunk))
        latencies.extend([time.perf_counter() - t0] * len(chunk))
    return texts, latencies, time.perf_counter() - start


def recognizer_reader(
    backend: str, batch: int, threads: int, checkpoint: Path | None
) -> Callable[[Sequence[Image.Image]], list[str]]:
    """A ``read(images) -> texts`` for one recognizer format; raises if it cannot load."""
    from text_recognizer.recognizer import ParagraphTextRecognizer

    if backend == "eager" and checkpoint is None:
        raise FileNotFoundError(
            "eager PyTorch needs the training checkpoint, which is not committed "
            "(pass --checkpoint PATH after `make release-model`)"
        )
    recognizer = ParagraphTextRecognizer(
        backend=backend, checkpoint=checkpoint if backend == "eager" else None, num_threads=threads
    )
    if batch == 1:  # the app's path: one request, one ``predict``
        return lambda images: [recognizer.predict(images[0])]
    return lambda images: [p.text for p in recognizer.predict_batch(images, batch_size=batch)]


def find_checkpoint(card: dict) -> Path | None:
    """The training checkpoint named in the model card, if it is on this machine."""
    value = (card.get("training") or {}).get("checkpoint")
    if value:
        path = Path(value) if Path(value).is_absolute() else REPO / value
        if path.is_file():
            return path
    return None


def tesseract_reader() -> Callable[[Sequence[Image.Image]], list[str]]:
    import pytesseract

    def read(images: Sequence[Image.Image]) -> list[str]:
        return [pytesseract.image_to_string(im, config=TESSERACT_CONFIG) for im in images]

    return read


def cer(predictions: Sequence[str], truths: Sequence[str]) -> float:
    """Character error rate over the set (total edits / total target characters), after
    the same normalization the model card uses for every engine (no blank lines, single
    spaces: Tesseract pads lines and leaves blank ones).

    >>> round(cer(["abc", "xy"], ["abd", "xy"]), 3), cer(["a  b \\n\\n c"], ["a b\\nc"])
    (0.2, 0.0)
    """
    from text_recognizer.evaluation import corpus_cer, normalize_text

    return corpus_cer([normalize_text(p) for p in predictions], list(truths))


def run_engine(
    name: str,
    batch: int | str,
    read: Callable[[Sequence[Image.Image]], list[str]],
    images: dict[str, list[Image.Image]],
    truths: dict[str, list[str]],
    repeats: int,
) -> tuple[Row, dict[str, list[str]]]:
    row = Row(name, batch)
    step = batch if isinstance(batch, int) else 1
    first = next(iter(images.values()))
    read(first[:step])  # warm-up: lazy initialisation, allocator, TorchScript profiling runs
    outputs: dict[str, list[str]] = {}
    best: tuple[float, list[float]] | None = None
    for _ in range(repeats):
        latencies, seconds = [], 0.0
        for set_name, pages in images.items():
            texts, lat, sec = time_batches(read, pages, step)
            outputs[set_name] = texts
            latencies += lat
            seconds += sec
        if best is None or seconds < best[0]:
            best = (seconds, latencies)
    row.seconds, row.latencies = best
    row.cer = {set_name: cer(outputs[set_name], truths[set_name]) for set_name in images}
    return row, outputs


# ----------------------------------------------------------------------------- report
def markdown(rows: list[Row], set_names: list[str], header: str) -> str:
    cer_cols = " | ".join(f"CER {name}" for name in set_names)
    lines = [
        header,
        "",
        f"| engine | batch | {cer_cols} | p50 ms | p95 ms | paragraphs/s | same text as TorchScript (or note) |",
        "|---|---:|" + "---:|" * len(set_names) + "---:|---:|---:|---:|",
    ]
    for r in rows:
        if r.note and not r.latencies:
            lines.append(
                f"| {r.engine} | {r.batch} | "
                + " | ".join("–" for _ in set_names)
                + f" | – | – | – | {r.note} |"
            )
            continue
        p50, p95 = (1000 * np.percentile(r.latencies, q) for q in (50, 95))
        same = "–" if r.same_as_reference is None else f"{100 * r.same_as_reference:.0f}%"
        cers = " | ".join(f"{100 * r.cer[name]:.2f}%" for name in set_names)
        lines.append(
            f"| {r.engine} | {r.batch} | {cers} | {p50:.0f} | {p95:.0f} "
            f"| {len(r.latencies) / r.seconds:.2f} | {same} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--num", type=int, default=NUM, help="test paragraphs (default %(default)s)"
    )
    parser.add_argument("--repeats", type=int, default=1, help="timed passes; the fastest counts")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for every engine")
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--batch_sizes", nargs="+", type=int, default=list(BATCH_SIZES))
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="training checkpoint for the eager row (default: the card's, if present)",
    )
    parser.add_argument("--no_tesseract", action="store_true", help="skip the Tesseract row")
    parser.add_argument("--output", type=Path, default=RESULTS / "recognizer.md")
    args = parser.parse_args(argv)
    # torch 2.14 warns on every TorchScript load; the table says which format is which.
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.\w+` is deprecated")
    if os.environ.get("TEXT_RECOGNIZER_FAST") == "1":
        args.num = min(args.num, 8)
    torch.set_num_threads(args.threads)
    os.environ["OMP_THREAD_LIMIT"] = str(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # onnxruntime's default pool reads cores

    from text_recognizer.recognizer import ParagraphTextRecognizer

    reference = ParagraphTextRecognizer(backend="torchscript", num_threads=args.threads)
    checkpoint = args.checkpoint or find_checkpoint(reference.card)
    images, truths, holdout = load_pages(reference.card, args.num)
    set_names = list(images)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        "pages: " + ", ".join(f"{name}: {len(pages)}" for name, pages in images.items()), flush=True
    )

    rows: list[Row] = []
    reference_texts: dict[str, list[str]] | None = None
    for backend in ["torchscript"] + [b for b in args.backends if b != "torchscript"]:
        if backend not in args.backends:
            continue
        for batch in args.batch_sizes:
            try:
                read = recognizer_reader(backend, batch, args.threads, checkpoint)
            except Exception as error:  # e.g. eager needs a checkpoint the artifact may not ship
                rows.append(Row(backend, batch, note=f"not run: {error}"[:200]))
                print(f"{backend}: {rows[-1].note}", flush=True)
                break
            row, outputs = run_engine(backend, batch, read, images, truths, args.repeats)
            if reference_texts is None:
                reference_texts = outputs
            row.same_as_reference = _agreement(outputs, reference_texts)
            rows.append(row)
            print(f"{backend} batch {batch}: {row.seconds:.1f} s, CER {row.cer}", flush=True)

    if not args.no_tesseract:
        if shutil.which("tesseract") is None:
            rows.append(
                Row(
                    "Tesseract 5",
                    1,
                    note="not run: `tesseract` not found (apt-get install tesseract-ocr, or `make install` as root)",
                )
            )
        else:
            import pytesseract

            version = pytesseract.get_tesseract_version()
            row, outputs = run_engine(
                f"Tesseract {version} (`{TESSERACT_CONFIG}`)",
                1,
                tesseract_reader(),
                images,
                truths,
                args.repeats,
            )
            rows.append(row)
            print(f"tesseract: {row.seconds:.1f} s, CER {row.cer}", flush=True)

    order = {name: i for i, name in enumerate(BACKENDS)}  # eager, TorchScript, ONNX, Tesseract
    rows.sort(key=lambda r: order.get(r.engine, len(order)))
    header = "\n".join(
        [
            "# Release recognizer vs Tesseract: CER, latency, throughput",
            "",
            f"{reference.name} {reference.version}; pages: "
            + ", ".join(f"{name} ({len(pages)})" for name, pages in images.items())
            + " of the fixed SyntheticParagraphs test split; never seen in training: "
            + ", ".join(holdout)
            + ".",
            f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), torch "
            f"{torch.__version__}, {args.threads} thread(s) per engine, load average {load:.1f} "
            f"at the start (timings under load are upper bounds); fastest of {args.repeats} pass(es).",
            "Latency: wall time until a paragraph's text is ready (at batch 8, its whole batch's).",
        ]
    )
    table = markdown(rows, set_names, header) + targets(rows, set_names[0])
    print("\n" + table)
    from text_recognizer.util import atomic_write_text

    atomic_write_text(args.output, table)
    print(
        f"written: {args.output.relative_to(REPO) if args.output.is_relative_to(REPO) else args.output}"
    )
    return 0


def targets(rows: list[Row], in_distribution: str) -> str:
    """The release targets, checked on this run's rows: in-distribution CER <= 4 % and a
    p50 latency per paragraph at most 1/5 of Tesseract's, for the backend the product
    serves by default (``recognizer.DEFAULT_BACKEND``) at batch 1, one request at a time."""
    from text_recognizer.recognizer import DEFAULT_BACKEND

    ours = next(
        (r for r in rows if r.engine == DEFAULT_BACKEND and r.batch == 1 and r.latencies), None
    )
    peer = next((r for r in rows if r.engine.startswith("Tesseract") and r.latencies), None)
    if ours is None:
        return ""
    lines = [
        "",
        f"Targets, for {DEFAULT_BACKEND} (the served default) at batch 1:",
        f"- in-distribution CER {100 * ours.cer[in_distribution]:.2f}% (target <= 4%)",
    ]
    if peer is not None:
        ratio = np.percentile(ours.latencies, 50) / np.percentile(peer.latencies, 50)
        lines.append(f"- p50 latency: ours / Tesseract = {ratio:.3f} (target <= 0.2)")
    return "\n".join(lines) + "\n"


def _agreement(outputs: dict[str, list[str]], reference: dict[str, list[str]]) -> float:
    pairs = [(a, b) for name in outputs for a, b in zip(outputs[name], reference[name])]
    return sum(a == b for a, b in pairs) / max(1, len(pairs))


if __name__ == "__main__":
    sys.exit(main())
