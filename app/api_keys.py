"""API keys: created once (the secret is shown one time), stored as a SHA-256 hash, scoped to
collections. Keys are 192 random bits, so a fast hash is enough: there is nothing to brute-force."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from retriever.db.models import ApiKey, utcnow
from retriever.knowledge_base import KnowledgeBase

KEY_PREFIX = "cw_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a key's name and the collections it may see (empty tuple = all)."""

    name: str
    collections: tuple[str, ...] = ()

    @property
    def unrestricted(self) -> bool:
        return not self.collections

    def may_see(self, collection: str) -> bool:
        return self.unrestricted or collection in self.collections

    def visible(self, wanted: tuple[str, ...]) -> tuple[str, ...]:
        """The collections a request may search: its own choice narrowed to the key's scope.

        A scoped key asking for nothing gets its whole scope; asking for a collection outside the
        scope is an error the caller reports (never silently widened)."""
        if self.unrestricted:
            return wanted
        return wanted or self.collections


ANONYMOUS = Principal("anonymous")


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: int
    name: str
    prefix: str
    collections: tuple[str, ...]
    created_at: datetime
    revoked: bool


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(kb: KnowledgeBase, name: str, collections: tuple[str, ...] = ()) -> tuple[KeyInfo, str]:
    """A new key; the secret is returned here and never again."""
    if not name.strip():
        raise ValueError("a key needs a name")
    secret = KEY_PREFIX + secrets.token_urlsafe(24)
    with kb.sessions.begin() as session:
        row = ApiKey(
            name=name.strip(),
            prefix=secret[: len(KEY_PREFIX) + 6],
            key_hash=_hash(secret),
            collections=sorted(set(collections)),
        )
        session.add(row)
        session.flush()
        return _info(row), secret


def list_keys(kb: KnowledgeBase) -> list[KeyInfo]:
    with kb.session() as session:
        return [_info(row) for row in session.execute(select(ApiKey).order_by(ApiKey.id)).scalars()]


def revoke_key(kb: KnowledgeBase, key_id: int) -> bool:
    with kb.sessions.begin() as session:
        row = session.get(ApiKey, key_id)
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
        return True


def authenticate(kb: KnowledgeBase, secret: str) -> Principal | None:
    """The key's principal, or None for an unknown or revoked key."""
    if not secret.startswith(KEY_PREFIX):
        return None
    wanted = _hash(secret)
    with kb.session() as session:
        row = session.execute(select(ApiKey).where(ApiKey.key_hash == wanted)).scalar_one_or_none()
        if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, wanted):
            return None
        return Principal(row.name, tuple(row.collections))


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        row.id, row.name, row.prefix, tuple(row.collections), row.created_at, row.revoked_at is not None
    )
