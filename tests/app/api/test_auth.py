"""API keys: hashed at rest, required when enabled, and a scoped key never sees another collection."""

from __future__ import annotations

from sqlalchemy import select

from app.api_keys import create_key, list_keys, revoke_key
from retriever.db.models import ApiKey
from tests.app.api.conftest import BACKUP, INSTALL, ingest, upload


def _keys(client):
    kb = client.app.state.runtime.kb
    admin = create_key(kb, "admin")[1]
    guide = create_key(kb, "guide-reader", ("guide",))[1]
    return kb, {"Authorization": f"Bearer {admin}"}, {"X-API-Key": guide}


def test_keys_are_stored_hashed(make_client) -> None:
    client = make_client(auth_enabled=True)
    kb, admin, _ = _keys(client)
    with kb.session() as session:
        rows = session.execute(select(ApiKey)).scalars().all()
    secret = admin["Authorization"].split()[1]
    assert len(rows) == 2 and all(secret not in (r.key_hash, r.prefix) for r in rows)
    assert all(len(r.key_hash) == 64 for r in rows)


def test_requests_need_a_valid_key(make_client) -> None:
    client = make_client(auth_enabled=True)
    kb, admin, _ = _keys(client)
    missing = client.post("/v1/search", json={"query": "x"})
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    assert (
        client.post("/v1/search", json={"query": "x"}, headers={"X-API-Key": "cw_wrong"}).status_code == 401
    )
    assert client.post("/v1/search", json={"query": "x"}, headers=admin).status_code == 200
    assert client.get("/healthz").status_code == 200  # operations routes stay open for probes
    [info] = [k for k in list_keys(kb) if k.name == "admin"]
    assert revoke_key(kb, info.id)
    assert client.post("/v1/search", json={"query": "x"}, headers=admin).status_code == 401


def test_a_scoped_key_never_sees_another_collection(make_client, database_url) -> None:
    client = make_client(database_url, auth_enabled=True)
    _, admin, scoped = _keys(client)
    ingest(client, {"install.md": INSTALL}, "guide", **admin)
    ingest(client, {"backup.md": BACKUP}, "secret", **admin)
    secret_doc = client.get("/v1/documents", params={"collection": "secret"}, headers=admin).json()["items"][
        0
    ]

    # search and ask: nothing from "secret", even for a query that matches it best
    hits = client.post("/v1/search", json={"query": "nightly backup archive", "k": 10}, headers=scoped).json()
    assert hits["hits"] and {h["collection"] for h in hits["hits"]} == {"guide"}
    asked = client.post("/v1/search", json={"query": "backup", "collections": ["secret"]}, headers=scoped)
    assert asked.status_code == 403
    answer = client.post(
        "/v1/ask", json={"question": "when does the nightly backup run"}, headers=scoped
    ).json()
    assert all(s["collection"] == "guide" for s in answer["sources"])
    assert (
        client.post(
            "/v1/ask", json={"question": "backup", "collections": ["secret"]}, headers=scoped
        ).status_code
        == 403
    )
    filtered = client.post(
        "/v1/search",
        json={"query": "backup", "filters": {"document_ids": [secret_doc["id"]]}},
        headers=scoped,
    ).json()
    assert filtered["hits"] == []

    # documents, jobs, collections: invisible or refused
    listed = client.get("/v1/documents", headers=scoped).json()
    assert {d["collection"] for d in listed["items"]} == {"guide"}
    assert client.get(f"/v1/documents/{secret_doc['id']}", headers=scoped).status_code == 404
    assert client.delete(f"/v1/documents/{secret_doc['id']}", headers=scoped).status_code == 404
    assert [c["name"] for c in client.get("/v1/collections", headers=scoped).json()] == ["guide"]
    assert client.delete("/v1/collections/secret", headers=scoped).status_code == 404
    assert upload(client, {"x.md": "x"}, "secret", **scoped).status_code == 403
    openai = client.post(
        "/v1/chat/completions",
        json={
            "model": "citewise",
            "messages": [{"role": "user", "content": "nightly backup"}],
            "collections": ["secret"],
        },
        headers=scoped,
    )
    assert openai.status_code == 403
    # the admin still sees it all
    assert client.get(f"/v1/documents/{secret_doc['id']}", headers=admin).status_code == 200


def test_a_scoped_keys_job_of_another_collection_is_hidden(make_client) -> None:
    client = make_client(auth_enabled=True)
    _, admin, scoped = _keys(client)
    job = ingest(client, {"backup.md": BACKUP}, "secret", **admin)
    assert client.get(f"/v1/jobs/{job['id']}", headers=scoped).status_code == 404
    assert client.get(f"/v1/jobs/{job['id']}", headers=admin).status_code == 200


def test_a_scoped_key_searches_only_its_collections_that_exist(make_client) -> None:
    client = make_client(auth_enabled=True)
    kb = client.app.state.runtime.kb
    admin = {"X-API-Key": create_key(kb, "admin")[1]}
    partly = {"X-API-Key": create_key(kb, "partly", ("guide", "not-yet"))[1]}
    nowhere = {"X-API-Key": create_key(kb, "nowhere", ("not-yet",))[1]}
    ingest(client, {"install.md": INSTALL}, "guide", **admin)
    ingest(client, {"backup.md": BACKUP}, "secret", **admin)

    hits = client.post("/v1/search", json={"query": "nightly backup"}, headers=partly).json()["hits"]
    assert hits and {h["collection"] for h in hits} == {"guide"}
    refused = client.post("/v1/search", json={"query": "nightly backup"}, headers=nowhere)
    assert refused.status_code == 404 and "not-yet" in refused.json()["detail"]  # never a wider search
    with client.stream("POST", "/v1/ask", json={"question": "backup", "stream": True}, headers=nowhere) as r:
        text = "".join(r.iter_text())
    assert "event: error" in text and '"status": 404' in text and "secret" not in text
