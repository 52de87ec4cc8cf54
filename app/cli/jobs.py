"""Reading recent ingest jobs for ``citewise status --jobs``."""

from __future__ import annotations

from sqlalchemy import select

from retriever.db.models import Collection, IngestJob
from retriever.knowledge_base import KnowledgeBase


def recent_jobs(kb: KnowledgeBase, limit: int) -> list[tuple[IngestJob, str]]:
    with kb.session() as session:
        rows = session.execute(
            select(IngestJob, Collection.name)
            .outerjoin(Collection, Collection.id == IngestJob.collection_id)
            .order_by(IngestJob.id.desc())
            .limit(limit)
        ).all()
    return [(job, name or "(deleted)") for job, name in rows]
