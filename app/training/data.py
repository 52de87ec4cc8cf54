"""Fine-tuning examples for Citewise's own model, in exactly the prompts the answer pipeline builds.

Two sources: question-answer records the user gives (JSONL: ``{"question": ..., "answer": ...}``,
an empty answer or "unknown" meaning the documents do not say), and distillation, where the
packaged teacher model writes a question and a short answer for a sampled passage. Either way the
prompt comes from ``AnswerPipeline.prompt_for`` (retrieval, focusing, the window), the reply cites
the passage that contains the answer or says the documents do not say when none of the passages
shown does, and a distilled reply is kept only if the citation check supports it.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.answer_scores import normalize, strip_citations
from app.answering import AnswerPipeline, ReadPlan
from generator.base import GenerationOptions, Generator, Message
from generator.citations import check_answer
from generator.gpt.finetune import QAExample
from generator.prompt import NOT_IN_DOCUMENTS, Passage, build_messages

UNANSWERABLE = {"", "unknown", NOT_IN_DOCUMENTS.rstrip(".").lower()}
TEACHER_PROMPT = (
    "Write one short question that the passage answers with a few of its words. Reply with the question only."
)
_QUESTION = re.compile(r"^\s*(?:Question:\s*)?(.+?\?)\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Labeled:
    example: QAExample
    question: str
    gold: str  # the answer as given or written by the teacher; "" when the documents do not say

    def as_record(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "gold": self.gold,
            "reply": self.example.reply,
            "messages": [{"role": m.role, "content": m.content} for m in self.example.messages],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Labeled:
        messages = tuple(Message(m["role"], m["content"]) for m in record["messages"])
        return cls(QAExample(messages, record["reply"]), record["question"], record["gold"])


@dataclass
class ExampleSet:
    examples: list[Labeled] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)  # why records were kept or skipped


def reply_for(read: ReadPlan, answer: str) -> str:
    """The reply a grounded model gives: the answer cited to the first shown passage containing it,
    or the plain decline when no passage shown contains it."""
    if answer.strip().rstrip(".").casefold() in UNANSWERABLE:
        return NOT_IN_DOCUMENTS
    wanted = normalize(answer)  # case, punctuation and markup such as ``code`` do not count
    for passage in read.plan.passages:
        if wanted and wanted in normalize(passage.visible_text()):
            return f"{answer.strip().rstrip('.')} [{passage.number}]"
    return NOT_IN_DOCUMENTS


def prompt_or_none(
    pipeline: AnswerPipeline, question: str, out: ExampleSet, query_vector: np.ndarray | None = None
) -> ReadPlan | None:
    """The pipeline's prompt, or None (counted) when the model would not be asked or it cannot fit."""
    try:
        read = pipeline.prompt_for(question, query_vector)
    except ValueError:  # the question alone does not fit the model's window
        out.counts["too long for the model's window"] += 1
        return None
    if read is None:
        out.counts["retrieval too weak to ask the model"] += 1
    return read


def from_records(pipeline: AnswerPipeline, records: Sequence[dict[str, Any]]) -> ExampleSet:
    out = ExampleSet()
    for record in records:
        question, answer = str(record.get("question", "")).strip(), str(record.get("answer", "")).strip()
        if not question:
            out.counts["no question"] += 1
            continue
        read = prompt_or_none(pipeline, question, out)
        if read is None:
            continue
        keep(out, read, reply_for(read, answer), question, answer)
    return out


def keep(out: ExampleSet, read: ReadPlan, reply: str, question: str, answer: str) -> None:
    """Record one example in the pipeline's prompt, counted as an answer or a decline."""
    out.counts["declines" if reply == NOT_IN_DOCUMENTS else "answers"] += 1
    out.examples.append(Labeled(QAExample(tuple(read.plan.messages), reply), question, answer))


def over_decline_share(out: ExampleSet, reply: str, share: float) -> bool:
    """Whether ``reply`` is a decline that would take declines past ``share`` of the examples kept
    so far (counted when it would). The share is of what was kept, as time usually ends a run long
    before its count of examples is reached."""
    if reply != NOT_IN_DOCUMENTS or out.counts["declines"] + 1 <= share * (len(out.examples) + 1):
        return False
    out.counts["decline over the share"] += 1
    return True


def parse_question(text: str) -> str | None:
    """The first line of the teacher's reply that is a question (a "Question:" label is dropped)."""
    found = _QUESTION.search(text)
    return found.group(1).strip().strip('"') if found else None


def teacher_answer(teacher: Generator, question: str, passage: str) -> str | None:
    """The teacher answers its own question from the passage alone, with the answer prompt every
    backend gets (short, copied, cited); None when it declines."""
    messages = build_messages(question, [Passage(1, passage)])
    text = teacher.generate(messages, GenerationOptions(max_tokens=32, stop=("\n",))).text
    answer = strip_citations(text).strip().strip('"').rstrip(".").strip()
    return None if not answer or NOT_IN_DOCUMENTS.rstrip(".").casefold() in answer.casefold() else answer


def distill(
    pipeline: AnswerPipeline,
    teacher: Generator,
    passages: Sequence[str],
    count: int,
    seconds: float,
    seed: int = 0,
    max_decline_share: float = 0.3,
) -> ExampleSet:
    """Up to ``count`` examples written by ``teacher`` within ``seconds``; each reply must pass the
    citation check against the prompt's passages (``pipeline.embed`` supplies the embeddings).
    Declines (retrieval did not show the passage) make at most ``max_decline_share`` of the
    examples kept so far (the time may run out long before ``count``), so the model learns to
    answer first and to decline when it must."""
    out = ExampleSet()
    order = list(passages)
    random.Random(seed).shuffle(order)
    deadline = time.monotonic() + seconds
    options = GenerationOptions(max_tokens=48, stop=("\n",))
    for text in order:
        if len(out.examples) >= count or time.monotonic() > deadline:
            break
        written = teacher.generate([Message("system", TEACHER_PROMPT), Message("user", text)], options).text
        question = parse_question(written)
        if question is None:
            out.counts["teacher wrote no question"] += 1
            continue
        answer = teacher_answer(teacher, question, text)
        if answer is None or len(answer.split()) > 8 or normalize(answer) not in normalize(text):
            out.counts["answer not copied from the passage"] += 1
            continue
        read = prompt_or_none(pipeline, question, out)
        if read is None:
            continue
        reply = reply_for(read, answer)
        if over_decline_share(out, reply, max_decline_share):
            continue
        if reply != NOT_IN_DOCUMENTS:
            checked = check_answer(
                reply, read.plan.passages, pipeline.embed, pipeline.options.citation_policy
            )
            if not checked or not all(sentence.supported for sentence in checked):
                out.counts["citation check failed"] += 1
                continue
        keep(out, read, reply, question, answer)
    return out
