"""Database side of adding, replacing and deleting documents, including duplicate chunks.

An exact duplicate chunk inside a collection is stored once: later copies keep a row (their own
document, ordinal and offsets) with ``duplicate_of_id`` pointing at the canonical copy, no text and no
vector. When a canonical chunk is deleted, one of its copies is promoted so nothing is lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from retriever.db.models import Chunk, Document, DocumentStatus, KbState
from retriever.types import PreparedChunk, PreparedDocument

WRITE_WINDOW = 500  # chunk rows per INSERT statement


@dataclass(slots=True)
class IndexDelta:
    """What the vector index must do after the transaction commits."""

    add: dict[int, object] = field(default_factory=dict)  # chunk id -> vector
    remove: set[int] = field(default_factory=set)
    needs_vector: set[int] = field(default_factory=set)  # canonical chunks with no vector at hand
    chunks_added: int = 0
    chunks_removed: int = 0

    def merge(self, other: IndexDelta) -> None:
        self.add.update(other.add)
        self.remove |= other.remove
        self.needs_vector |= other.needs_vector
        self.chunks_added += other.chunks_added
        self.chunks_removed += other.chunks_removed

    def settled(self) -> IndexDelta:
        """Drop work on chunks that a later write in the same transaction deleted again."""
        return IndexDelta(
            add={cid: vec for cid, vec in self.add.items() if cid not in self.remove},
            remove=self.remove,
            needs_vector=self.needs_vector - self.remove,
            chunks_added=self.chunks_added,
            chunks_removed=self.chunks_removed,
        )


def bump_generation(session: Session) -> int:
    state = session.execute(select(KbState).with_for_update()).scalar_one()
    state.generation += 1
    return state.generation


def canonical_hashes(
    session: Session, collection_id: int, hashes: Iterable[str], exclude_document_id: int | None = None
) -> set[str]:
    """Hashes that already have a canonical chunk in the collection (so need no new embedding)."""
    wanted = list(set(hashes))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        query = select(Chunk.content_hash).where(
            Chunk.collection_id == collection_id,
            Chunk.duplicate_of_id.is_(None),
            Chunk.content_hash.in_(wanted[start : start + 500]),
        )
        if exclude_document_id is not None:
            query = query.where(Chunk.document_id != exclude_document_id)
        found.update(session.execute(query).scalars())
    return found


def delete_chunks(session: Session, chunk_ids: set[int]) -> IndexDelta:
    """Delete chunks, promoting a surviving duplicate for every canonical chunk that had copies."""
    delta = IndexDelta(remove=set(chunk_ids), chunks_removed=len(chunk_ids))
    if not chunk_ids:
        return delta
    ids = sorted(chunk_ids)
    for start in range(0, len(ids), 500):
        batch = ids[start : start + 500]
        copies = (
            session.execute(
                select(Chunk)
                .where(Chunk.duplicate_of_id.in_(batch), Chunk.id.notin_(chunk_ids))
                .order_by(Chunk.id)
            )
            .scalars()
            .all()
        )
        if not copies:
            continue
        originals = {c.id: c for c in session.execute(select(Chunk).where(Chunk.id.in_(batch))).scalars()}
        promoted: dict[int, Chunk] = {}
        for copy in copies:
            original_id = copy.duplicate_of_id
            assert original_id is not None
            if original_id not in promoted:
                copy.text = originals[original_id].text
                copy.duplicate_of_id = None
                promoted[original_id] = copy
                delta.needs_vector.add(copy.id)
            else:
                copy.duplicate_of_id = promoted[original_id].id
    session.flush()
    for start in range(0, len(ids), 500):
        session.execute(delete(Chunk).where(Chunk.id.in_(ids[start : start + 500])))
    return delta


def delete_document(session: Session, document: Document) -> IndexDelta:
    chunk_ids = set(session.execute(select(Chunk.id).where(Chunk.document_id == document.id)).scalars())
    delta = delete_chunks(session, chunk_ids)
    session.delete(document)
    return delta


def write_document(
    session: Session, prepared: PreparedDocument, window: int = WRITE_WINDOW
) -> tuple[Document, IndexDelta]:
    """Insert a new document or replace an existing version's chunks (same collection and source).

    Chunk rows go in with bulk INSERT ... RETURNING, ``window`` rows at a time, so writing a
    document with tens of thousands of chunks holds one window of rows, never an ORM object per
    chunk. The caller's transaction still makes the whole document appear at once.
    """
    document = session.execute(
        select(Document).where(
            Document.collection_id == prepared.collection_id, Document.source_uri == prepared.source_uri
        )
    ).scalar_one_or_none()
    delta = IndexDelta()
    if document is None:
        document = Document(collection_id=prepared.collection_id, source_uri=prepared.source_uri, version=1)
        session.add(document)
    else:
        old_ids = set(session.execute(select(Chunk.id).where(Chunk.document_id == document.id)).scalars())
        delta.merge(delete_chunks(session, old_ids))
        document.version += 1
    document.title = prepared.title
    document.mime_type = prepared.mime_type
    document.size_bytes = prepared.size_bytes
    document.content_hash = prepared.content_hash
    document.modified_at = prepared.modified_at
    document.metadata_ = prepared.metadata
    document.status = DocumentStatus.READY
    session.flush()

    batch: list[PreparedChunk] = []
    for prepared_chunk in prepared.chunks:
        batch.append(prepared_chunk)
        if len(batch) >= window:
            _insert_window(session, document.id, prepared, batch, delta)
            batch = []
    _insert_window(session, document.id, prepared, batch, delta)
    return document, delta


def _insert_window(
    session: Session,
    document_id: int,
    prepared: PreparedDocument,
    chunks: list[PreparedChunk],
    delta: IndexDelta,
) -> None:
    """Insert one window of a document's chunks. The first copy of a text in the collection is
    canonical (it keeps the text and gets the vector); later copies point at it. Earlier windows
    are already in the database, so looking hashes up there finds them too."""
    if not chunks:
        return
    stored = _canonical_by_hash(session, prepared.collection_id, {c.content_hash for c in chunks})
    canonical: list[PreparedChunk] = []
    copies: list[PreparedChunk] = []  # duplicates of a chunk stored earlier or earlier in this window
    first_here: set[str] = set()
    for chunk in chunks:
        if chunk.content_hash in stored or chunk.content_hash in first_here:
            copies.append(chunk)
        else:
            canonical.append(chunk)
            first_here.add(chunk.content_hash)
    ids = _insert_rows(session, document_id, prepared.collection_id, canonical, {})
    for chunk, chunk_id in zip(canonical, ids, strict=True):
        stored[chunk.content_hash] = chunk_id
        vector = prepared.vectors.get(chunk.ordinal)
        if vector is None:
            delta.needs_vector.add(chunk_id)
        else:
            delta.add[chunk_id] = vector
    _insert_rows(session, document_id, prepared.collection_id, copies, stored)
    delta.chunks_added += len(chunks)


def _insert_rows(
    session: Session,
    document_id: int,
    collection_id: int,
    chunks: list[PreparedChunk],
    canonical_ids: dict[str, int],
) -> list[int]:
    """Bulk-insert chunk rows in order and return their ids; a chunk whose hash is in
    ``canonical_ids`` is stored as a copy of that chunk (no text)."""
    if not chunks:
        return []
    rows = [
        {
            "document_id": document_id,
            "collection_id": collection_id,
            "ordinal": chunk.ordinal,
            "text": None if chunk.content_hash in canonical_ids else chunk.text,
            "char_start": chunk.char_start,
            "char_end": chunk.char_end,
            "page": chunk.page,
            "heading_path": list(chunk.heading_path),
            "token_count": chunk.token_count,
            "content_hash": chunk.content_hash,
            "duplicate_of_id": canonical_ids.get(chunk.content_hash),
        }
        for chunk in chunks
    ]
    result = session.execute(insert(Chunk).returning(Chunk.id, sort_by_parameter_order=True), rows)
    return list(result.scalars())


def _canonical_by_hash(session: Session, collection_id: int, hashes: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    wanted = list(hashes)
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(Chunk.content_hash, Chunk.id).where(
                Chunk.collection_id == collection_id,
                Chunk.duplicate_of_id.is_(None),
                Chunk.content_hash.in_(wanted[start : start + 500]),
            )
        )
        for content_hash, chunk_id in rows:
            found.setdefault(content_hash, chunk_id)
    return found
