"""Fusion of dense and keyword rankings: RRF and z-score fusion."""

from __future__ import annotations

import pytest

from retriever.fusion import FusionMethod, FusionWeights, fuse, rrf_fuse, zscore_fuse


def ids(fused) -> list[int]:
    return [chunk_id for chunk_id, _, _ in fused]


def test_rrf_rewards_agreement_and_respects_weights() -> None:
    rankings = {"dense": [(1, 0.9), (2, 0.8)], "sparse": [(2, 7.0), (3, 5.0)]}
    fused = rrf_fuse(rankings, {"dense": 1.0, "sparse": 1.0}, rrf_k=60)
    assert fused[0][0] == 2 and fused[0][2] == ("dense", "sparse")
    dense_only = rrf_fuse(rankings, {"dense": 1.0, "sparse": 0.0}, rrf_k=60)
    assert ids(dense_only)[:2] == [1, 2]  # a zero weight silences a retriever


def test_zscore_lets_a_confident_retriever_win() -> None:
    # Dense ranks chunk 10 mid-list among evenly spread scores; BM25 puts it far above the rest.
    dense = [(i, 0.60 - 0.01 * (i - 1)) for i in range(1, 21)]
    others = [i for i in range(1, 21) if i != 10]
    sparse = [(10, 40.0)] + [(i, 3.0 - 0.05 * n) for n, i in enumerate(others)]
    weights = {"dense": 0.7, "sparse": 0.3}
    assert ids(zscore_fuse({"dense": dense, "sparse": sparse}, weights))[0] == 10
    # Rank fusion cannot see that confidence and follows the heavier weight.
    assert ids(rrf_fuse({"dense": dense, "sparse": sparse}, weights, 60))[0] == 1


def test_zscore_handles_missing_and_degenerate_lists() -> None:
    fused = zscore_fuse({"dense": [(1, 0.9), (2, 0.1)], "sparse": []}, {"dense": 0.7, "sparse": 0.3})
    assert ids(fused) == [1, 2]
    single = zscore_fuse({"dense": [(5, 0.4)], "sparse": [(6, 2.0)]}, {"dense": 0.7, "sparse": 0.3})
    assert sorted(ids(single)) == [5, 6]  # one candidate each: no spread, no division by zero
    found_by = {
        chunk_id: by
        for chunk_id, _, by in zscore_fuse(
            {"dense": [(1, 0.9), (2, 0.5)], "sparse": [(2, 4.0), (3, 1.0)]}, {"dense": 1, "sparse": 1}
        )
    }
    assert found_by == {1: ("dense",), 2: ("dense", "sparse"), 3: ("sparse",)}


def test_weights_validate_and_select_the_method() -> None:
    rankings = {"dense": [(1, 0.9), (2, 0.8)], "sparse": [(2, 7.0), (3, 5.0)]}
    assert fuse(rankings, FusionWeights(method="rrf")) == rrf_fuse(
        rankings, {"dense": 0.7, "sparse": 0.3}, 60
    )
    assert FusionWeights.from_dense_share(0.25, "rrf") == FusionWeights(0.25, 0.75, FusionMethod.RRF)
    with pytest.raises(ValueError):
        FusionWeights(dense=0, sparse=0)
    with pytest.raises(ValueError):
        FusionWeights.from_dense_share(1.5)
    with pytest.raises(ValueError):
        FusionWeights(method="borda")


def test_a_rare_keyword_matching_one_chunk_still_counts() -> None:
    # BM25 found a single chunk (nothing else shares a word with the query); dense prefers others.
    dense = [(i, 0.60 - 0.01 * i) for i in range(1, 21)]
    sparse = [(15, 7.5)]
    fused = zscore_fuse(
        {"dense": dense, "sparse": sparse}, {"dense": 0.7, "sparse": 0.3}, 100, {"sparse": 0.0}
    )
    assert ids(fused)[0] == 15
    # Without knowing that unreturned chunks score 0, a one-item list standardises to nothing.
    assert ids(zscore_fuse({"dense": dense, "sparse": sparse}, {"dense": 0.7, "sparse": 0.3}, 100))[0] == 1
