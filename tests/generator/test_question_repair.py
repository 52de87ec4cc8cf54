"""Self-corrections in questions are applied; ordinary questions pass through unchanged."""

from __future__ import annotations

import pytest

from generator.question_repair import repair_question


@pytest.mark.parametrize(
    ("question", "repaired"),
    [
        ("Who is the prime minister no wait President of Egypt ?", "Who is the President of Egypt ?"),
        (
            "When does rain fall in the United States or actually in Jacksonville ?",
            "When does rain fall in Jacksonville ?",
        ),
        (
            "What was Warsaw ' s I mean when were the churches destroyed ?",
            "when were the churches destroyed ?",
        ),
        ("What is the eighth um least no most populous city ?", "What is the most populous city ?"),
        (
            "What style was the Palais Garnier no the Warsaw edifice built in ?",
            "What style was the Warsaw edifice built in ?",
        ),
        (
            "How many Native Americans were there in 2010 er uh 1970 ?",
            "How many Native Americans were there in 1970 ?",
        ),
        ("What was the Mongol ' s empire no Yuan ' s Persian ally ?", "What was the Yuan ' s Persian ally ?"),
        (
            "What did Scott uh sorry I mean Shrewsbury note about the plague ?",
            "What did Shrewsbury note about the plague ?",
        ),
        ("Where did or no make that when did Robert Crispin fight ?", "when did Robert Crispin fight ?"),
        ("Who approves travel I mean expense requests?", "Who approves expense requests?"),
    ],
)
def test_self_corrections_keep_the_repair(question: str, repaired: str) -> None:
    assert repair_question(question) == repaired


@pytest.mark.parametrize(
    "question",
    [
        "Why are there no results for my query?",
        "What is the difference between a list or a tuple?",
        "How do I wait for a job to finish?",
        "Is the index rebuilt, or is it reused?",
        "Should I use SQLite or PostgreSQL?",
        "Which one is faster: no-op or pass?",
        "What does the error 'no module named foo' mean?",
        "Does the backup run if no files changed?",
    ],
)
def test_ordinary_questions_are_left_alone(question: str) -> None:
    assert repair_question(question) == question


def test_a_pause_takes_nothing_back() -> None:
    assert repair_question("How many uh people live in Paris?") == "How many people live in Paris?"
    assert repair_question("What is the capital of France um?") == "What is the capital of France?"
