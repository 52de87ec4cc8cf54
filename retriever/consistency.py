"""Checking the vector index against the database, and repairing it.

The database is the truth: every canonical chunk must have exactly one vector, and no vector may
exist for a chunk that is gone. After a crash between a database commit and an index save, this is
what brings the two back together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from retriever.db.models import Chunk, Document
from retriever.embedders.base import Embedder
from retriever.index.vector_index import VectorIndex
from retriever.types import embedding_text

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True, slots=True)
class ConsistencyReport:
    database_chunks: int
    index_vectors: int
    missing: tuple[int, ...] = ()  # canonical chunks without a vector
    orphans: tuple[int, ...] = ()  # vectors whose chunk is gone
    full_check: bool = True
    repaired: bool = False

    @property
    def consistent(self) -> bool:
        return not self.missing and not self.orphans

    def describe(self) -> str:
        if self.consistent:
            return f"consistent ({self.index_vectors} vectors)"
        return f"{len(self.missing)} chunks without vectors, {len(self.orphans)} orphan vectors"


def canonical_chunk_ids(session: Session) -> np.ndarray:
    ids = session.execute(select(Chunk.id).where(Chunk.duplicate_of_id.is_(None))).scalars().all()
    return np.asarray(ids, dtype=np.int64)


def check(session_factory: sessionmaker[Session], index: VectorIndex) -> ConsistencyReport:
    with session_factory() as session:
        in_db = canonical_chunk_ids(session)
    in_index = index.ids()
    missing = np.setdiff1d(in_db, in_index, assume_unique=True)
    orphans = np.setdiff1d(in_index, in_db, assume_unique=True)
    return ConsistencyReport(
        database_chunks=len(in_db),
        index_vectors=len(in_index),
        missing=tuple(int(i) for i in missing),
        orphans=tuple(int(i) for i in orphans),
    )


def stored_embedding_texts(session: Session, chunk_ids: list[int] | None = None) -> list[tuple[int, str]]:
    """(chunk id, text to embed) for canonical chunks, rebuilt exactly as ingest built them.

    ``None`` means every canonical chunk. Shared by repair, the keyword index and benchmarks, so
    they all index the same text.
    """
    query = (
        select(Chunk.id, Chunk.text, Chunk.heading_path, Document.title, Document.source_uri)
        .join(Document, Document.id == Chunk.document_id)
        .where(Chunk.duplicate_of_id.is_(None))
        .order_by(Chunk.id)
    )
    if chunk_ids is not None:
        query = query.where(Chunk.id.in_(chunk_ids))
    return [
        (chunk_id, embedding_text(title, heading_path or [], text or "", source_uri=source_uri))
        for chunk_id, text, heading_path, title, source_uri in session.execute(query)
    ]


def embed_chunks(
    session_factory: sessionmaker[Session],
    index: VectorIndex,
    embedder: Embedder,
    chunk_ids: list[int],
    batch_size: int = 256,
    progress: Progress | None = None,
) -> int:
    """(Re-)embed the given canonical chunks from their stored text and put them in the index."""
    done = 0
    for start in range(0, len(chunk_ids), batch_size):
        batch = chunk_ids[start : start + batch_size]
        with session_factory() as session:
            rows = stored_embedding_texts(session, batch)
        if rows:
            index.add(
                [chunk_id for chunk_id, _ in rows], embedder.embed_documents([text for _, text in rows])
            )
        done += len(batch)
        if progress:
            progress(done, len(chunk_ids))
    return done


def repair(
    session_factory: sessionmaker[Session],
    index: VectorIndex,
    embedder: Embedder,
    report: ConsistencyReport,
    progress: Progress | None = None,
) -> ConsistencyReport:
    index.remove(np.asarray(report.orphans, dtype=np.int64))
    embed_chunks(session_factory, index, embedder, list(report.missing), progress=progress)
    after = check(session_factory, index)
    return ConsistencyReport(
        database_chunks=after.database_chunks,
        index_vectors=after.index_vectors,
        missing=after.missing,
        orphans=after.orphans,
        full_check=True,
        repaired=True,
    )
