"""Ingest jobs as people follow them: one job, the latest few, the ones waiting or running.

Starting, claiming, cancelling and closing jobs is the ingest side's business (``ingest.jobs``)."""

from __future__ import annotations

from sqlalchemy import select

from retriever.catalog.records import JobRow
from retriever.db.models import Collection, IngestJob, JobStatus
from retriever.knowledge_base import KnowledgeBase

_WITH_COLLECTION = select(IngestJob, Collection.name).outerjoin(
    Collection, Collection.id == IngestJob.collection_id
)


def _row(job: IngestJob, collection: str | None) -> JobRow:
    return JobRow(
        id=job.id,
        status=str(job.status),
        collection=collection,
        sources=list(job.sources or []),
        counts=dict(job.counts or {}),
        errors=list(job.errors or []),
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def get_job(kb: KnowledgeBase, job_id: int, scope: tuple[str, ...] = ()) -> JobRow | None:
    """The job, or None when missing or (for a scoped caller) in a collection outside ``scope``."""
    with kb.session() as session:
        found = session.execute(_WITH_COLLECTION.where(IngestJob.id == job_id)).first()
        if found is None:
            return None
        job, name = found
        if scope and name not in scope:
            return None
        return _row(job, name)


def recent_jobs(kb: KnowledgeBase, limit: int) -> list[JobRow]:
    """The latest ``limit`` jobs, newest first."""
    with kb.session() as session:
        rows = session.execute(_WITH_COLLECTION.order_by(IngestJob.id.desc()).limit(limit)).all()
        return [_row(job, name) for job, name in rows]


def job_ids(kb: KnowledgeBase, status: JobStatus) -> list[int]:
    """Ids of the jobs in ``status``, oldest first."""
    with kb.session() as session:
        return [
            int(i)
            for i in session.execute(
                select(IngestJob.id).where(IngestJob.status == status).order_by(IngestJob.id)
            ).scalars()
        ]
