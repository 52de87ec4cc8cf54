"""The ingest pipeline end to end with the fake embedder, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from ingest.chunking import Chunker
from ingest.pipeline import IngestOptions, IngestPipeline
from retriever.db.models import Chunk, Document, IngestJob, JobStatus
from retriever.embedders.testing import HashingEmbedder
from retriever.search import search


def run(kb, paths, **options):
    chunker = Chunker(kb.embedder.count_tokens, max_tokens=60, overlap_tokens=10)
    return IngestPipeline(kb, chunker, IngestOptions(**options)).run([Path(p) for p in paths])


def write_corpus(root: Path) -> None:
    (root / "sub").mkdir(parents=True)
    (root / "guide.md").write_text(
        "# Guide\n\nCitewise answers questions about documents.\n\n"
        "## Install\n\nRun make run to install it.\n"
    )
    (root / "notes.txt").write_text("Quarterly revenue grew by twelve percent.\n\nCosts stayed flat.\n")
    (root / "sub" / "ops.rst").write_text("Operations\n==========\n\nBackups run nightly at two.\n")
    (root / "page.html").write_text(
        "<html><head><title>Team page</title></head><body><nav>Home | About</nav>"
        "<main><h1>Team</h1><p>The platform team owns the deploy pipeline.</p></main></body></html>"
    )
    (root / "broken.pdf").write_bytes(b"%PDF-1.4\n this is not really a pdf \x00\x01")
    (root / "blob.bin").write_bytes(bytes(range(256)) * 8)
    (root / "empty.txt").write_text("")
    (root / ".hidden.md").write_text("# secret\n\nnot to be ingested")


def documents(kb) -> dict[str, Document]:
    with kb.session() as session:
        return {Path(d.source_uri).name: d for d in session.execute(select(Document)).scalars()}


def test_mixed_folder_ingests_good_files_and_reports_each_bad_one(make_kb, tmp_path) -> None:
    write_corpus(tmp_path / "corpus")
    kb = make_kb()
    kb.open(writable=True)
    report = run(kb, [tmp_path / "corpus"])

    assert report.status == JobStatus.COMPLETED
    assert set(documents(kb)) == {"guide.md", "notes.txt", "ops.rst", "page.html"}
    reasons = {Path(e.path).name: e.reason for e in report.errors}
    assert set(reasons) == {"broken.pdf", "blob.bin", "empty.txt"}
    assert all(reasons.values())
    assert report.counts["added"] == 4 and report.counts["skipped"] == 3
    assert kb.check().consistent
    assert search(kb, "who owns the deploy pipeline", k=1)[0].title == "Team page"
    with kb.session() as session:
        job = session.get(IngestJob, report.job_id)
        assert job.status == JobStatus.COMPLETED and len(job.errors) == 3
        assert job.counts["added"] == 4


def test_rerun_does_no_embedding_and_an_edit_reembeds_only_that_file(make_kb, tmp_path) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    kb = make_kb()
    kb.open(writable=True)
    run(kb, [corpus])
    versions = {name: d.version for name, d in documents(kb).items()}

    before = HashingEmbedder.embedded_texts
    report = run(kb, [corpus])
    assert HashingEmbedder.embedded_texts == before
    assert report.counts["unchanged"] == 4 and report.counts.get("added", 0) == 0

    (corpus / "notes.txt").write_text("Quarterly revenue grew by fifteen percent after all.\n")
    report = run(kb, [corpus])
    assert HashingEmbedder.embedded_texts - before == 1  # one chunk, of the one edited file
    assert report.counts["updated"] == 1 and report.counts["unchanged"] == 3
    after = documents(kb)
    assert after["notes.txt"].version == versions["notes.txt"] + 1
    assert after["guide.md"].version == versions["guide.md"]
    assert "fifteen" in search(kb, "revenue percent", k=1)[0].text
    assert kb.check().consistent


def test_a_file_that_breaks_keeps_its_previous_version(make_kb, tmp_path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Original readable content about llamas.")
    kb = make_kb()
    kb.open(writable=True)
    run(kb, [corpus])
    (corpus / "a.txt").write_bytes(b"\x00\xff\xfe garbage \x00" * 50)
    report = run(kb, [corpus])
    assert report.counts["skipped"] == 1 and "binary" in report.errors[0].reason
    assert search(kb, "llamas", k=1)[0].text == "Original readable content about llamas."


def test_sync_removes_documents_whose_files_are_gone_only_under_given_roots(make_kb, tmp_path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "a.txt").write_text("alpha file text")
    (one / "b.txt").write_text("beta file text")
    (two / "c.txt").write_text("gamma file text")
    kb = make_kb()
    kb.open(writable=True)
    run(kb, [one, two])
    (one / "b.txt").unlink()
    (two / "c.txt").unlink()

    report = run(kb, [one], sync=True)
    assert report.counts["removed"] == 1
    assert set(documents(kb)) == {"a.txt", "c.txt"}  # c.txt is outside the synced root
    assert kb.check().consistent and len(kb.index) == 2


def test_include_and_exclude_globs(make_kb, tmp_path) -> None:
    write_corpus(tmp_path / "corpus")
    kb = make_kb()
    kb.open(writable=True)
    run(kb, [tmp_path / "corpus"], include=("*.md", "*.rst"), exclude=("sub/*",))
    assert set(documents(kb)) == {"guide.md"}


def test_oversize_files_are_skipped_with_the_limit_named(make_kb, tmp_path) -> None:
    (tmp_path / "big.txt").write_text("word " * 2000)
    kb = make_kb()
    kb.open(writable=True)
    report = run(kb, [tmp_path / "big.txt"], max_file_bytes=1024)
    assert "over the" in report.errors[0].reason and not documents(kb)


def test_identical_files_share_chunks_and_vectors(make_kb, tmp_path) -> None:
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text("The very same paragraph in two files.\n\nAnd a second one.")
    kb = make_kb()
    kb.open(writable=True)
    before = HashingEmbedder.embedded_texts
    run(kb, [tmp_path / "a.txt", tmp_path / "b.txt"])
    with kb.session() as session:
        total = session.execute(select(func.count()).select_from(Chunk)).scalar_one()
    assert len(documents(kb)) == 2 and total == 2 and len(kb.index) == 1
    assert HashingEmbedder.embedded_texts - before == 1


def test_missing_path_is_a_clear_error(make_kb, tmp_path) -> None:
    from ingest.discovery import MissingPathError

    kb = make_kb()
    kb.open(writable=True)
    with pytest.raises(MissingPathError, match="no such file or folder"):
        run(kb, [tmp_path / "nope"])


def test_unreadable_file_is_skipped_and_the_rest_still_ingests(make_kb, tmp_path, monkeypatch) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "secret.txt").write_text("hidden")
    (corpus / "open.txt").write_text("readable words")
    real_open = Path.open

    def open_(self: Path, *args: object, **kwargs: object):  # root can read anything: simulate it
        if self.name == "secret.txt":
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)
    kb = make_kb()
    kb.open(writable=True)
    report = run(kb, [corpus])
    assert report.errors[0].reason == "cannot read: Permission denied"
    assert set(documents(kb)) == {"open.txt"}


def test_the_data_dir_inside_an_ingested_folder_is_not_ingested(tmp_path) -> None:
    from app.services import build_knowledge_base, build_pipeline
    from app.settings import Settings

    (tmp_path / "notes.txt").write_text("real content")
    settings = Settings(data_dir=tmp_path / "citewise-data", embedder="fake-hashing")
    with build_knowledge_base(settings) as kb:
        kb.open(writable=True)
        build_pipeline(settings, kb).run([tmp_path])  # first run creates the data dir inside tmp_path
        report = build_pipeline(settings, kb).run([tmp_path])
    assert report.counts["files"] == 1 and not report.errors


def test_force_rechunks_unchanged_files(make_kb, tmp_path) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    kb = make_kb()
    kb.open(writable=True)
    run(kb, [corpus])
    before = HashingEmbedder.embedded_texts
    report = run(kb, [corpus], force=True)
    assert report.counts["updated"] == 4 and HashingEmbedder.embedded_texts > before
    assert kb.check().consistent
