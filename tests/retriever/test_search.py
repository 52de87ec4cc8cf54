"""Search modes, filters inside retrieval, and the keyword index kept in step with the database."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from retriever.db.models import Document
from retriever.search import SearchFilters, SearchMode, allowed_chunk_ids, search
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
    scores = reader.sparse_index()._model.scores
    # still mapped from disk, but as plain arrays (np.memmap runs Python code on every slice)
    assert not any(isinstance(value, np.memmap) for value in scores.values())
    assert any(isinstance(value, np.ndarray) and value.base is not None for value in scores.values())


def test_near_duplicate_passages_collapse_into_the_best_hit(make_kb) -> None:
    kb = make_kb()
    kb.open(writable=True)
    notice = "all backups are encrypted with the team key and kept for ninety days in the vault"
    kb.write([prepared(kb, "ops", "/ops/a.md", [notice])])
    kb.write([prepared(kb, "ops", "/ops/b.md", [notice + " (updated)"])])
    kb.write([prepared(kb, "ops", "/ops/c.md", ["the pager rotates weekly between four people"])])
    query = "backups encrypted team key"
    hits = search(kb, query, k=2, mode="hybrid")
    assert hits[0].source_uri in {"/ops/a.md", "/ops/b.md"} and len(hits[0].near_duplicates) == 1
    assert hits[1].source_uri == "/ops/c.md"  # the duplicate's slot goes to another passage
    plain = search(kb, query, k=2, mode="hybrid", collapse_duplicates=False)
    assert {hit.source_uri for hit in plain} == {"/ops/a.md", "/ops/b.md"}


def test_diversity_reranks_without_losing_the_best_hit(kb) -> None:
    plain = search(kb, "monthly", k=3, mode="hybrid")
    diverse = search(kb, "monthly", k=3, mode="hybrid", diversity=0.3)
    assert diverse[0].chunk_id == plain[0].chunk_id  # MMR always keeps the most relevant first
    assert sorted(hit.chunk_id for hit in diverse) == sorted(hit.chunk_id for hit in plain)
    assert [hit.rank for hit in diverse] == [1, 2, 3]
    with pytest.raises(ValueError, match="diversity"):
        search(kb, "monthly", diversity=1.5)
