"""A writer that starts a job closes the jobs a dead process left ``running``: holding the writer
lock, it knows nobody else runs one, on whatever machine; its own adopted job stays running."""

from __future__ import annotations

from pathlib import Path

from ingest.chunking import Chunker
from ingest.jobs import claim_job, queue_job
from ingest.pipeline import IngestOptions, IngestPipeline
from retriever.db.models import IngestJob, JobStatus


def test_an_ingest_closes_running_jobs_of_any_machine_and_keeps_its_own(make_kb, tmp_path: Path) -> None:
    kb = make_kb()
    kb.open(writable=True)
    collection = kb.collection("c", create=True)
    with kb.sessions.begin() as session:
        other = IngestJob(
            collection_id=collection.id, status=JobStatus.RUNNING, host="another-machine", pid=7
        )
        session.add(other)
        session.flush()
        other_id = other.id
    note = tmp_path / "note.txt"
    note.write_text("The code word is heron.\n")
    mine = queue_job(kb, collection.id, [str(note)])
    assert claim_job(kb, mine)  # as an upload's job is claimed before its run

    chunker = Chunker(kb.embedder.count_tokens, max_tokens=60, overlap_tokens=10)
    report = IngestPipeline(kb, chunker, IngestOptions(collection="c")).run([note], job_id=mine)

    assert report.status == JobStatus.COMPLETED
    with kb.session() as session:
        closed = session.get(IngestJob, other_id)
        assert closed.status == JobStatus.INTERRUPTED and closed.finished_at is not None
        assert "stopped before it finished" in closed.errors[-1]["reason"]
        assert session.get(IngestJob, mine).status == JobStatus.COMPLETED
