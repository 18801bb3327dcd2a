"""The release recognizer: a staged artifact -> text. The inference core of the product.

Serving (Gradio, Lambda) and monitoring depend on THIS module only, never on training code.
An artifact (``text_recognizer/artifacts/<name>/``, written by ``text-recognizer stage``)
holds the line reader twice, ``model.ts`` (TorchScript) and ``model.onnx`` (onnxruntime),
plus ``card.json``: the mapping, the stem and segmenter settings, metrics and lineage.

Reading a paragraph::

    image (path, URL, bytes, base64, PIL; any mode or size)
      -> util.read_image_pil (EXIF rotation, decompression-bomb guard)
      -> stems.segment.read_page_lines (the SAME code made the training crops):
         stems.normalize.normalize_page (light-on-dark inverted, shadows and paper tint
         flattened: dark ink on white) -> segment_lines: one band per text line
      -> crop_line -> LineStripStem: (1, 32, w) tensors, ink ~ 1
      -> lines of equal width are stacked and read in one call: logits (B, C, T)
      -> greedy CTC decoding (argmax per column, merge repeats, drop blanks), in NumPy,
         shared by every backend -> line texts joined by "\\n".

Confidence of a line: the mean, over the characters it emitted, of the probability the
model gave the winning class at the column where each character starts. It is cheap, lies
in [0, 1], and drops when the reader hesitates between characters. (For a line where
nothing was emitted: the mean winning probability over all columns.) A page's confidence is
the mean over its lines; a page where the segmenter found no line at all reads as "" with
confidence 1.0, since there is nothing to misread. It ranks reads rather than being a
calibrated probability: ``make bench BENCH=confidence`` measures how well it tells good
reads (CER < 0.1) from bad ones (CER > 0.5) on clean, inverted, blurred, shrunk, blank,
noise and out-of-charset pages (AUROC), and how many of each a threshold catches. Below
the card's ``low_confidence`` threshold (default :data:`LOW_CONFIDENCE`), a prediction is
marked ``low_confidence``, and the app tells its user so.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from text_recognizer.stems.segment import LineStripStem, crop_line, read_page_lines
from text_recognizer.util import ImageReadError, read_image_pil

ImageLike = str | os.PathLike | bytes | Image.Image
DEFAULT_NAME = "paragraph_text_recognizer"
ARTIFACTS_DIRNAME = Path(__file__).resolve().parent / "artifacts"
DEFAULT_ARTIFACT_DIR = ARTIFACTS_DIRNAME / DEFAULT_NAME
CARD_FILENAME, TORCHSCRIPT_FILENAME, ONNX_FILENAME = "card.json", "model.ts", "model.onnx"
BACKENDS = ("torchscript", "onnx", "eager")
SERVING_BACKENDS = ("onnx", "torchscript")  # the staged formats (eager needs a checkpoint)
# What the app, the backend, the Lambda and the CLIs load unless told otherwise: ONNX
# Runtime reads the same text as TorchScript (the card's parity check) in about half the
# time per line on a CPU, and torch 2.14 deprecates torch.jit. TorchScript stays supported
# and is what Lab 07 teaches first.
DEFAULT_BACKEND = "onnx"
# Below this page confidence a read is marked low_confidence (a card may set its own). On
# bench_confidence's mixed set it flags ~2 % of good reads and catches ~99 % of bad ones.
LOW_CONFIDENCE = 0.8

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_ARTIFACT_DIR",
    "ImageLike",
    "ImageReadError",
    "ParagraphTextRecognizer",
    "Prediction",
    "Recognizer",
    "SERVING_BACKENDS",
    "ctc_decode",
]


@dataclass(frozen=True)
class Prediction:
    """What the recognizer read in one image."""

    text: str  # lines joined by "\n"
    line_texts: list[str]
    line_confidences: list[float]  # per line, 0..1
    confidence: float  # mean of the lines' confidences; 1.0 if no lines (nothing to misread)
    line_boxes: list[tuple[int, int, int, int]]  # (x0, y0, x1, y1) in input-image pixels
    low_confidence: bool = False  # confidence below the card's threshold: likely misread


@runtime_checkable
class Recognizer(Protocol):
    """What serving and monitoring need from a reader: :class:`ParagraphTextRecognizer`,
    a shadow candidate, or a test double all qualify (structural typing, no base class)."""

    name: str
    version: str

    def predict(self, image: ImageLike) -> str: ...

    def predict_details(self, image: ImageLike) -> Prediction: ...


@runtime_checkable
class BatchRecognizer(Recognizer, Protocol):
    """A :class:`Recognizer` that also reads many images in batches: what monitoring needs
    (reference building, shadow comparisons, regression suites, simulated traffic)."""

    def predict_batch(
        self, images: Sequence[ImageLike], batch_size: int = 8
    ) -> list[Prediction]: ...


def softmax(logits: np.ndarray, axis: int = 0) -> np.ndarray:
    """Numerically stable softmax.

    >>> softmax(np.array([0.0, 0.0])).tolist()
    [0.5, 0.5]
    """
    shifted = logits - logits.max(axis=axis, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=axis, keepdims=True)


def ctc_decode(logits: np.ndarray, mapping: Sequence[str], blank: int = 0) -> tuple[str, float]:
    """Greedy (best-path) CTC decoding of one line's logits ``(C, T)`` -> (text, confidence).

    >>> mapping = ["<B>", "a", "b"]
    >>> path = np.array([1, 1, 0, 1, 2, 0])  # a a _ a b _ -> "aab"
    >>> logits = np.eye(3)[path].T * 10  # (C, T), confident
    >>> text, confidence = ctc_decode(logits, mapping)
    >>> text, round(confidence, 3)
    ('aab', 1.0)
    >>> ctc_decode(np.zeros((3, 0)), mapping)
    ('', 0.0)
    """
    if logits.shape[1] == 0:
        return "", 0.0
    probs = softmax(logits.astype(np.float64), axis=0)  # (C, T)
    best = probs.argmax(axis=0)  # (T,)
    best_prob = probs.max(axis=0)  # (T,)
    starts = np.ones_like(best, dtype=bool)
    starts[1:] = best[1:] != best[:-1]  # first column of each run
    keep = starts & (best != blank)
    text = "".join(mapping[i] for i in best[keep])
    confidence = float(best_prob[keep].mean() if keep.any() else best_prob.mean())
    return text, confidence


class ParagraphTextRecognizer:
    """Reads handwritten paragraphs with a staged artifact (see the module docstring).

    ``backend``: ``"onnx"`` (default, :data:`DEFAULT_BACKEND`: onnxruntime, the
    non-deprecated export and the faster one on a CPU), ``"torchscript"`` (the format
    Lab 07 teaches first) or ``"eager"`` (plain PyTorch; needs the
    training ``checkpoint``). ``num_threads`` caps CPU threads (default: the library's).
    """

    def __init__(
        self,
        artifact_dir: str | Path | None = None,
        backend: str = DEFAULT_BACKEND,
        *,
        checkpoint: str | Path | None = None,
        num_threads: int | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        self.artifact_dir = Path(artifact_dir or DEFAULT_ARTIFACT_DIR)
        card_path = self.artifact_dir / CARD_FILENAME
        if not card_path.is_file():
            raise FileNotFoundError(
                f"no model card at {card_path}: stage a model first "
                "(make release-model, or text-recognizer stage --checkpoint ...)"
            )
        self.card: dict[str, Any] = json.loads(card_path.read_text())
        self.name: str = self.card["name"]
        self.version: str = str(self.card["version"])
        self.backend = backend
        self.mapping: list[str] = list(self.card["mapping"])
        self.blank_index = int(self.card.get("blank_index", 0))
        stem = self.card["stem"]
        self.stem = LineStripStem(
            image_height=int(stem["image_height"]),
            max_width=int(stem["max_width"]),
            width_multiple=int(stem["width_multiple"]),
        )
        self.crop_margin = float(self.card.get("crop_margin", 0.08))
        self.low_confidence_threshold = float(self.card.get("low_confidence", LOW_CONFIDENCE))
        self._run = self._load(backend, checkpoint, num_threads)

    # ------------------------------------------------------------------ backends
    def _load(self, backend: str, checkpoint: str | Path | None, num_threads: int | None):
        """A function: float32 array (B, 1, H, W) -> logits array (B, C, T)."""
        if backend == "onnx":
            import onnxruntime as ort

            options = ort.SessionOptions()
            if num_threads:
                options.intra_op_num_threads = num_threads
                options.inter_op_num_threads = 1
            session = ort.InferenceSession(
                str(self.artifact_dir / self.card["files"]["onnx"]),
                sess_options=options,
                providers=["CPUExecutionProvider"],
            )
            input_name = session.get_inputs()[0].name
            return lambda x: session.run(None, {input_name: x})[0]

        import torch

        if num_threads:
            torch.set_num_threads(num_threads)
        if backend == "torchscript":
            with warnings.catch_warnings():  # torch 2.14 deprecates TorchScript; we know
                warnings.simplefilter("ignore", FutureWarning)
                model = torch.jit.load(
                    str(self.artifact_dir / self.card["files"]["torchscript"]), map_location="cpu"
                )
        else:  # eager: rebuild the nn.Module from the checkpoint (models/ only, no Lightning)
            if checkpoint is None:
                raise ValueError("the eager backend needs checkpoint=PATH (a training .ckpt)")
            from text_recognizer.models import model_class

            # The class the card names (cards from before it was recorded: LineCRNN), at the
            # checkpoint's own size (a reader trained in a notebook need not be the
            # release's); the stem, segmenter and mapping are the card's.
            state = torch.load(checkpoint, map_location="cpu", weights_only=False)
            hparams = state.get("hyper_parameters") or {}
            name = self.card.get("architecture", {}).get("model_class", "LineCRNN")
            architecture = model_class(name)
            if hparams.get("model_class") not in (None, name):
                raise ValueError(
                    f"{checkpoint} holds a {hparams['model_class']}, but the card at "
                    f"{self.artifact_dir} describes a {name}"
                )
            model = architecture(self.card["data_config"], hparams or self.card["model_args"])
            model.load_state_dict(
                {
                    k.removeprefix("model."): v
                    for k, v in state["state_dict"].items()
                    if k.startswith("model.")
                }
            )
        model.eval()

        def run(x: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return model(torch.from_numpy(x)).numpy()

        return run

    # ------------------------------------------------------------------ pipeline
    def _prepare(
        self, image: ImageLike
    ) -> tuple[list[tuple[int, int, int, int]], list[np.ndarray]]:
        """Image -> (line boxes, line tensors (1, H, w) as float32 arrays)."""
        page, lines = read_page_lines(read_image_pil(image))
        tensors = [self.stem(crop_line(page, line, self.crop_margin)).numpy() for line in lines]
        return [line.box for line in lines], tensors

    def _read_lines(self, tensors: list[np.ndarray]) -> list[tuple[str, float]]:
        """Read line tensors; lines of equal width share one model call, so a line's
        result never depends on which other lines came with it."""
        results: list[tuple[str, float] | None] = [None] * len(tensors)
        by_width: dict[int, list[int]] = {}
        for index, tensor in enumerate(tensors):
            by_width.setdefault(tensor.shape[-1], []).append(index)
        for indices in by_width.values():
            batch = np.stack([tensors[i] for i in indices]).astype(np.float32)  # (B, 1, H, w)
            logits = self._run(batch)  # (B, C, T)
            for i, line_logits in zip(indices, logits):
                results[i] = ctc_decode(line_logits, self.mapping, self.blank_index)
        return results  # type: ignore[return-value]

    def _prediction(self, boxes, read: list[tuple[str, float]]) -> Prediction:
        texts = [text for text, _ in read]
        confidences = [float(confidence) for _, confidence in read]
        confidence = float(np.mean(confidences)) if confidences else 1.0
        return Prediction(
            text="\n".join(texts),
            line_texts=texts,
            line_confidences=confidences,
            confidence=confidence,
            line_boxes=[tuple(int(v) for v in box) for box in boxes],
            low_confidence=confidence < self.low_confidence_threshold,
        )

    # ------------------------------------------------------------------ public API
    def predict_details(self, image: ImageLike) -> Prediction:
        """Read one image: text, per-line texts, confidences and boxes."""
        boxes, tensors = self._prepare(image)
        return self._prediction(boxes, self._read_lines(tensors))

    def predict(self, image: ImageLike) -> str:
        """Read one image; the lines joined by newlines."""
        return self.predict_details(image).text

    def predict_batch(self, images: Sequence[ImageLike], batch_size: int = 8) -> list[Prediction]:
        """Read several images, ``batch_size`` images' lines at a time (more throughput on
        a CPU than one by one). Results equal ``predict_details`` image by image."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        predictions: list[Prediction] = []
        for start in range(0, len(images), batch_size):
            prepared = [self._prepare(image) for image in images[start : start + batch_size]]
            tensors = [t for _, line_tensors in prepared for t in line_tensors]
            read = self._read_lines(tensors)
            offset = 0
            for boxes, line_tensors in prepared:
                predictions.append(
                    self._prediction(boxes, read[offset : offset + len(line_tensors)])
                )
                offset += len(line_tensors)
        return predictions

    def __repr__(self) -> str:
        return (
            f"ParagraphTextRecognizer(name={self.name!r}, version={self.version!r}, "
            f"backend={self.backend!r}, artifact_dir={str(self.artifact_dir)!r})"
        )
