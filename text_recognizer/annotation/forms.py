"""Raw, unannotated "handwriting forms" to annotate, generated offline, and a server for them.

A form is what a data-collection campaign gets back from its writers (IAM's forms are the
model): a printed prompt at the top ("Please copy the sentence below:" and the sentence, in a
print font), a rule, and the writer's handwritten copy, 1 to 3 lines by one synthetic writer
(:mod:`text_recognizer.data.synthetic`). Pages are scanned slightly skewed, and writers
make the odd slip (two letters swapped) that annotators must transcribe as written.

What annotators see and what we know are kept apart::

    <out_dir>/images/form-000.png ...  the pages: the ONLY folder the image server serves
    <out_dir>/manifest.csv             one row per page: image URL (on 127.0.0.1), page id
    <out_dir>/hidden/truth.json        the generator's truth: each line's text and rotated
                                       rectangle in page pixels (for checking annotations)

Rectangles follow Label Studio's convention, so truth and annotations compare directly:
``(x, y, width, height, rotation)`` with ``(x, y)`` the rectangle's top-left corner and
``rotation`` in degrees, clockwise on screen, about that corner.

Everything is deterministic: the same seed writes the same bytes. Command line::

    python -m text_recognizer.annotation.forms generate data/forms --num_pages 8
    python -m text_recognizer.annotation.forms serve data/forms --port 8081
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import io
import json
import math
import os
import sys
import textwrap
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from HersheyFonts import HersheyFonts
from PIL import Image, ImageDraw

from text_recognizer.annotation.geometry import bounding_box, rect_corners
from text_recognizer.data.synthetic import compose_page, render_line_ink, sample_style
from text_recognizer.data.synthetic.fonts import FontSpec
from text_recognizer.util import atomic_directory, atomic_write_text

PROMPT = "Please copy the sentence below:"
# Fixed sentences (not a corpus that changes with the Python version): same seed, same pages.
SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Pack my box with five dozen liquor jugs.",
    "Sphinx of black quartz, judge my vow.",
    "How vexingly quick daft zebras jump!",
    "The five boxing wizards jump quickly.",
    "Bright vixens jump; dozy fowl quack.",
    "We meet at 10 or 11, said the clerk.",
    "A wet summer gave us 23 days of rain.",
    "Read the label twice before you sign it.",
    "Never trust a map that has no scale.",
    "She sold 7 old chairs for 40 pounds.",
    "Is it far to the station? Not really.",
    "Good tools make the work look easy.",
    "The river rose by 3 feet overnight.",
    "Write clearly, and leave a margin.",
    "Our train left late but arrived early.",
)
PAGE_WIDTH = 720  # pixels; widened when a writer's line does not fit
LINE_HEIGHT = 64  # rendered height of one handwritten line
MARGIN = 48
LINE_PAD = 4  # truth rectangles: the line's ink box plus a little paper, as annotators draw
PRINT_SCALE = 0.9  # Hershey units -> pixels for the printed part (capitals ~19 px)
PRINT_LINE_PITCH = 30
PRINT_INK = 30  # printed ink is near black and crisp
MAX_SKEW_DEGREES = 2.0  # the scanner's skew
SLIP_PROBABILITY = 0.3  # chance that a page has one pair of swapped letters
DEFAULT_PORT = 8081
DEFAULT_BASE_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
IMAGES_DIRNAME, HIDDEN_DIRNAME = "images", "hidden"
MANIFEST_FILENAME, TRUTH_FILENAME = "manifest.csv", "truth.json"
MANIFEST_COLUMNS = ("image", "page_id")  # "image" is the $image of the labeling config


@dataclass(frozen=True)
class LineTruth:
    """One handwritten line as written (slips included) and where it is on the page."""

    text: str
    rect: tuple[float, float, float, float, float]  # x, y, width, height, rotation (degrees)
    box: tuple[int, int, int, int]  # axis-aligned bounds (x0, y0, x1, y1), x1/y1 exclusive


@dataclass(frozen=True)
class PageTruth:
    page_id: str
    image: str  # file name under images/
    width: int
    height: int
    printed_text: str  # the sentence the writer was asked to copy
    lines: tuple[LineTruth, ...]

    @property
    def text(self) -> str:
        """The page's transcription: what is written, line by line."""
        return "\n".join(line.text for line in self.lines)


