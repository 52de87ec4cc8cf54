"""The answer prompt: numbered passages, the question, and a plain instruction to cite [n].

Small models follow short, explicit instructions best (see the field notes), so the prompt is
terse and the answer budget is enforced with ``max_tokens``. Passages that do not fit the model's
window are dropped whole, lowest-ranked first, and reported: nothing is truncated silently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from generator.base import Generator, Message

SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages the user gives. "
    "Answer in one to three short sentences. After each sentence, cite the passages it comes from "
    "as [1], [2]. If the passages do not contain the answer, reply exactly: "
    "The documents do not say."
)
NOT_IN_DOCUMENTS = "The documents do not say."


@dataclass(frozen=True, slots=True)
class Passage:
    """One retrieved passage as the generator sees it; ``number`` is what answers cite."""

    number: int
    text: str
    title: str = ""
    heading: str = ""
    page: int | None = None

    def render(self) -> str:
        where = " › ".join(part for part in (self.title, self.heading) if part)
        if self.page is not None:
            where = f"{where}, page {self.page}" if where else f"page {self.page}"
        header = f"[{self.number}] {where}" if where else f"[{self.number}]"
        return f"{header}\n{self.text.strip()}"


@dataclass(frozen=True, slots=True)
class PromptPlan:
    messages: list[Message]
    passages: list[Passage]  # the passages the prompt contains
    dropped: list[Passage] = field(default_factory=list)  # left out to fit the window, lowest-ranked
    prompt_tokens: int = 0


def build_messages(question: str, passages: Sequence[Passage]) -> list[Message]:
    context = "\n\n".join(passage.render() for passage in passages)
    user = f"Passages:\n\n{context}\n\nQuestion: {question.strip()}\nAnswer with citations:"
    return [Message("system", SYSTEM_PROMPT), Message("user", user)]


def plan_prompt(
    generator: Generator, question: str, passages: Sequence[Passage], answer_tokens: int
) -> PromptPlan:
    """Fit as many of the best passages as the window allows, keeping room for the answer.

    Passages are in rank order; the lowest-ranked are dropped whole until the prompt fits.
    """
    budget = generator.context_window - answer_tokens
    kept = list(passages)
    while True:
        messages = build_messages(question, kept)
        tokens = generator.count_tokens(messages)
        if tokens <= budget or not kept:
            break
        kept.pop()
    if tokens > budget:
        raise ValueError(
            f"the question alone needs {tokens} tokens, more than the {budget} the model's window leaves "
            f"after {answer_tokens} for the answer"
        )
    return PromptPlan(messages, kept, list(passages[len(kept) :]), tokens)


_PASSAGE_HEADER = re.compile(r"^\[(\d+)\](?: (.*))?$")


def parse_messages(messages: Sequence[Message]) -> tuple[str, list[Passage]]:
    """The question and passages back out of ``build_messages``' user message (for backends that
    work on the passages directly, like the extractive one)."""
    user = next((m.content for m in reversed(messages) if m.role == "user"), "")
    body, _, tail = user.rpartition("\n\nQuestion: ")
    question = tail.removesuffix("\nAnswer with citations:").strip()
    body = body.removeprefix("Passages:\n\n")
    passages: list[Passage] = []
    for block in body.split("\n\n[") if body else []:
        block = block if block.startswith("[") else "[" + block
        header, _, text = block.partition("\n")
        match = _PASSAGE_HEADER.match(header)
        if match:
            passages.append(Passage(int(match.group(1)), text))
        elif passages:  # a blank line inside a passage
            last = passages[-1]
            passages[-1] = Passage(last.number, f"{last.text}\n\n{block}")
    return question, passages
