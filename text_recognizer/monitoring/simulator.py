"""A production traffic simulator: realistic, shifting inputs to populate the evaluation store.

A course cannot wait weeks for real users, so the simulator plays them, over SIMULATED
time: requests arrive at random times (a Poisson number per hour), most of them pages like
the training data, plus shifted inputs a real product meets sooner or later:

================  ==============================================================  ================
shift             what the user sent                                              the model's
                                                                                  assumption broken
================  ==============================================================  ================
none              a handwritten paragraph, like the held-out test split           (none)
inverted          the same, light ink on dark (a dark-mode screenshot, a          dark ink on light
                  chalkboard)                                                     paper (now handled
                                                                                  by stems/normalize)
printed           typeset text (DejaVu fonts): a printout, a screenshot            handwriting only
colored           handwriting on colored, ruled, textured paper (a sticky note)   white-ish paper
out_of_charset    printed text full of symbols the mapping lacks (EUR, @, %, é)   the character set
layout            a single very long line, two columns, or a sparse form          one paragraph
================  ==============================================================  ================

A *scenario* is a list of :class:`Phase` objects: from hour ``start`` to ``end``, requests
arrive at ``rate`` per hour with a ``mix`` of shifts (the rest is in-distribution). Each
request runs through the REAL recognizer and is logged to the store with its simulated
timestamp, its true ``label`` and, in ``source``, ``"simulator"``; ``shift`` is kept in the
returned frame (the ground truth a real monitor never has: use it only to check findings).

Everything is seeded: the same seed gives the same requests, byte for byte.
"""

from __future__ import annotations

import math
import textwrap
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from text_recognizer.data.synthetic.paragraph import (
    MAX_LINES,
    MAX_TEXT_LENGTH,
    MIN_TEXT_LENGTH,
    line_height_for,
    render_paragraph,
    wrap_paragraph,
)
from text_recognizer.metadata import iam_paragraphs
from text_recognizer.util import read_image_pil

if TYPE_CHECKING:
    import pandas as pd

    from text_recognizer.monitoring.store import EvaluationStore
    from text_recognizer.recognizer import BatchRecognizer

SHIFTS = ("none", "inverted", "printed", "colored", "out_of_charset", "layout")
LINE_HEIGHT = line_height_for(iam_paragraphs.IMAGE_HEIGHT, MAX_LINES)  # as the test split
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday: day 1 of the simulated launch
PRINTED_FONT_NAMES = (
    "DejaVuSans.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSans-Oblique.ttf",
    "LiberationSans-Regular.ttf",
    "LiberationSerif-Regular.ttf",
)
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "/Library/Fonts", "C:/Windows/Fonts")
# Text a paragraph model with an 80-character mapping cannot spell.
SYMBOL_WORDS = (
    "café", "naïve", "€12.50", "50%", "user@example.com", "x = y + 1", "[draft]", "{id}",
    "<b>", "résumé", "£3", "$9.99", "~5", "^2", "30°C", "a|b", "über", "déjà vu", "São Paulo",
)  # fmt: skip
PAPER_COLORS = ((255, 244, 160), (200, 230, 255), (255, 210, 225), (215, 245, 210), (235, 225, 205))
INK_COLORS = ((20, 30, 120), (10, 10, 10), (60, 20, 20))
# Simulated feedback: users flag outputs this wrong, with these options.
FLAG_CER = 0.3
FLAG_OPTIONS, FLAG_SHARES = ("incorrect", "other", "offensive"), (0.85, 0.13, 0.02)


# ---------------------------------------------------------------- scenarios
@dataclass(frozen=True)
class Phase:
    """Hours ``start``..``end`` of simulated time: ``rate`` requests/hour, ``mix`` of shifts."""

    start: float
    end: float
    rate: float = 30.0
    mix: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.mix) - set(SHIFTS)
        if unknown:
            raise ValueError(f"unknown shifts {sorted(unknown)}; choose from {SHIFTS}")
        if sum(self.mix.values()) > 1 + 1e-9:
            raise ValueError(f"shift fractions add up to more than 1: {self.mix}")


def default_scenario(hours_per_phase: float = 6.0, rate: float = 30.0) -> list[Phase]:
    """Launch day as tested; then colored paper and odd layouts creep in; then a client
    starts sending dark-mode screenshots (inverted); then printed documents and symbols.

    >>> [(p.start, p.end, sorted(p.mix)) for p in default_scenario(2, 10)]
    [(0, 2, []), (2, 4, ['colored', 'layout']), (4, 6, ['inverted']), (6, 8, ['out_of_charset', 'printed'])]
    """
    h = hours_per_phase
    return [
        Phase(0, h, rate),
        Phase(h, 2 * h, rate, {"colored": 0.2, "layout": 0.1}),
        Phase(2 * h, 3 * h, rate, {"inverted": 0.6}),
        Phase(3 * h, 4 * h, rate, {"printed": 0.5, "out_of_charset": 0.2}),
    ]


