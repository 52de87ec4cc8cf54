"""The answer prompt: numbered passages, the question, and a plain instruction to cite [n].

Small models follow short, explicit instructions best (see the field notes), so the instruction is
terse, four worked examples show the answer form (short quotes with their passage number, a command
for a how-to question, and a decline), and the answer budget is enforced with ``max_tokens``. The
instruction and the examples come first and never change, so llama.cpp keeps them evaluated between
questions: they cost no time to first token. Passages that do not fit the model's window are dropped whole,
lowest-ranked first, and reported: nothing is truncated silently.

Passages are data, never instructions. A passage cannot forge the prompt's structure: inside its
text, blank lines are closed up (a blank line followed by "[n]" or "Question:" starts the prompt's
next part) and bracketed numbers become "(n)", so only the prompt numbers passages. Text that reads
as instructions to the model is kept out before this (see ``generator.injection`` and
``generator.focus``). The instruction does not mention it: a sentence saying passages are data cost
the 0.5B model answer F1 on the dev split (0.296 to 0.281, four answers worse, none better), and
the model never sees what was flagged anyway.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from generator.base import Generator, Message, PromptTooLongError
from generator.injection import Flag
from generator.window import Window

NOT_IN_DOCUMENTS = "The documents do not say."
SYSTEM_PROMPT = (
    "Answer the question from the numbered passages with the shortest answer: a few words copied "
    "from a passage, followed by that passage's number in brackets. If the passages do not answer "
    f"the question, reply: {NOT_IN_DOCUMENTS}"
)
# (passages, question, answer): invented, so no user document leaks between prompts.
EXAMPLES = (
    (
        "[1] The Harbor Street office opened in 1998 and moved to Pier 4 in 2011. … Its staff grew "
        "to 40 by 2015.\n\n[2] Backups of the billing database run every night at 2 a.m. and are "
        "kept for 35 days.",
        "How long are billing backups kept?",
        "35 days [2]",
    ),
    (
        "[1] The pager rotation changes every Monday; each engineer is on call for one week.\n\n"
        "[2] Alerts from the staging cluster are sent to the #staging channel, not to the pager.",
        "Who founded the company?",
        NOT_IN_DOCUMENTS,
    ),
    (
        "[1] The Harbor Street office opened in 1998 and moved to Pier 4 in 2011.\n\n"
        "[2] Visitors must sign in at the front desk on the ground floor.",
        "Where did the Harbor Street office move?",
        "Pier 4 [1]",
    ),
)


@dataclass(frozen=True, slots=True)
class AnswerForm:
    """The fixed head of every prompt: the instruction and the worked examples that show the form
    of an answer. It never changes between questions, so llama.cpp keeps it evaluated."""

    system: str
    examples: tuple[tuple[str, str, str], ...]


# The answer follows the question's form: a command for "how do I", a value with its unit, the
# whole list for "which", a short sentence for "why" (SQuAD-style spans cut these short).
FORM_PROMPT = (
    "Answer the question from the numbered passages. Copy the answer from a passage exactly as it "
    "is written: the command or setting for how to do something, the value with its unit, every "
    "item when the question asks which ones, one short sentence when it asks why. Then write that "
    "passage's number in brackets. If the passages do not answer the question, reply: "
    f"{NOT_IN_DOCUMENTS}"
)
FORM_EXAMPLES = (
    EXAMPLES[0],
    (
        "[1] To rotate the pager key at once, run `pager rotate --now` on the bastion host.\n\n"
        "[2] The pager rotation changes every Monday; each engineer is on call for one week.",
        "How do I rotate the pager key right away?",
        "Run `pager rotate --now` on the bastion host [1]",
    ),
    EXAMPLES[1],
    (
        "[1] Visitors must sign in at the front desk on the ground floor.\n\n[2] The office "
        "issues three kinds of badge: visitor, contractor and staff. Staff badges open every floor.",
        "Which kinds of badge are there?",
        "visitor, contractor and staff [2]",
    ),
    (
        "[1] Backups run at 2 a.m. because the billing jobs finish by then and the database is "
        "quiet.\n\n[2] Backups of the billing database are kept for 35 days.",
        "Why do backups run at 2 a.m.?",
        "Because the billing jobs finish by then and the database is quiet [1]",
    ),
)
# A how-to question answered by the command alone. With only the three examples above ("plain"),
# the 0.5B model declined most "How do I …" questions of the guide's dev split (10 of its 12 wrong
# declines); with this one second, it answered 0.457 of the dev questions right instead of 0.348
# (bench/results/answer-levers.md). Telling it in the instruction as well did worse (0.435).
HOW_TO_EXAMPLE = (
    "[1] To rotate the pager key at once, run `pager rotate --now` on the bastion host.\n\n"
    "[2] The pager rotation changes every Monday; each engineer is on call for one week.",
    "How do I rotate the pager key right away?",
    "`pager rotate --now` [1]",
)
ANSWER_FORMS = {
    # The decline last: on dev it kept the answers and lifted abstention F1 (0.519 -> 0.560).
    "short": AnswerForm(SYSTEM_PROMPT, (EXAMPLES[0], HOW_TO_EXAMPLE, EXAMPLES[2], EXAMPLES[1])),
    "plain": AnswerForm(SYSTEM_PROMPT, EXAMPLES),  # the default before the how-to example
    "form": AnswerForm(FORM_PROMPT, FORM_EXAMPLES),
}
DEFAULT_FORM = "short"


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
    # Parts of ``text`` that read as instructions to the model, kept out of ``shown``.
    flagged: tuple[Flag, ...] = ()

    def visible_text(self) -> str:
        if self.shown:
            return " … ".join(self.text[a:b].strip() for a, b in self.shown)
        return "" if self.flagged else self.text  # flagged with nothing shown: all of it was flagged

    def render(self) -> str:
        """The passage as the model reads it: its number, then its text.

        The section it comes from follows the text (small models copied a header line as their
        answer); a first line that only repeats the section heading is dropped. A document title
        without a section, and page numbers, stay out: they do not help answer (titles are often
        file names) and every prompt token costs time before the first answer token.
        """
        text = _inert(self.visible_text().strip())
        first, _, rest = text.partition("\n")
        if rest.strip() and first.strip() and self.heading.endswith(first.strip()):
            text = rest.strip()
        title = "" if self.heading.startswith(self.title) else self.title  # headings often start with it
        where = " › ".join(part for part in (title, self.heading) if part) if self.heading else ""
        return f"[{self.number}] {text}" + (f"\n(Source: {where})" if where else "")


@dataclass(frozen=True, slots=True)
class PromptPlan:
    messages: list[Message]
    passages: list[Passage]  # the passages the prompt contains
    dropped: list[Passage] = field(default_factory=list)  # left out to fit the window, lowest-ranked
    prompt_tokens: int = 0


def user_message(context: str, question: str) -> str:
    return f"Passages:\n\n{context}\n\nQuestion: {question.strip()}\nAnswer:"


def build_messages(question: str, passages: Sequence[Passage], form: str = DEFAULT_FORM) -> list[Message]:
    """Instruction, worked examples, then the passages with the question after them (asked before
    the passages too, the 0.5B model did worse on the tuning questions)."""
    head = answer_form(form)
    messages = [Message("system", head.system)]
    for context, asked, answer in head.examples:
        messages += [Message("user", user_message(context, asked)), Message("assistant", answer)]
    context = "\n\n".join(passage.render() for passage in passages)
    return [*messages, Message("user", user_message(context, question))]


def answer_form(name: str) -> AnswerForm:
    try:
        return ANSWER_FORMS[name]
    except KeyError:
        raise ValueError(f"unknown answer form {name!r}; the forms are: {', '.join(ANSWER_FORMS)}") from None


def plan_prompt(
    generator: Generator,
    question: str,
    passages: Sequence[Passage],
    answer_tokens: int,
    form: str = DEFAULT_FORM,
) -> PromptPlan:
    """Fit as many of the best passages as the window allows, keeping room for the answer.

    Passages are in rank order; the lowest-ranked are dropped whole until the prompt fits.
    """
    window = Window(generator, answer_tokens)
    kept = list(passages)
    while True:
        messages = build_messages(question, kept, form)
        tokens = window.tokens(messages)
        if tokens <= window.budget or not kept:
            break
        kept.pop()
    if tokens > window.budget:
        raise PromptTooLongError(
            f"the question alone needs {tokens} tokens, more than the {window.budget} the model's "
            f"window leaves after {answer_tokens} for the answer",
            tokens=tokens,
            limit=window.budget,
        )
    return PromptPlan(messages, kept, list(passages[len(kept) :]), tokens)


_BLANK_LINES = re.compile(r"\n\s*\n")
_BRACKETED_NUMBER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def _inert(text: str) -> str:
    """Passage text that cannot pose as prompt structure: no blank lines, no [n] markers."""
    return _BRACKETED_NUMBER.sub(r"(\1)", _BLANK_LINES.sub("\n", text))


_SOURCE_LINE = re.compile(r"\n\(Source: [^\n]*\)$")
_PASSAGE_START = re.compile(r"^\[(\d+)\] ?(.*)$", re.DOTALL)


def parse_messages(messages: Sequence[Message]) -> tuple[str, list[Passage]]:
    """The question and passages back out of ``build_messages``' user message (for backends that
    work on the passages directly, like the extractive one)."""
    user = next((m.content for m in reversed(messages) if m.role == "user"), "")
    body, _, tail = user.rpartition("\n\nQuestion: ")
    question = tail.removesuffix("\nAnswer:").strip()
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
