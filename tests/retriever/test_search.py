"""Search modes, filters inside retrieval, and the keyword index kept in step with the database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from retriever.db.models import Document
from retriever.search import SearchFilters, SearchMode, allowed_chunk_ids, fuse, search
from tests.retriever.test_knowledge_base import prepared


def doc_id(kb, uri: str) -> int:
    with kb.session() as session:
        return session.execute(select(Document.id).where(Document.source_uri == uri)).scalar_one()


@pytest.fixture
def kb(make_kb):
    kb = make_kb()
    kb.open(writable=True)
    kb.write(
        [prepared(kb, "ops", "/ops/backup.md", ["nightly backups run at two", "restore drills monthly"])]
    )
    kb.write([prepared(kb, "ops", "/ops/oncall.md", ["the pager rotates weekly"])])
    kb.write([prepared(kb, "hr", "/hr/leave.md", ["vacation days accrue monthly"])])
    return kb


def test_sparse_mode_finds_exact_keywords(kb) -> None:
    hits = search(kb, "pager", k=3, mode=SearchMode.SPARSE)
    assert [h.text for h in hits] == ["the pager rotates weekly"]
    assert hits[0].retrievers == ("sparse",)


def test_hybrid_marks_which_retrievers_found_each_hit(kb) -> None:
    hits = search(kb, "nightly backups", k=3, mode="hybrid")
    assert hits[0].text == "nightly backups run at two"
    assert set(hits[0].retrievers) == {"dense", "sparse"}
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))


@pytest.mark.parametrize("mode", list(SearchMode))
def test_filters_apply_inside_every_mode(kb, mode) -> None:
    by_collection = search(kb, "monthly", k=5, mode=mode, filters=SearchFilters(collections=("hr",)))
    assert [h.source_uri for h in by_collection] == ["/hr/leave.md"]
    by_prefix = search(kb, "monthly", k=5, mode=mode, filters=SearchFilters(source_prefix="/ops/"))
    assert {h.source_uri for h in by_prefix} <= {"/ops/backup.md", "/ops/oncall.md"} and by_prefix
    by_document = search(
        kb, "weekly", k=5, mode=mode, filters=SearchFilters(document_ids=(doc_id(kb, "/ops/oncall.md"),))
    )
    assert [h.source_uri for h in by_document] == ["/ops/oncall.md"]


def test_metadata_filter(kb) -> None:
    document = prepared(kb, "ops", "/ops/tagged.md", ["monthly tagged report"])
    document.metadata = {"team": "platform"}
    kb.write([document])
    allowed = allowed_chunk_ids(kb, SearchFilters(metadata={"team": "platform"}))
    assert len(allowed) == 1
    hits = search(kb, "monthly", k=5, mode="hybrid", filters=SearchFilters(metadata={"team": "platform"}))
    assert [h.source_uri for h in hits] == ["/ops/tagged.md"]


def test_keyword_index_follows_updates_and_deletes(kb) -> None:
    assert search(kb, "pager", k=1, mode="sparse")
    kb.write([prepared(kb, "ops", "/ops/oncall.md", ["escalation goes to the duty manager"])])
    assert search(kb, "pager", k=3, mode="sparse") == []
    assert search(kb, "escalation", k=1, mode="sparse")[0].source_uri == "/ops/oncall.md"

    kb.delete_documents([doc_id(kb, "/ops/oncall.md")])
    assert search(kb, "escalation", k=3, mode="sparse") == []
    assert len(kb.sparse_index()) == 3  # the deleted chunk does not linger in the keyword index


def test_keyword_index_is_saved_and_reused_until_the_database_moves_on(make_kb, kb) -> None:
    kb.save()
    manifest = kb.sparse_store.read_manifest()
    assert manifest is not None and manifest.count == 4
    kb.close()

    reader = make_kb()
    reader.open()
    assert reader.sparse_index() is not None
    assert reader.sparse_store.read_manifest() == manifest  # loaded from disk, not rebuilt
    assert search(reader, "vacation", k=1, mode="sparse")[0].source_uri == "/hr/leave.md"


def test_fusion_rewards_agreement_and_respects_weights() -> None:
    rankings = {"dense": [(1, 0.9), (2, 0.8)], "sparse": [(2, 7.0), (3, 5.0)]}
    fused = fuse(rankings, {"dense": 1.0, "sparse": 1.0}, rrf_k=60)
    assert fused[0][0] == 2 and fused[0][2] == ("dense", "sparse")
    dense_only = fuse(rankings, {"dense": 1.0, "sparse": 0.0}, rrf_k=60)
    assert [chunk_id for chunk_id, _, _ in dense_only][:2] == [1, 2]  # a zero weight silences a retriever
