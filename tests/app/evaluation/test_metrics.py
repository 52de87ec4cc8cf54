from __future__ import annotations

import pytest

from app.evaluation.metrics import (
    METRICS,
    FloorError,
    Summary,
    check_floors,
    format_metric,
    parse_floor,
    percentile,
    summarize,
)
from app.evaluation.questions import EvalQuestion
from app.evaluation.scoring import Failure, QuestionResult


def result(
    *,
    tags: tuple[str, ...] = (),
    sources: tuple[str | int, ...] = (),
    unanswerable: bool = False,
    **fields: object,
) -> QuestionResult:
    """A scored question: answered, correct, no citations, unless told otherwise."""
    question = EvalQuestion(
        "q",
        "?",
        answers=() if unanswerable else ("x",),
        sources=sources,
        unanswerable=unanswerable,
        tags=tags,
    )
    values: dict = {
        "question": question,
        "answer": "x",
        "answer_correct": not unanswerable,
        "token_f1": None if unanswerable else 1.0,
        "answer_words": 1,
        "abstained": False,
        "abstain_reason": None,
        "should_abstain": unanswerable,
        "citations": 0,
        "citations_correct": 0,
        "sentences": 0,
        "unsupported_sentences": 0,
        "source_rank": None,
        "retrieved": 3,
        "first_token_s": None,
        "total_s": None,
        "failure": None,
    }
    values.update(fields)
    return QuestionResult(**values)


def abstention(unanswerable: bool, **fields: object) -> QuestionResult:
    values: dict = {"answer_correct": False, "answer_words": 0, "abstained": True, "abstain_reason": "weak"}
    if not unanswerable:
        values.update(token_f1=0.0, failure=Failure.WRONGLY_ABSTAINED)
    values.update(fields)
    return result(unanswerable=unanswerable, **values)


def test_every_metric_is_reported_in_the_documented_order() -> None:
    summary = summarize([result()])
    assert tuple(summary.metrics) == METRICS
    assert list(summary.failures) == [f.value for f in Failure]


def test_answer_correct_and_token_f1_count_an_abstention_as_wrong_over_answerable_questions_only() -> None:
    summary = summarize(
        [
            result(),
            result(answer_correct=False, token_f1=0.5, failure=Failure.ANSWERED_WRONGLY),
            abstention(unanswerable=False),
            abstention(unanswerable=True),  # not in either denominator
            result(token_f1=None),  # facts only: counts for correctness, not for F1
        ]
    )
    assert summary.metrics["answer_correct"] == pytest.approx(2 / 4)
    assert summary.metrics["token_f1"] == pytest.approx((1.0 + 0.5 + 0.0) / 3)
    assert (summary.questions, summary.answerable, summary.unanswerable) == (5, 4, 1)


def test_answer_length_is_the_mean_over_answers_given_not_abstentions() -> None:
    summary = summarize([result(answer_words=4), result(answer_words=0), abstention(unanswerable=False)])
    assert summary.metrics["answer_words_mean"] == 2.0


def test_abstention_precision_recall_and_f1_treat_should_abstain_as_positive() -> None:
    summary = summarize(
        [
            abstention(unanswerable=True),  # TP
            abstention(unanswerable=True),  # TP
            result(unanswerable=True, failure=Failure.ANSWERED_UNANSWERABLE),  # FN
            abstention(unanswerable=False),  # FP
            result(),  # TN
        ]
    )
    metrics = summary.metrics
    assert metrics["abstention_precision"] == pytest.approx(2 / 3)
    assert metrics["abstention_recall"] == pytest.approx(2 / 3)
    assert metrics["abstention_f1"] == pytest.approx(2 / 3)
    assert summary.failures["answered_unanswerable"] == 1 and summary.failures["wrongly_abstained"] == 1


def test_abstention_f1_is_zero_when_nothing_is_caught_and_none_when_there_is_nothing_to_catch() -> None:
    missed = summarize([result(unanswerable=True, failure=Failure.ANSWERED_UNANSWERABLE)]).metrics
    assert missed["abstention_precision"] is None  # nothing abstained
    assert (missed["abstention_recall"], missed["abstention_f1"]) == (0.0, 0.0)
    nothing = summarize([result()]).metrics
    assert nothing["abstention_precision"] is nothing["abstention_recall"] is nothing["abstention_f1"] is None


def test_citation_precision_and_unsupported_rate_pool_citations_and_sentences() -> None:
    summary = summarize(
        [
            result(citations=3, citations_correct=3, sentences=2),
            result(citations=1, citations_correct=0, sentences=2, unsupported_sentences=1),
        ]
    )
    assert summary.metrics["citation_precision"] == pytest.approx(3 / 4)
    assert summary.metrics["unsupported_sentence_rate"] == pytest.approx(1 / 4)


def test_hit_at_k_and_mrr_count_only_answerable_questions_with_sources() -> None:
    summary = summarize(
        [
            result(sources=("a.md",), source_rank=1, retrieved=3),
            result(sources=("a.md",), source_rank=2, retrieved=5),
            result(sources=(7,), source_rank=None, retrieved=5, failure=Failure.NOT_RETRIEVED),
            result(source_rank=None, retrieved=9),  # no sources: not measured
            abstention(unanswerable=True, retrieved=9),
        ]
    )
    assert summary.metrics["hit_at_k"] == pytest.approx(2 / 3)
    assert summary.metrics["mrr"] == pytest.approx((1 + 1 / 2 + 0) / 3)
    assert summary.retrieval_k == 5
    assert summary.failures["not_retrieved"] == 1


