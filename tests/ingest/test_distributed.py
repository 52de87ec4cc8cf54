"""`citewise ingest --ray` on a local Ray instance: the same knowledge base as a local ingest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from app.services import build_knowledge_base
from app.settings import Settings
from retriever.db.models import Chunk, Document
from retriever.embedders.testing import HashingEmbedder
from retriever.search import search
from tests.app.cli_helpers import run_cli

REPO = Path(__file__).resolve().parents[2]


def corpus(root: Path, files: int) -> Path:
    root.mkdir()
    for n in range(files):
        body = "\n\n".join(
            f"Entry {n}.{p}: parcel {n * 7 + p} left depot {n % 11} for harbour {p} on route R{n}."
            for p in range(4)
        )
        (root / f"manifest-{n:03}.md").write_text(f"# Manifest {n}\n\n{body}\n")
    (root / "twin.md").write_text((root / "manifest-005.md").read_text())  # duplicate chunks
    (root / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    return root


def contents(data_dir: Path) -> tuple:
    settings = Settings(data_dir=data_dir, embedder="retriever.embedders.testing:HashingEmbedder")
    with build_knowledge_base(settings) as kb:
        report = kb.open()
        with kb.session() as session:
            documents = sorted(session.execute(select(Document.source_uri, Document.content_hash)).all())
            chunks = sorted(
                session.execute(
                    select(
                        Document.source_uri, Chunk.ordinal, Chunk.text, Chunk.duplicate_of_id.is_(None)
                    ).join(Document, Document.id == Chunk.document_id)
                ).all()
            )
        hits = [(h.source_uri, h.text) for h in search(kb, "parcel left depot 3 for harbour 2", k=5)]
    return report.consistent, documents, chunks, hits


def test_ray_ingest_matches_a_local_ingest_of_a_few_hundred_files(capsys, tmp_path, monkeypatch) -> None:
    root = corpus(tmp_path / "corpus", 300)
    monkeypatch.setenv(
        "CITEWISE_EMBEDDER", "retriever.embedders.testing:HashingEmbedder"
    )  # importable on Ray workers
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))

    monkeypatch.setenv("CITEWISE_DATA_DIR", str(tmp_path / "ray"))
    embedded_here = HashingEmbedder.embedded_texts
    distributed = run_cli(capsys, "ingest", str(root), "--ray", "--ray-workers", "2", "-q")
    assert distributed.code == 0, distributed.err
    assert HashingEmbedder.embedded_texts == embedded_here, "the Ray workers embed, not this process"

    monkeypatch.setenv("CITEWISE_DATA_DIR", str(tmp_path / "local"))
    assert run_cli(capsys, "ingest", str(root), "-q").code == 0

    ray_kb, local_kb = contents(tmp_path / "ray"), contents(tmp_path / "local")
    assert ray_kb[0] and local_kb[0], "both indexes must match their databases"
    assert len(ray_kb[1]) == 301
    assert ray_kb[1:] == local_kb[1:]

    # Run again on Ray: nothing changed, so nothing is written.
    monkeypatch.setenv("CITEWISE_DATA_DIR", str(tmp_path / "ray"))
    again = run_cli(capsys, "ingest", str(root), "--ray", "-q")
    assert again.code == 0, again.err
    assert contents(tmp_path / "ray") == ray_kb


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ray", "--async"], "--async takes paths"),
        (["--ray-address", "ray://nowhere:1"], "--ray-address needs --ray"),
    ],
)
def test_ray_options_that_do_not_mix(capsys, tmp_path, args, message) -> None:
    result = run_cli(capsys, "ingest", str(tmp_path), *args)
    assert result.code == 2 and message in result.err
