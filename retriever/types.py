"""Typed values crossing the retriever's boundary (ingest hands these in, search hands hits out)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath
from typing import Any

import numpy as np


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def embedding_text(
    title: str, heading_path: list[str] | tuple[str, ...], text: str, *, source_uri: str
) -> str:
    """What is embedded for a chunk: its text in the context of its document and section.

    A title that is just the file's name (what the loaders fall back to when a document has none,
    e.g. ``p0042``) is left out: it says nothing about the text (on Disfl-QA's dev questions hybrid
    nDCG@10 went 0.919 -> 0.926 without it; bench/results/answer-levers.md). Kept in one place, and
    built only from what the database stores, because repair and reindex must rebuild exactly the
    vectors ingest made.
    """
    if title == PurePath(source_uri).stem:
        title = ""
    context = [part for part in (title, *heading_path) if part]
    # Drop a leading repeat (a top heading that equals the title).
    deduped = [part for i, part in enumerate(context) if i == 0 or part != context[i - 1]]
    return f"{' > '.join(deduped)}\n{text}" if deduped else text


@dataclass(slots=True)
class PreparedChunk:
    ordinal: int
    text: str
    char_start: int
    char_end: int
    token_count: int
    heading_path: list[str] = field(default_factory=list)
    page: int | None = None
    content_hash: str = ""

    def __post_init__(self) -> None:
        if not self.content_hash:
            self.content_hash = text_hash(self.text)


@dataclass(slots=True)
class PreparedDocument:
    """A parsed, chunked and (partly) embedded document, ready to be written in one transaction."""

    collection_id: int
    source_uri: str
    title: str
    mime_type: str
    size_bytes: int
    content_hash: str
    chunks: Sequence[PreparedChunk]  # a list, or spans of the text built on demand (ingest.prepare)
    modified_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # Vector per chunk ordinal; chunks that are known duplicates need none.
    vectors: dict[int, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SearchHit:
    rank: int
    score: float
    chunk_id: int
    document_id: int
    collection: str
    source_uri: str
    title: str
    text: str
    heading_path: tuple[str, ...]
    page: int | None
    char_start: int
    char_end: int
    retrievers: tuple[str, ...] = ("dense",)
    near_duplicates: tuple[int, ...] = ()  # chunk ids of near-identical passages folded into this hit