def test_latency_percentiles_skip_questions_without_the_timing() -> None:
    results = [result(first_token_s=float(s), total_s=float(s) + 1) for s in range(1, 21)]
    results.append(abstention(unanswerable=False, total_s=0.5))  # abstained before the first token
    metrics = summarize(results).metrics
    assert (metrics["ttft_p50_s"], metrics["ttft_p95_s"]) == (10.0, 19.0)
    assert (metrics["total_p50_s"], metrics["total_p95_s"]) == (11.0, 20.0)


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0], 95) == 3.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 95) == 4.0
    assert percentile([1.0, 2.0], 0) == 1.0


def test_empty_denominators_are_none_and_shown_as_a_dash() -> None:
    empty = summarize([])
    assert empty.questions == 0 and all(value is None for value in empty.metrics.values())
    assert empty.retrieval_k is None and set(empty.failures.values()) == {0} and empty.by_tag == {}
    only_abstentions = summarize([abstention(unanswerable=True)]).metrics
    assert only_abstentions["answer_correct"] is None and only_abstentions["answer_words_mean"] is None
    assert only_abstentions["citation_precision"] is None and only_abstentions["hit_at_k"] is None
    assert only_abstentions["abstention_f1"] == 1.0
    assert format_metric(None) == "–" and format_metric(0.0) == "0.000" and format_metric(2 / 3) == "0.667"


def test_each_tag_gets_the_same_metrics_over_its_own_questions() -> None:
    summary = summarize(
        [
            result(tags=("dev", "cli")),
            result(tags=("dev",), answer_correct=False, token_f1=0.0, failure=Failure.ANSWERED_WRONGLY),
            abstention(unanswerable=True, tags=("test",)),
            result(),  # untagged: only in the overall summary
        ]
    )
    assert list(summary.by_tag) == ["cli", "dev", "test"]
    assert summary.metrics["answer_correct"] == pytest.approx(2 / 3)
    dev = summary.by_tag["dev"]
    assert dev.questions == 2 and dev.metrics["answer_correct"] == 0.5
    assert dev.failures["answered_wrongly"] == 1 and dev.by_tag == {}
    assert summary.by_tag["cli"].metrics["answer_correct"] == 1.0
    test = summary.by_tag["test"]
    assert test.metrics["answer_correct"] is None and test.metrics["abstention_recall"] == 1.0


def summary_with(**metrics: float | None) -> Summary:
    base = summarize([result()])
    return Summary(1, 1, 0, {**base.metrics, **metrics}, None, base.failures)


def test_parse_floor_reads_metric_equals_value() -> None:
    assert parse_floor("answer_correct=0.8") == ("answer_correct", 0.8)
    assert parse_floor(" mrr = 1 ") == ("mrr", 1.0)
    assert parse_floor("ttft_p50_s=2.5") == ("ttft_p50_s", 2.5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("answer_correct", "expected METRIC=VALUE"),
        ("=0.5", "expected METRIC=VALUE"),
        ("answer_correct=", "expected METRIC=VALUE"),
        ("accuracy=0.5", "unknown metric 'accuracy'; the metrics are: answer_correct, token_f1,"),
        ("answer_correct=high", "must be a number, got 'high'"),
        ("answer_correct=80", "must be a fraction from 0 to 1, got '80'"),
        ("mrr=-0.1", "must be a fraction from 0 to 1"),
        ("total_p95_s=-1", "must be a number of at least 0"),
        ("token_f1=nan", "must be a fraction from 0 to 1"),
    ],
)
def test_parse_floor_rejects_what_it_cannot_gate_on(text: str, message: str) -> None:
    with pytest.raises(FloorError, match=message.replace("(", r"\(")):
        parse_floor(text)


def test_check_floors_lists_each_metric_below_its_floor() -> None:
    summary = summary_with(answer_correct=0.75, token_f1=0.5, mrr=0.9)
    assert check_floors(summary, {"answer_correct": 0.8, "token_f1": 0.5, "mrr": 0.5}) == [
        "answer_correct 0.750 is below its floor 0.8"
    ]
    assert check_floors(summary, [parse_floor("answer_correct=0.75")]) == []


def test_for_times_and_rates_where_lower_is_better_the_floor_is_a_ceiling() -> None:
    summary = summary_with(ttft_p50_s=2.0, unsupported_sentence_rate=0.1)
    assert check_floors(summary, {"ttft_p50_s": 3.0, "unsupported_sentence_rate": 0.1}) == []
    assert check_floors(summary, {"ttft_p50_s": 1.5, "unsupported_sentence_rate": 0.05}) == [
        "ttft_p50_s 2.000 is above its ceiling 1.5",
        "unsupported_sentence_rate 0.100 is above its ceiling 0.05",
    ]


def test_a_floor_on_an_unmeasured_metric_fails_and_an_unknown_name_is_an_error() -> None:
    summary = summary_with(hit_at_k=None)
    assert check_floors(summary, {"hit_at_k": 0.5}) == ["hit_at_k was not measured (–); its floor is 0.5"]
    assert check_floors(summary_with(total_p50_s=None), {"total_p50_s": 4}) == [
        "total_p50_s was not measured (–); its ceiling is 4"
    ]
    with pytest.raises(FloorError, match="unknown metric 'hit_at_3'; the metrics are: answer_correct"):
        check_floors(summary, {"hit_at_3": 0.5})
