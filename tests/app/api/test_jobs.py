"""/v1/jobs: following and cancelling ingest jobs; uploads when the task queue is down."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ingest.jobs import queue_job
from tests.app.api.conftest import BACKUP, INSTALL, ingest, upload


def test_cancel_a_queued_job_and_it_never_runs(client: TestClient) -> None:
    kb = client.app.state.runtime.kb
    job_id = queue_job(kb, kb.collection("guide", create=True).id, ["/nowhere/install.md"])

    response = client.post(f"/v1/jobs/{job_id}/cancel")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "cancelled" and body["finished_at"] is not None
    assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 200  # cancelling twice is fine


def test_cancel_a_finished_job_is_a_conflict_and_an_unknown_one_is_not_found(client: TestClient) -> None:
    job = ingest(client, {"install.md": INSTALL})

    finished = client.post(f"/v1/jobs/{job['id']}/cancel")
    missing = client.post("/v1/jobs/999999/cancel")

    assert finished.status_code == 409 and "completed" in finished.json()["detail"]
    assert missing.status_code == 404


def test_an_upload_while_the_task_queue_is_down_fails_clearly(make_client) -> None:
    client = make_client(queue_url="redis://127.0.0.1:1/0")  # nothing listens on port 1

    response = upload(client, {"backup.md": BACKUP})

    assert response.status_code == 503, response.text
    detail = response.json()["detail"]
    assert "task queue" in detail and "unreachable" in detail
    job_id = int(detail.rsplit(" ", 1)[-1])
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "failed" and "unreachable" in job["errors"][0]["reason"]
