"""Builds the parts from settings: the only place that knows how they fit together."""

from __future__ import annotations

from app.settings import Settings
from ingest.chunking import Chunker
from ingest.pipeline import IngestOptions, IngestPipeline
from retriever.embedders.base import Embedder, create_embedder
from retriever.index.factory import IndexPolicy
from retriever.knowledge_base import KnowledgeBase


def build_embedder(settings: Settings) -> Embedder:
    embedder = create_embedder(settings.embedder)
    if hasattr(embedder, "batch_size"):
        embedder.batch_size = settings.embed_batch_size
    return embedder


def build_knowledge_base(settings: Settings, embedder: Embedder | None = None) -> KnowledgeBase:
    policy = IndexPolicy(
        approximate_above=settings.approximate_index_above, min_recall=settings.approximate_min_recall
    )
    return KnowledgeBase(
        settings.resolved_database_url, settings.index_dir, embedder or build_embedder(settings), policy
    )


def build_pipeline(
    settings: Settings,
    kb: KnowledgeBase,
    *,
    collection: str | None = None,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    sync: bool = False,
    force: bool = False,
) -> IngestPipeline:
    chunker = Chunker(kb.embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap)
    options = IngestOptions(
        collection=collection or settings.default_collection,
        include=include,
        exclude=exclude,
        sync=sync,
        force=force,
        max_file_bytes=settings.max_file_bytes,
        batch_chunks=max(settings.embed_batch_size * 4, 64),
        skip_dirs=(settings.data_dir,),
    )
    return IngestPipeline(kb, chunker, options)