@dataclass(frozen=True)
class Request:
    """One simulated request: what the user sent and what it really says."""

    index: int
    timestamp: datetime
    shift: str
    image: Image.Image
    label: str


def schedule(
    scenario: Sequence[Phase], seed: int = 0, start: datetime = START
) -> list[tuple[datetime, str]]:
    """Arrival times and shift of every request, sorted by time (cheap: no images).

    >>> times = schedule([Phase(0, 2, rate=20, mix={"inverted": 0.5})], seed=1)
    >>> 20 < len(times) < 60, times == sorted(times), {s for _, s in times} == {"none", "inverted"}
    (True, True, True)
    """
    rng = np.random.default_rng([seed, 0x5C4E])
    arrivals = []
    for phase in scenario:
        for hour in range(math.floor(phase.start), math.ceil(phase.end)):
            hour_start, hour_end = max(hour, phase.start), min(hour + 1, phase.end)
            count = rng.poisson(phase.rate * (hour_end - hour_start))
            offsets = np.sort(rng.uniform(hour_start, hour_end, count))
            names = list(phase.mix) + ["none"]
            shares = list(phase.mix.values()) + [1 - sum(phase.mix.values())]
            shifts = rng.choice(len(names), size=count, p=np.array(shares) / sum(shares))
            arrivals += [
                (start + timedelta(hours=float(t)), names[s]) for t, s in zip(offsets, shifts)
            ]
    return sorted(arrivals, key=lambda arrival: arrival[0])


def generate(
    scenario: Sequence[Phase], seed: int = 0, start: datetime = START
) -> Iterator[Request]:
    """The scenario's requests with their images, in time order (rendered lazily)."""
    for index, (timestamp, shift) in enumerate(schedule(scenario, seed, start)):
        image, label = render_request(shift, np.random.default_rng([seed, index]))
        yield Request(index, timestamp, shift, image, label)


# ---------------------------------------------------------------- rendering
@cache
def _sentences():
    from text_recognizer.data.sentence_generator import SentenceGenerator

    return SentenceGenerator(MAX_TEXT_LENGTH, seed=0, source="auto")  # loads the corpus once


def paragraph_lines(rng: np.random.Generator, max_lines: int = MAX_LINES) -> list[str]:
    """Lines of running text drawn as SyntheticParagraphs draws them, seeded by ``rng``."""
    sentences = _sentences()
    sentences.rng = np.random.default_rng(int(rng.integers(2**63)))  # this request's stream
    return wrap_paragraph(
        sentences,
        rng,
        max_lines,
        MIN_TEXT_LENGTH,
        MAX_TEXT_LENGTH,
        iam_paragraphs.MAX_LABEL_LENGTH - 2,
    )


def handwritten_page(
    rng: np.random.Generator, lines: Sequence[str] | None = None
) -> tuple[Image.Image, str]:
    """An in-distribution page (mode ``L``, dark ink on light paper: light-on-dark traffic
    is the ``inverted`` shift) and its label."""
    lines = list(lines) if lines is not None else paragraph_lines(rng)
    page, _, _ = render_paragraph(lines, rng, line_height=LINE_HEIGHT, inverted=False)
    return page, "\n".join(lines)


@cache
def printed_fonts() -> tuple[Path, ...]:
    """Typeset fonts found on this machine (DejaVu, Liberation), by file name."""
    found = []
    for directory in FONT_DIRS:
        root = Path(directory)
        if root.is_dir():
            found += [p for name in PRINTED_FONT_NAMES for p in sorted(root.rglob(name))]
    return tuple(dict.fromkeys(found))


def printed_page(
    lines: Sequence[str], rng: np.random.Generator, size: int | None = None
) -> Image.Image:
    """Typeset ``lines`` on white (mode ``L``): a printout or screenshot. Falls back to PIL's
    built-in font when no DejaVu/Liberation font is installed."""
    fonts = printed_fonts()
    size = size or int(rng.integers(int(LINE_HEIGHT * 0.45), int(LINE_HEIGHT * 0.75)))
    if fonts:
        font = ImageFont.truetype(str(fonts[int(rng.integers(len(fonts)))]), size)
    else:  # pragma: no cover - every course machine has DejaVu
        font = ImageFont.load_default(size)
    spacing = int(size * rng.uniform(1.3, 1.8))
    margin = int(rng.integers(10, 40))
    width = max(int(font.getlength(line)) for line in lines) + 2 * margin
    height = spacing * len(lines) + 2 * margin
    page = Image.new("L", (max(width, 64), max(height, 64)), 255)
    draw = ImageDraw.Draw(page)
    for k, line in enumerate(lines):
        draw.text((margin, margin + k * spacing), line, fill=int(rng.integers(0, 60)), font=font)
    return page