# ---------------------------------------------------------------------------- geometry
# ---------------------------------------------------------------------------- rendering
@functools.cache
def _print_font() -> HersheyFonts:
    font = HersheyFonts()
    font.load_default_font("futural")
    return font


def _draw_printed(draw: ImageDraw.ImageDraw, text: str, x0: float, baseline: float) -> None:
    """Machine print: Hershey Sans strokes, 2 px wide, no jitter."""
    for stroke in _print_font().strokes_for_text(text):
        points = [(x0 + x * PRINT_SCALE, baseline + (y - 9) * PRINT_SCALE) for x, y in stroke]
        draw.line(points, fill=PRINT_INK, width=2)


def writer_slip(text: str, rng: np.random.Generator) -> str:
    """Swap two adjacent letters inside one word of 4+ letters: a writer's slip, which the
    transcription must keep (the instructions say: do not correct spelling).

    >>> writer_slip("abcd efgh", np.random.default_rng(0)) != "abcd efgh"
    True
    """
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if sum(c.isalpha() for c in w) >= 4]
    if not candidates:
        return text
    index = candidates[int(rng.integers(len(candidates)))]
    word = words[index]
    pairs = [k for k in range(len(word) - 1) if word[k].isalpha() and word[k + 1].isalpha()]
    pairs = [k for k in pairs if word[k] != word[k + 1]]
    if not pairs:
        return text
    k = pairs[int(rng.integers(len(pairs)))]
    words[index] = word[:k] + word[k + 1] + word[k] + word[k + 2 :]
    return " ".join(words)


def render_form(
    sentence: str,
    rng: np.random.Generator | int,
    *,
    fonts: Sequence[FontSpec] | None = None,
    line_height: int = LINE_HEIGHT,
    max_skew: float = MAX_SKEW_DEGREES,
) -> tuple[Image.Image, list[LineTruth]]:
    """One form: the printed prompt and ``sentence``, a rule, then one writer's copy of it
    (word-wrapped into lines, maybe with a slip), scanned with up to ``max_skew`` degrees of
    skew. Returns the ``L`` page and the truth of each handwritten line.

    >>> page, lines = render_form("Hello world, again.", 0)
    >>> page.mode, len(lines) >= 1, "".join(l.text for l in lines).replace(" ", "") != ""
    ('L', True, True)
    """
    rng = np.random.default_rng(rng)
    written = writer_slip(sentence, rng) if rng.random() < SLIP_PROBABILITY else sentence
    texts = textwrap.wrap(written, int(rng.integers(16, 30)), break_on_hyphens=False)
    style = sample_style(rng, fonts)
    printed = textwrap.wrap(sentence, 60)
    top = MARGIN + PRINT_LINE_PITCH * (len(printed) + 1) + 24  # below the printed part

    inks, positions = [], []
    y = top + 0.3 * line_height
    for text in texts:  # one writer; a little variation from line to line
        line_style = dataclasses.replace(
            style,
            slant=style.slant + 0.03 * rng.standard_normal(),
            rotation=style.rotation + 0.3 * rng.standard_normal(),
        )
        inks.append(render_line_ink(text, rng, height=line_height, style=line_style))
        positions.append((round(MARGIN + 0.4 * line_height * rng.random()), round(y)))
        y += line_height * (1.05 + 0.25 * rng.random())
    width = max(PAGE_WIDTH, max(x + ink.coverage.shape[1] for (x, _), ink in zip(positions, inks)))
    width += MARGIN
    height = int(y + MARGIN)

    coverage = np.zeros((height, width), np.uint8)  # (H, W) ink of every line
    boxes = []
    for (x, y0), ink in zip(positions, inks):
        h, w = ink.coverage.shape
        np.maximum(
            coverage[y0 : y0 + h, x : x + w], ink.coverage, out=coverage[y0 : y0 + h, x : x + w]
        )
        bx0, by0, bx1, by1 = np.array(ink.boxes).reshape(-1, 4).T
        boxes.append(
            (
                int(x + bx0.min()) - LINE_PAD,
                int(y0 + by0.min()) - LINE_PAD,
                int(x + bx1.max()) + LINE_PAD,
                int(y0 + by1.max()) + LINE_PAD,
            )
        )
    page = compose_page(coverage, style, rng, cap_px=inks[0].cap_px)

    draw = ImageDraw.Draw(page)
    _draw_printed(draw, PROMPT, MARGIN, MARGIN + 20)
    for index, line in enumerate(printed):
        _draw_printed(draw, line, MARGIN, MARGIN + 20 + PRINT_LINE_PITCH * (index + 1))
    rule_y = top - 12
    draw.line([(MARGIN, rule_y), (width - MARGIN, rule_y)], fill=PRINT_INK, width=2)

    # The scan: rotate about the page centre by `skew` degrees (counter-clockwise on screen,
    # PIL's convention). A line's top-left corner moves with the page, and its rectangle
    # turns by -skew in Label Studio's clockwise convention.
    skew = float(rng.uniform(-max_skew, max_skew))
    paper = int(np.median(np.asarray(page)))
    page = page.rotate(skew, resample=Image.Resampling.BICUBIC, fillcolor=paper)
    cx, cy, a = width / 2, height / 2, math.radians(skew)
    lines = []
    for text, (x0, y0, x1, y1) in zip(texts, boxes):
        dx, dy = x0 - cx, y0 - cy
        corner_x = cx + dx * math.cos(a) + dy * math.sin(a)
        corner_y = cy - dx * math.sin(a) + dy * math.cos(a)
        rect = (
            round(corner_x, 2),
            round(corner_y, 2),
            float(x1 - x0),
            float(y1 - y0),
            round(-skew % 360.0, 4),
        )
        lines.append(LineTruth(text, rect, bounding_box(rect_corners(rect))))
    return page, lines


