"""Resolving what ``citewise delete`` names (ids, files, folders) to documents."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import or_, select

from app.cli.errors import NotFoundError
from retriever.db.models import Collection, Document
from retriever.knowledge_base import KnowledgeBase


def resolve_targets(kb: KnowledgeBase, targets: list[str], collection: str | None) -> list[int]:
    ids: set[int] = set()
    with kb.session() as session:
        base = select(Document.id).join(Collection, Collection.id == Document.collection_id)
        if collection:
            base = base.where(Collection.name == collection)
        for target in targets:
            if target.isdigit():
                found = session.execute(base.where(Document.id == int(target))).scalars().all()
            else:
                path = str(Path(target).expanduser().resolve())
                prefix = path.rstrip("/") + "/"
                found = (
                    session.execute(
                        base.where(
                            or_(
                                Document.source_uri == path,
                                Document.source_uri.startswith(prefix, autoescape=True),
                            )
                        )
                    )
                    .scalars()
                    .all()
                )
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
