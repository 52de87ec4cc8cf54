"""Uploads (ingest jobs), listing, reading and deleting documents; collections and jobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.api.conftest import BACKUP, INSTALL, ingest, upload, wait_for_job


def test_upload_runs_a_job_with_progress_and_per_file_errors(client) -> None:
    response = upload(client, {"install.md": INSTALL, "noise.bin": bytes(range(256)) * 64})
    assert response.status_code == 202
    accepted = response.json()
    assert accepted["files"] == ["install.md", "noise.bin"] and accepted["collection"] == "guide"
    job = wait_for_job(client, accepted["job_id"])
    assert job["status"] == "completed" and job["files_total"] == 2 and job["files_done"] == 2
    assert job["counts"]["added"] == 1 and job["counts"]["skipped"] == 1
    [error] = job["errors"]
    assert error["path"].endswith("noise.bin") and "binary" in error["reason"]


def test_documents_list_detail_and_delete_in_both_databases(make_client, database_url) -> None:
    client = make_client(database_url)
    ingest(client, {"install.md": INSTALL, "backup.md": BACKUP})
    page = client.get("/v1/documents", params={"collection": "guide"}).json()
    assert page["total"] == 2 and sorted(d["title"] for d in page["items"]) == ["Backups", "Installing"]
    backup = next(d for d in page["items"] if d["source_uri"].endswith("backup.md"))
    assert backup["chunks"] >= 1 and backup["status"] == "ready"

    detail = client.get(f"/v1/documents/{backup['id']}").json()
    assert len(detail["chunk_list"]) == backup["chunks"]
    assert any("archive server" in c["text"] for c in detail["chunk_list"])

    deleted = client.delete(f"/v1/documents/{backup['id']}")
    assert deleted.status_code == 200 and deleted.json()["chunks_removed"] == backup["chunks"]
    assert client.get(f"/v1/documents/{backup['id']}").status_code == 404
    assert not Path(backup["source_uri"]).exists()  # the uploaded file went with it
    hits = client.post("/v1/search", json={"query": "nightly backup archive server"}).json()["hits"]
    assert all(h["document_id"] != backup["id"] for h in hits)  # never served after deletion


def test_listing_pages_and_filters(client) -> None:
    ingest(client, {f"note{i}.md": f"# Note {i}\n\nNote number {i} is about topic {i}." for i in range(5)})
    first = client.get("/v1/documents", params={"limit": 2}).json()
    second = client.get("/v1/documents", params={"limit": 2, "offset": 2}).json()
    assert first["total"] == 5 and len(first["items"]) == 2 and len(second["items"]) == 2
    assert {d["id"] for d in first["items"]}.isdisjoint(d["id"] for d in second["items"])
    found = client.get("/v1/documents", params={"q": "note3"}).json()
    assert [d["source_uri"].rsplit("/", 1)[-1] for d in found["items"]] == ["note3.md"]
    percent = client.get("/v1/documents", params={"q": "%"}).json()
    assert percent["total"] == 0  # a literal percent sign, not a wildcard
    assert client.get("/v1/documents", params={"limit": 0}).status_code == 422


def test_reuploading_a_file_replaces_its_earlier_version(client) -> None:
    ingest(client, {"install.md": INSTALL})
    ingest(client, {"install.md": INSTALL.replace("3.11", "3.12")})
    [doc] = client.get("/v1/documents").json()["items"]
    assert doc["version"] == 2
    hits = client.post("/v1/search", json={"query": "Python 3.12 or newer", "mode": "sparse"}).json()["hits"]
    assert "3.12" in hits[0]["text"] and "3.11" not in hits[0]["text"]


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\evil.md", "evil.md"),
        (".hidden.md", "hidden.md"),
        ("...", "upload"),
        ("résumé (final).md", "résumé _final_.md"),
    ],
)
def test_filenames_are_sanitized(client, tmp_path, name, stored) -> None:
    response = upload(client, {name: "# Note\n\nsome words to index"})
    assert response.status_code == 202, response.text
    assert response.json()["files"] == [stored]
    uploads = (tmp_path / "data" / "uploads").resolve()
    written = [p for p in uploads.rglob("*") if p.is_file()]
    assert [p.name for p in written] == [stored] and all(uploads in p.resolve().parents for p in written)
    wait_for_job(client, response.json()["job_id"])


def test_control_characters_and_long_names() -> None:
    from app.api.uploads import safe_filename

    assert safe_filename("a\x00b\n.md") == "ab.md"
    long = safe_filename("x" * 400 + ".pdf")
    assert len(long) <= 150 and long.endswith(".pdf")
    assert safe_filename(None) == "upload" and safe_filename("C:\\Users\\me\\notes.txt") == "notes.txt"


def test_two_files_with_one_name_in_one_upload_both_stay(client) -> None:
    parts = [("files", ("a.md", b"# A\n\nfirst")), ("files", ("a.md", b"# A\n\nsecond"))]
    response = client.post("/v1/documents", files=parts, data={"collection": "guide"})
    assert response.json()["files"] == ["a.md", "a-2.md"]
    wait_for_job(client, response.json()["job_id"])


def test_upload_limits(make_client) -> None:
    client = make_client(max_upload_files=2, max_file_mb=0.001)  # about 1 KB per file
    too_many = upload(client, {"a.md": "a", "b.md": "b", "c.md": "c"})
    assert too_many.status_code == 413 and "limit is 2" in too_many.json()["detail"]
    mixed = upload(client, {"small.md": "# Small\n\nfine", "big.md": "x" * 5000})
    assert mixed.status_code == 202
    assert mixed.json()["files"] == ["small.md"] and mixed.json()["rejected"][0]["name"] == "big.md"
    only_big = upload(client, {"big.md": "x" * 5000})
    assert only_big.status_code == 413 and "big.md" in only_big.json()["detail"]
    assert client.post("/v1/documents", data={"collection": "guide"}).status_code == 422  # no files
    bad_name = upload(client, {"a.md": "a"}, collection="../x")
    assert bad_name.status_code == 422


def test_collections_create_list_delete(client) -> None:
    assert client.post("/v1/collections", json={"name": "handbook", "description": "HR"}).status_code == 201
    assert client.post("/v1/collections", json={"name": "handbook"}).status_code == 409
    assert client.post("/v1/collections", json={"name": "../etc"}).status_code == 422
    ingest(client, {"install.md": INSTALL}, "handbook")
    listed = {c["name"]: c for c in client.get("/v1/collections").json()}
    assert listed["handbook"]["documents"] == 1 and listed["handbook"]["description"] == "HR"
    deleted = client.delete("/v1/collections/handbook").json()
    assert deleted["documents"] == 1 and deleted["chunks_removed"] >= 1
    assert "handbook" not in {c["name"] for c in client.get("/v1/collections").json()}
    assert client.delete("/v1/collections/handbook").status_code == 404
    assert client.post("/v1/search", json={"query": "virtualenv"}).json()["hits"] == []


def test_missing_things_are_404s(client) -> None:
    assert client.get("/v1/documents/999").status_code == 404
    assert client.delete("/v1/documents/999").status_code == 404
    assert client.get("/v1/jobs/999").status_code == 404
    assert client.get("/v1/documents/abc").status_code == 422
    assert client.get("/v1/nothing").json()["status"] == 404


def test_an_upload_without_a_collection_goes_to_the_default_one(make_client) -> None:
    client = make_client(default_collection="inbox")
    response = client.post("/v1/documents", files=[("files", ("a.md", b"# A\n\nalpha"))])
    assert response.status_code == 202 and response.json()["collection"] == "inbox"
    wait_for_job(client, response.json()["job_id"])


def test_a_refused_upload_leaves_no_new_collection(make_client, tmp_path) -> None:
    client = make_client(max_file_mb=0.001)
    assert upload(client, {"big.md": "x" * 5000}, "fresh").status_code == 413
    assert "fresh" not in {c["name"] for c in client.get("/v1/collections").json()}
    uploads = tmp_path / "data" / "uploads"
    assert not [p for p in uploads.rglob("*") if p.is_file()]  # nothing staged is left behind
