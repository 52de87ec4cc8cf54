"""The approximate (IVF) index and the factory that adopts it only when recall holds up."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from retriever.index.factory import (
    APPROXIMATE,
    EXACT,
    IndexDecision,
    IndexPolicy,
    choose_index,
    exact_top_k,
    recall_at_k,
)
from retriever.index.ivf_index import IvfVectorIndex
from retriever.index.vector_index import VectorIndex
from retriever.search import search
from tests.retriever.test_knowledge_base import canonical_ids, prepared


def clustered(
    count: int, dimension: int = 32, topics: int = 40, seed: int = 0, spread: float = 0.35
) -> np.ndarray:
    """Unit vectors around topic centres, like embeddings of a corpus with themes.

    The centres depend only on the dimension and topic count, so a second call with another seed
    draws new points (queries) about the same themes.
    """
    centres = np.random.default_rng(dimension * 1000 + topics).standard_normal((topics, dimension))
    rng = np.random.default_rng(seed)
    points = centres[rng.integers(0, topics, count)] + spread * rng.standard_normal((count, dimension))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def exact_index(vectors: np.ndarray, first_id: int = 1000) -> VectorIndex:
    index = VectorIndex(vectors.shape[1])
    index.add(np.arange(first_id, first_id + len(vectors)), vectors)
    return index


def test_small_collections_keep_exact_search() -> None:
    index = exact_index(clustered(500))
    chosen, decision = choose_index(index, IndexPolicy(approximate_above=1000))
    assert chosen is index and decision.kind == EXACT


def test_large_collections_switch_to_a_measured_approximate_index() -> None:
    vectors = clustered(4000)
    index = exact_index(vectors)
    chosen, decision = choose_index(index, IndexPolicy(approximate_above=3000))
    assert isinstance(chosen, IvfVectorIndex) and decision.kind == APPROXIMATE
    assert decision.recall_at_10 is not None and decision.recall_at_10 >= 0.95
    assert decision.params["nprobe"] <= decision.params["nlist"] // 4
    assert sorted(chosen.ids()) == sorted(index.ids())
    # Independent queries: the approximate top 10 matches exact search.
    queries = clustered(100, seed=7, spread=0.6)  # looser than the documents, as real queries are
    truth = exact_top_k(vectors, index.ids(), queries, 10)
    assert recall_at_k(chosen.search(queries, 10)[1], truth) >= 0.9
    # Saved decisions are reused until the collection doubles.
    again, kept = choose_index(chosen, IndexPolicy(approximate_above=3000), decision)
    assert again is chosen and kept == decision


def test_low_recall_falls_back_to_exact_search_and_says_so() -> None:
    rng = np.random.default_rng(3)
    noise = rng.standard_normal((3000, 64)).astype(np.float32)  # no structure for k-means to find
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    index = exact_index(noise)
    policy = IndexPolicy(approximate_above=1000, max_probe_share=0.05)
    chosen, decision = choose_index(index, policy)
    assert chosen is index and decision.kind == EXACT
    assert decision.recall_at_10 is not None and decision.recall_at_10 < 0.95
    assert "keeping exact search" in decision.note
    # The failed attempt is remembered: no retraining at every save until the collection doubles.
    again, remembered = choose_index(index, policy, decision)
    assert again is index and remembered == decision


def test_ivf_supports_updates_deletes_filters_and_reconstruction() -> None:
    vectors = clustered(2000)
    index = IvfVectorIndex.train(vectors, nlist=32, nprobe=4)
    ids = np.arange(1, 2001)
    index.add(ids, vectors)
    assert len(index) == 2000 and index.contains(5) and not index.contains(99999)
    assert np.allclose(index.vectors([5, 6]), vectors[4:6])
    index.add([5], vectors[100:101])  # replacing a vector keeps one copy
    assert len(index) == 2000 and np.allclose(index.vectors([5])[0], vectors[100])
    assert index.remove([5, 6, 424242]) == 2
    assert len(index) == 1998 and 5 not in set(index.ids())
    exported_ids, exported = index.export()
    assert len(exported_ids) == 1998 and np.allclose(exported[list(exported_ids).index(7)], vectors[6])
    # A narrow filter probes every list: exact over the allowed subset, never starved.
    allowed = np.array([10, 500, 1500, 1999])
    _, found = index.search(vectors[1499:1500], 3, allowed_ids=allowed)
    assert found[0][0] == 1500 and set(found[0]) <= set(allowed)
    assert index.search(vectors[:1], 3, allowed_ids=np.array([], dtype=np.int64))[1].tolist() == [
        [-1, -1, -1]
    ]


def test_decisions_round_trip_through_the_manifest() -> None:
    decision = IndexDecision(APPROXIMATE, {"nlist": 64, "nprobe": 8}, 0.97, 5000, 1.5, "why")
    restored = IndexDecision.from_manifest(APPROXIMATE, json.loads(json.dumps(decision.as_manifest())))
    assert restored.params == decision.params and restored.recall_at_10 == 0.97
    assert restored.trained_on == 5000 and restored.note == "why"


def test_knowledge_base_switches_index_kind_and_reloads_it(make_kb) -> None:
    # Probing up to every list makes the recall target reachable for any data: this tests plumbing.
    policy = IndexPolicy(approximate_above=280, max_probe_share=1.0, recall_queries=40)
    kb = make_kb(policy=policy)
    kb.open(writable=True)
    for n in range(30):
        passages = [f"topic {n} note {i} about subject {n * 10 + i} and more words" for i in range(10)]
        kb.write([prepared(kb, "notes", f"/notes/{n}.md", passages)])
    kb.save()
    manifest = kb.store.read_manifest()
    assert manifest.index_kind == APPROXIMATE and manifest.index_params["recall_at_10"] >= 0.95
    assert isinstance(kb.index, IvfVectorIndex)
    expected = search(kb, "topic 3 note 4", k=3, mode="dense")
    kb.close()

    reader = make_kb(policy=policy)
    report = reader.open()  # read-only: memory-mapped IVF, checked against the database
    assert report.consistent and isinstance(reader.index, IvfVectorIndex)
    assert [h.chunk_id for h in search(reader, "topic 3 note 4", k=3, mode="dense")] == [
        h.chunk_id for h in expected
    ]
    reader.close()

    writer = make_kb(policy=policy)
    writer.open(writable=True)
    with writer.session() as session:
        from retriever.db.models import Document

        ids = [d.id for d in session.query(Document).order_by(Document.id).limit(20)]
    writer.delete_documents(ids)
    assert set(writer.index.ids()) == canonical_ids(writer)
    writer.save()  # 100 chunks left: below half the threshold, back to exact search
    assert writer.store.read_manifest().index_kind == EXACT and not isinstance(writer.index, IvfVectorIndex)
    assert writer.check().consistent


@pytest.mark.parametrize("count", [0, 1, 15, 300])
def test_tiny_or_empty_indexes_never_break_the_factory(count) -> None:
    index = exact_index(clustered(max(count, 1))[:count])
    chosen, decision = choose_index(index, IndexPolicy(approximate_above=1))
    assert len(chosen) == count and decision.kind in {EXACT, APPROXIMATE}


def test_a_single_query_runs_faiss_on_one_thread_and_many_get_the_pool_back() -> None:
    import faiss

    index = VectorIndex(32)
    vectors = clustered(200, seed=2)
    index.add(np.arange(200), vectors)
    pool = faiss.omp_get_max_threads()
    seen: dict[str, int] = {}

    def elsewhere() -> None:
        seen["other thread"] = faiss.omp_get_max_threads()

    index.search(vectors[:1], 5)
    assert faiss.omp_get_max_threads() == 1  # no pool spinning after each search
    worker = threading.Thread(target=elsewhere)
    worker.start()
    worker.join()
    assert seen["other thread"] == pool  # the setting is this thread's own
    _, ids = index.search(vectors[:4], 5)
    assert faiss.omp_get_max_threads() == pool and ids[:, 0].tolist() == [0, 1, 2, 3]
