"""The answer pipeline: retrieve, fit the prompt, generate (streaming), check citations, abstain.

This is where retriever and generator meet, so it lives in ``app``. The model is never trusted
to abstain on its own (the field notes: the 0.5B model pastes a passage instead); the pipeline
abstains when retrieval is weak or when no sentence of the answer is supported by a passage it
cites, and then shows the closest sources instead of an answer.

Passages are data: sentences that read as instructions to the model are kept out of what it reads
and listed in the answer (``flagged_instructions``), and an answer sentence that repeats one is
dropped (the answer abstains when nothing else is left). Chat history is fitted to the model's
window, oldest turns dropped first (``generator.window``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, TypedDict, Unpack

import numpy as np

from generator.base import GenerationOptions, Generator, Message, ReplyScorer, check_structured_output
from generator.citations import (
    CheckedSentence,
    CitationPolicy,
    Embed,
    check_answer,
    is_declined,
    split_sentences,
    strip_markers,
)
from generator.focus import focus, quarantine
from generator.follow_up import standalone
from generator.prompt import DEFAULT_FORM, NOT_IN_DOCUMENTS, Passage, PromptPlan, answer_form, plan_prompt
from generator.question_repair import repair_question
from generator.structured import checkable_text, json_strings
from generator.window import reply_tokens
from retriever.fusion import FusionWeights
from retriever.knowledge_base import KnowledgeBase
from retriever.search import SearchFilters, SearchMode, search
from retriever.types import SearchHit


@dataclass(frozen=True, slots=True)
class AnswerOptions:
    k: int = 3
    mode: SearchMode = SearchMode.HYBRID
    filters: SearchFilters = field(default_factory=SearchFilters)
    answer_tokens: int = 96
    min_retrieval_similarity: float = 0.25  # cosine of the best passage; below it, abstain unasked
    # Sentences of the passages the model reads; 0 = whole passages. 8 rather than 4: the answer's
    # sentence was among the 4 best by the lexical score for 85% of the guide's dev questions, and
    # reading 8 lifted the 0.5B model from 0.196 to 0.348 correct there (bench/results/answer-levers.md).
    focus_sentences: int = 8
    repair_questions: bool = True  # apply self-corrections ("X, no wait, Y") before answering
    # Abstain when the model's log-probability of declining is at least this; None = the model's
    # calibrated default (generator.decline_threshold), and without one only greedy declines count.
    decline_threshold: float | None = None
    citation_policy: CitationPolicy = field(default_factory=CitationPolicy)
    prompt_lookup: bool = True  # used when the generator was loaded with it
    weights: FusionWeights | None = None  # hybrid fusion; None = the retriever's default
    answer_form: str = DEFAULT_FORM  # the prompt's instruction and examples (generator.prompt.ANSWER_FORMS)
    # Hold the answer to a verbatim span of one passage it reads, cited by the backend (llama.cpp).
    copy_answers: bool = False
    # Sampling, as an API client may ask for it; the default is greedy (reproducible answers).
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()  # more stops; an answer always ends at its first line break
    # Write the answer as JSON matching this schema (JSON text, as generator.structured's
    # ANSWER_OBJECT; llama.cpp models only), returned as written and checked on its strings.
    json_schema: str | None = None

    def __post_init__(self) -> None:
        answer_form(self.answer_form)  # an unknown form fails here, not at the first question


@dataclass(frozen=True, slots=True)
class Citation:
    number: int
    document_id: int
    chunk_id: int
    source_uri: str
    title: str
    page: int | None
    heading: str
    char_start: int  # the supporting span, in the document's extracted text
    char_end: int
    quote: str
    supported: bool
    inferred: bool = False  # the model wrote no marker; the checker found the supporting passage


@dataclass(frozen=True, slots=True)
class FlaggedText:
    """Passage text that reads as an instruction to the model: the model did not read it."""

    chunk_id: int
    reason: str
    text: str


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    standalone_question: str
    answer: str
    abstained: bool
    abstain_reason: str | None
    sentences: list[CheckedSentence]
    citations: list[Citation]
    sources: list[SearchHit]  # every passage the model saw, or the closest ones when abstaining
    dropped_passages: list[int]  # chunk ids the model did not read: unfocused, or no room in its window
    timings: dict[str, float]
    decline_logprob: float | None = None  # the model's log-probability of declining, when scored
    flagged_instructions: list[FlaggedText] = field(default_factory=list)  # kept from the model
    # Every hit of the search, ranked: what the evaluation scores retrieval on (hit@k, MRR).
    retrieved: list[SearchHit] = field(default_factory=list)
    # The best similarity of the question to the first passages: the weak-retrieval test's input.
    retrieval_similarity: float | None = None
    # Tokens the model read and wrote for this answer (the follow-up rewrite included), counted by
    # its own tokenizer: the usage an OpenAI client reports. 0 when the model was not asked.
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"  # "length" when the answer reached its token limit


@dataclass(slots=True)
class _Trace:
    hits: list[SearchHit] = field(default_factory=list)
    best_similarity: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"


@dataclass(frozen=True, slots=True)
class ReadPlan:
    plan: PromptPlan
    used: list[SearchHit]  # the passages in the prompt, in prompt order
    dropped: list[int]  # chunk ids retrieved but not read
    flagged: list[FlaggedText] = field(default_factory=list)  # retrieved text kept out as instructions


@dataclass(frozen=True, slots=True)
class AnswerEvent:
    """What a streaming caller receives: tokens, then exactly one final answer."""

    kind: Literal["token", "answer"]
    text: str = ""
    answer: Answer | None = None


class AnswerPipeline:
    def __init__(
        self,
        kb: KnowledgeBase,
        generator: Generator,
        options: AnswerOptions | None = None,
        similarity: Callable[[str, Sequence[SearchHit]], list[float]] | None = None,
        embed: Embed | None = None,
    ) -> None:
        self.kb = kb
        self.generator = generator
        self.options = options or AnswerOptions()
        self.embed = embed
        self._similarity = similarity  # None: cosine of the query's embedding and the passages'

    def ask(self, question: str, history: Sequence[Message] = ()) -> Answer:
        events = list(self.stream(question, history))
        final = events[-1].answer
        assert final is not None
        return final

    def stream(self, question: str, history: Sequence[Message] = ()) -> Iterator[AnswerEvent]:
        trace = _Trace()
        for event in self._stream(question, history, trace):
            if event.kind == "answer":
                event = replace_answer(
                    event,
                    retrieved=list(trace.hits),
                    retrieval_similarity=trace.best_similarity,
                    prompt_tokens=trace.prompt_tokens,
                    completion_tokens=trace.completion_tokens,
                    finish_reason=trace.finish_reason,
                )
            yield event

    def _stream(self, question: str, history: Sequence[Message], trace: _Trace) -> Iterator[AnswerEvent]:
        """``stream`` without what ``trace`` collects (the ranked hits, the best similarity, the
        tokens the model read and wrote) on the final answer."""
        if not question.strip():
            raise ValueError("the question is empty")
        options, timings = self.options, {}
        started = time.perf_counter()
        rewrite = standalone(self.generator, question, history)
        trace.prompt_tokens, trace.completion_tokens = rewrite.prompt_tokens, rewrite.completion_tokens
        # Retrieval keeps every word (the taken-back words name the topic too); the model reads
        # the repaired question.
        asked = repair_question(rewrite.question) if options.repair_questions else rewrite.question
        hits, best = self._retrieve(rewrite.search)
        trace.hits, trace.best_similarity = hits, best
        timings["retrieval_s"] = time.perf_counter() - started
        if not hits or best < options.min_retrieval_similarity:
            reason = "no passages found" if not hits else f"weak retrieval (best similarity {best:.2f})"
            yield self._abstention(question, asked, reason, hits, [], timings, started)
            return

        read = self._read(asked, hits)
        plan, used, dropped, flagged = read.plan, read.used, read.dropped, read.flagged
        threshold, declining = self._decline_logprob(plan.messages)
        if declining is not None:
            trace.prompt_tokens += plan.prompt_tokens
        if declining is not None and declining >= threshold:
            timings["decline_check_s"] = time.perf_counter() - started - timings["retrieval_s"]
            reason = f"the model finds no answer in the passages (p={math.exp(declining):.2f})"
            abstention = self._abstention(question, asked, reason, used, dropped, timings, started)
            yield replace_answer(abstention, decline_logprob=declining, flagged_instructions=flagged)
            return
        generation = GenerationOptions(
            max_tokens=options.answer_tokens,
            temperature=options.temperature,
            top_p=options.top_p,
            seed=options.seed,
            stop=options.stop if options.json_schema else ("\n", *options.stop),  # JSON may span lines
            prompt_lookup=options.prompt_lookup,
            copy=options.copy_answers,
            json_schema=options.json_schema,
        )
        check_structured_output(self.generator, generation)
        pieces: list[str] = []
        for piece in self.generator.stream(plan.messages, generation):
            if not pieces:
                timings["first_token_s"] = time.perf_counter() - started
            pieces.append(piece)
            yield AnswerEvent("token", piece)
        text = "".join(pieces).strip()
        timings["generation_s"] = time.perf_counter() - started - timings["retrieval_s"]
        if declining is None:  # the scoring read the same prompt: the model keeps it evaluated
            trace.prompt_tokens += plan.prompt_tokens
        written = reply_tokens(self.generator, "".join(pieces))
        trace.completion_tokens += written
        trace.finish_reason = "length" if written >= options.answer_tokens else "stop"

        strings = json_strings(text) if options.json_schema else None
        checked = text if options.json_schema is None else checkable_text(strings or [])
        sentences = check_answer(checked, plan.passages, self.embed, options.citation_policy)
        declined = is_declined(checked)
        if declined or strings == [] or not any(s.supported for s in sentences):
            repeated = next((s.flagged for s in sentences if s.flagged), None)
            if options.json_schema and strings is None:
                reason = "the answer is not valid JSON (cut short at its token limit?)"
            elif declined:
                reason = "the model found no answer"
            elif repeated:
                reason = f"the answer repeats passage text flagged as an instruction ({repeated})"
            else:
                reason = "no sentence is supported"
            abstention = self._abstention(question, asked, reason, used, dropped, timings, started, sentences)
            yield replace_answer(abstention, decline_logprob=declining, flagged_instructions=flagged)
            return
        citations = _resolve(sentences, plan.passages, used)
        timings["total_s"] = time.perf_counter() - started
        answer = Answer(
            question,
            asked,
            text if options.json_schema else _clean(text, sentences),
            False,
            None,
            sentences,
            citations,
            used,
            dropped,
            timings,
            declining,
            flagged,
        )
        yield AnswerEvent("answer", answer=answer)

    def prompt_for(self, question: str, query_vector: np.ndarray | None = None) -> ReadPlan | None:
        """The prompt the model would get for ``question`` (without history), or None when the
        pipeline would abstain before asking the model. Fine-tuning data is built with it, so a
        trained model learns on exactly the prompts it will answer. ``query_vector``: the
        question's embedding, when made in a batch with others (``query_vectors``)."""
        options = self.options
        asked = repair_question(question.strip()) if options.repair_questions else question.strip()
        hits, best = self._retrieve(question, query_vector)
        if not hits or best < options.min_retrieval_similarity:
            return None
        return self._read(asked, hits)

    def query_vectors(self, questions: Sequence[str]) -> np.ndarray:
        """The retrieval embeddings of many questions at once, for ``prompt_for``. A user's own
        embedder may lack the batched call (it came later): then one at a time."""
        embedder = self.kb.embedder
        if hasattr(embedder, "embed_queries"):
            return embedder.embed_queries(questions)
        return np.stack([embedder.embed_query(q) for q in questions]) if questions else np.zeros((0, 0))

    def _retrieve(self, query: str, vector: np.ndarray | None = None) -> tuple[list[SearchHit], float]:
        """The top passages, and the best similarity among the first three (the abstain test).
        The query is embedded once, for the dense search and the similarity both."""
        options = self.options
        if vector is None and (options.mode is not SearchMode.SPARSE or self._similarity is None):
            vector = self.kb.embedder.embed_query(query)
        hits = search(
            self.kb, query, k=options.k, mode=options.mode, filters=options.filters,
            weights=options.weights, query_vector=vector,
        )  # fmt: skip
        if self._similarity is not None:
            return hits, max(self._similarity(query, hits[:3]), default=0.0)
        assert vector is not None
        return hits, max(self._dense_similarity(vector, hits[:3]), default=0.0)

    def _read(self, asked: str, hits: list[SearchHit]) -> ReadPlan:
        """What the model reads: the most relevant sentences of the passages, renumbered, fitted to
        its window; the chunks it does not read are listed as dropped, and text kept out because
        it reads as instructions to the model is listed as flagged."""
        passages = [quarantine(_as_passage(n, hit)) for n, hit in enumerate(hits, start=1)]
        flagged = [
            FlaggedText(hit.chunk_id, flag.reason, passage.text[flag.start : flag.end])
            for passage, hit in zip(passages, hits, strict=True)
            for flag in passage.flagged
        ]
        focused = focus(asked, passages, self.options.focus_sentences)
        kept = {index for index, _ in focused}
        unread = [hit.chunk_id for index, hit in enumerate(hits) if index not in kept]
        hits = [hits[index] for index, _ in focused]  # the passages the model reads, renumbered
        passages = [replace(p, number=n) for n, (_, p) in enumerate(focused, start=1)]
        plan = plan_prompt(
            self.generator, asked, passages, self.options.answer_tokens, self.options.answer_form
        )
        dropped = unread + [hit.chunk_id for hit in hits[len(plan.passages) :]]
        return ReadPlan(plan, hits[: len(plan.passages)], dropped, flagged)

    def _decline_logprob(self, messages: Sequence[Message]) -> tuple[float, float | None]:
        """(threshold, the model's log-probability of declining); not scored without a threshold.
        A threshold of +inf scores without ever abstaining (the benchmark calibrates with it)."""
        threshold = self.options.decline_threshold
        if threshold is None:
            threshold = getattr(self.generator, "decline_threshold", None)
        if threshold is None or not isinstance(self.generator, ReplyScorer):
            return math.inf, None
        return threshold, self.generator.reply_logprob(messages, NOT_IN_DOCUMENTS)

    def _dense_similarity(self, query: np.ndarray, hits: Sequence[SearchHit]) -> list[float]:
        if not hits:
            return []
        vectors = self.kb.index.vectors(
            [hit.chunk_id for hit in hits if self.kb.index.contains(hit.chunk_id)]
        )
        return [float(v @ query) for v in vectors]

    def _abstention(
        self,
        question: str,
        standalone: str,
        reason: str,
        hits: Sequence[SearchHit],
        dropped: list[int],
        timings: dict[str, float],
        started: float,
        sentences: list[CheckedSentence] | None = None,
    ) -> AnswerEvent:
        timings["total_s"] = time.perf_counter() - started
        answer = Answer(
            question,
            standalone,
            NOT_IN_DOCUMENTS,
            True,
            reason,
            sentences or [],
            [],
            list(hits[:3]),
            dropped,
            timings,
        )
        return AnswerEvent("answer", answer=answer)


