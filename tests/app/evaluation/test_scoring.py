from __future__ import annotations

import pytest

from app.evaluation.outcome import Outcome, PassageRef, SentenceCheck
from app.evaluation.questions import EvalQuestion
from app.evaluation.scoring import Failure, from_sources, is_correct, score, source_rank

CLI = PassageRef(1, "/srv/docs/cli.md", chunk_id=10)
CONFIG = PassageRef(2, "/srv/docs/configuration.md", chunk_id=20)
FAQ = PassageRef(3, "/srv/docs/faq.md", chunk_id=30)


def question(**fields: object) -> EvalQuestion:
    values: dict = {"id": "q", "question": "Which port does serve use?", "answers": ("8000",)}
    values.update(fields)
    return EvalQuestion(**values)


def said(text: str, *cited: tuple[PassageRef, bool], **fields: object) -> Outcome:
    """An answer of one sentence citing ``cited``; read and retrieved default to those passages."""
    passages = tuple(passage for passage, _ in cited)
    sentence = SentenceCheck(text, cited, supported=any(ok for _, ok in cited))
    values: dict = {"answer": text, "sentences": (sentence,), "retrieved": passages, "read": passages}
    values.update(fields)
    return Outcome(**values)


def abstained(reason: str, **fields: object) -> Outcome:
    return Outcome("The documents do not say.", abstained=True, abstain_reason=reason, **fields)


def test_a_right_answer_with_good_citations_succeeds_and_every_field_is_filled() -> None:
    outcome = said(
        "It listens on port 8000 [1].",
        (CLI, True),
        retrieved=(FAQ, CLI, CONFIG),
        first_token_s=0.4,
        total_s=1.5,
    )
    result = score(question(sources=("cli.md",)), outcome)
    assert result.success and result.failure is None
    assert result.answer_correct
    assert result.token_f1 == pytest.approx(1 / 3)  # precision 1/5, recall 1
    assert result.answer_words == 5  # the marker is not a word
    assert (result.citations, result.citations_correct) == (1, 1)
    assert (result.sentences, result.unsupported_sentences) == (1, 0)
    assert result.source_rank == 2
    assert result.retrieved == 3
    assert (result.first_token_s, result.total_s) == (0.4, 1.5)
    assert not result.abstained and not result.should_abstain


def test_correct_means_any_answer_or_all_facts_as_whole_words() -> None:
    assert is_correct("The port is 8000.", question(answers=("9000", "8000")))
    assert not is_correct("The port is 80000.", question())  # not a word of the answer
    assert is_correct("THE Data-Dir: set CITEWISE_DATA_DIR!", question(answers=("data-dir",)))
    facts = question(answers=(), facts=("ingest", "serve"))
    assert is_correct("Run ingest, then serve.", facts)
    assert not is_correct("Run ingest.", facts)
    assert is_correct("Port 8000.", question(facts=("never said",)))  # an answer is enough


def test_an_empty_answer_is_wrong_with_no_words_and_no_f1() -> None:
    result = score(question(), Outcome(answer="", retrieved=(CLI,), read=(CLI,)))
    assert not result.answer_correct
    assert (result.token_f1, result.answer_words, result.citations, result.sentences) == (0.0, 0, 0, 0)
    assert result.failure is Failure.ANSWERED_WRONGLY


def test_token_f1_is_the_best_over_the_answers_and_none_without_answers() -> None:
    result = score(question(answers=("port 8000", "8000")), said("8000 [1]", (CLI, True)))
    assert result.token_f1 == 1.0
    assert score(question(answers=(), facts=("8000",)), said("8000", (CLI, True))).token_f1 is None


def test_an_abstention_on_an_answerable_question_is_wrong_and_keeps_its_reason() -> None:
    result = score(question(), abstained("weak retrieval (best similarity 0.12)", retrieved=(CLI,)))
    assert result.failure is Failure.WRONGLY_ABSTAINED
    assert result.abstain_reason == "weak retrieval (best similarity 0.12)"
    assert not result.answer_correct
    assert (result.token_f1, result.answer_words) == (0.0, 0)


def test_an_abstention_counts_no_sentences_or_citations_even_if_the_record_has_some() -> None:
    sentence = SentenceCheck("Port 8000.", ((CLI, False),), supported=False)
    result = score(question(), abstained("no sentence is supported", sentences=(sentence,), read=(CLI,)))
    assert (result.sentences, result.unsupported_sentences, result.citations) == (0, 0, 0)


def test_an_abstention_before_reading_with_the_source_retrieved_is_wrongly_abstained() -> None:
    outcome = abstained("weak retrieval (best similarity 0.20)", retrieved=(CLI,), read=())
    assert score(question(sources=("cli.md",)), outcome).failure is Failure.WRONGLY_ABSTAINED


def test_an_abstention_whose_source_was_never_retrieved_is_a_retrieval_failure() -> None:
    outcome = abstained("no sentence is supported", retrieved=(FAQ, CONFIG), read=(FAQ,))
    result = score(question(sources=("cli.md",)), outcome)
    assert result.failure is Failure.NOT_RETRIEVED
    assert result.source_rank is None


