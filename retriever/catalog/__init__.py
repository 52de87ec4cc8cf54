"""The catalog: everything outside ``retriever/`` reads and edits the knowledge base's tables
through these functions, never through SQLAlchemy or the ORM models (a test holds ``app/`` to it).

Each function opens and closes its own session and returns plain frozen rows (``records``), so a
caller can hand them to another thread, render them, or validate them into a response model."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError as DatabaseUnavailableError

from retriever.catalog.collections import (
    collection_rows,
    create_collection,
    existing_collections,
    require_collections,
    stored_chunks,
)
from retriever.catalog.documents import (
    document_place,
    get_document,
    list_documents,
    matching_documents,
    source_uris,
)
from retriever.catalog.jobs import get_job, job_ids, recent_jobs
from retriever.catalog.keys import add_key, key_by_hash, key_rows, revoke_key
from retriever.catalog.records import (
    ChunkRow,
    CollectionRow,
    DocumentDetailRow,
    DocumentRow,
    JobRow,
    KeyRow,
    StoredChunk,
)
from retriever.catalog.state import StoredState, ping_database, stored_generation, stored_state
from retriever.db.models import JobStatus

__all__ = [
    "ChunkRow",
    "CollectionRow",
    "DatabaseUnavailableError",
    "DocumentDetailRow",
    "DocumentRow",
    "JobRow",
    "JobStatus",
    "KeyRow",
    "StoredChunk",
    "StoredState",
    "add_key",
    "collection_rows",
    "create_collection",
    "document_place",
    "existing_collections",
    "get_document",
    "get_job",
    "job_ids",
    "key_by_hash",
    "key_rows",
    "list_documents",
    "matching_documents",
    "ping_database",
    "recent_jobs",
    "require_collections",
    "revoke_key",
    "source_uris",
    "stored_chunks",
    "stored_generation",
    "stored_state",
]
