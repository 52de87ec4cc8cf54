"""The knowledge base keeps the database and the vector index in agreement, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import func, select

from retriever import catalog
from retriever.db.models import Chunk, Document, KbState
from retriever.embedders.testing import HashingEmbedder, OtherHashingEmbedder
from retriever.knowledge_base import CollectionNotFoundError, IndexMismatchError, KnowledgeBase
from retriever.search import search
from retriever.types import PreparedChunk, PreparedDocument, embedding_text


def prepared(kb: KnowledgeBase, collection: str, uri: str, passages: list[str], embed: bool = True):
    collection_id = kb.collection(collection, create=True).id
    chunks, offset = [], 0
    for ordinal, passage in enumerate(passages):
        chunks.append(PreparedChunk(ordinal, passage, offset, offset + len(passage), len(passage.split())))
        offset += len(passage) + 2
    document = PreparedDocument(
        collection_id=collection_id,
        source_uri=uri,
        title=uri.rsplit("/", 1)[-1],
        mime_type="text/plain",
        size_bytes=offset,
        content_hash=str(hash(tuple(passages))),
        chunks=chunks,
    )
    if embed:
        texts = [embedding_text(document.title, [], c.text, source_uri=uri) for c in chunks]
        for chunk, vector in zip(chunks, kb.embedder.embed_documents(texts), strict=True):
            document.vectors[chunk.ordinal] = vector
    return document


def canonical_ids(kb: KnowledgeBase) -> set[int]:
    with kb.session() as session:
        return set(session.execute(select(Chunk.id).where(Chunk.duplicate_of_id.is_(None))).scalars())


def test_written_documents_are_searchable_and_index_matches_database(make_kb) -> None:
    kb = make_kb()
    kb.open(writable=True)
    kb.write([prepared(kb, "docs", "/a.txt", ["the cat sat on the mat", "quarterly revenue grew strongly"])])
    kb.write([prepared(kb, "docs", "/b.txt", ["postgres replication setup guide"])])

    hits = search(kb, "revenue growth quarterly", k=2)
    assert hits[0].text == "quarterly revenue grew strongly"
    assert hits[0].source_uri == "/a.txt" and hits[0].rank == 1
    assert set(kb.index.ids().tolist()) == canonical_ids(kb)
    assert kb.check().consistent


def test_replacing_a_document_removes_its_old_chunks_from_both_stores(make_kb) -> None:
    kb = make_kb()
    kb.open(writable=True)
    kb.write([prepared(kb, "docs", "/a.txt", ["alpha beta gamma", "delta epsilon"])])
    old_ids = canonical_ids(kb)
    kb.write([prepared(kb, "docs", "/a.txt", ["zeta eta theta"])])

    new_ids = canonical_ids(kb)
    assert not (old_ids & new_ids)
    assert set(kb.index.ids().tolist()) == new_ids
    with kb.session() as session:
        document = session.execute(select(Document)).scalar_one()
        assert document.version == 2
    assert [h.text for h in search(kb, "alpha beta", k=5)] == ["zeta eta theta"]


def test_duplicate_chunks_are_stored_once_and_survive_deleting_the_original(make_kb) -> None:
    kb = make_kb()
    kb.open(writable=True)
    shared = "the same boilerplate paragraph about licensing"
    kb.write([prepared(kb, "docs", "/a.txt", [shared, "only in a"])])
    kb.write([prepared(kb, "docs", "/b.txt", ["only in b", shared])])

    with kb.session() as session:
        rows = session.execute(select(Chunk).where(Chunk.content_hash == Chunk.content_hash)).scalars().all()
        copies = [c for c in rows if c.duplicate_of_id is not None]
        assert len(rows) == 4 and len(copies) == 1 and copies[0].text is None
    assert len(kb.index) == 3

    with kb.session() as session:
        doc_a = session.execute(select(Document.id).where(Document.source_uri == "/a.txt")).scalar_one()
    kb.delete_documents([doc_a])

    hits = search(kb, "boilerplate licensing", k=1)
    assert hits[0].text == shared and hits[0].source_uri == "/b.txt"
    assert set(kb.index.ids().tolist()) == canonical_ids(kb)
    assert len(kb.index) == 2


def test_same_text_in_another_collection_is_not_a_duplicate(make_kb) -> None:
    kb = make_kb()
    kb.open(writable=True)
    kb.write([prepared(kb, "one", "/a.txt", ["shared words here"])])
    kb.write([prepared(kb, "two", "/a.txt", ["shared words here"])])
    assert len(kb.index) == 2
    assert [h.collection for h in search(kb, "shared words", k=5, collections=["two"])] == ["two"]


def test_collection_filter_is_applied_inside_the_index(make_kb) -> None:
    kb = make_kb()
    kb.open(writable=True)
    kb.write([prepared(kb, "big", f"/big{i}.txt", [f"apple banana {i}"]) for i in range(20)])
    kb.write([prepared(kb, "small", "/s.txt", ["completely unrelated words"])])
    # Even though 20 better matches exist elsewhere, the filtered search still returns its match.
    hits = search(kb, "apple banana", k=3, collections=["small"])
    assert [h.source_uri for h in hits] == ["/s.txt"]
    with pytest.raises(CollectionNotFoundError):
        search(kb, "apple", collections=["nope"])


def test_a_crash_after_commit_is_repaired_when_reopened(make_kb) -> None:
    kb = make_kb()
    kb.open(writable=True)
    kb.write([prepared(kb, "docs", "/a.txt", ["first passage words"])])
    kb.save()
    kb.write([prepared(kb, "docs", "/b.txt", ["second passage words", "third passage words"])])
    expected = canonical_ids(kb)
    # Simulate a kill: the database committed, the index was never saved again, the lock dropped.
    kb._release_lock()
    kb._dirty = False

    before = HashingEmbedder.embedded_texts
    reopened = make_kb()
    report = reopened.open(writable=True)
    assert report.full_check and report.repaired and report.consistent
    assert HashingEmbedder.embedded_texts - before == 2  # only the two missing vectors
    assert set(reopened.index.ids().tolist()) == expected

    again = make_kb()
    report = again.open()
    assert not report.full_check and report.consistent  # manifest now matches: fast path


def test_orphan_vectors_are_removed_on_open(make_kb) -> None:
    kb = make_kb()
    kb.open(writable=True)
    kb.write([prepared(kb, "docs", "/a.txt", ["keep me", "delete me"])])
    kb.index.add([999_999], kb.embedder.embed_documents(["ghost"]))
    kb.save()
    kb.close()

    reopened = make_kb()
    report = reopened.open()
    assert report.repaired and 999_999 not in set(reopened.index.ids().tolist())


def test_readers_drop_hits_whose_chunks_were_deleted(make_kb) -> None:
    writer = make_kb()
    writer.open(writable=True)
    writer.write([prepared(writer, "docs", "/a.txt", ["vanishing passage text"])])
    writer.save()
    reader = make_kb()
    reader.open()  # writer holds the lock: the reader serves the saved index as is
    with writer.session() as session:
        doc_id = session.execute(select(Document.id)).scalar_one()
    writer.delete_documents([doc_id])
    assert len(reader.index) == 1
    assert search(reader, "vanishing passage", k=3) == []


def test_opening_an_index_built_by_another_embedder_names_reindex(make_kb) -> None:
    kb = make_kb()
    kb.open(writable=True)
    kb.write([prepared(kb, "docs", "/a.txt", ["some words"])])
    kb.close()
    with pytest.raises(IndexMismatchError, match="citewise reindex"):
        make_kb(OtherHashingEmbedder()).open()

    rebuilt = make_kb(OtherHashingEmbedder())
    report = rebuilt.open(writable=True, rebuild=True)
    assert report.consistent and rebuilt.index.dimension == 64 and len(rebuilt.index) == 1
    rebuilt.close()
    make_kb(OtherHashingEmbedder()).open()  # now opens without complaint


def test_deleting_a_collection_removes_its_vectors(make_kb) -> None:
    kb = make_kb()
    kb.open(writable=True)
    kb.write([prepared(kb, "gone", "/a.txt", ["alpha"]), prepared(kb, "gone", "/b.txt", ["beta"])])
    kb.write([prepared(kb, "kept", "/c.txt", ["gamma"])])
    assert kb.delete_collection("gone") == 2
    assert [s.name for s in catalog.collection_rows(kb)] == ["kept"]
    assert set(kb.index.ids().tolist()) == canonical_ids(kb) and len(kb.index) == 1


def test_saves_are_atomic_and_manifest_describes_the_index(make_kb, index_dir) -> None:
    kb = make_kb()
    kb.open(writable=True)
    kb.write([prepared(kb, "docs", "/a.txt", ["one", "two"])])
    kb.save()
    manifest = json.loads((index_dir / "manifest.json").read_text())
    with kb.session() as session:
        state = session.execute(select(KbState)).scalar_one()
    assert manifest["embedder"] == "fake-hashing" and manifest["dimension"] == 128
    assert manifest["count"] == 2 and manifest["generation"] == state.generation
    assert manifest["database_uid"] == state.database_uid
    # Only the live index file remains, and a leftover temp file from a crashed save is ignored.
    (index_dir / ".index-deadbeef.faiss.tmp").write_bytes(b"partial")
    kb.write([prepared(kb, "docs", "/b.txt", ["three"])])
    kb.save()
    assert [p.name for p in index_dir.glob("index-*.faiss")] == [
        json.loads((index_dir / "manifest.json").read_text())["index_file"]
    ]
    assert not list(index_dir.glob(".*.tmp"))


def test_a_second_writer_is_refused_clearly(make_kb) -> None:
    from retriever.index.persistence import IndexLockedError

    make_kb().open(writable=True)
    with pytest.raises(IndexLockedError, match="another citewise process"):
        make_kb().open(writable=True)


def test_chunk_ids_are_never_reused(make_kb) -> None:
    kb = make_kb()
    kb.open(writable=True)
    kb.write([prepared(kb, "docs", "/a.txt", ["first"])])
    first = max(canonical_ids(kb))
    with kb.session() as session:
        doc_id = session.execute(select(Document.id)).scalar_one()
    kb.delete_documents([doc_id])
    kb.write([prepared(kb, "docs", "/b.txt", ["second"])])
    assert min(canonical_ids(kb)) > first


def test_vectors_missing_from_a_write_are_embedded_from_stored_text(make_kb) -> None:
    kb = make_kb()
    kb.open(writable=True)
    kb.write([prepared(kb, "docs", "/a.txt", ["embedded later by the store"], embed=False)])
    assert len(kb.index) == 1
    assert search(kb, "embedded later", k=1)[0].text == "embedded later by the store"
    with kb.session() as session:
        assert session.execute(select(func.count()).select_from(Chunk)).scalar_one() == 1
    np.testing.assert_allclose(
        np.linalg.norm(kb.index.reconstruct(next(iter(canonical_ids(kb))))), 1.0, rtol=1e-5
    )


@pytest.mark.parametrize("damage", ["truncate", "delete", "garble-manifest"])
def test_a_damaged_index_is_rebuilt_from_the_database(make_kb, index_dir, damage) -> None:
    kb = make_kb()
    kb.open(writable=True)
    kb.write([prepared(kb, "docs", "/a.txt", ["first passage", "second passage"])])
    kb.close()
    manifest = json.loads((index_dir / "manifest.json").read_text())
    index_file = index_dir / manifest["index_file"]
    if damage == "truncate":
        index_file.write_bytes(index_file.read_bytes()[:40])
    elif damage == "delete":
        index_file.unlink()
    else:
        (index_dir / "manifest.json").write_text("{not json")

    reopened = make_kb()
    report = reopened.open(writable=True)
    assert reopened.load_problem and "rebuilding" in reopened.load_problem
    assert report.repaired and report.consistent and len(reopened.index) == 2
    assert search(reopened, "second passage", k=1)[0].text == "second passage"


def test_a_read_only_knowledge_base_refuses_to_change_anything(make_kb) -> None:
    from retriever.knowledge_base import ReadOnlyError

    kb = make_kb()
    kb.open()
    with pytest.raises(ReadOnlyError, match="writable=True"):
        kb.write([prepared(kb, "docs", "/a.txt", ["text"])])
    with pytest.raises(ReadOnlyError):
        kb.delete_documents([1])
    with pytest.raises(ReadOnlyError):
        kb.save()


def test_a_reader_keeps_serving_its_mapped_index_while_a_writer_replaces_the_file(make_kb, index_dir) -> None:
    writer = make_kb()
    writer.open(writable=True)
    writer.write([prepared(writer, "docs", "/a.txt", ["mapped passage about otters"])])
    writer.save()
    reader = make_kb()
    reader.open()  # read-only: the vectors are memory-mapped
    old_file = json.loads((index_dir / "manifest.json").read_text())["index_file"]

    writer.write([prepared(writer, "docs", "/b.txt", ["fresh passage about beavers"])])
    writer.save()  # a new index file; the old one is deleted
    assert not (index_dir / old_file).exists()

    assert search(reader, "otters", k=1)[0].text == "mapped passage about otters"
    fresh = make_kb()
    fresh.open()
    assert search(fresh, "beavers", k=1)[0].text == "fresh passage about beavers"


def test_a_passage_repeated_inside_one_document_is_stored_once(make_kb) -> None:
    kb = make_kb()
    kb.open(writable=True)
    passages = ["repeated footer text", "unique body", "repeated footer text"]
    kb.write([prepared(kb, "docs", "/a.txt", passages)])
    with kb.session() as session:
        rows = session.execute(select(Chunk).order_by(Chunk.ordinal)).scalars().all()
    assert [r.duplicate_of_id for r in rows] == [None, None, rows[0].id]
    assert rows[2].text is None
    assert rows[2].char_start > rows[0].char_end  # the copy keeps its own offsets
    assert len(kb.index) == 2 and kb.check().consistent
