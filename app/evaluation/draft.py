"""``citewise eval draft``: a first question file for a user who has none, written by a model.

For sampled passages the teacher (the answer model, or ``--model``) writes a question and answers
it from that passage alone, with the same prompts as distillation for ``citewise train``
(``app.training.data``). A question is kept only when its answer is short and found verbatim in
the passage, so the answer and its source are right by construction; what a reviewer still has
to judge is whether the question is one a user would ask.

Unanswerable drafts are on-topic questions the collection does not answer: the teacher asks about
a passage's subject something the passage does not say, then is shown the passages retrieval finds
for it in the normal answer prompt; it is kept only when the teacher declines there (or retrieval
finds nothing close enough to ask a model at all, which is how ``ask`` would abstain).

Every record is tagged ``draft`` and marked ``"draft": true``: a draft is to be reviewed, not
trusted.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.answer_scores import normalize
from app.answering import AnswerPipeline
from app.training.data import TEACHER_PROMPT, parse_question, teacher_answer
from app.training.run import corpus_passages
from generator.base import GenerationOptions, Generator, Message
from generator.prompt import NOT_IN_DOCUMENTS
from retriever import catalog
from retriever.knowledge_base import KnowledgeBase

MAX_ANSWER_WORDS = 8
TRIES_PER_QUESTION = 6  # passages tried at most per question asked for
UNANSWERABLE_SHARE = 0.2
DRAFT_TAG = "draft"
UNANSWERED_PROMPT = (
    "Write one short question about the subject of the passage that the passage does not answer. "
    "Reply with the question only."
)
_QUESTION_OPTIONS = GenerationOptions(max_tokens=48, stop=("\n",))
_DECLINE = NOT_IN_DOCUMENTS.rstrip(".").casefold()


@dataclass(frozen=True, slots=True)
class SourcePassage:
    text: str
    source: str  # the document's file name as the question file's ``sources`` matches it


@dataclass(frozen=True, slots=True)
class DraftQuestion:
    question: str
    answer: str | None  # None: the collection does not answer it
    source: str | None = None

    def as_record(self, identifier: str) -> dict[str, Any]:
        record: dict[str, Any] = {"id": identifier, "question": self.question}
        if self.answer is None:
            record["unanswerable"] = True
        else:
            record["answers"] = [self.answer]
            record["sources"] = [self.source]
        return record | {"tags": [DRAFT_TAG], "draft": True}


@dataclass
class Drafts:
    questions: list[DraftQuestion] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)  # why candidates were dropped
    tried: int = 0
    interrupted: bool = False

    @property
    def answerable(self) -> int:
        return sum(1 for q in self.questions if q.answer is not None)

    @property
    def unanswerable(self) -> int:
        return len(self.questions) - self.answerable

    def records(self) -> list[dict[str, Any]]:
        width = max(3, len(str(len(self.questions))))
        return [q.as_record(f"draft-{i:0{width}d}") for i, q in enumerate(self.questions, start=1)]


def default_unanswerable(count: int) -> int:
    """About a fifth of the questions, at least one when there are five or more."""
    return round(count * UNANSWERABLE_SHARE)


def collection_passages(kb: KnowledgeBase, collection: str) -> list[SourcePassage]:
    """Every stored chunk of the collection (as ``citewise train`` reads them) with its document's
    shortest unambiguous file name. An unknown collection raises ``CollectionNotFoundError``."""
    passages = corpus_passages(kb, (collection,))
    ids = {int(p.document) for p in passages}
    uris = catalog.source_uris(kb, ids)
    names = short_names(set(uris.values()))
    return [SourcePassage(p.text, names[uris[int(p.document)]]) for p in passages if p.text.strip()]


def short_names(uris: set[str]) -> dict[str, str]:
    """Each path's last components, as few as tell it apart from the others ("cli.md", or
    "api/index.md" when "ui/index.md" exists too): what a user writes in ``sources``, and a suffix
    of whole components, which is how scoring matches sources."""
    parts = {uri: _path(uri).split("/") for uri in uris}
    names: dict[str, str] = {}
    for uri, mine in parts.items():
        for size in range(1, len(mine) + 1):
            tail = mine[-size:]
            if not any(other[-size:] == tail for o, other in parts.items() if o != uri):
                break
        names[uri] = "/".join(tail).lstrip("/") or uri
    return names


def _path(uri: str) -> str:
    text = uri.strip().replace("\\", "/")
    return text[len("file://") :] if text.startswith("file://") else text


class Drafter:
    """Writes the drafts; ``pipeline`` (over the collection) retrieves for the unanswerable check."""

    def __init__(self, teacher: Generator, pipeline: AnswerPipeline) -> None:
        self.teacher, self.pipeline = teacher, pipeline
        self._seen: set[str] = set()

    def run(
        self,
        passages: Sequence[SourcePassage],
        count: int,
        unanswerable: int,
        seed: int = 0,
        on_step: Callable[[Drafts], None] | None = None,
    ) -> Drafts:
        """Up to ``count`` drafts, ``unanswerable`` of them unanswerable, trying at most
        ``TRIES_PER_QUESTION * count`` passages. Ctrl-C stops it with what was kept."""
        out = Drafts()
        wanted = {True: count - unanswerable, False: unanswerable}  # keyed by answerable
        rng = random.Random(seed)
        queues = {kind: rng.sample(list(passages), len(passages)) for kind in (True, False)}
        try:
            while out.tried < TRIES_PER_QUESTION * count:
                kind = self._next_kind(out, wanted, queues)
                if kind is None:
                    break
                passage = queues[kind].pop()
                out.tried += 1
                drafted = self._answerable(passage, out) if kind else self._unanswerable(passage, out)
                if drafted is not None:
                    out.questions.append(drafted)
                if on_step is not None:
                    on_step(out)
        except KeyboardInterrupt:
            out.interrupted = True
        return out

    @staticmethod
    def _next_kind(
        out: Drafts, wanted: dict[bool, int], queues: dict[bool, list[SourcePassage]]
    ) -> bool | None:
        """The kind furthest behind its target (relatively) that still has passages to try."""
        have = {True: out.answerable, False: out.unanswerable}
        open_kinds = [kind for kind in (True, False) if have[kind] < wanted[kind] and queues[kind]]
        if not open_kinds:
            return None
        return min(open_kinds, key=lambda kind: have[kind] / wanted[kind])

    def _question(self, prompt: str, passage: SourcePassage, out: Drafts) -> str | None:
        written = self.teacher.generate(
            [Message("system", prompt), Message("user", passage.text)], _QUESTION_OPTIONS
        )
        question = parse_question(written.text)
        if question is None:
            out.counts["teacher wrote no question"] += 1
            return None
        key = normalize(question)
        if key in self._seen:
            out.counts["duplicate question"] += 1
            return None
        return question

    def _keep(self, question: str) -> None:
        self._seen.add(normalize(question))

    def _answerable(self, passage: SourcePassage, out: Drafts) -> DraftQuestion | None:
        question = self._question(TEACHER_PROMPT, passage, out)
        if question is None:
            return None
        answer = teacher_answer(self.teacher, question, passage.text)
        if answer is None:
            out.counts["teacher could not answer its question"] += 1
            return None
        if len(answer.split()) > MAX_ANSWER_WORDS:
            out.counts[f"answer longer than {MAX_ANSWER_WORDS} words"] += 1
            return None
        if not normalize(answer) or normalize(answer) not in normalize(passage.text):
            out.counts["answer not found in the passage"] += 1
            return None
        self._keep(question)
        return DraftQuestion(question, answer, passage.source)

    def _unanswerable(self, passage: SourcePassage, out: Drafts) -> DraftQuestion | None:
        question = self._question(UNANSWERED_PROMPT, passage, out)
        if question is None:
            return None
        try:
            read = self.pipeline.prompt_for(question)
        except ValueError:  # the question alone does not fit the model's window
            out.counts["too long for the model's window"] += 1
            return None
        if read is not None:
            options = GenerationOptions(max_tokens=self.pipeline.options.answer_tokens, stop=("\n",))
            reply = self.teacher.generate(read.plan.messages, options).text
            if _DECLINE not in reply.casefold():
                out.counts["the collection answers it"] += 1
                return None
        self._keep(question)
        return DraftQuestion(question, None)


def write_drafts(path: Path, drafts: Drafts) -> None:
    """The question file, one JSON object a line, in the order drafted."""
    lines = [json.dumps(record, ensure_ascii=False) for record in drafts.records()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
