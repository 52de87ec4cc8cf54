"""The embedded text of a chunk: a file-name title is left out, and ingest, Ray ingest, repair and
reindex all build the same text from what they have (ingest) or what the database stores."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from sqlalchemy import select

from ingest.chunking import Chunker
from ingest.distributed import PrepareAndEmbed
from ingest.pipeline import IngestOptions, IngestPipeline
from retriever.consistency import stored_embedding_texts
from retriever.db.models import Chunk, Document
from retriever.embedders.registry import register_embedder
from retriever.embedders.testing import HashingEmbedder
from retriever.types import embedding_text

UNTITLED = "The glacier retreated four kilometres between 1950 and 2010, " * 3  # one long line: no title


class RecordingEmbedder(HashingEmbedder):
    """The fake embedder, remembering every document text it was asked to embed."""

    name = "fake-recording"
    seen: ClassVar[list[str]] = []

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        RecordingEmbedder.seen.extend(texts)
        return super().embed_documents(texts)


register_embedder(RecordingEmbedder.name, RecordingEmbedder)


@pytest.mark.parametrize(
    ("title", "headings", "uri", "expected"),
    [
        ("p0042", (), "/corpus/p0042.txt", "body"),  # the loaders' fallback: the file's stem
        ("notes", ("Setup",), "/corpus/notes.md", "Setup\nbody"),  # the headings stay
        ("Guide", ("Guide", "Install"), "/corpus/guide.md", "Guide > Install\nbody"),
        ("Team page", (), "/corpus/p0042.html", "Team page\nbody"),  # a real title
        ("p0042", (), "/corpus/p0043.txt", "p0042\nbody"),  # another file's name is a title
        ("p0042", (), "", "p0042\nbody"),
    ],
)
def test_a_title_that_is_only_the_file_name_is_not_embedded(title, headings, uri, expected) -> None:
    assert embedding_text(title, headings, "body", source_uri=uri) == expected


def corpus(root: Path) -> Path:
    root.mkdir()
    (root / "p0042.txt").write_text(UNTITLED + "\n")
    (root / "guide.md").write_text("# Guide\n\n## Install\n\nRun make run to install it.\n")
    return root


def test_ingest_ray_ingest_and_reindex_embed_the_same_text(make_kb, tmp_path) -> None:
    root = corpus(tmp_path / "corpus")
    kb = make_kb(RecordingEmbedder())
    kb.open(writable=True)
    RecordingEmbedder.seen = []
    chunker = Chunker(kb.embedder.count_tokens, max_tokens=60, overlap_tokens=10)
    IngestPipeline(kb, chunker, IngestOptions()).run([root])
    ingested = sorted(RecordingEmbedder.seen)

    with kb.session() as session:
        titles = dict(session.execute(select(Document.source_uri, Document.title)).all())
        stored = sorted(text for _, text in stored_embedding_texts(session))
        chunk_ids = session.execute(select(Chunk.id).order_by(Chunk.id)).scalars().all()
    assert titles[str(root / "p0042.txt")] == "p0042"  # the title shown to users is unchanged
    assert len(ingested) == 2
    assert ingested[0].startswith("Guide > Install\n")  # a real title (and headings) stay
    assert ingested[1] == UNTITLED.strip()  # no "p0042\n" in front
    assert stored == ingested  # repair and the keyword index rebuild exactly this

    before = {int(i): kb.index.reconstruct(int(i)) for i in chunk_ids}
    kb.close()
    reindexed = make_kb(RecordingEmbedder())
    reindexed.open(writable=True, rebuild=True)  # what `citewise reindex` does
    for chunk_id, vector in before.items():
        np.testing.assert_array_equal(reindexed.index.reconstruct(chunk_id), vector)

    ray_worker = PrepareAndEmbed(
        embedder=RecordingEmbedder.name, chunk_tokens=60, chunk_overlap=10,
        collection_id=1, max_file_bytes=1 << 20, force=False,
    )  # fmt: skip
    RecordingEmbedder.seen = []
    files = sorted(root.iterdir())
    ray_worker({
        "path": [str(p) for p in files], "relative": [p.name for p in files],
        "real": [""] * len(files), "known_hash": [""] * len(files),
    })  # fmt: skip
    assert sorted(RecordingEmbedder.seen) == ingested
