"""Builds the parts from settings: the only place that knows how they fit together."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from app.answering import AnswerOptions, AnswerPipeline
from app.settings import Settings
from generator.base import Generator
from generator.models import DEFAULT_MODEL
from generator.registry import create_generator
from ingest.chunking import Chunker
from ingest.pipeline import IngestOptions, IngestPipeline, Preparer
from modelpack import ModelNotInstalledError
from retriever.embedders.base import Embedder
from retriever.embedders.registry import available_embedders, create_embedder
from retriever.fusion import FusionWeights
from retriever.index.factory import IndexPolicy
from retriever.index.persistence import IndexCorruptError, IndexStore
from retriever.knowledge_base import KnowledgeBase
from retriever.search import SearchFilters, SearchMode

logger = logging.getLogger(__name__)


def embedder_name(settings: Settings) -> str:
    """The embedder to use. One the user chose is used (an index built by another then asks for
    `reindex`); left unset, an existing index keeps the embedder it was built with (so one
    `CITEWISE_EMBEDDER=minilm-int8 citewise reindex` switches for good, and a change of default
    never strands an index); a new knowledge base gets the default."""
    if "embedder" in settings.model_fields_set:
        return settings.embedder
    try:
        recorded = IndexStore(settings.index_dir).read_manifest()
    except IndexCorruptError:
        recorded = None  # opening the knowledge base reports it
    if recorded is not None and recorded.embedder in available_embedders():
        return recorded.embedder
    return settings.embedder


def build_embedder(settings: Settings) -> Embedder:
    embedder = create_embedder(embedder_name(settings))
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
    preparer: Preparer | None = None,
    follow_outside_links: bool = False,
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
        follow_outside_links=follow_outside_links,
    )
    return IngestPipeline(kb, chunker, options, preparer)


@dataclass(frozen=True, slots=True)
class ModelFallback:
    """The default answer model could not be loaded, and the extractive backend answers instead."""

    wanted: str
    reason: str

    def describe(self) -> str:
        return (
            f"the answer model {self.wanted} is not installed ({self.reason}); answering with the "
            "extractive backend instead (sentences copied from the passages, no language model)"
        )


def fallback_of(generator: Generator) -> ModelFallback | None:
    """Why ``generator`` stands in for the configured model, if it does."""
    return getattr(generator, "citewise_fallback", None)


def build_generator(settings: Settings, spec: str | None = None) -> Generator:
    """The configured answer model. When the default model's packages are missing, fall back to the
    extractive backend (no model needed) and record why (``fallback_of``: the CLI, /readyz and the
    UI say so); a model the user asked for must exist."""
    chosen = spec or settings.generator
    generator = create_generator(chosen, cache_dir=settings.resolved_model_cache_dir)
    if spec is None and chosen == DEFAULT_MODEL:
        try:
            generator.warm_up()
        except ModelNotInstalledError as exc:
            fallback = ModelFallback(chosen, str(exc))
            logger.warning("%s", fallback.describe())
            generator = create_generator("extractive")
            generator.citewise_fallback = fallback  # type: ignore[attr-defined]
    return generator


def search_weights(settings: Settings) -> FusionWeights:
    return FusionWeights.from_dense_share(settings.search_dense_weight, settings.search_fusion)


def build_answer_pipeline(
    settings: Settings,
    kb: KnowledgeBase,
    generator: Generator,
    *,
    k: int | None = None,
    mode: SearchMode | None = None,
    filters: SearchFilters | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> AnswerPipeline:
    """``overrides``: AnswerOptions fields a request sets for itself (sampling, stops, length)."""
    options = AnswerOptions(
        k=k or settings.answer_k,
        mode=mode or SearchMode(settings.search_mode),
        filters=filters or SearchFilters(),
        answer_tokens=settings.answer_tokens,
        min_retrieval_similarity=settings.min_retrieval_similarity,
        focus_sentences=settings.answer_focus_sentences,
        copy_answers=settings.answer_copy,
        repair_questions=settings.repair_questions,
        decline_threshold=settings.decline_threshold,
        weights=search_weights(settings),
    )
    if overrides:
        options = replace(options, **overrides)
    return AnswerPipeline(kb, generator, options, embed=kb.embedder.embed_documents)
