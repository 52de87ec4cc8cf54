"""``/healthz``, ``/readyz`` and ``/metrics``; the writer picking up queued jobs after a restart;
the reader following a CLI ingest without a restart."""

from __future__ import annotations

from sqlalchemy import text

from app.api.runtime import Runtime
from app.services import build_knowledge_base, build_pipeline
from ingest.jobs import queue_job
from tests.app.api.conftest import BACKUP, INSTALL, ingest, make_settings, wait_for_job


def test_health_and_readiness(make_client) -> None:
    client = make_client()
    assert client.get("/healthz").json() == {"status": "ok"}
    not_warm = client.get("/readyz")
    assert not_warm.status_code == 503 and not_warm.json()["models"] == "not loaded"
    client.app.state.runtime.warm_up()
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json()
    assert ready.json()["database"] == "ok" and ready.json()["index"] == "ok"


def test_readiness_reports_an_index_that_disagrees(make_client) -> None:
    client = make_client()
    ingest(client, {"install.md": INSTALL})
    runtime = client.app.state.runtime
    runtime.warm_up()
    with runtime.kb.sessions.begin() as session:  # a chunk appears without a vector or a new generation
        session.execute(
            text(
                "INSERT INTO chunks (document_id, collection_id, ordinal, text, char_start, char_end,"
                " heading_path, token_count, content_hash) SELECT document_id, collection_id, 999, 'x',"
                " 0, 1, '[]', 1, 'h' FROM chunks LIMIT 1"
            )
        )
    checks = client.get("/readyz").json()
    assert checks["ready"] is False and "vectors for" in checks["index"]


def test_metrics_count_requests_by_route_template(guide) -> None:
    guide.post("/v1/search", json={"query": "backup"})
    guide.get("/v1/documents/12345")
    guide.post("/v1/ask", json={"question": "how do I install into a virtualenv"})
    text = guide.get("/metrics").text
    assert 'citewise_http_requests_total{method="POST",route="/v1/search",status="200"} 1.0' in text
    assert 'route="/v1/documents/{document_id}",status="404"' in text
    assert 'citewise_stage_seconds_count{stage="retrieval"} 1.0' in text
    assert "citewise_index_vectors" in text and "citewise_generation_queue_depth" in text


def ingest_in_another_process(client, tmp_path) -> None:
    """What `citewise ingest` does beside a running API: its own writer on the same data."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "backup.md").write_text(BACKUP)
    settings = make_settings(tmp_path)
    with build_knowledge_base(settings, client.app.state.runtime.embedder) as writer:
        writer.open(writable=True)
        build_pipeline(settings, writer, collection="ops").run([folder])


def test_the_api_follows_a_cli_ingest_without_restarting(client, tmp_path) -> None:
    assert client.post("/v1/search", json={"query": "nightly backup"}).json()["hits"] == []
    ingest_in_another_process(client, tmp_path)
    hits = client.post("/v1/search", json={"query": "nightly backup archive"}).json()["hits"]
    assert hits and hits[0]["collection"] == "ops"


def test_searches_look_for_a_new_index_as_often_as_the_setting_says(make_client, tmp_path) -> None:
    client = make_client(index_refresh_seconds=60.0)
    # dense: the vector index is what a reader reloads (keyword search reads the database as it is)
    search = {"query": "nightly backup archive", "mode": "dense"}
    assert client.post("/v1/search", json=search).json()["hits"] == []  # looked now: next in 60 s
    ingest_in_another_process(client, tmp_path)
    assert client.post("/v1/search", json=search).json()["hits"] == []  # not looked again yet
    client.get("/readyz")  # readiness always looks (its verdict here: models not loaded yet)
    assert client.post("/v1/search", json=search).json()["hits"][0]["collection"] == "ops"


def test_jobs_queued_before_a_restart_run_after_it(tmp_path) -> None:
    settings = make_settings(tmp_path)
    runtime = Runtime(settings)
    runtime.kb.open()
    collection = runtime.kb.collection("guide", create=True)
    saved = settings.uploads_dir / str(collection.id) / "install.md"
    saved.parent.mkdir(parents=True)
    saved.write_text(INSTALL)
    job_id = queue_job(runtime.kb, collection.id, [str(saved)])  # the process died before running it
    runtime.kb.close()

    from fastapi.testclient import TestClient

    from app.api.main import create_app

    with TestClient(create_app(settings)) as client:
        job = wait_for_job(client, job_id)
        assert job["status"] == "completed" and job["counts"]["added"] == 1
