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
    "Answer the user's question from the numbered passages. Write one or two complete sentences in "
    "your own words and put the passage number in brackets after each sentence, for example: "
    "Backups run every night [2]. If the passages do not answer the question, write: "
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
    # Sentence spans of ``text`` the model is shown (see ``generator.focus``); empty: all of it.
    shown: tuple[tuple[int, int], ...] = ()

    def visible_text(self) -> str:
        return " … ".join(self.text[a:b].strip() for a, b in self.shown) if self.shown else self.text

    def render(self) -> str:
        """The passage as the model reads it: its number, then its text.

        Where it comes from (title, section, page) follows the text: small models copied a header
        line as their answer. A first line that only repeats the section heading is dropped too.
        """
        text = self.visible_text().strip()
        first, _, rest = text.partition("\n")
        if rest.strip() and first.strip() and self.heading.endswith(first.strip()):
            text = rest.strip()
        title = "" if self.heading.startswith(self.title) else self.title  # headings often start with it
        where = " › ".join(part for part in (title, self.heading) if part)
        if self.page is not None:
            where = f"{where}, page {self.page}" if where else f"page {self.page}"
        return f"[{self.number}] {text}" + (f"\n(Source: {where})" if where else "")


@dataclass(frozen=True, slots=True)
class PromptPlan:
    messages: list[Message]
    passages: list[Passage]  # the passages the prompt contains
    dropped: list[Passage] = field(default_factory=list)  # left out to fit the window, lowest-ranked
    prompt_tokens: int = 0


def build_messages(question: str, passages: Sequence[Passage]) -> list[Message]:
    """The question comes before the passages and again after them: small models lose track of a
    question they read only before a long context."""
    context = "\n\n".join(passage.render() for passage in passages)
    asked = question.strip()
    user = f"Question: {asked}\n\nPassages:\n\n{context}\n\nQuestion: {asked}\nAnswer with citations:"
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


_SOURCE_LINE = re.compile(r"\n\(Source: [^\n]*\)$")
_PASSAGE_START = re.compile(r"^\[(\d+)\] ?(.*)$", re.DOTALL)


def parse_messages(messages: Sequence[Message]) -> tuple[str, list[Passage]]:
    """The question and passages back out of ``build_messages``' user message (for backends that
    work on the passages directly, like the extractive one)."""
    user = next((m.content for m in reversed(messages) if m.role == "user"), "")
    body, _, tail = user.rpartition("\n\nQuestion: ")
    question = tail.removesuffix("\nAnswer with citations:").strip()
    body = body.partition("Passages:\n\n")[2]
    passages: list[Passage] = []
    for block in body.split("\n\n[") if body else []:
        block = block if block.startswith("[") else "[" + block
        match = _PASSAGE_START.match(block)
        if match and (not passages or int(match.group(1)) == passages[-1].number + 1):
            passages.append(Passage(int(match.group(1)), _SOURCE_LINE.sub("", match.group(2))))
        elif passages:  # a blank line inside a passage, followed by a bracket
            last = passages[-1]
            passages[-1] = Passage(last.number, f"{last.text}\n\n{_SOURCE_LINE.sub('', block)}")
    return question, passages