class AnswerChanges(TypedDict, total=False):
    """The fields of ``Answer`` that ``replace_answer`` sets on a final answer (those with defaults)."""

    decline_logprob: float | None
    flagged_instructions: list[FlaggedText]
    retrieved: list[SearchHit]
    retrieval_similarity: float | None
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


def replace_answer(event: AnswerEvent, **changes: Unpack[AnswerChanges]) -> AnswerEvent:
    assert event.answer is not None
    return AnswerEvent(event.kind, event.text, replace(event.answer, **changes))


def _as_passage(number: int, hit: SearchHit) -> Passage:
    return Passage(number, hit.text, title=hit.title, heading=" › ".join(hit.heading_path), page=hit.page)


def _resolve(
    sentences: list[CheckedSentence], passages: list[Passage], hits: list[SearchHit]
) -> list[Citation]:
    """One citation per cited passage, pointing at its best supporting span in the document."""
    hit_of = {passage.number: hit for passage, hit in zip(passages, hits, strict=True)}
    best: dict[int, tuple[bool, float, tuple[int, int], bool]] = {}
    for sentence in sentences:
        if sentence.flagged:  # dropped from the answer (see ``_clean``)
            continue
        for support in sentence.citations:
            key = (support.supported, support.lexical, support.span, support.inferred)
            if support.passage not in best or key[:2] > best[support.passage][:2]:
                best[support.passage] = key
    citations = []
    for number in sorted(best):
        supported, _, (start, end), inferred = best[number]
        hit = hit_of[number]
        citations.append(
            Citation(
                number=number,
                document_id=hit.document_id,
                chunk_id=hit.chunk_id,
                source_uri=hit.source_uri,
                title=hit.title,
                page=hit.page,
                heading=" › ".join(hit.heading_path),
                char_start=hit.char_start + start,
                char_end=hit.char_start + end,
                quote=hit.text[start:end],
                supported=supported,
                inferred=inferred,
            )
        )
    return citations