# ---------------------------------------------------------------------------- the collection
@dataclass(frozen=True)
class FormsCollection:
    """A generated collection on disk (see the module docstring for the layout)."""

    root: Path

    @property
    def images_dir(self) -> Path:
        return self.root / IMAGES_DIRNAME

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_FILENAME

    @property
    def truth_path(self) -> Path:
        return self.root / HIDDEN_DIRNAME / TRUTH_FILENAME

    def truth(self) -> dict[str, PageTruth]:
        """The hidden truth by page id (for checking annotations, never for annotators)."""
        return load_truth(self.truth_path)

    def manifest(self) -> list[dict[str, str]]:
        with open(self.manifest_path, newline="") as handle:
            return list(csv.DictReader(handle))


def generate_forms(
    out_dir: str | os.PathLike,
    num_pages: int = 8,
    seed: int = 0,
    base_url: str = DEFAULT_BASE_URL,
    fonts: Sequence[FontSpec] | None = None,
    max_skew: float = MAX_SKEW_DEGREES,
) -> FormsCollection:
    """Write ``num_pages`` forms, the hidden truth and a manifest pointing at ``base_url``.

    The folder appears atomically. If it already holds a collection made with the same
    ``num_pages``/``seed``/``max_skew``, it is kept (same arguments, same bytes) and only the
    manifest is rewritten for ``base_url``; different arguments raise ``ValueError``.
    """
    root = Path(out_dir)
    params = {"num_pages": num_pages, "seed": seed, "max_skew": max_skew}
    collection = FormsCollection(root)
    if collection.truth_path.exists():
        found = json.loads(collection.truth_path.read_text()).get("params")
        if found != params:
            raise ValueError(
                f"{root} holds forms made with {found}, not {params}: delete it or pick "
                "another folder"
            )
        write_manifest(collection, base_url)
        return collection
    rng = np.random.default_rng(seed)
    with atomic_directory(root) as tmp:
        (tmp / IMAGES_DIRNAME).mkdir()
        (tmp / HIDDEN_DIRNAME).mkdir()
        pages = []
        order = rng.permutation(len(SENTENCES))
        for index in range(num_pages):
            sentence = SENTENCES[int(order[index % len(order)])]
            page, lines = render_form(sentence, rng, fonts=fonts, max_skew=max_skew)
            page_id = f"form-{index:03d}"
            filename = f"{page_id}.png"
            page.save(tmp / IMAGES_DIRNAME / filename, optimize=False)
            pages.append(
                PageTruth(page_id, filename, page.width, page.height, sentence, tuple(lines))
            )
        truth = {
            "params": params,
            "rect_convention": "x, y = top-left corner; rotation: degrees clockwise about it",
            "pages": [dataclasses.asdict(page) for page in pages],
        }
        (tmp / HIDDEN_DIRNAME / TRUTH_FILENAME).write_text(json.dumps(truth, indent=1))
    write_manifest(collection, base_url)
    return collection


