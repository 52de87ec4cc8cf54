"""``POST /v1/search``."""

from __future__ import annotations

import pytest

from tests.app.api.conftest import INSTALL, ingest


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_search_ranks_the_right_passage_first(guide, mode) -> None:
    response = guide.post("/v1/search", json={"query": "nightly backup archive server", "k": 2, "mode": mode})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == mode and len(body["hits"]) >= 1
    top = body["hits"][0]
    assert top["source_uri"].endswith("backup.md") and top["collection"] == "guide"
    assert top["heading"].endswith("Nightly backups") and "archive server" in top["text"]
    assert top["char_end"] > top["char_start"] >= 0 and top["rank"] == 1


def test_search_in_both_databases(make_client, database_url) -> None:
    client = make_client(database_url)
    ingest(client, {"install.md": INSTALL})
    hits = client.post("/v1/search", json={"query": "virtualenv pip"}).json()["hits"]
    assert hits and hits[0]["source_uri"].endswith("install.md")


def test_collection_and_document_filters(guide) -> None:
    ingest(guide, {"other.md": "# Other\n\nThe nightly backup of the other team runs at noon."}, "other")
    only_other = guide.post("/v1/search", json={"query": "nightly backup", "collections": ["other"]}).json()
    assert {h["collection"] for h in only_other["hits"]} == {"other"}
    doc_id = only_other["hits"][0]["document_id"]
    by_doc = guide.post("/v1/search", json={"query": "backup", "filters": {"document_ids": [doc_id]}}).json()
    assert {h["document_id"] for h in by_doc["hits"]} == {doc_id}


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"query": ""}, 422, "query"),
        ({"query": "   "}, 422, "empty"),
        ({"query": "x", "k": 0}, 422, "k"),
        ({"query": "x", "k": 101}, 422, "k"),
        ({"query": "x", "mode": "fuzzy"}, 422, "mode"),
        ({"query": "x", "unknown": 1}, 422, "unknown"),
        ({"query": "x", "collections": ["nope"]}, 404, "nope"),
    ],
)
def test_bad_searches_get_a_clear_problem(guide, body, status, words) -> None:
    response = guide.post("/v1/search", json=body)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status and words in problem["detail"]


def test_malformed_json_is_a_422_not_a_500(client) -> None:
    response = client.post("/v1/search", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and "JSON" in response.json()["detail"]


def test_an_oversized_body_is_refused(client) -> None:
    response = client.post(
        "/v1/search",
        content=b'{"query": "' + b"x" * (3 * 2**20) + b'"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413 and "limit" in response.json()["detail"]
