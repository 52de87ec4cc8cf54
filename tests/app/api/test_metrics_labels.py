"""Metric labels come from closed sets, whatever clients send: made-up methods, random paths and
malformed ids never become new series, so ``/metrics`` (and the server's memory) stay bounded."""

from __future__ import annotations

import random
import string
from collections.abc import Iterator

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.api.routers import ask, collections, documents, health, jobs, openai_chat, search

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
LABELLED = ("citewise_http_requests", "citewise_http_request_seconds")


def series(client: TestClient) -> Iterator[dict[str, str]]:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        if family.name in LABELLED:
            for sample in family.samples:
                yield sample.labels


def hostile_requests(client: TestClient, rng: random.Random, count: int) -> None:
    letters = string.ascii_letters
    for _ in range(count):
        method = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(8, 1000)))
        noise = "".join(rng.choices(letters, k=rng.randint(1, 60)))
        client.request(method, "/v1/search", content=b"{}")  # a made-up method on a real route
        client.request(method, f"/{noise}")  # ... and on no route at all
        client.get(f"/v1/{noise}/{rng.randint(0, 10**9)}")  # random paths
        client.get(f"/v1/documents/{noise}")  # a route template with a malformed id
        client.request(rng.choice(["get", "Post", "TRACE", "CONNECT"]), f"/v1/jobs/{noise}")


def test_methods_routes_and_statuses_fold_into_closed_sets(client: TestClient) -> None:
    rng = random.Random(15)
    hostile_requests(client, rng, 60)
    labels = list(series(client))
    routers = (health, search, ask, documents, jobs, collections, openai_chat)
    templates = {r.path_format for m in routers for r in m.router.routes} | {
        r.path_format
        for r in client.app.routes
        if hasattr(r, "path_format")  # /docs and such
    }

    assert {s["method"] for s in labels} <= METHODS | {"other"}
    assert {s["route"] for s in labels} <= templates | {"unmatched"}
    assert "/v1/documents/{document_id}" in {s["route"] for s in labels}
    assert all(s["status"].isdigit() and 100 <= int(s["status"]) <= 599 for s in labels if "status" in s)


def test_the_number_of_series_does_not_grow_with_distinct_hostile_values(client: TestClient) -> None:
    rng = random.Random(16)
    hostile_requests(client, rng, 40)
    before = len(client.get("/metrics").content), len(list(series(client)))
    hostile_requests(client, rng, 200)  # 1,000 more requests, every method and path new
    after = len(client.get("/metrics").content), len(list(series(client)))

    assert after[1] == before[1]  # the same series, only their counts moved
    assert after[0] < before[0] + 2000  # a few counters got more digits, nothing more
