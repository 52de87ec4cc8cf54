"""Calibrating abstention on a dev split: re-score one measured run as if the pipeline had abstained
by other thresholds, without asking the model again.

A run made with ``decline_threshold=inf`` records, per question, the model's log-probability of
declining and the best retrieval similarity, and abstains only when the model writes the decline
or no sentence is supported. A stricter threshold can only turn more answers into abstentions
(``abstain_as``), so every (decline, similarity) pair of thresholds is scored from that one run.
The pair is chosen by the answer-quality score the issue's goals name: questions handled right
(answerable answered correctly, unanswerable abstained), ties to the fewer abstentions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from app.evaluation.metrics import Summary, summarize
from app.evaluation.scoring import Failure, QuestionResult


@dataclass(frozen=True, slots=True)
class Thresholds:
    decline_logprob: float  # abstain when the model's log-probability of declining is at least this
    min_similarity: float  # abstain when the best retrieval similarity is below this


@dataclass(frozen=True, slots=True)
class Calibrated:
    thresholds: Thresholds
    handled: int  # questions scored a success
    summary: Summary


def abstain_as(result: QuestionResult, reason: str) -> QuestionResult:
    """The result had the pipeline abstained on this question instead of answering."""
    if result.abstained:
        return result
    question = result.question
    if result.should_abstain:
        failure = None
    elif question.sources and result.source_rank is None:
        failure = Failure.NOT_RETRIEVED
    else:
        failure = Failure.WRONGLY_ABSTAINED
    return replace(
        result,
        answer="",
        answer_correct=False,
        token_f1=0.0 if question.answers else None,
        answer_words=0,
        abstained=True,
        abstain_reason=reason,
        citations=0,
        citations_correct=0,
        sentences=0,
        unsupported_sentences=0,
        failure=failure,
    )


def rescore(results: Sequence[QuestionResult], thresholds: Thresholds) -> list[QuestionResult]:
    rescored = []
    for result in results:
        declining = result.decline_logprob
        similarity = result.retrieval_similarity
        if declining is not None and declining >= thresholds.decline_logprob:
            result = abstain_as(result, f"the model finds no answer (p={math.exp(declining):.2f})")
        elif similarity is not None and similarity < thresholds.min_similarity:
            result = abstain_as(result, f"weak retrieval (best similarity {similarity:.2f})")
        rescored.append(result)
    return rescored


def sweep(
    results: Sequence[QuestionResult], declines: Sequence[float], similarities: Sequence[float]
) -> list[Calibrated]:
    """Every pair of thresholds scored, best first."""
    if not any(result.decline_logprob is not None for result in results):
        raise ValueError(
            "the run recorded no decline log-probabilities: measure it with --set decline_threshold=inf"
        )
    scored = []
    for decline in declines:
        for similarity in similarities:
            thresholds = Thresholds(decline, similarity)
            rescored = rescore(results, thresholds)
            handled = sum(1 for result in rescored if result.success)
            abstained = sum(1 for result in rescored if result.abstained)
            calibrated = Calibrated(thresholds, handled, summarize(rescored))
            scored.append((-handled, abstained, -decline, similarity, calibrated))
    return [item[-1] for item in sorted(scored, key=lambda item: item[:4])]


def decline_grid(results: Sequence[QuestionResult]) -> list[float]:
    """Thresholds between the recorded log-probabilities (each splits the questions differently),
    and +inf (never abstain on it)."""
    values = sorted({round(r.decline_logprob, 3) for r in results if r.decline_logprob is not None})
    return [*values, math.inf]
