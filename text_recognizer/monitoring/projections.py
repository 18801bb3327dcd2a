"""Projections: a few cheap numbers computed from each logged input image and output text.

Monitoring a model means comparing what it sees and says in production with what it saw
and said on data we trust (the held-out test split). Raw images and free text cannot be
compared directly, so each prediction is *projected* onto a handful of scalars whose
distributions can be compared with ordinary statistics (see :mod:`.drift`):

=====================  ======  ===========================================================
projection             from    what a shift in it usually means
=====================  ======  ===========================================================
output_length          output  longer/shorter documents, or a decoder that stops early
num_lines              output  a different layout (a single line, a form, a receipt)
char_entropy           output  gibberish (high) or a stuck decoder (low)
repetition             output  a decoder looping on the same characters
out_of_charset         output  text the model's mapping cannot express (labels, new models)
image_width/height     input   new cameras, scanners or crops
mean_intensity         input   darker photos, colored paper, inverted images
std_intensity          input   low contrast, textured backgrounds
polarity               input   +1 dark ink on light paper (what the stem assumes), -1 inverted
confidence             model   the model's own doubt
=====================  ======  ===========================================================

Every function is pure and cheap (a few milliseconds per page), so projections are computed
when a prediction is logged AND can be recomputed later from the stored image and text,
e.g. after adding a new projection (``EvaluationStore.recompute_projections``).
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Iterable

import numpy as np
from PIL import Image

from text_recognizer.util import to_grayscale

NEWLINE = "\n"
# The names, in a stable order, that compute_projections returns.
OUTPUT_PROJECTIONS = ("output_length", "num_lines", "char_entropy", "repetition", "out_of_charset")
INPUT_PROJECTIONS = ("image_width", "image_height", "mean_intensity", "std_intensity", "polarity")
MODEL_PROJECTIONS = ("confidence",)
PROJECTIONS = OUTPUT_PROJECTIONS + INPUT_PROJECTIONS + MODEL_PROJECTIONS
POLARITY_MARGIN = 0.05  # tails this close to symmetric (0..1 scale) read as "no ink"


def default_charset() -> str:
    """The characters the paragraph recognizer can output (its mapping, minus special tokens).

    >>> len(default_charset()), "\\n" in default_charset(), "<" in default_charset()
    (80, True, False)
    """
    from text_recognizer.metadata import emnist, iam_paragraphs

    return "".join(iam_paragraphs.MAPPING[emnist.NUM_SPECIAL_TOKENS :])


# ---------------------------------------------------------------- output text
def output_length(text: str) -> int:
    """Characters in the output, line breaks excluded.

    >>> output_length("ab\\ncd"), output_length("")
    (4, 0)
    """
    return len(text) - text.count(NEWLINE)


def num_lines(text: str) -> int:
    """Non-empty lines in the output.

    >>> num_lines("one\\n\\ntwo"), num_lines(""), num_lines("   ")
    (2, 0, 0)
    """
    return sum(1 for line in text.split(NEWLINE) if line.strip())


def char_entropy(text: str) -> float:
    """Shannon entropy of the character distribution, in bits (0 for empty or one character).

    English prose sits around 4 bits; a stuck decoder ("aaaa") is near 0, random characters
    over 80 symbols approach log2(80) ~ 6.3.

    >>> char_entropy("aaaa"), char_entropy("abab"), char_entropy("")
    (0.0, 1.0, 0.0)
    """
    counts = Counter(text.replace(NEWLINE, ""))
    total = sum(counts.values())
    if total == 0:
        return 0.0
    return float(-sum(c / total * math.log2(c / total) for c in counts.values()) + 0.0)


def repetition(text: str, n: int = 4) -> float:
    """Share of character ``n``-grams that repeat an earlier one: 0 for varied text, near 1
    when a decoder loops ("the the the the").

    Whitespace is collapsed first, so blank lines alone do not count as repetition.

    >>> repetition("abcdefgh"), round(repetition("abababababab"), 2), repetition("abc")
    (0.0, 0.78, 0.0)
    >>> repetition("\\n\\n\\n\\n\\n\\n")
    0.0
    """
    text = " ".join(text.split())
    grams = [text[i : i + n] for i in range(len(text) - n + 1)]
    if not grams:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


def out_of_charset(text: str, charset: Iterable[str] | None = None) -> float:
    """Share of characters (line breaks excluded) outside ``charset`` (default: the model's).

    A model can only emit characters of its own mapping, so on ITS outputs this stays 0
    unless special tokens leak or a new model version brings another mapping; on labels
    (annotations, user corrections) it measures text the model could never get right.

    >>> out_of_charset("a€b"), out_of_charset("abc"), out_of_charset("")
    (0.3333333333333333, 0.0, 0.0)
    """
    allowed = set(default_charset() if charset is None else charset)
    chars = text.replace(NEWLINE, "")
    if not chars:
        return 0.0
    return sum(char not in allowed for char in chars) / len(chars)


def spellable(text: str, charset: Iterable[str] | None = None) -> str:
    """``text`` as the best a model with ``charset`` (default: the model's) could write it:
    accents stripped (é -> e), every other character outside the charset dropped.

    Scoring a prediction against ``spellable(label)`` instead of ``label`` separates errors
    the mapping forces from errors the reader makes.

    >>> spellable("café: €12.50, 30°C")
    'cafe: 12.50, 30C'
    """
    allowed = set(default_charset() if charset is None else charset) | {NEWLINE}
    decomposed = unicodedata.normalize("NFKD", text)  # é -> e + a combining accent
    return "".join(char for char in decomposed if char in allowed)


# ---------------------------------------------------------------- input image
def gray_array(image: Image.Image) -> np.ndarray:
    """A PIL image as a float array in [0, 1], ``(H, W)``, paper white = 1.

    >>> gray_array(Image.new("RGB", (3, 2), "white")).shape
    (2, 3)
    """
    return np.asarray(to_grayscale(image), dtype=np.float32) / 255.0  # (H, W)


def intensity_stats(gray: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of brightness, on a 0 (black) .. 1 (white) scale.

    >>> intensity_stats(np.array([[0.0, 1.0], [1.0, 1.0]]))
    (0.75, 0.4330127018922193)
    """
    return float(gray.mean()), float(gray.std())


def polarity(gray: np.ndarray) -> float:
    """+1 for dark ink on light paper, -1 for light ink on dark paper, 0 if no ink is seen.

    Text covers a minority of a page, so the median pixel is paper, and ink sits at ONE
    end of the brightness range: far below the median for dark ink, far above it for light
    ink. Comparing the median's distance to the 1st and 99th percentiles tells which end,
    on any paper color or exposure, unlike a fixed brightness threshold.

    >>> page = np.ones((10, 10)); page[4, :] = 0.0  # one dark line on white
    >>> polarity(page), polarity(1.0 - page), polarity(np.full((4, 4), 0.5))
    (1.0, -1.0, 0.0)
    """
    low, median, high = np.percentile(gray, [1, 50, 99])
    skew = (median - low) - (high - median)  # > 0: the far tail is dark, i.e. dark ink
    if abs(skew) < POLARITY_MARGIN:
        return 0.0
    return 1.0 if skew > 0 else -1.0


# ---------------------------------------------------------------- all together
def image_projections(image: Image.Image) -> dict[str, float]:
    """The input projections of one image.

    >>> p = image_projections(Image.new("L", (40, 20), 255))
    >>> p["image_width"], p["image_height"], p["mean_intensity"], p["polarity"]
    (40.0, 20.0, 1.0, 0.0)
    """
    gray = gray_array(image)
    mean, std = intensity_stats(gray)
    return {
        "image_width": float(image.width),
        "image_height": float(image.height),
        "mean_intensity": mean,
        "std_intensity": std,
        "polarity": polarity(gray),
    }


def text_projections(text: str, charset: Iterable[str] | None = None) -> dict[str, float]:
    """The output projections of one text.

    >>> text_projections("hi\\nthere")["num_lines"]
    2.0
    """
    return {
        "output_length": float(output_length(text)),
        "num_lines": float(num_lines(text)),
        "char_entropy": char_entropy(text),
        "repetition": repetition(text),
        "out_of_charset": out_of_charset(text, charset),
    }


def compute_projections(
    image: Image.Image | None,
    text: str | None,
    confidence: float | None = None,
    charset: Iterable[str] | None = None,
) -> dict[str, float]:
    """Every projection of one prediction; a missing input gives NaN for its projections
    (missing values are themselves monitored: see the ``missing`` rule in drift.yaml).

    >>> p = compute_projections(Image.new("L", (8, 8), 255), "ok", 0.9)
    >>> list(p) == list(PROJECTIONS), p["confidence"], p["output_length"]
    (True, 0.9, 2.0)
    >>> math.isnan(compute_projections(None, None)["polarity"])
    True
    """
    nan = float("nan")
    values = dict.fromkeys(PROJECTIONS, nan)
    if text is not None:
        values.update(text_projections(text, charset))
    if image is not None:
        values.update(image_projections(image))
    if confidence is not None:
        values["confidence"] = float(confidence)
    return values
