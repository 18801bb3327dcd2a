"""System metrics for the backend, in the Prometheus exposition format (``GET /metrics``).

These answer "is the service healthy?" (traffic, errors, latency), not "is the model right?"
(that is the evaluation store's job, Lab 08). Each server gets its own registry, so tests can
run several servers in one process and read exact counts.

>>> metrics = BackendMetrics()
>>> metrics.observe(status=200, latency_s=0.12); metrics.observe(status=415, latency_s=0.01)
>>> metrics.set_model(name="paragraph_text_recognizer", version="1.0")
>>> text = metrics.exposition()[0].decode()
>>> 'text_recognizer_requests_total{status="200"} 1.0' in text
True
>>> 'text_recognizer_request_errors_total{status="415"} 1.0' in text
True
>>> 'text_recognizer_model_info{name="paragraph_text_recognizer",version="1.0"} 1.0' in text
True
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
    generate_latest,
)

# CPU inference on a paragraph takes tenths of a second to seconds; 4xx answers take ~1 ms.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class BackendMetrics:
    """Request count and errors by status code, a latency histogram, requests in flight, and
    the served model's name/version (an ``Info`` metric, so a dashboard can tell deploys apart).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "text_recognizer_requests",
            "Requests to the handler, by status code",
            ["status"],
            registry=r,
        )
        self.errors = Counter(
            "text_recognizer_request_errors",
            "Requests answered with a 4xx/5xx, by status code",
            ["status"],
            registry=r,
        )
        self.latency = Histogram(
            "text_recognizer_request_latency_seconds",
            "Time from request received to response written",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "text_recognizer_requests_in_flight", "Requests being handled now", registry=r
        )
        self.model = Info("text_recognizer_model", "The model being served", registry=r)
        ProcessCollector(registry=r)  # CPU seconds, resident memory, open fds (Linux)

    def observe(self, status: int, latency_s: float) -> None:
        """Record one finished request."""
        self.requests.labels(status=str(status)).inc()
        if status >= 400:
            self.errors.labels(status=str(status)).inc()
        self.latency.observe(latency_s)

    def set_model(self, **labels: str) -> None:
        """Publish the served model's identity, e.g. ``name=..., version=...``."""
        self.model.info({key: str(value) for key, value in labels.items()})

    def exposition(self) -> tuple[bytes, str]:
        """The body and Content-Type of a ``/metrics`` response."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
