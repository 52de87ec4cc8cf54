"""One file to chunks: read, hash, parse, chunk. No database and no shared state, so it can run
in a worker thread ahead of the embedder (which releases the GIL while it computes)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from ingest.chunking import Chunker
from ingest.discovery import SourceFile
from ingest.document import LoaderError
from ingest.loaders import load_file
from retriever.types import PreparedChunk, PreparedDocument


@dataclass(frozen=True, slots=True)
class Skipped:
    reason: str


@dataclass(frozen=True, slots=True)
class Unchanged:
    pass


@dataclass(frozen=True, slots=True)
class Prepared:
    document: PreparedDocument


FileOutcome = Prepared | Skipped | Unchanged


def prepare_file(
    source: SourceFile,
    *,
    collection_id: int,
    known_hash: str | None,
    chunker: Chunker,
    max_file_bytes: int,
    force: bool = False,
) -> FileOutcome:
    try:
        stat = source.path.stat()
        if stat.st_size > max_file_bytes:
            limit_mb = max_file_bytes / 1024 / 1024
            return Skipped(f"file is {stat.st_size / 1024 / 1024:.1f} MB, over the {limit_mb:.0f} MB limit")
        data = source.path.read_bytes()
        content_hash = hashlib.sha256(data).hexdigest()
        if known_hash == content_hash and not force:
            return Unchanged()
        parsed = load_file(source.path, data)
        spans = chunker.chunk(parsed)
        if not spans:
            return Skipped("no text to index")
    except LoaderError as exc:
        return Skipped(str(exc))
    except OSError as exc:
        return Skipped(f"cannot read: {exc.strerror or exc}")
    except Exception as exc:  # a parser bug must not end the whole ingest
        return Skipped(f"unexpected error: {type(exc).__name__}: {exc}")

    chunks = [
        PreparedChunk(
            ordinal=i,
            text=parsed.text[span.char_start : span.char_end],
            char_start=span.char_start,
            char_end=span.char_end,
            token_count=span.token_count,
            heading_path=list(span.heading_path),
            page=span.page,
        )
        for i, span in enumerate(spans)
    ]
    metadata = dict(parsed.metadata)
    if parsed.warnings:
        metadata["warnings"] = parsed.warnings
    return Prepared(
        PreparedDocument(
            collection_id=collection_id,
            source_uri=source.uri,
            title=parsed.title or source.path.stem,
            mime_type=parsed.mime_type,
            size_bytes=len(data),
            content_hash=content_hash,
            chunks=chunks,
            modified_at=datetime.fromtimestamp(stat.st_mtime, UTC),
            metadata=metadata,
        )
    )
