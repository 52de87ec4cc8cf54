"""What readiness checks compare: the database's generation and how many vectors it implies."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text

from retriever.db.engine import make_engine
from retriever.db.models import Chunk, KbState
from retriever.knowledge_base import KnowledgeBase


@dataclass(frozen=True, slots=True)
class StoredState:
    generation: int  # bumped by every committed write
    vectors: int  # chunks with a vector of their own (duplicates share one)


def stored_state(kb: KnowledgeBase) -> StoredState:
    """Read in one session; raises the driver's error when the database does not answer."""
    with kb.session() as session:
        session.execute(text("SELECT 1"))
        generation = session.execute(select(KbState.generation)).scalar_one()
        vectors = session.execute(
            select(func.count()).select_from(Chunk).where(Chunk.duplicate_of_id.is_(None))
        ).scalar_one()
    return StoredState(int(generation), int(vectors))


def stored_generation(kb: KnowledgeBase) -> int:
    with kb.session() as session:
        return int(session.execute(select(KbState.generation)).scalar_one())


def ping_database(url: str) -> None:
    """Connect to ``url`` once and run ``SELECT 1``; raises the driver's error when it does not
    answer. Used before a server opens its knowledge base, so it can wait for the database."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()
