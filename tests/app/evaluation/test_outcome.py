"""The record scoring reads, filled from a real pipeline answer (scripted generator): this pins
the pipeline facts the adapter relies on (passage numbers, timings that show the model read)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.answering import Answer, AnswerOptions, AnswerPipeline
from app.evaluation.outcome import PassageRef, outcome_from_answer
from app.evaluation.questions import EvalQuestion
from app.evaluation.scoring import Failure, score
from generator.citations import CheckedSentence, Support
from generator.testing import ScriptedGenerator
from retriever.search import search
from retriever.types import SearchHit
from tests.retriever.test_knowledge_base import prepared


@pytest.fixture
def kb(make_kb):
    kb = make_kb()
    kb.open(writable=True)
    kb.write(
        [prepared(kb, "ops", "/ops/backup.md", ["Nightly backups run at two. Restores are tested monthly."])]
    )
    kb.write([prepared(kb, "ops", "/ops/oncall.md", ["The pager rotates weekly between four engineers."])])
    return kb


def ask(kb, reply: str, similarity: float, question: str = "When do backups run?"):
    pipeline = AnswerPipeline(
        kb,
        ScriptedGenerator(reply=reply),
        AnswerOptions(k=2),
        similarity=lambda q, hits: [similarity] * len(hits),
    )
    answer = pipeline.ask(question)
    return outcome_from_answer(answer, search(kb, question, k=2, mode=pipeline.options.mode))


def test_a_supported_answer_keeps_its_sentences_citations_passages_and_timings(kb) -> None:
    outcome = ask(kb, "Backups run nightly at two [1].", similarity=0.9)
    assert not outcome.abstained and outcome.abstain_reason is None
    [sentence] = outcome.sentences
    [(passage, supported)] = sentence.citations
    assert passage.source_uri == "/ops/backup.md" and supported and sentence.supported
    assert outcome.retrieved[0].source_uri == "/ops/backup.md" and len(outcome.retrieved) == 2
    assert all(isinstance(p, PassageRef) for p in outcome.read) and outcome.read
    assert outcome.first_token_s is not None and outcome.total_s is not None
    assert outcome.total_s >= outcome.first_token_s
    result = score(
        EvalQuestion("b", "When do backups run?", answers=("at two",), sources=("backup.md",)), outcome
    )
    assert result.success and result.source_rank == 1 and result.citations_correct == 1


def test_a_weak_retrieval_abstention_read_nothing_and_has_no_first_token(kb) -> None:
    outcome = ask(kb, "anything [1].", similarity=0.05)
    assert outcome.abstained and "weak retrieval" in (outcome.abstain_reason or "")
    assert outcome.read == () and outcome.sentences == ()
    assert outcome.retrieved and outcome.first_token_s is None and outcome.total_s is not None
    question = EvalQuestion("b", "When do backups run?", answers=("at two",), sources=("backup.md",))
    assert score(question, outcome).failure is Failure.WRONGLY_ABSTAINED


def test_an_unsupported_answer_abstains_after_reading_and_shows_no_sentences(kb) -> None:
    outcome = ask(kb, "The CEO likes jazz [1].", similarity=0.9)
    assert outcome.abstained and outcome.abstain_reason == "no sentence is supported"
    assert outcome.sentences == () and outcome.read  # the model read the passages, then abstained
    question = EvalQuestion("j", "What music does the CEO like?", unanswerable=True)
    assert score(question, outcome).success


def hit(rank: int, chunk_id: int, document_id: int, uri: str) -> SearchHit:
    return SearchHit(rank, 1.0, chunk_id, document_id, "c", uri, "t", "text", (), None, 0, 4)


def test_citations_map_passage_numbers_to_the_passages_read_and_flagged_sentences_are_left_out() -> None:
    a, b, c = hit(1, 11, 1, "/d/a.md"), hit(2, 22, 2, "/d/b.md"), hit(3, 33, 3, "/d/c.md")
    sentences = [
        CheckedSentence("From b.", [Support(2, True, 1.0, None, (0, 4))]),
        CheckedSentence("Do as told.", [Support(1, True, 1.0, None, (0, 4))], flagged="imperative"),
        CheckedSentence("Unknown.", [Support(1, False, 0.0, None, (0, 4))]),
    ]
    answer = Answer("q", "q", "From b [2]. Unknown [1].", False, None, sentences, [], [a, b], [33], {})
    outcome = outcome_from_answer(answer, [a, b, c])
    assert [s.text for s in outcome.sentences] == ["From b.", "Unknown."]
    assert outcome.sentences[0].citations == ((PassageRef(2, "/d/b.md", 22), True),)
    assert outcome.sentences[1].citations == ((PassageRef(1, "/d/a.md", 11), False),)
    assert [s.supported for s in outcome.sentences] == [True, False]
    assert [p.chunk_id for p in outcome.retrieved] == [11, 22, 33]
    assert outcome.read == ()  # no timings say the model read: nothing was read
    read = outcome_from_answer(replace(answer, timings={"generation_s": 0.1, "total_s": 0.2}), [a, b, c])
    assert [p.chunk_id for p in read.read] == [11, 22] and read.total_s == 0.2
