"""A killed or interrupted ingest leaves database and index consistent, and the next run finishes the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from retriever.db.models import Chunk, Document, IngestJob, JobStatus
from retriever.embedders.testing import HashingEmbedder
from retriever.knowledge_base import KnowledgeBase

REPO = Path(__file__).resolve().parents[2]
FILES = 40


def make_corpus(root: Path) -> None:
    root.mkdir()
    for i in range(FILES):
        paragraphs = [
            f"File {i} paragraph {p} talks about topic{i} and item{p} in detail." for p in range(12)
        ]
        (root / f"doc{i:02d}.md").write_text(f"# Document {i}\n\n" + "\n\n".join(paragraphs) + "\n")


def start_ingest(corpus: Path, env_extra: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CITEWISE_EMBEDDER": "retriever.embedders.testing:slow_embedder",
        "CITEWISE_EMBED_BATCH_SIZE": "4",  # small batches: many commits during one run
        "CITEWISE_CHUNK_TOKENS": "40",
        "CITEWISE_CHUNK_OVERLAP": "5",
        "CITEWISE_TEST_EMBED_DELAY": "0.3",
        **env_extra,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", "ingest", str(corpus), "--quiet"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for_documents(database_url: str, index_dir: Path, at_least: int, timeout: float = 60) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                with engine.connect() as connection:
                    if (
                        connection.execute(select(func.count()).select_from(Document)).scalar_one()
                        >= at_least
                    ):
                        return
            except Exception:
                pass  # schema not created yet
            time.sleep(0.1)
    finally:
        engine.dispose()
    raise AssertionError("the ingest never committed any document")


def assert_complete_and_consistent(database_url: str, index_dir: Path) -> None:
    kb = KnowledgeBase(database_url, index_dir, HashingEmbedder())
    report = kb.open()
    try:
        assert report.consistent
        with kb.session() as session:
            docs = session.execute(select(func.count()).select_from(Document)).scalar_one()
            pairs = session.execute(select(Chunk.document_id, Chunk.ordinal)).all()
            canonical = session.execute(
                select(func.count()).select_from(Chunk).where(Chunk.duplicate_of_id.is_(None))
            ).scalar_one()
        assert docs == FILES
        assert len(pairs) == len(set(pairs))  # no chunk written twice
        assert len(kb.index) == canonical
    finally:
        kb.close()


def interrupted_ingest(
    database_url: str, tmp_path: Path, env: dict[str, str], signum: int
) -> tuple[Path, Path, subprocess.Popen[bytes]]:
    """Start a slow ingest, let it commit a few documents, then send it ``signum``."""
    corpus = tmp_path / "corpus"
    make_corpus(corpus)
    index_dir = tmp_path / "data" / "index"
    process = start_ingest(corpus, env)
    wait_for_documents(database_url, index_dir, at_least=2)
    process.send_signal(signum)
    return corpus, index_dir, process


@pytest.fixture
def env_for(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {"CITEWISE_DATABASE_URL": database_url, "CITEWISE_DATA_DIR": str(tmp_path / "data")}


def test_kill_9_mid_ingest_then_rerun_completes_without_duplicates(database_url, tmp_path, env_for) -> None:
    corpus, index_dir, process = interrupted_ingest(database_url, tmp_path, env_for, signal.SIGKILL)
    process.wait(timeout=30)

    kb = KnowledgeBase(database_url, index_dir, HashingEmbedder())
    report = kb.open(writable=True)  # repairs whatever the killed process had not saved
    assert report.consistent
    kb.close()

    process = start_ingest(corpus, {**env_for, "CITEWISE_TEST_EMBED_DELAY": "0"})
    _out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()
    assert_complete_and_consistent(database_url, index_dir)

    kb = KnowledgeBase(database_url, index_dir, HashingEmbedder())
    kb.open()
    with kb.session() as session:
        statuses = [j.status for j in session.execute(select(IngestJob).order_by(IngestJob.id)).scalars()]
    kb.close()
    assert statuses == [JobStatus.INTERRUPTED, JobStatus.COMPLETED]


def test_ctrl_c_saves_the_index_and_marks_the_job_interrupted(database_url, tmp_path, env_for) -> None:
    corpus, index_dir, process = interrupted_ingest(database_url, tmp_path, env_for, signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err.decode()
    assert "interrupted" in err.decode() and "Traceback" not in err.decode()

    kb = KnowledgeBase(database_url, index_dir, HashingEmbedder())
    report = kb.open()
    with kb.session() as session:
        job = session.execute(select(IngestJob)).scalar_one()
    kb.close()
    assert not report.full_check, "the index should have been saved at the interrupt"
    assert job.status == JobStatus.INTERRUPTED

    process = start_ingest(corpus, {**env_for, "CITEWISE_TEST_EMBED_DELAY": "0"})
    assert process.wait(timeout=120) == 0
    assert_complete_and_consistent(database_url, index_dir)
