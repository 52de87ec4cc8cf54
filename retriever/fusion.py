"""Fusing the dense and keyword rankings of one query into one ranking.

The default is z-score fusion: each retriever's scores over its own top ``depth`` candidates are
standardised (how many standard deviations above that query's mean a chunk scores) and mixed with
fixed weights. Unlike reciprocal-rank fusion it keeps each retriever's confidence: when BM25's top
hit stands far above the rest it dominates, and when the query's words barely occur in the
collection (FAQ-style questions) BM25's flat scores add little. On the retrieval benchmark it was
the only fusion tried that beat the better single retriever on both a keyword-friendly and an
FAQ-style collection; RRF stays available.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

Ranking = list[tuple[int, float]]  # (chunk id, retriever score), best first
Fused = list[tuple[int, float, tuple[str, ...]]]  # (chunk id, fused score, retrievers that found it)


class FusionMethod(StrEnum):
    ZSCORE = "zscore"
    RRF = "rrf"


@dataclass(frozen=True, slots=True)
class FusionWeights:
    """How hybrid search mixes its retrievers; weights are relative to each other."""

    dense: float = 0.7
    sparse: float = 0.3
    method: FusionMethod = FusionMethod.ZSCORE
    rrf_k: int = 60
    depth: int = 100  # candidates taken from each retriever before fusing

    def __post_init__(self) -> None:
        if self.dense < 0 or self.sparse < 0 or self.dense + self.sparse == 0:
            raise ValueError("fusion weights must be non-negative and not both zero")
        if self.depth < 1 or self.rrf_k < 0:
            raise ValueError("fusion depth must be at least 1 and rrf_k non-negative")
        object.__setattr__(self, "method", FusionMethod(self.method))

    @classmethod
    def from_dense_share(
        cls, dense_share: float, method: FusionMethod | str = FusionMethod.ZSCORE
    ) -> FusionWeights:
        if not 0.0 <= dense_share <= 1.0:
            raise ValueError("the dense weight must be between 0 and 1")
        return cls(dense=dense_share, sparse=1.0 - dense_share, method=FusionMethod(method))

    def as_dict(self) -> dict[str, float]:
        return {"dense": self.dense, "sparse": self.sparse}


def fuse(rankings: dict[str, Ranking], weights: FusionWeights) -> Fused:
    if weights.method is FusionMethod.RRF:
        return rrf_fuse(rankings, weights.as_dict(), weights.rrf_k)
    return zscore_fuse(rankings, weights.as_dict(), weights.depth, unmatched={"sparse": 0.0})


def rrf_fuse(rankings: dict[str, Ranking], weights: dict[str, float], rrf_k: int) -> Fused:
    """Weighted reciprocal-rank fusion: each list adds weight / (rrf_k + rank) to its chunks."""
    fused: dict[int, float] = {}
    for name, ranking in rankings.items():
        for rank, (chunk_id, _) in enumerate(ranking, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weights.get(name, 1.0) / (rrf_k + rank)
    return _ordered(fused, rankings)


def zscore_fuse(
    rankings: dict[str, Ranking],
    weights: dict[str, float],
    depth: int | None = None,
    unmatched: dict[str, float] | None = None,
) -> Fused:
    """Weighted sum of per-query standardised scores; a chunk a retriever missed gets its lowest.

    Mean and spread come from each list's first ``depth`` scores, so asking for more results
    does not change how the first ones are scored. ``unmatched`` gives the score a retriever
    assigns to everything it did not return, when that is known (BM25: 0 for chunks sharing no
    word with the query). A list shorter than ``depth`` is then padded with that score, so a rare
    keyword matching a single chunk stands out instead of standardising to nothing.
    """
    unmatched = unmatched or {}
    standardised: dict[str, dict[int, float]] = {}
    floors: dict[str, float] = {}
    for name, ranking in rankings.items():
        if not ranking:
            continue
        scores = np.asarray([score for _, score in ranking], dtype=np.float64)
        head = scores[:depth]
        exhaustive = (
            name in unmatched and depth is not None and len(scores) < depth
        )  # it returned all matches
        if exhaustive and depth is not None:
            head = np.concatenate([head, np.full(depth - len(head), unmatched[name])])
        mean, spread = float(head.mean()), float(head.std())
        z = (scores - mean) / spread if spread > 0 else np.zeros_like(scores)
        standardised[name] = {chunk_id: float(v) for (chunk_id, _), v in zip(ranking, z, strict=True)}
        floors[name] = (unmatched[name] - mean) / spread if exhaustive and spread > 0 else float(z.min())
    candidates = {chunk_id for scores in standardised.values() for chunk_id in scores}
    fused = {
        chunk_id: sum(
            weights.get(name, 1.0) * scores.get(chunk_id, floors[name])
            for name, scores in standardised.items()
        )
        for chunk_id in candidates
    }
    return _ordered(fused, rankings)


def _ordered(fused: dict[int, float], rankings: dict[str, Ranking]) -> Fused:
    found_by: dict[int, list[str]] = {}
    for name, ranking in rankings.items():
        for chunk_id, _ in ranking:
            found_by.setdefault(chunk_id, []).append(name)
    order = sorted(fused, key=lambda chunk_id: (-fused[chunk_id], chunk_id))
    return [(chunk_id, fused[chunk_id], tuple(found_by[chunk_id])) for chunk_id in order]
