"""Upload staging never writes or reads outside its folder: not through odd names, not through a
link planted where a staged or temporary file goes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from app.api.uploads import move_into, save_upload
from tests.app.api.conftest import upload, wait_for_job


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "etc" / "shadow"
    path.parent.mkdir()
    path.write_text("root:$6$notarealhash")
    return path


def test_save_upload_never_writes_through_a_planted_link(tmp_path: Path, secret: Path) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / ".notes.md.part").symlink_to(secret)  # where the upload is written first
    with pytest.raises(ValueError, match="already there"):
        save_upload(io.BytesIO(b"# Notes\n\nhello"), staging, "notes.md", 1 << 20)
    assert secret.read_text() == "root:$6$notarealhash"
    assert not (staging / "notes.md").exists()


def test_save_upload_replaces_a_link_at_the_target_instead_of_writing_through_it(
    tmp_path: Path, secret: Path
) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "notes.md").symlink_to(secret)
    saved = save_upload(io.BytesIO(b"# Notes\n\nhello"), staging, "notes.md", 1 << 20)
    assert secret.read_text() == "root:$6$notarealhash"
    assert saved.path == staging.resolve() / "notes.md" and not saved.path.is_symlink()
    assert saved.path.read_bytes() == b"# Notes\n\nhello"


@pytest.mark.parametrize("name", ["../escape.md", "/etc/passwd", "..", "a\\b.md"])
def test_save_upload_refuses_names_that_leave_the_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="refusing"):
        save_upload(io.BytesIO(b"x"), tmp_path / "staging", name, 1 << 20)
    assert not (tmp_path / "escape.md").exists()


def test_move_into_refuses_a_staged_link(tmp_path: Path, secret: Path) -> None:
    staging, folder = tmp_path / "staging", tmp_path / "uploads" / "1"
    staging.mkdir()
    (staging / "notes.md").symlink_to(secret)  # the ingest job would read the target
    with pytest.raises(ValueError, match="not a regular file"):
        move_into(staging, ["notes.md"], folder)
    assert not (folder / "notes.md").exists()


def test_move_into_returns_paths_inside_the_folder(tmp_path: Path) -> None:
    staging, folder = tmp_path / "staging", tmp_path / "uploads" / "1"
    staging.mkdir()
    (staging / "notes.md").write_text("hello")
    [moved] = move_into(staging, ["notes.md"], folder)
    assert moved == folder.resolve() / "notes.md" and moved.read_text() == "hello"


def test_an_upload_named_like_an_absolute_path_stays_in_the_uploads_folder(client, tmp_path: Path) -> None:
    response = upload(client, {"/etc/shadow": "# Shadow\n\nnothing secret here"})
    assert response.status_code == 202 and response.json()["files"] == ["shadow"]
    job = wait_for_job(client, response.json()["job_id"])
    uploads = (tmp_path / "data" / "uploads").resolve()
    [doc] = client.get("/v1/documents").json()["items"]
    assert job["status"] == "completed" and uploads in Path(doc["source_uri"]).parents
