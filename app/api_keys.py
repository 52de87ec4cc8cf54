"""API keys: created once (the secret is shown one time), stored as a SHA-256 hash, scoped to
collections. Keys are 192 random bits, so a fast hash is enough: there is nothing to brute-force."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from retriever import catalog
from retriever.catalog import KeyRow
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


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(kb: KnowledgeBase, name: str, collections: tuple[str, ...] = ()) -> tuple[KeyRow, str]:
    """A new key; the secret is returned here and never again."""
    if not name.strip():
        raise ValueError("a key needs a name")
    secret = KEY_PREFIX + secrets.token_urlsafe(24)
    info = catalog.add_key(kb, name.strip(), secret[: len(KEY_PREFIX) + 6], _hash(secret), collections)
    return info, secret


def list_keys(kb: KnowledgeBase) -> list[KeyRow]:
    return catalog.key_rows(kb)


def revoke_key(kb: KnowledgeBase, key_id: int) -> bool:
    return catalog.revoke_key(kb, key_id)


def authenticate(kb: KnowledgeBase, secret: str) -> Principal | None:
    """The key's principal, or None for an unknown or revoked key."""
    if not secret.startswith(KEY_PREFIX):
        return None
    wanted = _hash(secret)
    found = catalog.key_by_hash(kb, wanted)
    if found is None or not hmac.compare_digest(found[1], wanted):
        return None
    return Principal(found[0].name, found[0].collections)
