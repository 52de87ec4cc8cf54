"""Resolving what ``citewise delete`` names (ids, files, folders) to documents."""

from __future__ import annotations

from app.cli.errors import NotFoundError
from retriever import catalog
from retriever.knowledge_base import KnowledgeBase


def resolve_targets(kb: KnowledgeBase, targets: list[str], collection: str | None) -> list[int]:
    ids: set[int] = set()
    for target in targets:
        found = catalog.matching_documents(kb, target, collection)
        if not found:
            raise NotFoundError(
                f"no document matches {target!r}" + (f" in {collection!r}" if collection else "")
            )
        ids.update(found)
    return sorted(ids)


def delete_targets(kb: KnowledgeBase, targets: list[str], collection: str | None) -> int:
    ids = resolve_targets(kb, targets, collection)
    kb.delete_documents(ids)
    kb.save()
    return len(ids)


def delete_collection(kb: KnowledgeBase, name: str) -> int:
    count = kb.delete_collection(name)
    kb.save()
    return count
