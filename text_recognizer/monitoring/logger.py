"""PredictionLogger: how serving code writes to the evaluation store without risking a request.

Monitoring must never make the product worse. A slow disk, a locked database or a full
PostgreSQL must not slow down or fail a prediction the user is waiting for, so the logger

- hands each record to a background thread through a bounded queue (``log`` returns in
  microseconds; when the queue is full the record is dropped and counted, never waited on);
- catches every exception from the store, counts it in ``failures`` and reports it through
  :mod:`logging` (the first few, then every 100th, so a dead database does not flood logs);
- opens the store lazily in that thread, so a bad URL does not stop the service starting.

``PredictionLogger(store, background=False)`` writes inline instead (tests, batch jobs),
with the same never-raise guarantee.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from text_recognizer.monitoring.store import EvaluationStore

if TYPE_CHECKING:
    from text_recognizer.recognizer import Recognizer

LOGGER = logging.getLogger(__name__)
REPORT_FIRST, REPORT_EVERY = 5, 100  # failures reported in full: the first few, then 1 in 100
_STOP = object()


class PredictionLogger:
    """Log predictions and flags to an :class:`EvaluationStore`; never raises.

    ``store`` is a store, or a path/URL opened on first use (with ``image_root``).
    ``defaults`` (e.g. ``source="ui", model_name=..., model_version=...``) fill every record.

    Counters: ``logged`` (written), ``failures`` (store errors + dropped), ``dropped``
    (queue full). ``flush()`` waits until the queue is empty.
    """

    def __init__(
        self,
        store: EvaluationStore | str | os.PathLike,
        *,
        image_root: str | os.PathLike | None = None,
        background: bool = True,
        max_queue: int = 10_000,
        **defaults: Any,
    ) -> None:
        self._store = store if isinstance(store, EvaluationStore) else None
        self._target = store
        self._image_root = image_root
        self.defaults = defaults
        self.background = background
        self.logged = self.failures = self.dropped = 0
        self._counter_lock = threading.Lock()
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        if background:
            self._queue = queue.Queue(maxsize=max_queue)
            self._thread = threading.Thread(target=self._run, name="prediction-logger", daemon=True)
            self._thread.start()
            atexit.register(self.close)

    # ------------------------------------------------------------ public API
    def log(self, **fields: Any) -> None:
        """Queue (or write) one prediction: the keyword arguments of
        :meth:`EvaluationStore.log_prediction`, on top of ``defaults``. Never raises."""
        self._submit(("prediction", {**self.defaults, **fields}))

    def log_flag(self, option: str | None, **fields: Any) -> None:
        """Queue (or write) one flag: see :meth:`EvaluationStore.log_flag`. Never raises."""
        self._submit(("flag", {"option": option, **fields}))

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every queued record is written (or failed) -> True if done in time."""
        if self._queue is None:
            return True
        done = threading.Event()
        self._submit(("barrier", done))
        return done.wait(timeout)

    def close(self) -> None:
        """Write what is queued, stop the thread and close the store (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            self.flush()
            self._queue.put(_STOP)
            self._thread.join(timeout=10.0)
        if self._store is not None and not isinstance(self._target, EvaluationStore):
            with contextlib.suppress(Exception):
                self._store.close()
            self._store = None

    @property
    def store(self) -> EvaluationStore | None:
        """The store, once opened (None before the first record or if opening failed)."""
        return self._store

    def stats(self) -> dict[str, int]:
        """Counters to export, e.g. as Prometheus gauges next to request metrics."""
        pending = self._queue.qsize() if self._queue is not None else 0
        return {
            "logged": self.logged,
            "failures": self.failures,
            "dropped": self.dropped,
            "pending": pending,
        }

    # ------------------------------------------------------------ internals
    def _submit(self, item: tuple) -> None:
        try:
            if self._queue is None:
                self._write(item)
            else:
                self._queue.put_nowait(item)
        except queue.Full:
            with self._counter_lock:
                self.dropped += 1
            self._failed(RuntimeError(f"logging queue full; record dropped ({item[0]})"))
        except Exception as error:
            self._failed(error)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            self._write(item)

    def _write(self, item: tuple) -> None:
        kind, payload = item
        if kind == "barrier":
            payload.set()
            return
        try:
            store = self._open()
            if kind == "prediction":
                store.log_prediction(**payload)
            else:
                store.log_flag(payload.pop("option"), **payload)
            with self._counter_lock:
                self.logged += 1
        except Exception as error:
            self._failed(error)

    def _open(self) -> EvaluationStore:
        if self._store is None:
            self._store = EvaluationStore.open(self._target, image_root=self._image_root)
        return self._store

    def _failed(self, error: BaseException) -> None:
        with self._counter_lock:
            self.failures += 1
            failures = self.failures
        if failures <= REPORT_FIRST or failures % REPORT_EVERY == 0:
            LOGGER.warning(
                "evaluation store: logging failed (%d failures so far): %s: %s",
                failures,
                type(error).__name__,
                error,
            )


def monitored(
    recognizer: Recognizer, logger: PredictionLogger, **fields: Any
) -> Callable[[Any], Any]:
    """Wrap a recognizer as a ``predict_fn`` that logs every prediction. It returns what
    ``predict_details`` returns (text + confidence, so the app can warn about a low one), or
    the text for a recognizer that is only a function.

    Use it where serving code takes a function, e.g. the Gradio frontend::

        logger = PredictionLogger(store, source="ui")
        demo = make_frontend(monitored(recognizer, logger), StoreFlaggingCallback(store))

    Logs the input image, output text, confidence (when the recognizer has
    ``predict_details``), latency, model name/version. Errors of the MODEL propagate as
    usual (the UI shows them); errors of LOGGING never do.
    """
    details = getattr(recognizer, "predict_details", None)
    name = getattr(recognizer, "name", None)
    version = getattr(recognizer, "version", None)

    def predict(image: Any) -> Any:
        tic = time.perf_counter()
        if details is not None:
            prediction = details(image)
            text, confidence = prediction.text, prediction.confidence
        else:
            text, confidence = recognizer(image), None
        latency_ms = (time.perf_counter() - tic) * 1000
        try:
            from text_recognizer.util import read_image_pil

            pil = read_image_pil(image)
        except Exception as error:
            logger._failed(error)
            pil = None
        logger.log(
            output_text=text,
            image=pil,
            confidence=confidence,
            latency_ms=latency_ms,
            model_name=name,
            model_version=version,
            **fields,
        )
        return prediction if details is not None else text

    predict.__name__ = "monitored_predict"
    return predict
