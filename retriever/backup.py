"""Backing up and restoring a knowledge base: every table plus the live vector index, in one archive.

Rows are written as JSON lines, not as a database dump, so a backup taken from SQLite restores into
PostgreSQL and back (a laptop knowledge base can move to the team server). The caller holds the
writer lock while either runs, so no ingest commits half-way through a backup. The restored index
keeps its manifest, whose database id and generation match the restored rows: the result opens
consistent without re-embedding anything.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import zlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Table, delete, func, select, text

from retriever.db.models import Base, Collection, KbState
from retriever.index.persistence import IndexStore, atomic_write_text
from retriever.knowledge_base import KnowledgeBase

FORMAT = "citewise-backup"
FORMAT_VERSION = 1
BATCH_ROWS = 1000
UNREADABLE = (OSError, EOFError, tarfile.TarError, zlib.error)  # missing, truncated or damaged archives


class BackupError(RuntimeError):
    """The archive cannot be restored here (wrong format, target not empty, parts missing)."""


@dataclass(slots=True)
class BackupSummary:
    embedder: str
    dimension: int
    vectors: int
    rows: dict[str, int] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    format: str = FORMAT
    format_version: int = FORMAT_VERSION


def _encode(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _decoder(table: Table) -> dict[str, Any]:
    return {c.name: datetime.fromisoformat for c in table.columns if isinstance(c.type, DateTime)}


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime = len(data), int(datetime.now(UTC).timestamp())
    archive.addfile(info, io.BytesIO(data))


def backup(kb: KnowledgeBase, out: Path) -> BackupSummary:
    """Write ``out`` (a .tar.gz); ``kb`` must be open and writable, and consistent with its index."""
    report = kb.check()
    if not report.consistent:
        raise BackupError(
            f"the index does not match the database ({report.describe()}); run `citewise reindex`"
        )
    manifest = kb.store.read_manifest()
    summary = BackupSummary(kb.embedder.name, kb.embedder.dimension, manifest.count if manifest else 0)
    partial = out.with_name(f".{out.name}.partial")
    with tarfile.open(partial, "w:gz") as archive, kb.session() as session:
        for table in Base.metadata.sorted_tables:
            lines = [
                json.dumps({key: _encode(value) for key, value in row._mapping.items()}, ensure_ascii=False)
                for row in session.execute(select(table).order_by(*table.primary_key.columns))
            ]
            summary.rows[table.name] = len(lines)
            _add_bytes(archive, f"tables/{table.name}.jsonl", ("\n".join(lines) + "\n").encode())
        if manifest is not None:
            archive.add(kb.store.directory / manifest.index_file, f"index/{manifest.index_file}")
            _add_bytes(archive, "index/manifest.json", json.dumps(asdict(manifest), indent=2).encode())
        _add_bytes(archive, "backup.json", json.dumps(asdict(summary), indent=2).encode())
    os.replace(partial, out)  # a backup cut short never looks like a finished one
    return summary


def read_summary(archive_path: Path) -> BackupSummary:
    try:
        with tarfile.open(archive_path, "r:*") as archive:
            raw = json.loads(_member(archive, "backup.json"))
    except (*UNREADABLE, ValueError) as exc:
        raise BackupError(f"{archive_path} is not a readable Citewise backup: {exc}") from exc
    if raw.get("format") != FORMAT or raw.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"{archive_path} is not a Citewise backup of format version {FORMAT_VERSION}")
    return BackupSummary(**raw)


def _member(archive: tarfile.TarFile, name: str) -> bytes:
    try:
        handle = archive.extractfile(name)
    except KeyError as exc:
        raise BackupError(f"the backup has no {name}") from exc
    if handle is None:
        raise BackupError(f"the backup's {name} is not a file")
    return handle.read()


def restore(kb: KnowledgeBase, archive_path: Path) -> BackupSummary:
    """Load ``archive_path`` into the empty knowledge base ``kb`` (open and writable).

    Close ``kb`` afterwards and open it again to serve the restored index.
    """
    summary = read_summary(archive_path)
    if summary.embedder != kb.embedder.name or summary.dimension != kb.embedder.dimension:
        raise BackupError(
            f"the backup's vectors come from embedder {summary.embedder!r} ({summary.dimension}-d); "
            f"this knowledge base uses {kb.embedder.name!r}: set CITEWISE_EMBEDDER to match"
        )
    with kb.session() as session:
        if session.execute(select(func.count(Collection.id))).scalar_one():
            raise BackupError("the target knowledge base is not empty: restore into a new database")
    try:
        with tarfile.open(archive_path, "r:*") as archive:
            # One transaction: a damaged archive leaves the target as empty as it was.
            with kb.sessions.begin() as session:
                session.execute(delete(KbState))  # the new database's own id gives way to the backup's
                for table in Base.metadata.sorted_tables:
                    _insert_rows(session, table, _member(archive, f"tables/{table.name}.jsonl"))
                if session.get_bind().dialect.name == "postgresql":
                    _advance_sequences(session)
            if summary.vectors or "index/manifest.json" in archive.getnames():
                _restore_index(archive, kb.store)
    except UNREADABLE as exc:
        raise BackupError(f"{archive_path} is damaged: {exc}") from exc
    return summary


def _insert_rows(session: Any, table: Table, data: bytes) -> None:
    decode = _decoder(table)
    # A column pointing into its own table (a chunk naming the chunk it duplicates) is filled in
    # after every row exists, so the order of rows never trips the foreign key.
    self_refs = [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]
    later: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []
    for line in data.decode().splitlines():
        if not line:
            continue
        row = {
            key: decode[key](value) if key in decode and value else value
            for key, value in json.loads(line).items()
        }
        if self_refs and any(row.get(name) is not None for name in self_refs):
            later.append({"_id": row["id"], **{name: row[name] for name in self_refs}})
            row.update({name: None for name in self_refs})
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            session.execute(table.insert(), batch)
            batch = []
    if batch:
        session.execute(table.insert(), batch)
    for fix in later:
        values = {name: fix[name] for name in self_refs}
        session.execute(table.update().where(table.c.id == fix["_id"]).values(**values))


def _advance_sequences(session: Any) -> None:
    """Rows came with their ids: move each id sequence past them, or the next insert collides."""
    for table in Base.metadata.sorted_tables:
        if "id" in table.c and table.c.id.autoincrement in (True, "auto"):
            session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
                )
            )


def _restore_index(archive: tarfile.TarFile, store: IndexStore) -> None:
    manifest = json.loads(_member(archive, "index/manifest.json"))
    name = manifest["index_file"]
    if "/" in name or name.startswith("."):
        raise BackupError(f"the backup names an unsafe index file {name!r}")
    store.directory.mkdir(parents=True, exist_ok=True)
    temp = store.directory / f".{name}.tmp"
    temp.write_bytes(_member(archive, f"index/{name}"))
    os.replace(temp, store.directory / name)
    atomic_write_text(store.manifest_path, json.dumps(manifest, indent=2))
