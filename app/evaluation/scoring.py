"""Scoring one question's outcome: is the answer right, are its citations right, and if it failed,
where in the pipeline it went wrong.

A question **succeeds** when
- it is answerable, the answer is correct and every citation is correct, or
- it is unanswerable and the pipeline abstained.

Otherwise it gets exactly one failure class, the first of these that applies. The order follows
the pipeline (retrieve → read → answer → cite), so a failure is blamed on the earliest stage that
went wrong: an abstention caused by a source never retrieved is a retrieval failure.

1. ``answered_unanswerable``: the documents do not answer it, and the pipeline answered anyway.
2. ``not_retrieved``: ``sources`` are given and none of the retrieved passages comes from one.
3. ``retrieved_not_read``: a source was retrieved, the model read passages, but none of them came
   from a source (dropped as unfocused or for lack of room in the window). An abstention before
   the model read anything (weak retrieval) is not this: it is ``wrongly_abstained``.
4. ``wrongly_abstained``: the pipeline abstained on an answerable question (``abstain_reason``).
5. ``answered_wrongly``: it answered, and the answer is not correct.
6. ``citation_unsupported``: the answer is correct, but a citation is not: the cited passage does
   not support its sentence, or it comes from outside ``sources``.

Classes 2 and 3 need ``sources``; without them a wrong answer is 4 or 5.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from app.answer_scores import normalize, strip_citations, token_f1
from app.evaluation.outcome import Outcome, PassageRef
from app.evaluation.questions import EvalQuestion


class Failure(StrEnum):
    ANSWERED_UNANSWERABLE = "answered_unanswerable"
    NOT_RETRIEVED = "not_retrieved"
    RETRIEVED_NOT_READ = "retrieved_not_read"
    WRONGLY_ABSTAINED = "wrongly_abstained"
    ANSWERED_WRONGLY = "answered_wrongly"
    CITATION_UNSUPPORTED = "citation_unsupported"


@dataclass(frozen=True, slots=True)
class QuestionResult:
    question: EvalQuestion
    answer: str
    answer_correct: bool  # False when abstaining, and for unanswerable questions
    token_f1: float | None  # best over ``answers``; None without answers (facts only, unanswerable)
    answer_words: int  # 0 when abstaining
    abstained: bool
    abstain_reason: str | None
    should_abstain: bool
    citations: int  # (sentence, cited passage) pairs
    citations_correct: int
    sentences: int
    unsupported_sentences: int
    source_rank: int | None  # 1-based rank of the first retrieved passage from ``sources``
    retrieved: int  # how many passages were retrieved (the k of hit@k)
    first_token_s: float | None
    total_s: float | None
    failure: Failure | None  # None: a success
    # The files behind the answer, as reports show them: those cited, else those read, else the
    # three best retrieved (what an abstention shows the user).
    passages: tuple[str, ...] = ()
    decline_logprob: float | None = None  # recorded for calibrating abstention (Outcome)
    retrieval_similarity: float | None = None

    @property
    def success(self) -> bool:
        return self.failure is None


def score(question: EvalQuestion, outcome: Outcome) -> QuestionResult:
    """One question's result. An abstention has no answer text, sentences or citations: the user
    is shown none of them."""
    sources = question.sources
    answered = not outcome.abstained
    text = strip_citations(outcome.answer) if answered else ""
    sentences = outcome.sentences if answered else ()
    correct = answered and question.answerable and is_correct(text, question)
    f1 = None
    if question.answers:
        f1 = max(token_f1(text, gold) for gold in question.answers) if answered else 0.0
    pairs = [(passage, ok) for sentence in sentences for passage, ok in sentence.citations]
    good = sum(1 for passage, ok in pairs if ok and (not sources or from_sources(passage, sources)))
    rank = source_rank(outcome.retrieved, sources) if sources else None
    read_from_source = any(from_sources(passage, sources) for passage in outcome.read)
    result = QuestionResult(
        question=question,
        answer=outcome.answer,
        answer_correct=correct,
        token_f1=f1,
        answer_words=count_words(text),
        abstained=outcome.abstained,
        abstain_reason=outcome.abstain_reason,
        should_abstain=question.unanswerable,
        citations=len(pairs),
        citations_correct=good,
        sentences=len(sentences),
        unsupported_sentences=sum(1 for sentence in sentences if not sentence.supported),
        source_rank=rank,
        retrieved=len(outcome.retrieved),
        first_token_s=outcome.first_token_s,
        total_s=outcome.total_s,
        failure=None,
        passages=shown_passages(outcome, [passage for passage, _ in pairs]),
        decline_logprob=outcome.decline_logprob,
        retrieval_similarity=outcome.retrieval_similarity,
    )
    failure = classify(result, read_anything=bool(outcome.read), read_from_source=read_from_source)
    return replace(result, failure=failure)


def classify(result: QuestionResult, read_anything: bool, read_from_source: bool) -> Failure | None:
    """The failure class, by the precedence in the module docstring."""
    if result.should_abstain:
        return None if result.abstained else Failure.ANSWERED_UNANSWERABLE
    if result.answer_correct:
        return None if result.citations_correct == result.citations else Failure.CITATION_UNSUPPORTED
    if result.question.sources:
        if result.source_rank is None:
            return Failure.NOT_RETRIEVED
        if read_anything and not read_from_source:
            return Failure.RETRIEVED_NOT_READ
    return Failure.WRONGLY_ABSTAINED if result.abstained else Failure.ANSWERED_WRONGLY


def shown_passages(outcome: Outcome, cited: list[PassageRef]) -> tuple[str, ...]:
    chosen = cited or list(outcome.read) or list(outcome.retrieved[:3])
    return tuple(dict.fromkeys(passage.source_uri for passage in chosen))


def is_correct(answer: str, question: EvalQuestion) -> bool:
    """Any acceptable answer, or all facts, found in the answer after normalisation, as whole
    words ("8" is not found in "80")."""
    said = f" {normalize(answer)} "
    if any(f" {normalize(gold)} " in said for gold in question.answers):
        return True
    return bool(question.facts) and all(f" {normalize(fact)} " in said for fact in question.facts)


def count_words(text: str) -> int:
    """Words of an answer, not counting lone punctuation (a stripped marker leaves its full stop)."""
    return sum(1 for token in text.split() if any(ch.isalnum() for ch in token))


def from_sources(passage: PassageRef, sources: tuple[str | int, ...]) -> bool:
    """A passage comes from a source when its document id is one of the ids, or its path is one
    of the paths or ends with one (whole path components: "cli.md" matches "/docs/cli.md", not
    "/docs/mycli.md")."""
    uri = _path(passage.source_uri)
    for source in sources:
        if isinstance(source, int):
            if passage.document_id == source:
                return True
            continue
        wanted = _path(source)
        if uri == wanted or uri.endswith("/" + wanted.lstrip("/")):
            return True
    return False


def source_rank(retrieved: tuple[PassageRef, ...], sources: tuple[str | int, ...]) -> int | None:
    for rank, passage in enumerate(retrieved, start=1):
        if from_sources(passage, sources):
            return rank
    return None


def _path(text: str) -> str:
    text = text.strip().replace("\\", "/")
    if text.startswith("file://"):
        text = text[len("file://") :]
    while text.startswith("./"):
        text = text[2:]
    return text
