"""The catalog's rows, scopes and lookups, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from ingest.jobs import cancel_job, fail_job, queue_job, record_files_done
from retriever import catalog
from retriever.knowledge_base import CollectionNotFoundError, KnowledgeBase
from tests.retriever.test_knowledge_base import prepared


@pytest.fixture
def kb(make_kb) -> KnowledgeBase:
    kb = make_kb()
    kb.open(writable=True)
    kb.write([prepared(kb, "handbook", "/docs/team/a_b.md", ["alpha passage", "beta passage"])])
    kb.write([prepared(kb, "handbook", "/docs/team/a%b.md", ["beta passage"])])  # a duplicate chunk
    kb.write([prepared(kb, "handbook", "/docs/teams/c.md", ["gamma passage"])])
    kb.write([prepared(kb, "secret", "/vault/d.md", ["delta passage"])])
    return kb


def test_listing_pages_counts_and_narrows_to_the_scope(kb: KnowledgeBase) -> None:
    page, total = catalog.list_documents(kb, (), offset=1, limit=2)
    assert total == 4 and [d.source_uri for d in page] == ["/docs/team/a%b.md", "/docs/teams/c.md"]
    scoped, total = catalog.list_documents(kb, ("secret",))
    assert total == 1 and scoped[0].collection == "secret" and scoped[0].chunks == 1
    assert catalog.list_documents(kb, ("secret",), collection="handbook") == ([], 0)


def test_text_filters_match_literally_not_as_wildcards(kb: KnowledgeBase) -> None:
    underscore, _ = catalog.list_documents(kb, (), text="a_b")
    percent, _ = catalog.list_documents(kb, (), text="a%b")
    assert [d.source_uri for d in underscore] == ["/docs/team/a_b.md"]
    assert [d.source_uri for d in percent] == ["/docs/team/a%b.md"]


def test_a_duplicate_chunk_shows_the_text_it_repeats(kb: KnowledgeBase) -> None:
    page, _ = catalog.list_documents(kb, (), text="a%b")
    detail = catalog.get_document(kb, (), page[0].id)
    assert detail is not None and [c.text for c in detail.chunk_list] == ["beta passage"]
    assert detail.chunk_list[0].duplicate_of is not None
    assert catalog.get_document(kb, ("secret",), page[0].id) is None  # outside the scope: not found
    assert catalog.document_place(kb, page[0].id) == ("handbook", "/docs/team/a%b.md")


def test_a_folder_matches_whole_path_components(kb: KnowledgeBase) -> None:
    team = catalog.matching_documents(kb, "/docs/team")
    assert sorted(catalog.source_uris(kb, set(team)).values()) == ["/docs/team/a%b.md", "/docs/team/a_b.md"]
    assert catalog.matching_documents(kb, "/docs/team", collection="secret") == []
    assert catalog.matching_documents(kb, str(team[0])) == [team[0]]


def test_collections_count_and_create(kb: KnowledgeBase) -> None:
    rows = catalog.collection_rows(kb)
    assert [(r.name, r.documents, r.chunks) for r in rows] == [("handbook", 3, 4), ("secret", 1, 1)]
    assert catalog.create_collection(kb, "empty", "nothing yet")
    assert not catalog.create_collection(kb, "empty")
    assert catalog.existing_collections(kb, ("empty", "nope")) == {"empty"}
    with pytest.raises(CollectionNotFoundError, match="nope"):
        catalog.stored_chunks(kb, ("handbook", "nope"))


def test_stored_chunks_leave_duplicates_out(kb: KnowledgeBase) -> None:
    texts = [c.text for c in catalog.stored_chunks(kb, ("handbook",))]
    assert texts == ["alpha passage", "beta passage", "gamma passage"]


def test_jobs_read_back_as_rows_and_follow_the_scope(kb: KnowledgeBase) -> None:
    handbook = kb.collection("handbook").id
    first = queue_job(kb, handbook, ["/docs/x.md"])
    second = queue_job(kb, kb.collection("secret").id, ["/vault/y.md"])
    record_files_done(kb, first, 3)
    fail_job(kb, second, "disk on fire")
    assert cancel_job(kb, first) == catalog.JobStatus.CANCELLED
    job = catalog.get_job(kb, first)
    assert (
        job is not None
        and job.status == "cancelled"
        and job.files_done == 3
        and job.sources == ["/docs/x.md"]
    )
    assert catalog.get_job(kb, first, ("secret",)) is None
    failed = catalog.get_job(kb, second, ("secret",))
    assert failed is not None and failed.errors[-1]["reason"] == "disk on fire"
    assert [j.id for j in catalog.recent_jobs(kb, 1)] == [second]
    assert catalog.job_ids(kb, catalog.JobStatus.FAILED) == [second]


def test_stored_state_counts_vectors_not_duplicates(kb: KnowledgeBase) -> None:
    kb.save()
    state = catalog.stored_state(kb)
    assert state.vectors == len(kb.index) == 4 and state.generation == catalog.stored_generation(kb)


def test_keys_store_hashes_and_revoke_once(kb: KnowledgeBase) -> None:
    row = catalog.add_key(kb, "ci", "cw_abcd", "f" * 64, ("b", "a", "a"))
    assert row.collections == ("a", "b") and not row.revoked
    assert catalog.key_by_hash(kb, "f" * 64) == (row, "f" * 64)
    assert catalog.revoke_key(kb, row.id) and not catalog.revoke_key(kb, row.id)
    assert catalog.key_by_hash(kb, "f" * 64) is None
    assert [k.revoked for k in catalog.key_rows(kb)] == [True]
