"""Prometheus metrics of one API process, in a registry of its own (several apps can live in one
test process). Routes are labelled by their template (``/v1/documents/{document_id}``), never the
raw path, so the label set stays small."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "citewise_http_requests",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "citewise_http_request_seconds",
            "Time to the response head (streams: to the first byte).",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stage = Histogram(
            "citewise_stage_seconds",
            "Answer stages: retrieval, first_token, generation, total.",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rejected = Counter(
            "citewise_rejected",
            "Requests refused with 429 because a queue was full.",
            ["pool"],
            registry=self.registry,
        )

    def gauge(self, name: str, doc: str, read: Callable[[], float]) -> None:
        Gauge(name, doc, registry=self.registry).set_function(read)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def observe_timings(self, timings: dict[str, float]) -> None:
        for key, stage in (
            ("retrieval_s", "retrieval"),
            ("first_token_s", "first_token"),
            ("generation_s", "generation"),
            ("total_s", "total"),
        ):
            if key in timings:
                self.stage.labels(stage).observe(timings[key])

    def render(self) -> bytes:
        return generate_latest(self.registry)