def colored_page(page: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Handwriting on colored, ruled, textured paper (mode ``RGB``)."""
    paper = PAPER_COLORS[int(rng.integers(len(PAPER_COLORS)))]
    ink = INK_COLORS[int(rng.integers(len(INK_COLORS)))]
    image = ImageOps.colorize(page, black=ink, white=paper)
    array = np.asarray(image, dtype=np.float32)  # (H, W, 3)
    height, width = array.shape[:2]
    # ruled lines under the writing, in light blue, every line height
    rule = np.zeros((height, width), dtype=bool)
    offset = int(rng.integers(0, LINE_HEIGHT))
    rule[offset::LINE_HEIGHT] = True
    ink_mask = np.asarray(page) < 128
    array[rule & ~ink_mask] = array[rule & ~ink_mask] * 0.6 + np.array([90, 140, 230]) * 0.4
    # paper texture: smooth blotches plus grain
    blotches = Image.fromarray(
        rng.integers(0, 256, (max(1, height // 32), max(1, width // 32)), dtype=np.uint8)
    )
    blotches = np.asarray(blotches.resize((width, height), Image.Resampling.BICUBIC), np.float32)
    array += (blotches[..., None] - 128) * rng.uniform(0.1, 0.3)
    array += rng.normal(0, rng.uniform(3, 10), array.shape)
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "RGB")


def layout_page(rng: np.random.Generator) -> tuple[Image.Image, str]:
    """Not one paragraph: one very long line, two columns, or a sparse form (mode ``L``)."""
    kind = ("long_line", "columns", "form")[int(rng.integers(3))]
    if kind == "long_line":
        words = " ".join(paragraph_lines(rng, max_lines=4)).split()
        line = " ".join(words[: int(rng.integers(12, 25))])
        page, label = handwritten_page(rng, [line])
        return page, label
    if kind == "columns":
        left, left_label = handwritten_page(rng, paragraph_lines(rng, max_lines=6))
        right, right_label = handwritten_page(rng, paragraph_lines(rng, max_lines=6))
        gap = int(rng.integers(20, 80))
        page = Image.new("L", (left.width + gap + right.width, max(left.height, right.height)), 255)
        page.paste(left, (0, 0))
        page.paste(right, (left.width + gap, 0))
        return page, f"{left_label}\n{right_label}"
    # form: a few short fields scattered over a large page
    fields = []
    page = Image.new("L", (int(rng.integers(900, 1400)), int(rng.integers(900, 1400))), 255)
    for k in range(int(rng.integers(3, 6))):
        word = " ".join(paragraph_lines(rng, max_lines=1)[0].split()[:2])
        crop, label = handwritten_page(rng, [word])
        x = int(rng.integers(0, max(1, page.width - crop.width)))
        y = int((k + rng.uniform(0, 0.5)) * page.height / 6)
        page.paste(crop, (x, min(y, page.height - crop.height)))
        fields.append((y, label))
    return page, "\n".join(label for _, label in sorted(fields))


def symbol_lines(rng: np.random.Generator) -> list[str]:
    """Running text with symbols the model's character set lacks mixed in."""
    lines = paragraph_lines(rng, max_lines=6)
    out = []
    for line in lines:
        words = line.split()
        for _ in range(int(rng.integers(1, 4))):
            words.insert(
                int(rng.integers(len(words) + 1)),
                SYMBOL_WORDS[int(rng.integers(len(SYMBOL_WORDS)))],
            )
        out += textwrap.wrap(" ".join(words), MAX_TEXT_LENGTH) or [""]
    return out


def render_request(shift: str, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """One request's image and label for a shift (see the module docstring).

    >>> image, label = render_request("inverted", np.random.default_rng(0))
    >>> image.mode, len(label) > 0, bool(np.median(np.asarray(image)) < 128)
    ('L', True, True)
    """
    if shift == "none":
        return handwritten_page(rng)
    if shift == "inverted":
        page, label = handwritten_page(rng)
        return ImageOps.invert(page), label
    if shift == "printed":
        lines = paragraph_lines(rng)
        return printed_page(lines, rng).filter(
            ImageFilter.GaussianBlur(rng.uniform(0, 0.8))
        ), "\n".join(lines)
    if shift == "colored":
        page, label = handwritten_page(rng)
        return colored_page(page, rng), label
    if shift == "out_of_charset":
        lines = symbol_lines(rng)
        return printed_page(lines, rng), "\n".join(lines)
    if shift == "layout":
        return layout_page(rng)
    raise ValueError(f"unknown shift {shift!r}; choose from {SHIFTS}")


# ---------------------------------------------------------------- running it
def simulate(
    store: EvaluationStore,
    recognizer: BatchRecognizer,
    scenario: Sequence[Phase] | None = None,
    *,
    seed: int = 0,
    start: datetime = START,
    batch_size: int = 8,
    limit: int | None = None,
    flag_rate: float = 0.15,
    progress: bool = False,
) -> pd.DataFrame:
    """Run the scenario's requests through ``recognizer`` (``predict_batch``) and log each
    one to ``store`` at its simulated time -> a frame of (request id, timestamp, shift, label,
    output, flag). Request ids are ``sim-<seed>-<index>``, so re-running is idempotent.

    Simulated users flag a wrong output (CER above ``FLAG_CER``) with probability
    ``flag_rate``, a few minutes later: like real users, rarely and only when it is bad.
    Latency is measured per batch and split evenly (a real service runs one at a time).
    """
    import pandas as pd
    from tqdm.auto import tqdm

    scenario = list(scenario) if scenario is not None else default_scenario()
    total = len(schedule(scenario, seed, start))
    total = total if limit is None else min(limit, total)
    requests = generate(scenario, seed, start)
    rows = []
    name, version = getattr(recognizer, "name", None), getattr(recognizer, "version", None)
    with tqdm(total=total, desc="simulating", disable=not progress) as bar:
        batch: list[Request] = []
        for request in requests:
            if len(rows) + len(batch) >= total:
                break
            batch.append(request)
            if len(batch) == batch_size:
                rows += _run_batch(store, recognizer, batch, seed, name, version, flag_rate)
                bar.update(len(batch))
                batch = []
        if batch:
            rows += _run_batch(store, recognizer, batch, seed, name, version, flag_rate)
            bar.update(len(batch))
    columns = ["request_id", "timestamp", "shift", "label", "output_text", "flag"]
    return pd.DataFrame(rows, columns=columns)


def _run_batch(store, recognizer, batch, seed, name, version, flag_rate) -> list[dict[str, Any]]:
    from text_recognizer.evaluation import cer

    images = [request.image for request in batch]
    tic = time.perf_counter()
    predictions = recognizer.predict_batch(images, batch_size=len(images))
    latency_ms = (time.perf_counter() - tic) * 1000 / len(images)
    rows = []
    for request, prediction in zip(batch, predictions):
        request_id = f"sim-{seed}-{request.index}"
        store.log_prediction(
            output_text=prediction.text,
            image=request.image,
            confidence=prediction.confidence,
            latency_ms=latency_ms,
            source="simulator",
            model_name=name,
            model_version=version,
            request_id=request_id,
            timestamp=request.timestamp,
            label=request.label,
        )
        flag = None
        rng = np.random.default_rng([seed, request.index, 0xF1A6])
        if rng.random() < flag_rate and cer(prediction.text, request.label) > FLAG_CER:
            flag = FLAG_OPTIONS[int(rng.choice(len(FLAG_OPTIONS), p=FLAG_SHARES))]
            store.log_flag(
                flag,
                request_id=request_id,
                username=f"user{int(rng.integers(100))}",
                timestamp=request.timestamp + timedelta(minutes=float(rng.uniform(0.5, 5))),
            )
        rows.append(
            {
                "request_id": request_id,
                "timestamp": request.timestamp,
                "shift": request.shift,
                "label": request.label,
                "output_text": prediction.text,
                "flag": flag,
            }
        )
    return rows


class DegradedRecognizer:
    """A deliberately worse candidate: the same model fed images shrunk by ``scale`` and
    blown back up (as if a new stem read at a lower resolution). Used to prove the
    differential test can fail, and Lab 08's stand-in for a bad new model."""

    def __init__(self, recognizer: BatchRecognizer, scale: float = 0.3) -> None:
        self.recognizer = recognizer
        self.scale = scale
        self.name = f"{getattr(recognizer, 'name', 'model')}-degraded"
        self.version = f"{getattr(recognizer, 'version', '')}-x{scale}"

    def degrade(self, image: Any) -> Image.Image:
        image = read_image_pil(image)
        small = (max(1, round(image.width * self.scale)), max(1, round(image.height * self.scale)))
        return image.resize(small, Image.Resampling.BILINEAR).resize(
            image.size, Image.Resampling.NEAREST
        )

    def predict_details(self, image: Any) -> Any:
        return self.recognizer.predict_details(self.degrade(image))

    def predict(self, image: Any) -> str:
        return self.predict_details(image).text

    def predict_batch(self, images: Sequence[Any], batch_size: int = 8) -> list[Any]:
        return self.recognizer.predict_batch(
            [self.degrade(i) for i in images], batch_size=batch_size
        )
