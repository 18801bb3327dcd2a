"""A regression-test suite built from flagged production examples.

Every flag is a real input the model got wrong. Once someone writes down what the image
really says (the label), the example joins a suite that every future model must be run
on: the failures users reported stay fixed, and a candidate that breaks them again is
caught before promotion, not by users.

On disk a suite is a folder of PNGs plus ``suite.json``::

    {"examples": [{"image": "ab12....png", "label": "...", "flags": "incorrect",
                   "request_id": "...", "model_version": "...", "output_text": "..."}]}
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from text_recognizer.evaluation import cer, corpus_cer
from text_recognizer.util import atomic_write_text

if TYPE_CHECKING:
    import pandas as pd

    from text_recognizer.monitoring.store import EvaluationStore
    from text_recognizer.recognizer import BatchRecognizer

SUITE_FILENAME = "suite.json"


def export_flagged(
    store: EvaluationStore,
    out_dir: str | os.PathLike,
    labels: dict[str, str] | None = None,
) -> Path:
    """Write every flagged production prediction that has a label (from the store, or from
    ``labels`` keyed by request id, e.g. an annotation export) into a suite -> suite.json.

    Unlabeled flags are skipped: a regression test needs the right answer.
    """
    labels = labels or {}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame = store.to_dataframe(role="production", expand_projections=False)
    frame = frame[frame["flagged"] & frame["image_sha256"].notna()]
    examples = []
    for row in frame.itertuples():
        label = labels.get(row.request_id, row.label)
        if not isinstance(label, str):
            continue
        name = f"{row.image_sha256}.png"
        if not (out / name).exists():
            shutil.copyfile(row.image_path, out / name)
        examples.append(
            {
                "image": name,
                "label": label,
                "flags": row.flags,
                "request_id": row.request_id,
                "model_version": row.model_version,
                "output_text": row.output_text,
            }
        )
    path = out / SUITE_FILENAME
    return atomic_write_text(path, json.dumps({"examples": examples}, indent=1))


def load_suite(suite_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The examples of a suite, with ``image`` as an absolute path."""
    suite_dir = Path(suite_dir)
    examples = json.loads((suite_dir / SUITE_FILENAME).read_text())["examples"]
    return [{**example, "image": str(suite_dir / example["image"])} for example in examples]


def evaluate_suite(
    recognizer: BatchRecognizer, suite_dir: str | os.PathLike, batch_size: int = 8
) -> tuple[pd.DataFrame, float]:
    """Run ``recognizer`` on a suite -> (per-example frame with CER then and now, corpus CER)."""
    import pandas as pd

    examples = load_suite(suite_dir)
    predictions = recognizer.predict_batch([e["image"] for e in examples], batch_size=batch_size)
    frame = pd.DataFrame(
        {
            "image": [Path(e["image"]).name for e in examples],
            "label": [e["label"] for e in examples],
            "cer_when_flagged": [cer(e["output_text"] or "", e["label"]) for e in examples],
            "output_now": [p.text for p in predictions],
            "cer_now": [cer(p.text, e["label"]) for p, e in zip(predictions, examples)],
        }
    )
    total = corpus_cer(list(frame["output_now"]), list(frame["label"])) if len(frame) else 0.0
    return frame, total
