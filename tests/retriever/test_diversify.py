"""Near-duplicate collapse and MMR ordering."""

from __future__ import annotations

import numpy as np

from retriever.diversify import collapse_near_duplicates, jaccard, mmr_order, shingles


def test_near_duplicates_fold_into_the_first_occurrence() -> None:
    base = "the quarterly report is due on the first monday of every quarter"
    groups = collapse_near_duplicates(
        [
            (1, base),
            (2, "vacation requests go to the team lead"),
            (3, base.upper() + "!"),
            (4, base + " sharp"),
        ]
    )
    assert groups == {1: [3, 4], 2: []}


def test_overlapping_neighbours_are_not_duplicates() -> None:
    words = [f"w{i}" for i in range(60)]
    left, right = " ".join(words[:40]), " ".join(words[30:])  # 10 words of chunk overlap
    assert jaccard(shingles(left), shingles(right)) < 0.3
    assert collapse_near_duplicates([(1, left), (2, right)]) == {1: [], 2: []}


def test_short_and_empty_texts() -> None:
    assert shingles("") == frozenset()
    assert collapse_near_duplicates([(1, "ok"), (2, "OK"), (3, "")]) == {1: [2], 3: []}


def test_mmr_prefers_a_different_passage_over_a_near_copy() -> None:
    vectors = {1: [1.0, 0.0], 2: [0.999, 0.045], 3: [0.0, 1.0]}

    def vector_of(ids):
        rows = np.asarray([vectors[i] for i in ids], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    candidates = [(1, 0.9), (2, 0.89), (3, 0.7)]
    assert mmr_order(candidates, vector_of, 3, relevance_weight=1.0) == [1, 2, 3]
    assert mmr_order(candidates, vector_of, 3, relevance_weight=0.5) == [1, 3, 2]
    assert mmr_order([], vector_of, 3, relevance_weight=0.5) == []
