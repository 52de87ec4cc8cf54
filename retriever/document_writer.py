"""Database side of adding, replacing and deleting documents, including duplicate chunks.

An exact duplicate chunk inside a collection is stored once: later copies keep a row (their own
document, ordinal and offsets) with ``duplicate_of_id`` pointing at the canonical copy, no text and no
vector. When a canonical chunk is deleted, one of its copies is promoted so nothing is lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from retriever.db.models import Chunk, Document, DocumentStatus, KbState
from retriever.types import PreparedDocument


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


def write_document(session: Session, prepared: PreparedDocument) -> tuple[Document, IndexDelta]:
    """Insert a new document or replace an existing version's chunks (same collection and source)."""
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

    stored = _canonical_by_hash(session, prepared.collection_id, {c.content_hash for c in prepared.chunks})
    first_here: dict[str, Chunk] = {}  # canonical chunks created by this write, by hash
    copies_here: list[tuple[Chunk, Chunk]] = []  # (copy, its canonical chunk in this same write)
    new_chunks: list[tuple[Chunk, bool]] = []
    for prepared_chunk in prepared.chunks:
        content_hash = prepared_chunk.content_hash
        canonical = content_hash not in stored and content_hash not in first_here
        chunk = Chunk(
            document_id=document.id,
            collection_id=prepared.collection_id,
            ordinal=prepared_chunk.ordinal,
            text=prepared_chunk.text if canonical else None,
            char_start=prepared_chunk.char_start,
            char_end=prepared_chunk.char_end,
            page=prepared_chunk.page,
            heading_path=list(prepared_chunk.heading_path),
            token_count=prepared_chunk.token_count,
            content_hash=content_hash,
            duplicate_of_id=stored.get(content_hash),
        )
        session.add(chunk)
        if canonical:
            first_here[content_hash] = chunk
        elif content_hash not in stored:
            copies_here.append((chunk, first_here[content_hash]))
        new_chunks.append((chunk, canonical))
    session.flush()  # one round trip for the whole document; ids exist from here on
    if copies_here:
        for copy, original in copies_here:
            copy.duplicate_of_id = original.id
        session.flush()
    for chunk, canonical in new_chunks:
        if not canonical:
            continue
        vector = prepared.vectors.get(chunk.ordinal)
        if vector is None:
            delta.needs_vector.add(chunk.id)
        else:
            delta.add[chunk.id] = vector
    delta.chunks_added = len(new_chunks)
    return document, delta


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
