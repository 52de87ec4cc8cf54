"""Collections: the names a caller may search, their counts, creating one, and reading a whole
collection's stored text (what training and the evaluation drafter learn from)."""

from __future__ import annotations

from sqlalchemy import func, select

from retriever.catalog.records import CollectionRow, StoredChunk
from retriever.db.models import Chunk, Collection, Document
from retriever.knowledge_base import CollectionNotFoundError, KnowledgeBase


def collection_rows(kb: KnowledgeBase, scope: tuple[str, ...] = ()) -> list[CollectionRow]:
    """Every collection in ``scope`` (empty: all), by name, with its document and chunk counts."""
    query = select(Collection).order_by(Collection.name)
    if scope:
        query = query.where(Collection.name.in_(scope))
    with kb.session() as session:
        docs = dict(
            session.execute(
                select(Document.collection_id, func.count()).group_by(Document.collection_id)
            ).all()
        )
        chunks = dict(
            session.execute(select(Chunk.collection_id, func.count()).group_by(Chunk.collection_id)).all()
        )
        return [
            CollectionRow(c.name, c.description, int(docs.get(c.id, 0)), int(chunks.get(c.id, 0)))
            for c in session.execute(query).scalars()
        ]


def existing_collections(kb: KnowledgeBase, names: tuple[str, ...] | None = None) -> set[str]:
    """The names among ``names`` that exist (all existing names when ``names`` is None)."""
    query = select(Collection.name)
    if names is not None:
        query = query.where(Collection.name.in_(names))
    with kb.session() as session:
        return set(session.execute(query).scalars())


def require_collections(kb: KnowledgeBase, names: tuple[str, ...]) -> None:
    """Raise ``CollectionNotFoundError`` for the first of ``names`` that does not exist."""
    present = existing_collections(kb, names)
    missing = [name for name in names if name not in present]
    if missing:
        raise CollectionNotFoundError(f"no collection named {missing[0]!r}")


def create_collection(kb: KnowledgeBase, name: str, description: str = "") -> bool:
    """Create an empty collection; False if one of that name exists already."""
    with kb.sessions.begin() as session:
        if session.execute(select(Collection.id).where(Collection.name == name)).first():
            return False
        session.add(Collection(name=name, description=description))
        return True


def stored_chunks(kb: KnowledgeBase, collections: tuple[str, ...]) -> list[StoredChunk]:
    """Every chunk with its own text in these collections, in document and reading order. An
    unknown collection raises ``CollectionNotFoundError``."""
    require_collections(kb, collections)
    with kb.session() as session:
        rows = session.execute(
            select(Chunk.id, Chunk.document_id, Chunk.heading_path, Chunk.text)
            .join(Collection, Collection.id == Chunk.collection_id)
            .where(Collection.name.in_(collections), Chunk.text.is_not(None))
            .order_by(Chunk.document_id, Chunk.ordinal)
        ).all()
    return [StoredChunk(int(i), int(d), tuple(h or ()), t) for i, d, h, t in rows]
