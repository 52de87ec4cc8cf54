"""What the catalog hands out: plain frozen rows, detached from any database session.

Callers (the API, the CLI, ``doctor``, training) read these instead of ORM objects, so only
``retriever/`` knows the tables; the API validates them into its response models as they are."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class DocumentRow:
    id: int
    collection: str
    source_uri: str
    title: str
    mime_type: str
    size_bytes: int
    status: str
    version: int
    chunks: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ChunkRow:
    """A chunk as a reader sees it: a duplicate shows the text of the chunk it repeats."""

    id: int
    ordinal: int
    text: str
    page: int | None
    heading: str
    char_start: int
    char_end: int
    token_count: int
    duplicate_of: int | None


@dataclass(frozen=True, slots=True)
class DocumentDetailRow(DocumentRow):
    chunk_list: list[ChunkRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class JobRow:
    id: int
    status: str
    collection: str | None  # None once its collection was deleted
    sources: list[str]
    counts: dict[str, Any]
    errors: list[dict[str, Any]]
    started_at: datetime
    finished_at: datetime | None

    @property
    def files_total(self) -> int | None:
        total = self.counts.get("files_total")
        return None if total is None else int(total)

    @property
    def files_done(self) -> int:
        return int(self.counts.get("files", 0))


@dataclass(frozen=True, slots=True)
class CollectionRow:
    name: str
    description: str
    documents: int
    chunks: int


@dataclass(frozen=True, slots=True)
class StoredChunk:
    """A chunk's own stored text (duplicates, which store none, are left out)."""

    id: int
    document_id: int
    heading_path: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class KeyRow:
    id: int
    name: str
    prefix: str
    collections: tuple[str, ...]
    created_at: datetime
    revoked: bool
