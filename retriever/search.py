"""Dense passage search over the knowledge base, returning typed hits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import select

from retriever.db.models import Chunk, Collection, Document
from retriever.knowledge_base import CollectionNotFoundError, KnowledgeBase
from retriever.types import SearchHit


def collection_chunk_ids(kb: KnowledgeBase, names: Sequence[str]) -> np.ndarray:
    with kb.session() as session:
        found = dict(
            session.execute(select(Collection.name, Collection.id).where(Collection.name.in_(names))).all()
        )
        unknown = sorted(set(names) - set(found))
        if unknown:
            raise CollectionNotFoundError(f"no collection named {', '.join(map(repr, unknown))}")
        ids = (
            session.execute(
                select(Chunk.id).where(
                    Chunk.collection_id.in_(found.values()), Chunk.duplicate_of_id.is_(None)
                )
            )
            .scalars()
            .all()
        )
    return np.asarray(ids, dtype=np.int64)


def search(
    kb: KnowledgeBase, query: str, k: int = 5, collections: Sequence[str] | None = None
) -> list[SearchHit]:
    if not query.strip():
        raise ValueError("the query is empty")
    if k < 1:
        raise ValueError("k must be at least 1")
    allowed = collection_chunk_ids(kb, collections) if collections else None
    query_vector = kb.embedder.embed_query(query)
    scores, ids = kb.index.search(query_vector[None, :], k, allowed_ids=allowed)
    ranked = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
    return load_hits(kb, ranked)


def load_hits(kb: KnowledgeBase, ranked: list[tuple[int, float]]) -> list[SearchHit]:
    """Join ranked chunk ids with the database; ids whose chunk is gone are dropped, not shown."""
    if not ranked:
        return []
    with kb.session() as session:
        rows = session.execute(
            select(Chunk, Document, Collection.name)
            .join(Document, Document.id == Chunk.document_id)
            .join(Collection, Collection.id == Chunk.collection_id)
            .where(Chunk.id.in_([chunk_id for chunk_id, _ in ranked]))
        ).all()
    by_id = {chunk.id: (chunk, document, name) for chunk, document, name in rows}
    hits: list[SearchHit] = []
    for chunk_id, score in ranked:
        if chunk_id not in by_id:
            continue
        chunk, document, collection_name = by_id[chunk_id]
        hits.append(
            SearchHit(
                rank=len(hits) + 1,
                score=score,
                chunk_id=chunk.id,
                document_id=document.id,
                collection=collection_name,
                source_uri=document.source_uri,
                title=document.title,
                text=chunk.text or "",
                heading_path=tuple(chunk.heading_path or ()),
                page=chunk.page,
                char_start=chunk.char_start,
                char_end=chunk.char_end,
            )
        )
    return hits
