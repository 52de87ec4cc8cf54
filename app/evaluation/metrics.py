"""Aggregate metrics over scored questions, overall and per tag, and the floors of the CI gate.

Metric names are stable snake_case (``METRICS``): they are what ``--fail-under`` and saved runs
refer to. Fractions are in 0–1, times in seconds. A metric whose denominator is empty (no
unanswerable questions for abstention recall, no ``sources`` for hit@k…) is None, shown as "–":
never 0, which would read as a measured failure. Definitions: docs/evaluation.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from app.evaluation.scoring import Failure, QuestionResult

METRICS = (
    "answer_correct",
    "token_f1",
    "answer_words_mean",
    "abstention_precision",
    "abstention_recall",
    "abstention_f1",
    "citation_precision",
    "unsupported_sentence_rate",
    "hit_at_k",
    "mrr",
    "ttft_p50_s",
    "ttft_p95_s",
    "total_p50_s",
    "total_p95_s",
)
_TIMES = frozenset({"ttft_p50_s", "ttft_p95_s", "total_p50_s", "total_p95_s"})
# For these a floor is a ceiling: the gate fails when the value is above it.
LOWER_IS_BETTER = _TIMES | {"answer_words_mean", "unsupported_sentence_rate"}
FRACTIONS = frozenset(METRICS) - _TIMES - {"answer_words_mean"}
MISSING = "–"  # how a metric that could not be measured is shown


class FloorError(ValueError):
    """A floor names no metric, or its value is not a number in range."""


@dataclass(frozen=True, slots=True)
class Summary:
    questions: int
    answerable: int
    unanswerable: int
    metrics: dict[str, float | None]  # every name of METRICS, in that order
    retrieval_k: int | None  # the k of hit_at_k: most passages retrieved for a question with sources
    failures: dict[str, int]  # every failure class, zeros included
    by_tag: dict[str, Summary] = field(default_factory=dict)  # sorted by tag; tags have no by_tag


def summarize(results: Sequence[QuestionResult]) -> Summary:
    tags = sorted({tag for result in results for tag in result.question.tags})
    by_tag = {tag: _summary([r for r in results if tag in r.question.tags]) for tag in tags}
    overall = _summary(results)
    return Summary(
        overall.questions,
        overall.answerable,
        overall.unanswerable,
        overall.metrics,
        overall.retrieval_k,
        overall.failures,
        by_tag,
    )


def _summary(results: Sequence[QuestionResult]) -> Summary:
    answerable = [r for r in results if not r.should_abstain]
    with_sources = [r for r in answerable if r.question.sources]
    answered = [r for r in results if not r.abstained]
    true_abstentions = sum(1 for r in results if r.abstained and r.should_abstain)
    abstained = sum(1 for r in results if r.abstained)
    unanswerable = sum(1 for r in results if r.should_abstain)
    ttft = [r.first_token_s for r in results if r.first_token_s is not None]
    total = [r.total_s for r in results if r.total_s is not None]
    metrics: dict[str, float | None] = {
        "answer_correct": _mean(1.0 if r.answer_correct else 0.0 for r in answerable),
        "token_f1": _mean(r.token_f1 for r in answerable if r.token_f1 is not None),
        "answer_words_mean": _mean(float(r.answer_words) for r in answered),
        "abstention_precision": _ratio(true_abstentions, abstained),
        "abstention_recall": _ratio(true_abstentions, unanswerable),
        # 2TP / (2TP + FP + FN) = 2TP / (abstained + unanswerable): 0 when nothing was caught.
        "abstention_f1": _ratio(2 * true_abstentions, abstained + unanswerable),
        "citation_precision": _ratio(
            sum(r.citations_correct for r in results), sum(r.citations for r in results)
        ),
        "unsupported_sentence_rate": _ratio(
            sum(r.unsupported_sentences for r in results), sum(r.sentences for r in results)
        ),
        "hit_at_k": _mean(1.0 if r.source_rank is not None else 0.0 for r in with_sources),
        "mrr": _mean(1.0 / r.source_rank if r.source_rank else 0.0 for r in with_sources),
        "ttft_p50_s": percentile(ttft, 50),
        "ttft_p95_s": percentile(ttft, 95),
        "total_p50_s": percentile(total, 50),
        "total_p95_s": percentile(total, 95),
    }
    failures = {failure.value: 0 for failure in Failure}
    for result in results:
        if result.failure is not None:
            failures[result.failure.value] += 1
    k = max((r.retrieved for r in with_sources), default=None)
    return Summary(len(results), len(answerable), unanswerable, metrics, k, failures)


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least p% of the values at or
    below it (always one of the measured values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1]


def format_metric(value: float | None) -> str:
    return MISSING if value is None else f"{value:.3f}"


def parse_floor(text: str) -> tuple[str, float]:
    """``"answer_correct=0.8"`` → ``("answer_correct", 0.8)``, checked against the metric names."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name or not raw.strip():
        raise FloorError(f"expected METRIC=VALUE (e.g. answer_correct=0.8), got {text!r}")
    _known(name)
    try:
        value = float(raw)
    except ValueError as error:
        raise FloorError(f"the value of {name} must be a number, got {raw.strip()!r}") from error
    if not math.isfinite(value) or value < 0 or (name in FRACTIONS and value > 1):
        wanted = "a fraction from 0 to 1" if name in FRACTIONS else "a number of at least 0"
        raise FloorError(f"the value of {name} must be {wanted}, got {raw.strip()!r}")
    return name, value


def check_floors(summary: Summary, floors: Mapping[str, float] | Iterable[tuple[str, float]]) -> list[str]:
    """What falls short of its floor (above its ceiling, for ``LOWER_IS_BETTER``), one line each;
    empty when the gate passes. A metric that was not measured fails its floor: a gate on nothing
    would pass silently."""
    pairs = floors.items() if isinstance(floors, Mapping) else floors
    failures = []
    for name, bound in pairs:
        _known(name)
        value = summary.metrics[name]
        if value is None:
            kind = "ceiling" if name in LOWER_IS_BETTER else "floor"
            failures.append(f"{name} was not measured ({MISSING}); its {kind} is {bound:g}")
        elif name in LOWER_IS_BETTER and value > bound:
            failures.append(f"{name} {format_metric(value)} is above its ceiling {bound:g}")
        elif name not in LOWER_IS_BETTER and value < bound:
            failures.append(f"{name} {format_metric(value)} is below its floor {bound:g}")
    return failures


def _known(name: str) -> None:
    if name not in METRICS:
        raise FloorError(f"unknown metric {name!r}; the metrics are: {', '.join(METRICS)}")


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _mean(values: Iterable[float]) -> float | None:
    collected = list(values)
    return sum(collected) / len(collected) if collected else None
