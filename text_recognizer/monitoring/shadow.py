"""Shadow mode and differential testing: try a candidate model on real traffic, safely.

**Shadow mode.** :class:`ShadowRecognizer` serves PRODUCTION's answer and, off the request
path (a background thread), runs the CANDIDATE on the same input. Both predictions are
logged under the same request id, with ``role`` ``production`` / ``candidate``. Users never
see the candidate; its failures are counted, never raised.

**Comparison.** :func:`compare` joins the two roles per request: agreement rate (identical
text), CER of each against labels where labels exist (annotations, simulated traffic),
and latency.

**Differential test.** :func:`is_not_worse` runs both models on the held-out test split and
passes when the candidate's CER is at most production's plus a margin: the gate a candidate
must pass before it may be promoted (tests/integration/test_shadow.py runs it on a good and
a deliberately degraded candidate).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from text_recognizer.evaluation import cer, corpus_cer
from text_recognizer.monitoring.logger import PredictionLogger
from text_recognizer.monitoring.store import EvaluationStore

if TYPE_CHECKING:
    import pandas as pd

    from text_recognizer.recognizer import BatchRecognizer, Recognizer

LOGGER = logging.getLogger(__name__)


# ---------------------------------------------------------------- serving in shadow
class ShadowRecognizer:
    """Production answers; the candidate runs in the background; both are logged.

    ``production``/``candidate``: recognizers with ``predict_details`` (the release contract).
    ``logger``: where both go (a :class:`PredictionLogger`, or a store to wrap in one).
    """

    def __init__(
        self,
        production: Recognizer,
        candidate: Recognizer,
        logger: PredictionLogger | EvaluationStore,
        *,
        source: str = "api",
    ) -> None:
        self.production, self.candidate = production, candidate
        self.logger = logger if isinstance(logger, PredictionLogger) else PredictionLogger(logger)
        self.source = source
        self.candidate_failures = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow")
        self._lock = threading.Lock()
        self.name, self.version = production.name, production.version  # it answers as production

    def predict_details(
        self,
        image: Any,
        *,
        request_id: str | None = None,
        label: str | None = None,
        timestamp: Any = None,
    ) -> Any:
        """Production's prediction (returned at once); the candidate's is queued."""
        from text_recognizer.util import read_image_pil

        pil = read_image_pil(image)
        request_id = request_id or uuid.uuid4().hex
        tic = time.perf_counter()
        prediction = self.production.predict_details(pil)
        latency_ms = (time.perf_counter() - tic) * 1000
        self._log(
            self.production, "production", pil, prediction, latency_ms, request_id, label, timestamp
        )
        self._executor.submit(self._shadow, pil, request_id, label, timestamp)
        return prediction

    def predict(self, image: Any) -> str:
        return self.predict_details(image).text

    def wait(self, timeout: float | None = 60.0) -> None:
        """Block until every queued candidate prediction ran (tests, batch jobs)."""
        self._executor.submit(lambda: None).result(timeout)
        self.logger.flush(timeout)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.logger.flush()

    def _shadow(
        self, image: Image.Image, request_id: str, label: str | None, timestamp: Any
    ) -> None:
        try:
            tic = time.perf_counter()
            prediction = self.candidate.predict_details(image)
            latency_ms = (time.perf_counter() - tic) * 1000
            self._log(
                self.candidate,
                "candidate",
                image,
                prediction,
                latency_ms,
                request_id,
                label,
                timestamp,
            )
        except Exception:
            with self._lock:
                self.candidate_failures += 1
            LOGGER.exception("shadow candidate failed on request %s", request_id)

    def _log(
        self, model, role, image, prediction, latency_ms, request_id, label, timestamp
    ) -> None:
        self.logger.log(
            output_text=prediction.text,
            image=image,
            confidence=prediction.confidence,
            latency_ms=latency_ms,
            source=self.source,
            model_name=getattr(model, "name", role),
            model_version=getattr(model, "version", None),
            request_id=request_id,
            role=role,
            label=label,
            timestamp=timestamp,
        )


# ---------------------------------------------------------------- comparing
@dataclass
class ShadowComparison:
    pairs: pd.DataFrame  # one row per request: text/latency/cer for both roles, label, agree
    summary: dict[str, float] = field(default_factory=dict)

    def summary_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([self.summary])


def compare(store: EvaluationStore, start: Any = None, end: Any = None) -> ShadowComparison:
    """Join production and candidate predictions of the same requests and summarize."""
    production = store.to_dataframe(
        role="production", start=start, end=end, expand_projections=False
    )
    candidate = store.to_dataframe(role="candidate", start=start, end=end, expand_projections=False)
    columns = [
        "request_id",
        "output_text",
        "latency_ms",
        "model_name",
        "model_version",
        "label",
        "timestamp",
    ]
    pairs = production[columns].merge(
        candidate[columns[:5]], on="request_id", suffixes=("_production", "_candidate")
    )
    pairs["agree"] = pairs["output_text_production"] == pairs["output_text_candidate"]
    labeled = pairs["label"].notna()
    for role in ("production", "candidate"):
        pairs[f"cer_{role}"] = [
            cer(p or "", t) if isinstance(t, str) else np.nan
            for p, t in zip(pairs[f"output_text_{role}"], pairs["label"])
        ]
    summary: dict[str, Any] = {
        "requests": len(pairs),
        "agreement": float(pairs["agree"].mean()) if len(pairs) else float("nan"),
        "labeled": int(labeled.sum()),
    }
    for role in ("production", "candidate"):
        summary[f"model_{role}"] = (
            f"{pairs[f'model_name_{role}'].iloc[0]} {pairs[f'model_version_{role}'].iloc[0]}"
            if len(pairs)
            else "-"
        )
        summary[f"cer_{role}"] = (
            corpus_cer(
                [t or "" for t in pairs.loc[labeled, f"output_text_{role}"]],
                list(pairs.loc[labeled, "label"]),
            )
            if labeled.any()
            else float("nan")
        )
        latency = pairs[f"latency_ms_{role}"].dropna()
        summary[f"latency_p50_ms_{role}"] = (
            float(latency.median()) if len(latency) else float("nan")
        )
        summary[f"latency_p95_ms_{role}"] = (
            float(latency.quantile(0.95)) if len(latency) else float("nan")
        )
    return ShadowComparison(pairs, summary)


def plot_shadow(comparison: ShadowComparison, path: os.PathLike) -> os.PathLike:
    """Per-request CER of candidate vs production (where labeled), and latencies."""
    from text_recognizer.monitoring.plotting import pyplot, save_figure

    plt = pyplot()
    pairs = comparison.pairs
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    labeled = pairs.dropna(subset=["cer_production", "cer_candidate"])
    if len(labeled):
        left.scatter(labeled["cer_production"], labeled["cer_candidate"], s=10, alpha=0.6)
        top = float(max(labeled["cer_production"].max(), labeled["cer_candidate"].max(), 0.05))
        left.plot([0, top], [0, top], color="gray", lw=0.8, ls="--")
        left.set_xlabel("CER production")
        left.set_ylabel("CER candidate")
    left.set_title(f"per-request CER (agreement {comparison.summary.get('agreement', 0):.0%})")
    for role, color in (("production", "#4C72B0"), ("candidate", "#DD8452")):
        values = pairs[f"latency_ms_{role}"].dropna()
        if len(values):
            right.hist(values, bins=30, alpha=0.6, color=color, label=role)
    right.set_xlabel("latency (ms)")
    right.legend()
    right.set_title("latency")
    fig.tight_layout()
    return save_figure(fig, path)


# ---------------------------------------------------------------- the promotion gate
@dataclass(frozen=True)
class DifferentialResult:
    cer_candidate: float
    cer_production: float
    margin: float
    agreement: float
    samples: int

    @property
    def passed(self) -> bool:
        return self.cer_candidate <= self.cer_production + self.margin

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        return (
            f"{verdict}: CER candidate {self.cer_candidate:.3f} vs production "
            f"{self.cer_production:.3f} (+{self.margin} allowed); agreement "
            f"{self.agreement:.0%} on {self.samples} held-out pages"
        )


def is_not_worse(
    candidate: BatchRecognizer,
    production: BatchRecognizer,
    heldout: tuple[Sequence[Any], Sequence[str]],
    margin: float = 0.01,
    batch_size: int = 8,
) -> DifferentialResult:
    """Run both models on the held-out ``(images, labels)``; truthy when the candidate's CER
    is at most production's + ``margin`` (absolute CER points)."""
    images, labels = heldout
    texts_c = [p.text for p in candidate.predict_batch(list(images), batch_size=batch_size)]
    texts_p = [p.text for p in production.predict_batch(list(images), batch_size=batch_size)]
    return DifferentialResult(
        cer_candidate=corpus_cer(texts_c, labels),
        cer_production=corpus_cer(texts_p, labels),
        margin=margin,
        agreement=float(np.mean([a == b for a, b in zip(texts_c, texts_p)])),
        samples=len(labels),
    )
