"""Result-list hygiene after ranking: near-duplicate collapse and optional MMR diversification.

Exact duplicates are already stored once at ingest; near duplicates (the same paragraph in two
versions of a document, a boilerplate notice on every page) would otherwise fill the top k with
one passage. MMR trades a little relevance for coverage when a user asks for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

NEAR_DUPLICATE_JACCARD = 0.8
_WORD = re.compile(r"\w+")


def shingles(text: str, size: int = 3) -> frozenset[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    if len(words) < size:
        return frozenset({tuple(words)}) if words else frozenset()
    return frozenset(zip(*(words[offset:] for offset in range(size)), strict=False))


def jaccard(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def collapse_near_duplicates(
    texts: Sequence[tuple[int, str]], threshold: float = NEAR_DUPLICATE_JACCARD
) -> dict[int, list[int]]:
    """Keep the first of each group of near-identical texts: {kept id: [collapsed ids]}, in order.

    Overlaps are counted through an inverted index of shingles, so a long result list costs time
    in proportion to its words rather than to the square of its length.
    """
    kept: dict[int, list[int]] = {}
    kept_sizes: dict[int, int] = {}
    owners: dict[tuple[str, ...], list[int]] = {}
    for chunk_id, text in texts:
        own = shingles(text)
        shared: dict[int, int] = {}
        for shingle in own:
            holders = owners.get(shingle)
            if holders:  # most shingles are new: skip them without touching the counter
                for kid in holders:
                    shared[kid] = shared.get(kid, 0) + 1
        twin = next(
            (
                kid
                for kid, common in shared.items()
                if common / (len(own) + kept_sizes[kid] - common) >= threshold
            ),
            None,
        )
        if twin is None and not own and 0 in kept_sizes.values():  # two empty texts are identical
            twin = next(kid for kid, size in kept_sizes.items() if size == 0)
        if twin is not None:
            kept[twin].append(chunk_id)
            continue
        kept[chunk_id], kept_sizes[chunk_id] = [], len(own)
        for shingle in own:
            owners.setdefault(shingle, []).append(chunk_id)
    return kept


def mmr_order(
    candidates: Sequence[tuple[int, float]],
    vector_of: Callable[[Sequence[int]], np.ndarray],
    k: int,
    relevance_weight: float,
) -> list[int]:
    """Maximal marginal relevance over ranked (id, score) candidates.

    Scores are min-max scaled first, so the trade-off means the same for cosine, BM25 and fused
    scores. ``relevance_weight`` 1.0 keeps the ranking; lower values favour passages unlike the
    ones already chosen.
    """
    if not candidates:
        return []
    ids = [chunk_id for chunk_id, _ in candidates]
    scores = np.asarray([score for _, score in candidates], dtype=np.float64)
    span = scores.max() - scores.min()
    relevance = (scores - scores.min()) / span if span > 0 else np.ones_like(scores)
    vectors = vector_of(ids)  # (n, d), unit length
    similarity = vectors @ vectors.T  # (n, n)
    chosen: list[int] = []
    redundancy = np.full(len(ids), -np.inf)
    remaining = np.ones(len(ids), dtype=bool)
    for _ in range(min(k, len(ids))):
        penalty = np.where(np.isfinite(redundancy), redundancy, 0.0)
        value = relevance_weight * relevance - (1.0 - relevance_weight) * penalty
        value[~remaining] = -np.inf
        best = int(np.argmax(value))
        chosen.append(best)
        remaining[best] = False
        redundancy = np.maximum(redundancy, similarity[best])
    return [ids[i] for i in chosen]