def test_a_source_retrieved_but_not_read_is_its_own_class() -> None:
    wrong = said("Port 9000 [1].", (FAQ, True), retrieved=(FAQ, CLI), read=(FAQ,))
    assert score(question(sources=("cli.md",)), wrong).failure is Failure.RETRIEVED_NOT_READ
    declined = abstained("the model found no answer", retrieved=(FAQ, CLI), read=(FAQ,))
    assert score(question(sources=("cli.md",)), declined).failure is Failure.RETRIEVED_NOT_READ


def test_a_wrong_answer_from_the_right_passage_is_answered_wrongly() -> None:
    outcome = said("Port 9000 [1].", (CLI, True))
    assert score(question(sources=("cli.md",)), outcome).failure is Failure.ANSWERED_WRONGLY


def test_without_sources_a_wrong_answer_is_answered_wrongly_and_retrieval_is_unmeasured() -> None:
    result = score(question(), said("Port 9000 [1].", (FAQ, True)))
    assert result.failure is Failure.ANSWERED_WRONGLY
    assert result.source_rank is None


def test_without_sources_any_supporting_citation_is_correct() -> None:
    result = score(question(), said("Port 8000 [1].", (FAQ, True)))
    assert (result.citations, result.citations_correct, result.failure) == (1, 1, None)


def test_a_right_answer_citing_outside_the_sources_is_citation_unsupported() -> None:
    outcome = said("Port 8000 [1][2].", (CLI, True), (FAQ, True), retrieved=(CLI, FAQ))
    result = score(question(sources=("cli.md",)), outcome)
    assert (result.citations, result.citations_correct) == (2, 1)
    assert result.failure is Failure.CITATION_UNSUPPORTED


def test_a_right_answer_with_an_unsupported_cited_sentence_is_citation_unsupported() -> None:
    sentences = (
        SentenceCheck("Port 8000.", ((CLI, True),), supported=True),
        SentenceCheck("It is fast.", ((CLI, False),), supported=False),
    )
    outcome = Outcome("Port 8000 [1]. It is fast [1].", sentences=sentences, retrieved=(CLI,), read=(CLI,))
    result = score(question(), outcome)
    assert (result.citations, result.citations_correct) == (2, 1)
    assert (result.sentences, result.unsupported_sentences) == (2, 1)
    assert result.failure is Failure.CITATION_UNSUPPORTED


def test_an_answered_unanswerable_question_fails_whatever_it_said() -> None:
    unanswerable = question(answers=(), unanswerable=True)
    result = score(unanswerable, said("Klingon is supported [1].", (FAQ, True)))
    assert result.failure is Failure.ANSWERED_UNANSWERABLE
    assert result.should_abstain and not result.answer_correct
    assert result.token_f1 is None
    assert result.answer_words == 3


def test_an_abstention_on_an_unanswerable_question_succeeds() -> None:
    result = score(question(answers=(), unanswerable=True), abstained("no sentence is supported"))
    assert result.success and result.abstained and result.should_abstain
    assert result.answer_words == 0


@pytest.mark.parametrize(
    ("source", "uri", "document_id", "matches"),
    [
        (2, "/srv/docs/x.md", 2, True),
        (3, "/srv/docs/x.md", 2, False),
        ("/srv/docs/cli.md", "/srv/docs/cli.md", 1, True),
        ("docs/cli.md", "/srv/docs/cli.md", 1, True),
        ("./docs/cli.md", "/srv/docs/cli.md", 1, True),
        ("cli.md", "/srv/docs/cli.md", 1, True),
        ("cli.md", "/srv/docs/mycli.md", 1, False),
        ("other/cli.md", "/srv/docs/cli.md", 1, False),
        ("docs\\cli.md", "C:\\srv\\docs\\cli.md", 1, True),
        ("docs/cli.md", "file:///srv/docs/cli.md", 1, True),
        ("1", "/srv/docs/cli.md", 1, False),  # a string is a path, not an id
    ],
)
def test_sources_match_by_id_path_or_path_suffix(
    source: str | int, uri: str, document_id: int, matches: bool
) -> None:
    assert from_sources(PassageRef(document_id, uri), (source,)) is matches


def test_source_rank_is_the_first_matching_retrieved_passage() -> None:
    assert source_rank((FAQ, CONFIG, CLI, CLI), ("cli.md", 2)) == 2
    assert source_rank((FAQ,), ("cli.md",)) is None
    assert source_rank((), ("cli.md",)) is None


def test_the_passages_shown_are_those_cited_else_read_else_the_best_retrieved() -> None:
    cited = said("Port 8000 [1].", (CLI, True), (CLI, True), read=(CONFIG, CLI), retrieved=(FAQ, CONFIG, CLI))
    assert score(question(), cited).passages == ("/srv/docs/cli.md",)  # each file once
    read = abstained("the model found no answer", read=(CONFIG,), retrieved=(FAQ, CONFIG))
    assert score(question(), read).passages == ("/srv/docs/configuration.md",)
    weak = abstained("weak retrieval", retrieved=(FAQ, CONFIG, CLI, PassageRef(4, "/srv/docs/api.md")))
    assert score(question(), weak).passages == (
        "/srv/docs/faq.md",
        "/srv/docs/configuration.md",
        "/srv/docs/cli.md",
    )
