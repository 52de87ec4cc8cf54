"""A zip bomb uploaded through the API: the job skips it with a reason and the other file lands."""

from __future__ import annotations

from pathlib import Path

from tests.app.api.conftest import upload, wait_for_job
from tests.ingest.test_archive_bombs import BOMB_BYTES, docx_with_body, one_huge_paragraph


def test_an_uploaded_bomb_is_skipped_and_the_other_upload_lands(client, tmp_path: Path) -> None:
    bomb = docx_with_body(tmp_path / "bomb.docx", one_huge_paragraph(BOMB_BYTES)).read_bytes()
    response = upload(client, {"bomb.docx": bomb, "notes.md": "# Notes\n\nThe deploy runs on Tuesdays.\n"})
    assert response.status_code == 202, response.text
    job = wait_for_job(client, response.json()["job_id"])
    assert job["status"] == "completed" and job["counts"]["added"] == 1 and job["counts"]["skipped"] == 1
    [error] = job["errors"]
    assert error["path"].endswith("bomb.docx") and "limit for one part" in error["reason"]
    [document] = client.get("/v1/documents").json()["items"]
    assert document["source_uri"].endswith("notes.md")