def _clean(text: str, sentences: list[CheckedSentence]) -> str:
    """The answer with markers to passages that were never given removed, each sentence whose
    citation the checker inferred marked with that passage instead of the marker it had, and
    sentences that repeat text flagged as instructions dropped."""
    for sentence in sentences:
        for number in sentence.removed:
            text = text.replace(f"[{number}]", "")
    pieces = split_sentences(" ".join(text.split()))
    if len(pieces) != len(sentences):  # cannot pair them up
        if not any(sentence.flagged for sentence in sentences):
            return " ".join(pieces)
        pieces = [_marked(s.text, [c.passage for c in s.citations if not c.inferred]) for s in sentences]
    for i, sentence in enumerate(sentences):
        inferred = [s.passage for s in sentence.citations if s.inferred]
        if inferred:
            pieces[i] = _marked(strip_markers(pieces[i]), inferred[:1])
    return " ".join(piece for piece, sentence in zip(pieces, sentences, strict=True) if not sentence.flagged)


def _marked(body: str, numbers: list[int]) -> str:
    """A sentence with citation markers before its final punctuation."""
    end = body[-1] if body and body[-1] in ".!?" else ""
    markers = "".join(f"[{n}]" for n in numbers)
    return f"{body[: len(body) - len(end)].rstrip()} {markers}{end}" if markers else body
