"""One file to chunks: read, hash, parse, chunk. No database and no shared state, so it can run
in a worker thread ahead of the embedder (which releases the GIL while it computes).

A prepared document holds its text once: its chunks are spans of that text (``ChunkList``), each
cut out only when it is embedded or written, so a 50 MB file does not also cost 50 MB of chunk
copies plus per-chunk objects while it waits for the embedder.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISREG
from typing import overload

from ingest.chunking import Chunker, ChunkSpan
from ingest.discovery import SourceFile
from ingest.document import LoaderError
from ingest.loaders import load_file
from retriever.types import PreparedChunk, PreparedDocument, text_hash


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


class ChunkList(Sequence[PreparedChunk]):
    """A document's chunks as spans of its text plus their hashes; ``chunks[i]`` builds chunk ``i``
    (text included) on demand."""

    __slots__ = ("_hashes", "_spans", "_text")

    def __init__(self, text: str, spans: list[ChunkSpan], hashes: list[str]) -> None:
        self._text, self._spans, self._hashes = text, spans, hashes

    def __len__(self) -> int:
        return len(self._spans)

    @overload
    def __getitem__(self, index: int) -> PreparedChunk: ...
    @overload
    def __getitem__(self, index: slice) -> list[PreparedChunk]: ...
    def __getitem__(self, index: int | slice) -> PreparedChunk | list[PreparedChunk]:
        if isinstance(index, slice):
            return [self._chunk(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._chunk(index)

    def __iter__(self) -> Iterator[PreparedChunk]:
        return (self._chunk(i) for i in range(len(self)))

    @property
    def hashes(self) -> list[str]:
        return self._hashes

    def _chunk(self, ordinal: int) -> PreparedChunk:
        span = self._spans[ordinal]
        return PreparedChunk(
            ordinal=ordinal,
            text=self._text[span.char_start : span.char_end],
            char_start=span.char_start,
            char_end=span.char_end,
            token_count=span.token_count,
            heading_path=list(span.heading_path),
            page=span.page,
            content_hash=self._hashes[ordinal],
        )


def chunk_hashes(chunks: Sequence[PreparedChunk]) -> list[str]:
    """Content hashes of ``chunks`` in order, without building every chunk when they are spans."""
    if isinstance(chunks, ChunkList):
        return chunks.hashes
    return [chunk.content_hash for chunk in chunks]


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
        read = _read(source, max_file_bytes)
        if isinstance(read, Skipped):
            return read
        data, stat = read
        size = len(data)
        content_hash = hashlib.sha256(data).hexdigest()
        if known_hash == content_hash and not force:
            return Unchanged()
        parsed = load_file(source.path, data)
        del data  # from here on the decoded text is all that is needed
        spans: list[ChunkSpan] = []
        hashes: list[str] = []
        for span in chunker.iter_chunks(parsed):
            spans.append(span)
            hashes.append(text_hash(parsed.text[span.char_start : span.char_end]))
        if not spans:
            return Skipped("no text to index")
    except LoaderError as exc:
        return Skipped(str(exc))
    except OSError as exc:
        return Skipped(f"cannot read: {exc.strerror or exc}")
    except Exception as exc:  # a parser bug must not end the whole ingest
        return Skipped(f"unexpected error: {type(exc).__name__}: {exc}")

    metadata = dict(parsed.metadata)
    if parsed.warnings:
        metadata["warnings"] = parsed.warnings
    return Prepared(
        PreparedDocument(
            collection_id=collection_id,
            source_uri=source.uri,
            title=parsed.title or source.path.stem,
            mime_type=parsed.mime_type,
            size_bytes=size,
            content_hash=content_hash,
            chunks=ChunkList(parsed.text, spans, hashes),
            modified_at=datetime.fromtimestamp(stat.st_mtime, UTC),
            metadata=metadata,
        )
    )


def _read(source: SourceFile, max_file_bytes: int) -> tuple[bytes, os.stat_result] | Skipped:
    """The file's bytes, read from the one open handle that every check looked at.

    Between discovery and this read, a file may have been swapped for a link to somewhere else (a
    private file outside the ingested folders): the opened file must be the one discovery found
    at ``source.real``, or nothing is read. Its size is checked on that handle too, and the read
    stops past the limit, so a file that grows meanwhile cannot take more memory than allowed.
    """
    with source.path.open("rb") as handle:
        stat = os.fstat(handle.fileno())
        if source.real is not None and not _same_file(stat, handle.fileno(), source.real):
            return Skipped(
                f"no longer leads to {source.real} as when the ingest started (replaced meanwhile?)"
            )
        if not S_ISREG(stat.st_mode):
            return Skipped("not a regular file")
        if stat.st_size > max_file_bytes:
            return Skipped(_over_limit(stat.st_size, max_file_bytes))
        data = handle.read(max_file_bytes + 1)
    if len(data) > max_file_bytes:
        return Skipped(f"file grew past the {max_file_bytes / 1024 / 1024:.0f} MB limit while being read")
    return data, stat


def _same_file(opened: os.stat_result, fd: int, real: Path) -> bool:
    """Whether the open handle is the file at ``real``. On Linux the kernel names the file a
    handle has open; elsewhere the path is resolved again after opening (a narrower race)."""
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}")) == real
    except OSError:
        pass
    try:
        expected = os.stat(os.path.realpath(real))
    except OSError:
        return False
    return os.path.realpath(real) == str(real) and (opened.st_dev, opened.st_ino) == (
        expected.st_dev,
        expected.st_ino,
    )


def _over_limit(size: int, max_file_bytes: int) -> str:
    limit_mb = max_file_bytes / 1024 / 1024
    return f"file is {size / 1024 / 1024:.1f} MB, over the {limit_mb:.0f} MB limit"
