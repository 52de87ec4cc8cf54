"""What scoring needs to know about one answered question, as plain records.

The runner fills an ``Outcome`` from the pipeline's ``Answer`` and the retrieved hits
(``outcome_from_answer``); tests build them by hand, so every metric and failure class is tested
without a model or a knowledge base.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.answering import Answer
from retriever.types import SearchHit


@dataclass(frozen=True, slots=True)
class PassageRef:
    """A passage by the document it came from: all that source matching looks at."""

    document_id: int
    source_uri: str
    chunk_id: int = 0


@dataclass(frozen=True, slots=True)
class SentenceCheck:
    """One sentence of the answer and the passages it cites, each with whether that passage
    supports it (the citation checker's verdict)."""

    text: str
    citations: tuple[tuple[PassageRef, bool], ...] = ()
    supported: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    answer: str
    abstained: bool = False
    abstain_reason: str | None = None
    sentences: tuple[SentenceCheck, ...] = ()  # empty when abstaining: the user sees no answer
    retrieved: tuple[PassageRef, ...] = ()  # ranked, best first
    read: tuple[PassageRef, ...] = ()  # the passages the model read (none when it abstained before reading)
    first_token_s: float | None = None
    total_s: float | None = None
    # What abstention decides on (see app.evaluation.calibration): the model's log-probability of
    # declining (when scored) and the best retrieval similarity.
    decline_logprob: float | None = None
    retrieval_similarity: float | None = None


def outcome_from_answer(answer: Answer, retrieved: Sequence[SearchHit]) -> Outcome:
    """The record of a pipeline answer. ``retrieved``: every hit of the search, ranked (the answer
    only keeps the passages the model read, or the closest three when abstaining)."""
    read_anything = "generation_s" in answer.timings or "decline_check_s" in answer.timings
    dropped = set(answer.dropped_passages)
    read = [_ref(hit) for hit in answer.sources if hit.chunk_id not in dropped] if read_anything else []
    sentences: list[SentenceCheck] = []
    if not answer.abstained:
        # Passage numbers count the passages read, in prompt order (``AnswerPipeline._read``).
        by_number = {number: _ref(hit) for number, hit in enumerate(answer.sources, start=1)}
        for sentence in answer.sentences:
            if sentence.flagged:  # dropped from the answer the user sees
                continue
            cited = tuple(
                (by_number[support.passage], support.supported)
                for support in sentence.citations
                if support.passage in by_number
            )
            sentences.append(SentenceCheck(sentence.text, cited, sentence.supported))
    return Outcome(
        answer=answer.answer,
        abstained=answer.abstained,
        abstain_reason=answer.abstain_reason,
        sentences=tuple(sentences),
        retrieved=tuple(_ref(hit) for hit in retrieved),
        read=tuple(read),
        first_token_s=answer.timings.get("first_token_s"),
        total_s=answer.timings.get("total_s"),
        decline_logprob=answer.decline_logprob,
        retrieval_similarity=answer.retrieval_similarity,
    )


def _ref(hit: SearchHit) -> PassageRef:
    return PassageRef(hit.document_id, hit.source_uri, hit.chunk_id)
