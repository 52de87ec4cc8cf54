"""Ingest memory is bounded by design (issue 15.2): no stage is handed a whole large text at once.

A 30 MB one-line text used to take 4.4 GB: the tokenizer was given every sentence (or the whole
line) in one call, every chunk was copied and turned into an ORM object, and several large files
were parsed ahead at once. These tests pin the mechanisms that keep memory to a window; the RSS
numbers are in bench/ingest_memory.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

import ingest.pipeline as pipeline_module
from ingest.chunking import Chunker
from ingest.discovery import SourceFile
from ingest.loaders.text import load as load_text
from ingest.pipeline import IngestOptions, IngestPipeline
from retriever.db.models import Chunk
from retriever.types import PreparedChunk, PreparedDocument


class CountingCounter:
    """Counts words as tokens and remembers the most text it was handed in one call."""

    def __init__(self) -> None:
        self.largest_call = 0

    def __call__(self, texts: Sequence[str]) -> list[int]:
        self.largest_call = max(self.largest_call, sum(len(t) for t in texts))
        return [len(t.split()) for t in texts]


WINDOW = 1 << 16  # the chunker's default window: characters of text per token-counting call


def prose(chars: int, seed: int = 0) -> str:
    """Sentences with distinct words, on one line."""
    parts, size, i = [], 0, seed * 1_000_000
    while size < chars:
        sentence = f"Record {i} notes that item{i} moved to shelf{i % 97} after review {i % 13}."
        parts.append(sentence)
        size += len(sentence) + 1
        i += 1
    return " ".join(parts)


def assert_exact_spans_within_budget(text: str, chunks, max_tokens: int) -> None:
    assert chunks
    for chunk in chunks:
        assert 0 <= chunk.char_start < chunk.char_end <= len(text)
        assert chunk.token_count == len(text[chunk.char_start : chunk.char_end].split()) <= max_tokens


def test_the_token_counter_gets_a_window_of_a_one_line_text_not_all_of_it() -> None:
    text = prose(2_000_000)
    document = load_text(text.encode(), filename="one-line.txt")
    counter = CountingCounter()
    chunker = Chunker(counter, max_tokens=200, overlap_tokens=30)
    chunks = chunker.chunk(document)
    assert counter.largest_call <= 2 * WINDOW < len(text) // 10
    assert_exact_spans_within_budget(text, chunks, 200)
    assert chunks[0].char_start == 0 and chunks[-1].char_end == len(text)


def test_a_sentence_megabytes_long_is_counted_a_window_at_a_time_and_nothing_is_lost() -> None:
    words = [f"w{i}" for i in range(300_000)]  # ~2 MB without a single sentence end
    document = load_text(" ".join(words).encode(), filename="run-on.txt")
    counter = CountingCounter()
    chunker = Chunker(counter, max_tokens=200, overlap_tokens=30)
    chunks = chunker.chunk(document)
    assert counter.largest_call <= 2 * WINDOW
    assert_exact_spans_within_budget(document.text, chunks, 200)
    seen = {w for c in chunks for w in document.text[c.char_start : c.char_end].split()}
    assert seen == set(words)


def test_text_without_spaces_becomes_bounded_chunks() -> None:
    document = load_text(b"x" * 1_000_000, filename="blob.txt")
    counter = CountingCounter()
    chunker = Chunker(counter, max_tokens=200, overlap_tokens=30)
    chunks = chunker.chunk(document)
    assert counter.largest_call <= 2 * WINDOW
    assert max(c.char_end - c.char_start for c in chunks) <= WINDOW
    assert chunks[0].char_start == 0 and chunks[-1].char_end == 1_000_000


def test_windowed_chunking_matches_chunking_in_one_go_for_normal_text() -> None:
    """The window changes how often the counter is called, never where chunks fall."""
    text = "\n\n".join(prose(3_000, seed=p) for p in range(40))
    document = load_text(text.encode(), filename="paragraphs.txt")
    whole = Chunker(CountingCounter(), 60, 10, window_chars=10**9).chunk(document)
    windowed = Chunker(CountingCounter(), 60, 10, window_chars=2_000).chunk(document)
    assert windowed == whole


def test_big_files_are_parsed_one_at_a_time(make_kb, tmp_path: Path, monkeypatch) -> None:
    """Files are parsed ahead only within a byte budget: the next big file is read once the one in
    hand is written, so two large documents are never in memory together."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(4):
        (folder / f"big{i}.txt").write_text(prose(200_000, seed=i))
    events: list[tuple[str, str]] = []
    real_prepare = pipeline_module.prepare_file

    def recording_prepare(source: SourceFile, **kwargs):
        events.append(("parse", source.path.name))
        return real_prepare(source, **kwargs)

    class Progress:
        def start(self, total_files: int) -> None: ...
        def embedded(self, chunks: int) -> None: ...
        def file_done(self, source: SourceFile, outcome: str, chunks: int) -> None:
            events.append(("done", source.path.name))

    monkeypatch.setattr(pipeline_module, "prepare_file", recording_prepare)
    kb = make_kb()
    kb.open(writable=True)
    chunker = Chunker(kb.embedder.count_tokens, max_tokens=200, overlap_tokens=30)
    options = IngestOptions(batch_chunks=64, parse_ahead_bytes=300_000)
    report = IngestPipeline(kb, chunker, options).run([folder], Progress())
    assert report.counts["added"] == 4
    for i in range(1, 4):
        assert events.index(("parse", f"big{i}.txt")) > events.index(("done", f"big{i - 1}.txt")), events


def test_small_files_are_still_batched_and_all_land(make_kb, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(12):
        (folder / f"note{i}.txt").write_text(prose(400, seed=i))
    kb = make_kb()
    kb.open(writable=True)
    chunker = Chunker(kb.embedder.count_tokens, max_tokens=200, overlap_tokens=30)
    report = IngestPipeline(kb, chunker, IngestOptions()).run([folder])
    assert report.counts["added"] == 12 and kb.check().consistent


@pytest.fixture
def chunk_objects_built():
    built: list[int] = []

    def count(target, args, kwargs) -> None:
        built.append(1)

    event.listen(Chunk, "init", count)
    yield built
    event.remove(Chunk, "init", count)


def test_a_large_document_is_written_without_an_orm_object_per_chunk(make_kb, chunk_objects_built) -> None:
    kb = make_kb()
    kb.open(writable=True)
    collection_id = kb.collection("docs", create=True).id
    passages = [f"passage {i} about topic{i}" for i in range(2_000)]
    passages[1_700] = passages[10]  # a copy in a later write window than its original
    chunks, offset = [], 0
    for ordinal, passage in enumerate(passages):
        chunks.append(PreparedChunk(ordinal, passage, offset, offset + len(passage), 4))
        offset += len(passage) + 1
    document = PreparedDocument(collection_id, "/big.txt", "big", "text/plain", offset, "h", chunks)
    vectors = kb.embedder.embed_documents(passages)
    document.vectors = {i: vectors[i] for i in range(len(passages)) if i != 1_700}
    kb.write([document])
    assert chunk_objects_built == []
    with kb.session() as session:
        assert session.execute(select(func.count()).select_from(Chunk)).scalar_one() == 2_000
        original, copy = (
            session.execute(select(Chunk).where(Chunk.ordinal.in_([10, 1_700])).order_by(Chunk.ordinal))
            .scalars()
            .all()
        )
    assert copy.duplicate_of_id == original.id and copy.text is None and original.text == passages[10]
    assert len(kb.index) == 1_999 and kb.check().consistent
