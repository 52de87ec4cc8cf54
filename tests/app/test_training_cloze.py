"""Cloze examples: questions about a clause's end, in the pipeline's prompts, declines capped."""

from __future__ import annotations

import random

from app.answering import ReadPlan
from app.training.cloze import cloze_candidates, cloze_examples, sentences
from generator.prompt import NOT_IN_DOCUMENTS, Passage, PromptPlan


def test_a_copula_clause_becomes_a_what_is_question() -> None:
    rng = random.Random(0)
    assert cloze_candidates("The default encoding is UTF-8 everywhere.", rng) == [
        ("What is the default encoding?", "UTF-8 everywhere")
    ]


def test_a_third_person_verb_becomes_a_what_does_question() -> None:
    made = cloze_candidates("The parser returns a list of tokens.", random.Random(0))
    assert made == [("What does the parser return?", "a list of tokens")]
    made = cloze_candidates("The header specifies the encoding of the file.", random.Random(0))
    assert made == [("What does the header specify?", "the encoding of the file")]


def test_names_of_code_keep_their_case() -> None:
    [(question, answer)] = cloze_candidates("JSONDecoder raises ValueError on bad input.", random.Random(0))
    assert question == "What does JSONDecoder raise?" and answer == "ValueError on bad input"


def test_without_a_verb_to_ask_about_the_missing_words_become_what() -> None:
    rng = random.Random(3)
    for _ in range(20):
        [(question, answer)] = cloze_candidates(
            "Several small tools for quick daily chores, mostly in Python.", rng
        )
        assert "what" in question.split() and question.endswith("?")
        assert answer and answer in "Several small tools for quick daily chores, mostly in Python"
        assert answer not in question


def test_wrapped_prose_is_joined_and_code_blocks_give_no_sentences() -> None:
    text = (
        "Intro.\n\n    x = f(a, b)  # call it now please.\n\nThe cache is cleared when the\n"
        "process exits. Short one.\n\n.. note:: see the full list of options below please."
    )
    assert sentences(text) == ["The cache is cleared when the process exits."]


class _Retrieval:
    """``prompt_for`` as the pipeline answers it: the passage asked about, or another one."""

    def __init__(self, shown: dict[str, str]) -> None:
        self.shown = shown
        self.asked: list[str] = []

    def query_vectors(self, questions: list[str]) -> list[str]:
        return [f"vector of {q}" for q in questions]

    def prompt_for(self, question: str, query_vector: str | None = None) -> ReadPlan | None:
        assert query_vector == f"vector of {question}"  # embedded in a batch, handed on
        self.asked.append(question)
        text = next((t for key, t in self.shown.items() if key in question), None)
        if text is None:
            return None
        return ReadPlan(PromptPlan([], [Passage(1, text)]), [], [])


def test_examples_cite_the_passage_and_declines_are_capped() -> None:
    passages = [
        "The backup window is two hours long.",
        "The pager rotation is one week long.",
        "The office kitchen is closed on Fridays.",
    ]
    retrieval = _Retrieval(
        {"backup window": passages[0], "pager rotation": passages[1], "kitchen": "Lunch is at noon, always."}
    )
    found = cloze_examples(retrieval, passages, count=10, seconds=30, seed=0, max_decline_share=0.05)  # type: ignore[arg-type]
    replies = sorted(x.example.reply for x in found.examples)
    assert replies == ["one week long [1]", "two hours long [1]"]
    assert NOT_IN_DOCUMENTS not in replies  # one decline in three is over a 5% share
    assert found.counts["decline over the share"] >= 1
    assert len(set(retrieval.asked)) == len(retrieval.asked)  # each question asked once


def test_asked_examples_make_about_a_third_of_the_draws() -> None:
    from app.training.data import Labeled
    from app.training.finetune import ASKED_SHARE, weighted
    from generator.gpt.finetune import QAExample

    def labeled(question: str) -> Labeled:
        return Labeled(QAExample((), "x [1]"), question, "x")

    asked, made = [labeled(f"a{n}") for n in range(10)], [labeled(f"c{n}") for n in range(70)]
    mixed = weighted(asked, made)
    share = sum(x.question.startswith("a") for x in mixed) / len(mixed)
    assert abs(share - ASKED_SHARE) < 0.05 and len(mixed) == 100
    assert weighted(asked, []) == asked and weighted([], made) == made
