"""Which vector index a knowledge base uses: exact below a size threshold, IVF above it.

An approximate index can lose recall silently, so it is only adopted after it is measured: a
sample of queries is searched exactly and approximately, ``nprobe`` doubles until recall@10
reaches the target, and if it never does within a useful share of the lists the knowledge base
keeps exact search and says so. The nprobe in use is twice what the sample needed, as a margin for
real queries. The decision is saved in the index manifest.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retriever.index.ivf_index import IvfVectorIndex
from retriever.index.vector_index import VectorIndex

MIN_APPROXIMATE = 256  # below this many vectors k-means has too little to learn from
EXACT = VectorIndex.kind
APPROXIMATE = IvfVectorIndex.kind


@dataclass(frozen=True, slots=True)
class IndexPolicy:
    approximate_above: int = 50_000  # vectors; 0 turns approximate search off
    min_recall: float = 0.95  # recall@10 against exact search, measured on a sample
    recall_queries: int = 200
    max_probe_share: float = 0.25  # probing more of the lists than this is no faster than exact
    seed: int = 1234

    def nlist_for(self, count: int) -> int:
        """About 2·sqrt(n) lists: short lists to scan, and k-means training stays affordable."""
        return int(min(max(16, round(2 * math.sqrt(count))), max(16, count // 40)))


@dataclass(frozen=True, slots=True)
class IndexDecision:
    """What the factory chose and why; persisted as the manifest's ``index_params``."""

    kind: str
    params: dict[str, int] = field(default_factory=dict)
    recall_at_10: float | None = None
    trained_on: int = 0  # vectors when the approximate index was trained (or rejected)
    build_seconds: float = 0.0
    note: str = ""

    def as_manifest(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            **self.params,
            "recall_at_10": self.recall_at_10,
            "trained_on": self.trained_on,
            "note": self.note,
        }

    @classmethod
    def from_manifest(cls, kind: str, saved: dict[str, Any] | None) -> IndexDecision:
        saved = dict(saved or {})
        params: dict[str, int] = {key: int(saved[key]) for key in ("nlist", "nprobe") if key in saved}
        return cls(
            kind,
            params,
            saved.get("recall_at_10"),
            int(saved.get("trained_on", 0)),
            note=saved.get("note", ""),
        )


def choose_index(
    index: VectorIndex, policy: IndexPolicy, previous: IndexDecision | None = None
) -> tuple[VectorIndex, IndexDecision]:
    """Keep, convert or rebuild ``index`` for its current size. Returns the index to use."""
    count = len(index)
    previous = previous or IndexDecision(index.kind, index.params())
    if policy.approximate_above == 0 or count < max(policy.approximate_above, MIN_APPROXIMATE):
        # Hysteresis: an approximate index stays until the collection halves below the threshold.
        if index.kind == APPROXIMATE and (
            policy.approximate_above == 0 or count < policy.approximate_above // 2
        ):
            return to_exact(index), IndexDecision(
                EXACT, note="below the approximate-search threshold: exact search"
            )
        return index, previous if previous.kind == index.kind else IndexDecision(index.kind, index.params())
    if index.kind == APPROXIMATE and count <= 2 * max(previous.trained_on, 1):
        return index, previous  # still close to the size it was trained and tuned for
    if index.kind == EXACT and previous.trained_on and count < 2 * previous.trained_on:
        return index, previous  # a recent attempt fell short; try again when the collection doubles
    return build_approximate(index, policy)


def to_exact(index: VectorIndex) -> VectorIndex:
    ids, vectors = index.export()
    exact = VectorIndex(index.dimension)
    exact.add(ids, vectors)
    return exact


def build_approximate(index: VectorIndex, policy: IndexPolicy) -> tuple[VectorIndex, IndexDecision]:
    """Train an IVF index on ``index``'s vectors and tune it; fall back to exact if recall falls short."""
    started = time.perf_counter()
    ids, vectors = index.export()
    count = len(ids)
    nlist = policy.nlist_for(count)
    candidate = IvfVectorIndex.train(vectors, nlist, nprobe=1, seed=policy.seed)
    candidate.add(ids, vectors)
    queries = sample_queries(vectors, policy.recall_queries, policy.seed)
    exact_ids = exact_top_k(vectors, ids, queries, 10)

    def measured(nprobe: int) -> float:
        candidate.nprobe = nprobe
        return recall_at_k(candidate.search(queries, 10)[1], exact_ids)

    most = max(1, int(nlist * policy.max_probe_share))
    recall, nprobe = 0.0, 1
    while nprobe <= most:
        recall = measured(nprobe)
        if recall >= policy.min_recall:
            # The sample queries are stand-ins: probe twice as many lists as they needed, because
            # real queries can need more (measured in bench/index_scale.py; it is cheap).
            nprobe = min(2 * nprobe, most)
            recall = measured(nprobe)
            seconds = time.perf_counter() - started
            note = (
                f"approximate search (IVF, {nlist} lists, nprobe {nprobe}): recall@10 {recall:.3f} vs exact"
            )
            decision = IndexDecision(APPROXIMATE, candidate.params(), round(recall, 4), count, seconds, note)
            return candidate, decision
        nprobe *= 2
    seconds = time.perf_counter() - started
    exact = index if index.kind == EXACT else to_exact(index)
    note = (
        f"approximate index reached only recall@10 {recall:.3f} < {policy.min_recall} at nprobe "
        f"{nprobe // 2} of {nlist} lists; keeping exact search"
    )
    return exact, IndexDecision(EXACT, {}, round(recall, 4), count, seconds, note)


def sample_queries(vectors: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Stand-ins for real queries: stored vectors moved to cosine ~0.6 from where they were.

    Stored vectors unchanged would flatter the index (each query's own list is probed first); a
    question and the passage that answers it typically score 0.5-0.7 with sentence embedders.
    """
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(vectors), size=min(count, len(vectors)), replace=False)
    noise = rng.standard_normal((len(rows), vectors.shape[1])).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    queries = vectors[rows] + 1.33 * noise  # (m, d); cos = 1 / sqrt(1 + 1.33²) ≈ 0.6
    return queries / np.linalg.norm(queries, axis=1, keepdims=True)


def exact_top_k(
    vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int, block: int = 65536
) -> np.ndarray:
    """Brute-force top-k ids by inner product, in blocks so memory stays bounded."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_ids = np.full((len(queries), k), -1, dtype=np.int64)
    for start in range(0, len(vectors), block):
        scores = queries @ vectors[start : start + block].T  # (m, block)
        merged_scores = np.concatenate([best_scores, scores], axis=1)
        merged_ids = np.concatenate(
            [best_ids, np.broadcast_to(ids[start : start + block], scores.shape)], axis=1
        )
        top = np.argpartition(-merged_scores, kth=min(k, merged_scores.shape[1]) - 1, axis=1)[:, :k]
        best_scores = np.take_along_axis(merged_scores, top, axis=1)
        best_ids = np.take_along_axis(merged_ids, top, axis=1)
    return best_ids


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(row[row >= 0]) & set(want[want >= 0])) for row, want in zip(found, truth, strict=True))
    return hits / max(1, int((truth >= 0).sum()))
