"""Follow-up questions made standalone, and the tokens an answer used."""

from __future__ import annotations

import pytest

from generator.base import Message
from generator.follow_up import is_about, standalone
from generator.testing import ScriptedGenerator
from tests.app.test_answering import kb, pipeline  # noqa: F401  (kb is a fixture)

HISTORY = [
    Message("system", "Be brief."),
    Message("user", "How do I ingest a folder of documents?"),
    Message("assistant", "Ingest a folder of documents [1]"),
]
FOLLOW_UP = "And how do I remove documents whose files were deleted?"


def test_a_rewrite_that_repeats_the_previous_answer_gives_way_to_the_new_question() -> None:
    generator = ScriptedGenerator(reply="Ingest a folder of documents [1]")
    rewrite = standalone(generator, FOLLOW_UP, HISTORY)
    assert rewrite.question == rewrite.search == FOLLOW_UP
    assert rewrite.prompt_tokens > 0 and rewrite.completion_tokens == 6  # the model was still asked


@pytest.mark.parametrize(
    "reply",
    [
        "How do I ingest a folder of documents?",  # the previous question again
        "Ingest a folder of documents",  # the previous answer without its marker
        "The documents do not say.",
        "",
    ],
)
def test_rewrites_that_are_not_the_new_question_are_not_used(reply) -> None:
    rewrite = standalone(ScriptedGenerator(reply=reply), FOLLOW_UP, HISTORY)
    assert rewrite.question == rewrite.search == FOLLOW_UP


def test_a_rewrite_of_the_new_question_in_context_is_used() -> None:
    reply = "How do I remove documents whose files were deleted from the folder?"
    rewrite = standalone(ScriptedGenerator(reply=reply), FOLLOW_UP, HISTORY)
    assert rewrite.question == rewrite.search == reply


@pytest.mark.parametrize("question", ["and the files?", "How do I undo it?", "Where are those kept?"])
def test_a_question_that_points_back_is_searched_with_the_previous_one_and_asked_alone(question) -> None:
    rewrite = standalone(ScriptedGenerator(reply="Ingest a folder [1]"), question, HISTORY)
    assert rewrite.search == f"How do I ingest a folder of documents? {question}"
    assert rewrite.question == question


def test_a_pronoun_resolved_from_the_conversation_keeps_the_rewrite() -> None:
    assert is_about("How do I configure PostgreSQL?", "How do I configure it?", ["Use PostgreSQL [1]."])
    assert not is_about("Use PostgreSQL [1].", "How do I configure it?", ["Use PostgreSQL [1]."])


def test_without_history_the_question_stands_and_the_model_is_not_asked() -> None:
    generator = ScriptedGenerator(reply="anything")
    assert standalone(generator, " When do backups run? ", []).question == "When do backups run?"
    assert generator.calls == []


def test_an_answer_counts_the_tokens_of_the_rewrite_and_of_the_answer(kb) -> None:  # noqa: F811
    rewrite, reply = "When are restores tested?", "Restores are tested monthly [1]."
    generator = ScriptedGenerator(replies=[rewrite, reply])
    history = [Message("user", "When do backups run?"), Message("assistant", "Nightly at two [1].")]
    answer = pipeline(kb, generator, k=2).ask("and restores?", history)
    rewrite_prompt, answer_prompt = (generator.count_tokens(messages) for messages, _ in generator.calls)
    assert answer.standalone_question == rewrite and not answer.abstained
    assert answer.prompt_tokens == rewrite_prompt + answer_prompt
    assert answer.completion_tokens == len(rewrite.split()) + len(reply.split())


def test_an_answer_the_model_was_not_asked_for_used_no_tokens(kb) -> None:  # noqa: F811
    generator = ScriptedGenerator(reply="anything")
    strict = pipeline(kb, generator, k=2, min_retrieval_similarity=0.95)
    answer = strict.ask("When do backups run?")
    assert answer.abstained and answer.prompt_tokens == 0 and answer.completion_tokens == 0
