"""Cloze examples: many cheap fine-tuning examples made from the training passages themselves.

The teacher writes a few hundred examples an hour here; a model trained from scratch needs
thousands before it learns where in the passages an answer is. So most examples are made without a
model: each clause of a sentence is turned into a question about its end ("The default encoding
is UTF-8." gives "What is the default encoding?" with the answer "UTF-8"; without a verb to ask
about, the missing words become "what"). They go through the same pipeline prompt and reply rules
as the teacher's examples, and are used for fine-tuning only: the held-out evaluation keeps to the
teacher's questions, so it measures the questions a person asks, not the cloze form.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator, Sequence

from app.answering import AnswerPipeline
from app.training.data import ExampleSet, keep, over_decline_share, prompt_or_none, reply_for

COPULAS = {"is", "are", "was", "were"}
# Verbs common in documentation, in the third person ("X returns Y" -> "What does X return?");
# a plain "ends in s" test took plural nouns for verbs.
VERBS = {
    "accepts", "allows", "becomes", "calls", "causes", "contains", "controls", "converts", "creates",
    "defines", "describes", "determines", "gives", "holds", "includes", "makes", "means", "produces",
    "provides", "raises", "reads", "represents", "requires", "returns", "runs", "sets", "specifies",
    "starts", "stores", "supports", "takes", "uses", "writes",
}  # fmt: skip
# A clause starting with one of these is subordinate or joined: its start is no subject.
_NOT_A_SUBJECT = {
    "also", "although", "and", "as", "because", "but", "however", "if", "now", "or", "since", "so",
    "that", "then", "though", "unless", "when", "where", "whether", "which", "while",
}  # fmt: skip
MAX_ANSWER_WORDS = 8
MAX_SUBJECT_WORDS = 10
BATCH = 64  # questions embedded at once
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z`\"'(])")
_PARAGRAPH = re.compile(r"\n\s*\n")
_CLAUSE_END = re.compile(r"[,;:.!?]$")
_PLAIN_WORD = re.compile(r"^[A-Za-z][a-z]*$")


def sentences(text: str) -> list[str]:
    """Prose sentences of a passage. Paragraphs (separated by blank lines) are joined first, as
    documentation wraps its lines; indented ones (code, a directive's body) are skipped."""
    found = []
    for paragraph in _PARAGRAPH.split(text):
        if not paragraph.strip() or paragraph[:1].isspace():
            continue
        for sentence in _SENTENCE.split(" ".join(paragraph.split())):
            words = sentence.split()
            prose = sentence[:1].isupper() and sum(w.isalpha() for w in words) >= 4
            if prose and 6 <= len(words) <= 40 and sentence[-1:] in ".!?":
                found.append(sentence)
    return found


def _clauses(words: list[str]) -> list[tuple[int, int]]:
    """(first, last) word indexes of each clause (ended by , ; : . ! ? or the sentence's end)."""
    clauses, start = [], 0
    for index, word in enumerate(words):
        if _CLAUSE_END.search(word) or index == len(words) - 1:
            clauses.append((start, index))
            start = index + 1
    return clauses


def _subject(words: Sequence[str]) -> str:
    text = " ".join(words)
    first = words[0]
    if _PLAIN_WORD.match(first) and not first.isupper():  # "The ..." -> "the ..."; keep names of code
        text = first.lower() + text[len(first) :]
    return text


def cloze_candidates(sentence: str, rng: random.Random) -> list[tuple[str, str]]:
    """Every (question, answer) one sentence offers: a question about each verb's clause end, or,
    without a verb to ask about, each long clause's last words as "what"."""
    words = sentence.split()
    asks: list[tuple[str, str]] = []
    fallbacks: list[tuple[str, str]] = []
    for first, last in _clauses(words):
        clause_words = [w.rstrip(",;:.!?") for w in words[first : last + 1]]
        for pivot in range(1, len(clause_words) - 1):
            verb = clause_words[pivot].lower()
            answer = clause_words[pivot + 1 :]
            subject = clause_words[:pivot]
            if not 1 <= len(answer) <= MAX_ANSWER_WORDS or pivot > MAX_SUBJECT_WORDS:
                continue
            lowered = {w.lower() for w in subject}
            if subject[0].lower() in _NOT_A_SUBJECT or lowered & (COPULAS | VERBS):
                continue
            if verb in COPULAS:
                asks.append((f"What {verb} {_subject(subject)}?", " ".join(answer)))
            elif verb in VERBS:
                base = verb[:-3] + "y" if verb.endswith("ies") else verb[:-1]  # specifies, returns
                asks.append((f"What does {_subject(subject)} {base}?", " ".join(answer)))
        if last - first >= 6:
            size = rng.randint(1, min(5, last - first - 2))
            kept = [*words[: last + 1 - size], "what", *words[last + 1 :]]
            question = " ".join(kept).rstrip(",;:.!?") + "?"
            fallbacks.append((question, " ".join(clause_words[len(clause_words) - size :])))
    return asks or fallbacks


def cloze_examples(
    pipeline: AnswerPipeline,
    passages: Sequence[str],
    count: int,
    seconds: float,
    seed: int = 0,
    max_decline_share: float = 0.2,
) -> ExampleSet:
    """Up to ``count`` cloze examples within ``seconds``, in the pipeline's prompts; declines (the
    retrieved passages do not show the answer) make at most ``max_decline_share`` of them. The
    questions are embedded in batches, which costs less per question than one at a time."""
    rng = random.Random(seed)
    out = ExampleSet()
    asked: set[str] = set()
    deadline = time.monotonic() + seconds
    made = _all_questions(passages, rng)
    while len(out.examples) < count and time.monotonic() < deadline:
        batch = _questions(made, asked, out, BATCH)
        if not batch:
            break
        vectors = pipeline.query_vectors([question for question, _ in batch])
        for (question, answer), vector in zip(batch, vectors, strict=True):
            if len(out.examples) >= count or time.monotonic() > deadline:
                break
            read = prompt_or_none(pipeline, question, out, vector)
            if read is None:
                continue
            reply = reply_for(read, answer)
            if not over_decline_share(out, reply, max_decline_share):
                keep(out, read, reply, question, answer)
    return out


def _all_questions(passages: Sequence[str], rng: random.Random) -> Iterator[tuple[str, str]]:
    """Every question the passages offer, in rounds: each round takes one more question from
    every passage (in a shuffled order), so a short time still covers all passages."""
    pending = []
    for text in passages:
        offered = [pair for sentence in sentences(text) for pair in cloze_candidates(sentence, rng)]
        rng.shuffle(offered)
        if offered:
            pending.append(offered)
    rng.shuffle(pending)
    while pending:
        for offered in pending:
            yield offered.pop()
        pending = [offered for offered in pending if offered]


def _questions(
    made: Iterator[tuple[str, str]], asked: set[str], out: ExampleSet, size: int
) -> list[tuple[str, str]]:
    """Up to ``size`` pairs whose question was not asked before."""
    batch: list[tuple[str, str]] = []
    for question, answer in made:
        if question in asked:
            out.counts["question asked before"] += 1
            continue
        asked.add(question)
        batch.append((question, answer))
        if len(batch) >= size:
            break
    return batch
