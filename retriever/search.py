"""The one query API: ``search(kb, query, k, mode, filters)`` returning typed hits.

Filters become a set of allowed chunk ids before ranking, so both retrievers rank only eligible
chunks and a narrow filter never starves the top k. Hybrid mode fuses the dense and keyword
rankings with weighted reciprocal-rank fusion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from sqlalchemy import select

from retriever.db.models import Chunk, Collection, Document
from retriever.knowledge_base import CollectionNotFoundError, KnowledgeBase
from retriever.types import SearchHit


class SearchMode(StrEnum):
    DENSE = "dense"
    SPARSE = "sparse"
    HYBRID = "hybrid"


@dataclass(frozen=True, slots=True)
class SearchFilters:
    collections: tuple[str, ...] = ()
    document_ids: tuple[int, ...] = ()
    source_prefix: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.collections or self.document_ids or self.source_prefix or self.metadata)


@dataclass(frozen=True, slots=True)
class FusionWeights:
    dense: float = 1.0
    sparse: float = 1.0
    rrf_k: int = 60
    depth: int = 50  # candidates taken from each retriever before fusing


def search(
    kb: KnowledgeBase,
    query: str,
    k: int = 5,
    collections: Sequence[str] | None = None,
    *,
    mode: SearchMode | str = SearchMode.DENSE,
    filters: SearchFilters | None = None,
    weights: FusionWeights | None = None,
) -> list[SearchHit]:
    if not query.strip():
        raise ValueError("the query is empty")
    if k < 1:
        raise ValueError("k must be at least 1")
    mode = SearchMode(mode)
    filters = filters or SearchFilters()
    if collections:
        filters = SearchFilters(
            tuple(collections), filters.document_ids, filters.source_prefix, filters.metadata
        )
    allowed = None if filters.empty else allowed_chunk_ids(kb, filters)
    weights = weights or FusionWeights()
    depth = max(k, weights.depth) if mode is SearchMode.HYBRID else k

    rankings: dict[str, list[tuple[int, float]]] = {}
    if mode in (SearchMode.DENSE, SearchMode.HYBRID):
        scores, ids = kb.index.search(kb.embedder.embed_query(query)[None, :], depth, allowed_ids=allowed)
        rankings["dense"] = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
    if mode in (SearchMode.SPARSE, SearchMode.HYBRID):
        scores, ids = kb.sparse_index().search(query, depth, allowed_ids=allowed)
        rankings["sparse"] = [(int(i), float(s)) for i, s in zip(ids, scores, strict=True)]

    if mode is SearchMode.HYBRID:
        ranked = fuse(rankings, {"dense": weights.dense, "sparse": weights.sparse}, weights.rrf_k)
    else:
        only = rankings[mode.value]
        ranked = [(chunk_id, score, (mode.value,)) for chunk_id, score in only]
    return load_hits(kb, ranked[: k * 2])[:k]  # a little slack for hits whose chunk just vanished


def fuse(
    rankings: dict[str, list[tuple[int, float]]], weights: dict[str, float], rrf_k: int
) -> list[tuple[int, float, tuple[str, ...]]]:
    """Weighted reciprocal-rank fusion: each list adds weight / (rrf_k + rank) to its chunks."""
    fused: dict[int, float] = {}
    found_by: dict[int, list[str]] = {}
    for name, ranking in rankings.items():
        for rank, (chunk_id, _) in enumerate(ranking, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weights.get(name, 1.0) / (rrf_k + rank)
            found_by.setdefault(chunk_id, []).append(name)
    order = sorted(fused, key=lambda chunk_id: (-fused[chunk_id], chunk_id))
    return [(chunk_id, fused[chunk_id], tuple(found_by[chunk_id])) for chunk_id in order]


def allowed_chunk_ids(kb: KnowledgeBase, filters: SearchFilters) -> np.ndarray:
    """Canonical chunk ids that pass every filter (collections, documents, path prefix, metadata)."""
    with kb.session() as session:
        query = select(Chunk.id, Document.id, Document.metadata_).join(
            Document, Document.id == Chunk.document_id
        )
        query = query.where(Chunk.duplicate_of_id.is_(None))
        if filters.collections:
            found = dict(
                session.execute(
                    select(Collection.name, Collection.id).where(Collection.name.in_(filters.collections))
                ).all()
            )
            unknown = sorted(set(filters.collections) - set(found))
            if unknown:
                raise CollectionNotFoundError(f"no collection named {', '.join(map(repr, unknown))}")
            query = query.where(Chunk.collection_id.in_(found.values()))
        if filters.document_ids:
            query = query.where(Document.id.in_(filters.document_ids))
        if filters.source_prefix:
            query = query.where(Document.source_uri.startswith(filters.source_prefix, autoescape=True))
        rows = session.execute(query).all()
    if filters.metadata:  # JSON operators differ between SQLite and PostgreSQL: compare here
        rows = [row for row in rows if _metadata_matches(row[2] or {}, filters.metadata)]
    return np.asarray([row[0] for row in rows], dtype=np.int64)


def _metadata_matches(metadata: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(metadata.get(key) == value for key, value in wanted.items())


def load_hits(kb: KnowledgeBase, ranked: list[tuple[int, float, tuple[str, ...]]]) -> list[SearchHit]:
    """Join ranked chunk ids with the database; ids whose chunk is gone are dropped, not shown."""
    if not ranked:
        return []
    with kb.session() as session:
        rows = session.execute(
            select(Chunk, Document, Collection.name)
            .join(Document, Document.id == Chunk.document_id)
            .join(Collection, Collection.id == Chunk.collection_id)
            .where(Chunk.id.in_([chunk_id for chunk_id, _, _ in ranked]))
        ).all()
    by_id = {chunk.id: (chunk, document, name) for chunk, document, name in rows}
    hits: list[SearchHit] = []
    for chunk_id, score, retrievers in ranked:
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
                retrievers=retrievers,
            )
        )
    return hits
