"""``POST /v1/search``: ranked passages with their source, place and score."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter

from app.answer_payload import hit_dict
from app.api.deps import PrincipalDep, RuntimeDep, allowed_collections, existing_scope
from app.api.errors import ApiError
from app.api.schemas import SearchBody, SearchResult
from app.services import search_weights
from retriever.search import SearchFilters, SearchMode, search

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchResult)
async def search_passages(body: SearchBody, runtime: RuntimeDep, principal: PrincipalDep) -> SearchResult:
    if not body.query.strip():
        raise ApiError(422, "query: the query is empty")
    mode = SearchMode(body.mode or runtime.settings.search_mode)
    allowed_collections(principal, body.collections)  # a named collection outside the scope: 403 now
    weights = search_weights(runtime.settings)

    def run() -> list[dict[str, Any]]:
        runtime.refresh()
        filters = SearchFilters(
            collections=existing_scope(runtime.kb, principal, body.collections),
            document_ids=tuple(body.filters.document_ids),
            source_prefix=body.filters.source_prefix,
            metadata=dict(body.filters.metadata),
        )
        hits = search(runtime.kb, body.query, k=body.k, mode=mode, filters=filters, weights=weights)
        return [hit_dict(hit) for hit in hits]

    started = time.perf_counter()
    hits = await runtime.search_pool.run(run)
    took = (time.perf_counter() - started) * 1000
    runtime.metrics.stage.labels("search").observe(took / 1000)
    return SearchResult.model_validate(
        {"query": body.query, "mode": mode.value, "hits": hits, "took_ms": took}
    )
