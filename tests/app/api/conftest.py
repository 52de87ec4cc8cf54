"""An API over a fresh knowledge base, with the fake embedder and a fake answer model registered
through the real registries, and helpers that upload and wait for the ingest job."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.api.main import create_app
from app.settings import Settings
from retriever.embedders.testing import HashingEmbedder

COPIER = "generator.testing:passage_copier"

INSTALL = """# Installing

## Virtual environments

Create a virtualenv with python -m venv .venv, then install the package into it with pip.
The installer needs Python 3.11 or newer.
"""

BACKUP = """# Backups

## Nightly backups

The backup job copies the database to the archive server every night at two o'clock.
Restores are tested on the first Monday of each month.
"""


def make_settings(tmp_path: Path, database_url: str | None = None, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "embedder": HashingEmbedder.name,
        "generator": COPIER,
        "min_retrieval_similarity": 0.0,
        "index_refresh_seconds": 0.0,  # a search sees what was saved before it: no waiting in tests
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def factory(database_url: str | None = None, **overrides: object) -> TestClient:
        client = TestClient(create_app(make_settings(tmp_path, database_url, **overrides)))
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def wait_for_job(client: TestClient, job_id: int, timeout_s: float = 30.0, **headers: str) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout_s} s")


def upload(
    client: TestClient, files: dict[str, str | bytes], collection: str = "guide", **headers: str
) -> httpx.Response:
    parts = [
        ("files", (name, content if isinstance(content, bytes) else content.encode()))
        for name, content in files.items()
    ]
    return client.post("/v1/documents", files=parts, data={"collection": collection}, headers=headers)


def ingest(
    client: TestClient, files: dict[str, str | bytes], collection: str = "guide", **headers: str
) -> dict:
    response = upload(client, files, collection, **headers)
    assert response.status_code == 202, response.text
    job = wait_for_job(client, response.json()["job_id"], **headers)
    assert job["status"] == "completed", job
    return job


@pytest.fixture
def guide(client: TestClient) -> TestClient:
    ingest(client, {"install.md": INSTALL, "backup.md": BACKUP})
    return client
