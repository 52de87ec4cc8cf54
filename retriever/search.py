"""The one query API: ``search(kb, query, k, mode, filters)`` returning typed hits.

Filters become a set of allowed chunk ids before ranking, so both retrievers rank only eligible
chunks and a narrow filter never starves the top k. Hybrid mode (the default) fuses the dense and
keyword rankings (see ``retriever.fusion``); near-duplicate passages are folded into one hit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
from sqlalchemy import select

from retriever.db.models import Chunk, Collection, Document
from retriever.diversify import collapse_near_duplicates, mmr_order
from retriever.fusion import Fused, FusionWeights, Ranking, fuse
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


def search(
    kb: KnowledgeBase,
    query: str,
    k: int = 5,
    collections: Sequence[str] | None = None,
    *,
    mode: SearchMode | str = SearchMode.HYBRID,
    filters: SearchFilters | None = None,
    weights: FusionWeights | None = None,
    diversity: float | None = None,
    collapse_duplicates: bool = True,
    query_vector: np.ndarray | None = None,
) -> list[SearchHit]:
    """The top ``k`` passages for ``query``.

    ``diversity`` turns on MMR re-ranking with that relevance weight (1.0 = plain ranking, 0.5 =
    balanced); ``collapse_duplicates`` folds near-identical passages into the best-ranked one.
    ``query_vector`` is the query's embedding when the caller has it already (it is not redone).
    """
    if not query.strip():
        raise ValueError("the query is empty")
    if k < 1:
        raise ValueError("k must be at least 1")
    if diversity is not None and not 0.0 <= diversity <= 1.0:
        raise ValueError("diversity must be between 0 and 1")
    mode = SearchMode(mode)
    filters = filters or SearchFilters()
    if collections:
        filters = SearchFilters(
            tuple(collections), filters.document_ids, filters.source_prefix, filters.metadata
        )
    allowed = None if filters.empty else allowed_chunk_ids(kb, filters)
    weights = weights or FusionWeights()
    pool = k if diversity is None else max(4 * k, 20)  # MMR needs candidates to choose among
    depth = max(pool, weights.depth) if mode is SearchMode.HYBRID else pool
    # A little slack for near-duplicates and for hits whose chunk vanished since the index was saved.
    depth += max(k, 10) if collapse_duplicates else 0

    rankings: dict[str, Ranking] = {}
    if mode in (SearchMode.DENSE, SearchMode.HYBRID):
        vector = kb.embedder.embed_query(query) if query_vector is None else query_vector
        scores, ids = kb.index.search(vector[None, :], depth, allowed_ids=allowed)
        rankings["dense"] = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
    if mode in (SearchMode.SPARSE, SearchMode.HYBRID):
        scores, ids = kb.sparse_index().search(query, depth, allowed_ids=allowed)
        rankings["sparse"] = [(int(i), float(s)) for i, s in zip(ids, scores, strict=True)]

    if mode is SearchMode.HYBRID:
        ranked = fuse(rankings, weights)
    else:
        ranked = [(chunk_id, score, (mode.value,)) for chunk_id, score in rankings[mode.value]]
    if diversity is not None:
        ranked = _diversified(kb, ranked, pool, diversity)
    return _top_hits(kb, ranked, k, collapse_duplicates)


def _diversified(kb: KnowledgeBase, ranked: Fused, pool: int, relevance_weight: float) -> Fused:
    candidates = [(chunk_id, score) for chunk_id, score, _ in ranked[:pool] if kb.index.contains(chunk_id)]
    order = mmr_order(candidates, kb.index.vectors, len(candidates), relevance_weight)
    by_id = {entry[0]: entry for entry in ranked}
    return [by_id[chunk_id] for chunk_id in order]


def _top_hits(kb: KnowledgeBase, ranked: Fused, k: int, collapse: bool) -> list[SearchHit]:
    """Load hits window by window until ``k`` distinct passages are found or candidates run out."""
    loaded: list[SearchHit] = []
    groups: dict[int, list[int]] = {}
    window = k + max(10, k // 4)  # near-duplicates are rare: a little slack, then more if needed
    for offset in range(0, len(ranked), window):
        loaded += load_hits(kb, ranked[offset : offset + window])
        if collapse:
            groups = collapse_near_duplicates([(hit.chunk_id, hit.text) for hit in loaded])
        else:
            groups = {hit.chunk_id: [] for hit in loaded}
        if len(groups) >= k:
            break
    by_id = {hit.chunk_id: hit for hit in loaded}
    return [
        replace(by_id[chunk_id], rank=rank, near_duplicates=tuple(groups[chunk_id]))
        for rank, chunk_id in enumerate(list(groups)[:k], start=1)
    ]


def allowed_chunk_ids(kb: KnowledgeBase, filters: SearchFilters) -> np.ndarray:
    """Canonical chunk ids that pass every filter (collections, documents, path prefix, metadata)."""
    with kb.session() as session:
        # Documents' metadata is read (and JSON-decoded, row by row) only when a filter needs it:
        # every search with a collection filter runs this query.
        columns = (Chunk.id, Document.metadata_) if filters.metadata else (Chunk.id,)
        query = select(*columns).join(Document, Document.id == Chunk.document_id)
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
        rows = [row for row in rows if _metadata_matches(row[1] or {}, filters.metadata)]
    return np.asarray([row[0] for row in rows], dtype=np.int64)


def _metadata_matches(metadata: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(metadata.get(key) == value for key, value in wanted.items())


def load_hits(kb: KnowledgeBase, ranked: Fused) -> list[SearchHit]:
    """Join ranked chunk ids with the database; ids whose chunk is gone are dropped, not shown."""
    if not ranked:
        return []
    with kb.session() as session:
        # Columns, not ORM objects: a search's hits are read-only, and building entities for
        # them cost as much as the query itself.
        rows = session.execute(
            select(
                Chunk.id,
                Document.id,
                Collection.name,
                Document.source_uri,
                Document.title,
                Chunk.text,
                Chunk.heading_path,
                Chunk.page,
                Chunk.char_start,
                Chunk.char_end,
            )
            .join(Document, Document.id == Chunk.document_id)
            .join(Collection, Collection.id == Chunk.collection_id)
            .where(Chunk.id.in_([chunk_id for chunk_id, _, _ in ranked]))
        ).all()
    by_id = {row[0]: row for row in rows}
    hits: list[SearchHit] = []
    for chunk_id, score, retrievers in ranked:
        row = by_id.get(chunk_id)
        if row is None:
            continue
        _, document_id, collection, source_uri, title, text, heading_path, page, start, end = row
        hits.append(
            SearchHit(
                rank=len(hits) + 1,
                score=score,
                chunk_id=chunk_id,
                document_id=document_id,
                collection=collection,
                source_uri=source_uri,
                title=title,
                text=text or "",
                heading_path=tuple(heading_path or ()),
                page=page,
                char_start=start,
                char_end=end,
                retrievers=retrievers,
            )
        )
    return hits
