"""Backup and restore: rows and vectors come back exactly, across SQLite and PostgreSQL."""

from __future__ import annotations

import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from ingest.chunking import Chunker
from ingest.pipeline import IngestOptions, IngestPipeline
from retriever.backup import BackupError, backup, restore
from retriever.db.models import Chunk, Document, IngestJob
from retriever.embedders.testing import HashingEmbedder, OtherHashingEmbedder
from retriever.knowledge_base import KnowledgeBase
from retriever.search import search


def open_kb(url: str, index_dir: Path, embedder=None) -> KnowledgeBase:
    kb = KnowledgeBase(url, index_dir, embedder or HashingEmbedder())
    kb.open(writable=True)
    return kb


def fill(kb: KnowledgeBase, root: Path) -> None:
    root.mkdir()
    for n in range(12):
        (root / f"page-{n}.md").write_text(f"# Page {n}\n\nThe courier for region {n} is named Rider{n}.\n")
    (root / "copy.md").write_text((root / "page-3.md").read_text())  # a duplicate: chunks point at others
    chunker = Chunker(kb.embedder.count_tokens, max_tokens=40, overlap_tokens=0)
    IngestPipeline(kb, chunker, IngestOptions(collection="pages")).run([root])


def snapshot(kb: KnowledgeBase) -> tuple:
    with kb.session() as session:
        documents = session.execute(select(Document.id, Document.source_uri, Document.created_at)).all()
        chunks = session.execute(
            select(Chunk.id, Chunk.text, Chunk.duplicate_of_id, Chunk.heading_path)
        ).all()
    hits = [(h.chunk_id, round(h.score, 5)) for h in search(kb, "courier for region 7", k=3)]
    return sorted((i, uri, utc(at)) for i, uri, at in documents), sorted(chunks), hits


def utc(moment: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes, PostgreSQL aware ones: compare them as naive UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


@pytest.mark.postgres
@pytest.mark.parametrize("direction", ["sqlite-to-postgresql", "postgresql-to-sqlite"])
def test_a_backup_restores_into_the_other_database_exactly(direction, tmp_path, postgres_url) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'kb.db'}"
    source_url, target_url = (
        (sqlite_url, postgres_url) if direction.startswith("sqlite") else (postgres_url, sqlite_url)
    )
    source = open_kb(source_url, tmp_path / "index-a")
    fill(source, tmp_path / "pages")
    before = snapshot(source)
    summary = backup(source, tmp_path / "kb.tar.gz")
    source.close()
    assert summary.rows["documents"] == 13 and summary.vectors > 0

    target = open_kb(target_url, tmp_path / "index-b")
    restore(target, tmp_path / "kb.tar.gz")
    target.close()

    restored = KnowledgeBase(target_url, tmp_path / "index-b", HashingEmbedder())
    report = restored.open()
    assert report.consistent and not report.repaired and restored.load_problem is None
    assert snapshot(restored) == before
    restored.close()

    # The restored database goes on working: new rows get fresh ids.
    again = open_kb(target_url, tmp_path / "index-b")
    fill(again, tmp_path / "more")
    with again.session() as session:
        assert len(session.execute(select(IngestJob.id)).all()) == 2
    assert again.check().consistent
    again.close()


def test_restore_refuses_a_non_empty_target_a_different_embedder_and_a_broken_file(make_kb, tmp_path) -> None:
    source = make_kb()
    source.open(writable=True)
    fill(source, tmp_path / "pages")
    backup(source, tmp_path / "kb.tar.gz")

    with pytest.raises(BackupError, match="not empty"):
        restore(source, tmp_path / "kb.tar.gz")

    other = open_kb(f"sqlite:///{tmp_path / 'other.db'}", tmp_path / "index-other", OtherHashingEmbedder())
    with pytest.raises(BackupError, match="embedder"):
        restore(other, tmp_path / "kb.tar.gz")
    other.close()

    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes((tmp_path / "kb.tar.gz").read_bytes()[:200])
    empty = open_kb(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path / "index-empty")
    with pytest.raises(BackupError, match="not a readable Citewise backup"):
        restore(empty, broken)
    empty.close()


def test_a_backup_holds_every_table_and_only_the_live_index_file(make_kb, tmp_path) -> None:
    kb = make_kb()
    kb.open(writable=True)
    fill(kb, tmp_path / "pages")
    backup(kb, tmp_path / "kb.tar.gz")

    with tarfile.open(tmp_path / "kb.tar.gz") as archive:
        names = archive.getnames()
    manifest = kb.store.read_manifest()
    assert f"index/{manifest.index_file}" in names and "index/manifest.json" in names
    assert [n for n in names if n.endswith(".faiss")] == [f"index/{manifest.index_file}"]
    assert {"tables/documents.jsonl", "tables/chunks.jsonl", "tables/kb_state.jsonl", "backup.json"} <= set(
        names
    )
    assert not list(tmp_path.glob(".*.partial"))
