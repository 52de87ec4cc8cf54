"""API key rows. Secrets never reach the database: callers store and look up their hashes."""

from __future__ import annotations

from sqlalchemy import select

from retriever.catalog.records import KeyRow
from retriever.db.models import ApiKey, utcnow
from retriever.knowledge_base import KnowledgeBase


def _row(key: ApiKey) -> KeyRow:
    return KeyRow(
        key.id, key.name, key.prefix, tuple(key.collections), key.created_at, key.revoked_at is not None
    )


def add_key(kb: KnowledgeBase, name: str, prefix: str, key_hash: str, collections: tuple[str, ...]) -> KeyRow:
    with kb.sessions.begin() as session:
        key = ApiKey(name=name, prefix=prefix, key_hash=key_hash, collections=sorted(set(collections)))
        session.add(key)
        session.flush()
        session.refresh(key)  # read back, so it looks as every later read of it does
        return _row(key)


def key_rows(kb: KnowledgeBase) -> list[KeyRow]:
    with kb.session() as session:
        return [_row(key) for key in session.execute(select(ApiKey).order_by(ApiKey.id)).scalars()]


def revoke_key(kb: KnowledgeBase, key_id: int) -> bool:
    """False when there is no such key or it was revoked already."""
    with kb.sessions.begin() as session:
        key = session.get(ApiKey, key_id)
        if key is None or key.revoked_at is not None:
            return False
        key.revoked_at = utcnow()
        return True


def key_by_hash(kb: KnowledgeBase, key_hash: str) -> tuple[KeyRow, str] | None:
    """The live key with this hash and the stored hash (for a constant-time compare), or None."""
    with kb.session() as session:
        key = session.execute(select(ApiKey).where(ApiKey.key_hash == key_hash)).scalar_one_or_none()
        if key is None or key.revoked_at is not None:
            return None
        return _row(key), key.key_hash
