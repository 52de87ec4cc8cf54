"""Prometheus metrics of one API process, in a registry of its own (several apps can live in one
test process).

Every label value comes from a closed set, whatever a client sends: each distinct value is a new
series kept for the life of the process, so a label copied from the request (a made-up method, a
raw path) lets anyone grow ``/metrics`` and the server's memory without bound. Methods fold into
the standard ones or ``other``, routes are the app's templates (``/v1/documents/{document_id}``)
or ``unmatched``, statuses are real HTTP codes or ``other``.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from app.api.disconnect import CLIENT_CLOSED

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"
UNMATCHED = "unmatched"  # the route of a request no route matched (or refused before routing)
STATUSES = frozenset({int(s) for s in HTTPStatus} | {CLIENT_CLOSED})


def method_label(method: str) -> str:
    """The method as a label: one of ``METHODS`` (case matters in HTTP), else ``other``."""
    return method if method in METHODS else OTHER


def status_label(status: int) -> str:
    """The status as a label: a registered HTTP code (or 499), else ``other``."""
    return str(status) if status in STATUSES else OTHER


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

    def observe_request(self, method: str, route: str | None, status: int, seconds: float) -> None:
        """Count one request. ``route`` must be a route template of the app (``None``: unmatched)."""
        method, route = method_label(method), route or UNMATCHED
        self.requests.labels(method, route, status_label(status)).inc()
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
