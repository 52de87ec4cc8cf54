"""The API's read side: documents, chunks, jobs and collections as response bodies."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from retriever.db.models import Chunk, Collection, Document, IngestJob


def _visible(query: Any, collections: tuple[str, ...]) -> Any:
    return query.where(Collection.name.in_(collections)) if collections else query


def _chunk_counts(session: Session, document_ids: list[int]) -> dict[int, int]:
    if not document_ids:
        return {}
    rows = session.execute(
        select(Chunk.document_id, func.count())
        .where(Chunk.document_id.in_(document_ids))
        .group_by(Chunk.document_id)
    ).all()
    return dict(rows)  # type: ignore[arg-type]


def _document(doc: Document, collection: str, chunks: int) -> dict[str, Any]:
    return {
        "id": doc.id,
        "collection": collection,
        "source_uri": doc.source_uri,
        "title": doc.title,
        "mime_type": doc.mime_type,
        "size_bytes": doc.size_bytes,
        "status": doc.status,
        "version": doc.version,
        "chunks": chunks,
        "created_at": doc.created_at,
        "updated_at": doc.updated_at,
    }


def list_documents(
    session: Session,
    scope: tuple[str, ...],
    *,
    collection: str | None,
    text: str | None,
    status: str | None,
    offset: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    base = select(Document, Collection.name).join(Collection, Collection.id == Document.collection_id)
    base = _visible(base, scope)
    if collection:
        base = base.where(Collection.name == collection)
    if status:
        base = base.where(Document.status == status)
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        base = base.where(
            or_(Document.title.ilike(pattern, escape="\\"), Document.source_uri.ilike(pattern, escape="\\"))
        )
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = session.execute(base.order_by(Document.id).offset(offset).limit(limit)).all()
    counts = _chunk_counts(session, [doc.id for doc, _ in rows])
    return [_document(doc, name, counts.get(doc.id, 0)) for doc, name in rows], int(total)


def get_document(session: Session, scope: tuple[str, ...], document_id: int) -> dict[str, Any] | None:
    """The document with its chunks, or None when missing or outside the caller's scope."""
    query = _visible(
        select(Document, Collection.name)
        .join(Collection, Collection.id == Document.collection_id)
        .where(Document.id == document_id),
        scope,
    )
    row = session.execute(query).first()
    if row is None:
        return None
    doc, name = row
    original = aliased(Chunk)
    chunks = session.execute(
        select(Chunk, original.text)
        .outerjoin(original, original.id == Chunk.duplicate_of_id)
        .where(Chunk.document_id == doc.id)
        .order_by(Chunk.ordinal)
    ).all()
    out = _document(doc, name, len(chunks))
    out["chunk_list"] = [
        {
            "id": chunk.id,
            "ordinal": chunk.ordinal,
            "text": chunk.text if chunk.text is not None else (copied or ""),
            "page": chunk.page,
            "heading": " › ".join(chunk.heading_path or []),
            "char_start": chunk.char_start,
            "char_end": chunk.char_end,
            "token_count": chunk.token_count,
            "duplicate_of": chunk.duplicate_of_id,
        }
        for chunk, copied in chunks
    ]
    return out


def document_place(session: Session, document_id: int) -> tuple[str, str] | None:
    """(collection name, source URI) of a document."""
    row = session.execute(
        select(Collection.name, Document.source_uri)
        .join(Document, Document.collection_id == Collection.id)
        .where(Document.id == document_id)
    ).first()
    return (row[0], row[1]) if row else None


def job_body(session: Session, scope: tuple[str, ...], job_id: int) -> dict[str, Any] | None:
    row = session.execute(
        select(IngestJob, Collection.name)
        .outerjoin(Collection, Collection.id == IngestJob.collection_id)
        .where(IngestJob.id == job_id)
    ).first()
    if row is None:
        return None
    job, name = row
    if scope and name not in scope:
        return None
    counts = dict(job.counts or {})
    return {
        "id": job.id,
        "status": job.status,
        "collection": name,
        "files_total": counts.get("files_total"),
        "files_done": int(counts.get("files", 0)),
        "counts": counts,
        "errors": list(job.errors or []),
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def collections_body(session: Session, scope: tuple[str, ...]) -> list[dict[str, Any]]:
    docs = dict(
        session.execute(select(Document.collection_id, func.count()).group_by(Document.collection_id)).all()
    )
    chunks = dict(
        session.execute(select(Chunk.collection_id, func.count()).group_by(Chunk.collection_id)).all()
    )
    rows = session.execute(_visible(select(Collection), scope).order_by(Collection.name)).scalars()
    return [
        {
            "name": c.name,
            "description": c.description,
            "documents": docs.get(c.id, 0),
            "chunks": chunks.get(c.id, 0),
        }
        for c in rows
    ]
