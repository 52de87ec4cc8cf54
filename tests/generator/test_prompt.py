"""Prompt building and the context budget."""

from __future__ import annotations

import pytest

from generator.prompt import Passage, build_messages, plan_prompt
from tests.fake_generators import ScriptedGenerator


def passages(count: int, words: int = 50) -> list[Passage]:
    return [
        Passage(n, " ".join(f"w{n}" for _ in range(words)), title=f"Doc {n}") for n in range(1, count + 1)
    ]


def test_passages_are_numbered_and_do_not_repeat_their_heading() -> None:
    passage = Passage(3, "Backups\nBackups run nightly.", title="Ops", heading="Ops › Backups", page=4)
    assert passage.render() == "[3] Backups run nightly.\n(Source: Ops › Backups, page 4)"
    assert Passage(1, "x").render() == "[1] x"
    assert Passage(2, "Backups", heading="Backups").render() == "[2] Backups\n(Source: Backups)"
    assert Passage(4, "y", title="Guide", heading="Setup").render() == "[4] y\n(Source: Guide › Setup)"
    messages = build_messages("When do backups run?", [Passage(1, "Nightly.")])
    assert messages[0].role == "system" and "[2]" in messages[0].content
    user = messages[1].content
    assert user.startswith("Question: When do backups run?\n\nPassages:\n\n[1] Nightly.")
    assert user.endswith("Question: When do backups run?\nAnswer with citations:")


def test_everything_fits_in_a_large_window() -> None:
    plan = plan_prompt(ScriptedGenerator(context_window=10_000), "q?", passages(5), answer_tokens=200)
    assert [p.number for p in plan.passages] == [1, 2, 3, 4, 5] and plan.dropped == []
    assert plan.prompt_tokens == ScriptedGenerator().count_tokens(plan.messages)


def test_lowest_ranked_passages_are_dropped_whole_and_reported() -> None:
    generator = ScriptedGenerator(context_window=300)
    given = passages(5)
    plan = plan_prompt(generator, "q?", given, answer_tokens=100)
    kept = len(plan.passages)
    assert 0 < kept < 5 and plan.passages == given[:kept] and plan.dropped == given[kept:]
    assert plan.prompt_tokens <= 200
    # Maximal: one more passage would not have fitted.
    assert generator.count_tokens(build_messages("q?", given[: kept + 1])) > 200
    assert all(p.text in plan.messages[1].content for p in plan.passages)  # kept passages are whole


def test_a_question_that_cannot_fit_is_an_error() -> None:
    with pytest.raises(ValueError, match="the question alone needs"):
        plan_prompt(ScriptedGenerator(context_window=60), "word " * 80, passages(2), answer_tokens=20)
