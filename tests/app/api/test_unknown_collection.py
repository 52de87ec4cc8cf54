"""Naming a collection that does not exist is a 404 whose message quotes the name whole, on every
route that takes collections (the same text as the CLI's)."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

MISSING = "no collection named 'nope'"


def test_search_ask_and_delete_name_the_unknown_collection_whole(guide: TestClient) -> None:
    responses = {
        "search": guide.post("/v1/search", json={"query": "backup", "collections": ["nope"]}),
        "ask": guide.post("/v1/ask", json={"question": "when are backups?", "collections": ["nope"]}),
        "delete": guide.delete("/v1/collections/nope"),
    }
    for route, response in responses.items():
        assert response.status_code == 404, (route, response.text)
        assert response.json()["detail"] == MISSING, route


def test_a_streamed_answer_reports_the_unknown_collection_whole(guide: TestClient) -> None:
    body = {"question": "when are backups?", "collections": ["nope"], "stream": True}
    with guide.stream("POST", "/v1/ask", json=body) as response:
        text = "".join(response.iter_text())
    error = next(block for block in text.split("\n\n") if block.startswith("event: error"))
    payload = json.loads(error.split("data: ", 1)[1])
    assert payload["status"] == 404 and payload["detail"] == MISSING
