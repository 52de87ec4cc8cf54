from __future__ import annotations

import math

import pytest

from app.evaluation.calibration import Thresholds, abstain_as, decline_grid, rescore, sweep
from app.evaluation.scoring import Failure
from tests.app.evaluation.test_metrics import result


def answered(correct: bool, declining: float, similarity: float = 0.5, **fields: object):
    return result(
        answer_correct=correct,
        failure=None if correct else Failure.ANSWERED_WRONGLY,
        decline_logprob=declining,
        retrieval_similarity=similarity,
        **fields,
    )


def test_abstaining_on_an_answerable_question_is_a_wrong_abstention_unless_never_retrieved() -> None:
    wrong = abstain_as(answered(True, -5.0), "test")
    assert wrong.abstained and not wrong.answer_correct and wrong.failure is Failure.WRONGLY_ABSTAINED
    assert wrong.token_f1 == 0.0 and wrong.answer_words == 0 and wrong.citations == 0
    missed = abstain_as(answered(False, -5.0, sources=("a.md",), source_rank=None), "test")
    assert missed.failure is Failure.NOT_RETRIEVED
    caught = abstain_as(answered(False, -1.0, unanswerable=True), "test")
    assert caught.success


def test_rescoring_abstains_by_either_threshold() -> None:
    results = [answered(True, -6.0, 0.6), answered(True, -0.5, 0.6), answered(True, -6.0, 0.1)]
    rescored = rescore(results, Thresholds(decline_logprob=-1.0, min_similarity=0.2))
    assert [r.abstained for r in rescored] == [False, True, True]
    assert "finds no answer" in (rescored[1].abstain_reason or "")
    assert "weak retrieval" in (rescored[2].abstain_reason or "")


def test_the_sweep_picks_the_thresholds_that_handle_most_questions() -> None:
    results = [
        answered(True, -6.0),
        answered(True, -4.0),
        answered(False, -1.0, unanswerable=True),  # declining is likely here: abstaining is right
        answered(False, -2.0, unanswerable=True),
    ]
    grid = decline_grid(results)
    assert grid[-1] == math.inf and -4.0 in grid
    best = sweep(results, grid, [0.0])[0]
    assert best.thresholds.decline_logprob == -2.0  # catches both unanswerable, keeps both answers
    assert best.handled == 4
    assert best.summary.metrics["abstention_f1"] == 1.0


def test_the_sweep_needs_a_run_that_recorded_decline_probabilities() -> None:
    with pytest.raises(ValueError, match="decline_threshold=inf"):
        sweep([result()], [0.0], [0.0])