def write_manifest(collection: FormsCollection | str | os.PathLike, base_url: str) -> Path:
    """(Re)write ``manifest.csv``: one row per page, its URL under ``base_url``. Written
    to a temporary file and renamed, so a reader never sees half a manifest."""
    collection = (
        collection if isinstance(collection, FormsCollection) else FormsCollection(Path(collection))
    )
    rows = [
        {"image": f"{base_url.rstrip('/')}/{page.image}", "page_id": page.page_id}
        for page in collection.truth().values()
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_text(collection.manifest_path, buffer.getvalue())


def load_truth(path: str | os.PathLike) -> dict[str, PageTruth]:
    """Read ``hidden/truth.json`` back into :class:`PageTruth` objects, by page id."""
    pages = json.loads(Path(path).read_text())["pages"]
    return {
        page["page_id"]: PageTruth(
            page_id=page["page_id"],
            image=page["image"],
            width=page["width"],
            height=page["height"],
            printed_text=page["printed_text"],
            lines=tuple(
                LineTruth(line["text"], tuple(line["rect"]), tuple(line["box"]))
                for line in page["lines"]
            ),
        )
        for page in pages
    }


# ---------------------------------------------------------------------------- serving
class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A browser that cancels an image request is normal, not a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipe, ConnectionReset
            return
        super().handle_error(request, client_address)


class ImageServer:
    """A static file server on 127.0.0.1 for one folder (never more: the hidden truth
    stays unreachable), with the CORS header Label Studio's browser UI needs to load images
    from another port. ``port=0`` picks a free port.

    >>> with ImageServer(Path(".")) as server:
    ...     server.url.startswith("http://127.0.0.1:")
    True
    """

    def __init__(self, directory: str | os.PathLike, port: int = 0, quiet: bool = True) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise FileNotFoundError(f"nothing to serve: {self.directory} is not a folder")

        class Handler(SimpleHTTPRequestHandler):
            def end_headers(self) -> None:
                self.send_header("Access-Control-Allow-Origin", "*")
                super().end_headers()

            def log_message(self, *args) -> None:
                if not quiet:
                    super().log_message(*args)

        handler = functools.partial(Handler, directory=str(self.directory))
        self.httpd = _Server(("127.0.0.1", port), handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> ImageServer:
        """Serve in a daemon thread (returns at once; a no-op when already serving)."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> ImageServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(directory: str | os.PathLike, port: int = 0) -> ImageServer:
    """Start serving ``directory`` on 127.0.0.1 in the background; call ``.stop()`` after.
    Given a forms collection's root, serves its ``images/`` folder only."""
    directory = Path(directory)
    if (directory / IMAGES_DIRNAME).is_dir():
        directory = directory / IMAGES_DIRNAME
    return ImageServer(directory, port).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="write forms, hidden truth and manifest")
    gen.add_argument("out_dir")
    gen.add_argument("--num_pages", type=int, default=8)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--base_url", default=DEFAULT_BASE_URL)
    srv = commands.add_parser("serve", help="serve a collection's images on 127.0.0.1")
    srv.add_argument("directory")
    srv.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    if args.command == "generate":
        collection = generate_forms(args.out_dir, args.num_pages, args.seed, args.base_url)
        print(f"{len(collection.truth())} pages in {collection.images_dir}")
        print(f"manifest: {collection.manifest_path}")
        return 0
    directory = Path(args.directory)
    directory = directory / IMAGES_DIRNAME if (directory / IMAGES_DIRNAME).is_dir() else directory
    server = ImageServer(directory, args.port, quiet=False)
    print(f"serving {directory} at {server.url} (Ctrl-C stops)")
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
