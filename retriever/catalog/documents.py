"""Documents and their chunks, read for people: listing, detail, lookup by id or path.

``scope`` is the collections a caller may see; an empty tuple means all of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from retriever.catalog.records import ChunkRow, DocumentDetailRow, DocumentRow
from retriever.db.models import Chunk, Collection, Document
from retriever.knowledge_base import KnowledgeBase


def _visible(query: Any, scope: tuple[str, ...]) -> Any:
    return query.where(Collection.name.in_(scope)) if scope else query


def _chunk_counts(session: Session, document_ids: list[int]) -> dict[int, int]:
    if not document_ids:
        return {}
    rows = session.execute(
        select(Chunk.document_id, func.count())
        .where(Chunk.document_id.in_(document_ids))
        .group_by(Chunk.document_id)
    ).all()
    return {int(document_id): int(count) for document_id, count in rows}


def _row(doc: Document, collection: str, chunks: int) -> dict[str, Any]:
    return {
        "id": doc.id,
        "collection": collection,
        "source_uri": doc.source_uri,
        "title": doc.title,
        "mime_type": doc.mime_type,
        "size_bytes": doc.size_bytes,
        "status": str(doc.status),
        "version": doc.version,
        "chunks": chunks,
        "created_at": doc.created_at,
        "updated_at": doc.updated_at,
    }


def list_documents(
    kb: KnowledgeBase,
    scope: tuple[str, ...],
    *,
    collection: str | None = None,
    text: str | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[DocumentRow], int]:
    """One page of documents in id order, and how many match in all. ``text`` matches part of
    the title or path, literally (``%`` and ``_`` are not wildcards)."""
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
    with kb.session() as session:
        total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
        rows = session.execute(base.order_by(Document.id).offset(offset).limit(limit)).all()
        counts = _chunk_counts(session, [doc.id for doc, _ in rows])
        page = [DocumentRow(**_row(doc, name, counts.get(doc.id, 0))) for doc, name in rows]
    return page, int(total)


def get_document(kb: KnowledgeBase, scope: tuple[str, ...], document_id: int) -> DocumentDetailRow | None:
    """The document with its chunks, or None when missing or outside ``scope``."""
    query = _visible(
        select(Document, Collection.name)
        .join(Collection, Collection.id == Document.collection_id)
        .where(Document.id == document_id),
        scope,
    )
    original = aliased(Chunk)
    with kb.session() as session:
        found = session.execute(query).first()
        if found is None:
            return None
        doc, name = found
        chunks = session.execute(
            select(Chunk, original.text)
            .outerjoin(original, original.id == Chunk.duplicate_of_id)
            .where(Chunk.document_id == doc.id)
            .order_by(Chunk.ordinal)
        ).all()
        chunk_list = [
            ChunkRow(
                id=chunk.id,
                ordinal=chunk.ordinal,
                text=chunk.text if chunk.text is not None else (copied or ""),
                page=chunk.page,
                heading=" › ".join(chunk.heading_path or []),
                char_start=chunk.char_start,
                char_end=chunk.char_end,
                token_count=chunk.token_count,
                duplicate_of=chunk.duplicate_of_id,
            )
            for chunk, copied in chunks
        ]
        return DocumentDetailRow(**_row(doc, name, len(chunks)), chunk_list=chunk_list)


def document_place(kb: KnowledgeBase, document_id: int) -> tuple[str, str] | None:
    """(collection name, source URI) of a document, or None."""
    with kb.session() as session:
        row = session.execute(
            select(Collection.name, Document.source_uri)
            .join(Document, Document.collection_id == Collection.id)
            .where(Document.id == document_id)
        ).first()
    return (row[0], row[1]) if row else None


def source_uris(kb: KnowledgeBase, document_ids: set[int]) -> dict[int, str]:
    """Each document's source URI, by id (unknown ids are left out)."""
    with kb.session() as session:
        rows = session.execute(
            select(Document.id, Document.source_uri).where(Document.id.in_(document_ids))
        ).all()
    return {int(document_id): uri for document_id, uri in rows}


def matching_documents(kb: KnowledgeBase, target: str, collection: str | None = None) -> list[int]:
    """Ids of the documents ``target`` names: a document id, a file's path, or a folder (every
    document under it; whole path components, so ``/a/b`` does not match ``/a/bc``)."""
    base = select(Document.id).join(Collection, Collection.id == Document.collection_id)
    if collection:
        base = base.where(Collection.name == collection)
    if target.isdigit():
        query = base.where(Document.id == int(target))
    else:
        path = str(Path(target).expanduser().resolve())
        prefix = path.rstrip("/") + "/"
        query = base.where(
            or_(Document.source_uri == path, Document.source_uri.startswith(prefix, autoescape=True))
        )
    with kb.session() as session:
        return [int(i) for i in session.execute(query).scalars()]
