"""The runner's rules that need no model: --set values, variants, the slice of questions, and the
ranked hits the pipeline now hands back with every answer."""

from __future__ import annotations

import pytest

from app.answering import AnswerOptions, AnswerPipeline
from app.evaluation.questions import EvalQuestion
from app.evaluation.runner import SettingError, parse_setting, plan_variants, run_questions, select
from generator.testing import InterruptedCopier, ScriptedGenerator
from retriever.search import SearchMode, search
from tests.retriever.test_knowledge_base import prepared


def test_settings_are_converted_to_the_option_types() -> None:
    assert parse_setting("answer_k=5") == {"k": 5}
    assert parse_setting("min_retrieval_similarity=0.4,mode=sparse,repair_questions=no") == {
        "min_retrieval_similarity": 0.4,
        "mode": SearchMode.SPARSE,
        "repair_questions": False,
    }
    assert parse_setting("decline_threshold=none") == {"decline_threshold": None}
    assert parse_setting("answer_form=form") == {"answer_form": "form"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("k", "expected KEY=VALUE"),
        ("k=", "expected KEY=VALUE"),
        ("filters=x", "cannot set 'filters'"),
        ("k=five", "k cannot be 'five'"),
        ("mode=fuzzy", "mode cannot be 'fuzzy'"),
        ("answer_form=essay", "answer_form cannot be 'essay'"),
    ],
)
def test_bad_settings_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SettingError, match=message):
        parse_setting(text)


def test_each_set_is_one_variant_on_top_of_the_defaults_for_every_model() -> None:
    assert [(v.name, v.model, v.overrides) for v in plan_variants([], [])] == [("default", None, {})]
    variants = plan_variants(["a", "b"], ["k=5", "k=1,answer_tokens=8"])
    assert [v.name for v in variants] == [
        "a",
        "a k=5",
        "a k=1,answer_tokens=8",
        "b",
        "b k=5",
        "b k=1,answer_tokens=8",
    ]
    assert variants[2].overrides == {"k": 1, "answer_tokens": 8} and variants[3].model == "b"


def test_select_filters_by_tag_then_limits() -> None:
    questions = [EvalQuestion(str(i), "q", ("a",), tags=("test",) if i % 2 else ("dev",)) for i in range(6)]
    assert [q.id for q in select(questions, "test", 2)] == ["1", "3"]
    assert [q.id for q in select(questions, None, None)] == [str(i) for i in range(6)]
    assert select(questions, "nope", None) == []


@pytest.fixture
def kb(make_kb):
    kb = make_kb()
    kb.open(writable=True)
    for name, text in (("backup", "Nightly backups run at two."), ("oncall", "The pager rotates weekly.")):
        kb.write([prepared(kb, "ops", f"/ops/{name}.md", [text])])
    kb.write([prepared(kb, "hr", "/hr/leave.md", ["Vacation days accrue monthly."])])
    return kb


def _pipeline(kb, generator, similarity: float = 0.9) -> AnswerPipeline:
    return AnswerPipeline(
        kb, generator, AnswerOptions(k=3), similarity=lambda q, hits: [similarity] * len(hits)
    )


@pytest.mark.parametrize(
    ("reply", "similarity", "abstained"),
    [("Backups run nightly at two [1].", 0.9, False), ("anything", 0.05, True), ("x [1].", 0.9, True)],
)
def test_answers_carry_every_ranked_hit(kb, reply: str, similarity: float, abstained: bool) -> None:
    pipeline = _pipeline(kb, ScriptedGenerator(reply=reply), similarity)
    answer = pipeline.ask("When do backups run?")
    expected = search(kb, "When do backups run?", k=3, mode=pipeline.options.mode)
    assert answer.abstained is abstained and len(expected) == 3
    assert [hit.chunk_id for hit in answer.retrieved] == [hit.chunk_id for hit in expected]


def test_ctrl_c_keeps_the_answers_so_far(kb) -> None:
    questions = [EvalQuestion(f"q{i}", "When do backups run?", ("at two",)) for i in range(5)]
    seen: list[int] = []
    run = run_questions(
        _pipeline(kb, InterruptedCopier()), questions, on_result=lambda done, _: seen.append(done)
    )
    assert run.partial and run.planned == 5 and len(run.results) == 2 and seen == [1, 2]
    assert [r.answer_correct for r in run.results] == [True, True]


def test_a_variant_given_twice_is_an_error() -> None:
    with pytest.raises(SettingError, match="'a k=5' is given twice"):
        plan_variants(["a"], ["k=5", "k=5"])
