"""A follow-up question made standalone: the model rewrites it in the conversation's context.

Small models do not always rewrite: given "user: How do I ingest a folder? / assistant: Ingest a
folder of documents [1] / user: And how do I remove documents whose files were deleted?", the 0.5B
model wrote the earlier answer back. A rewrite is only used when it reads as the new question in
context: it keeps at least half of the new question's content words, carries no citation marker
(answers have them, questions do not), and is not an earlier answer again. Otherwise the model is
asked the new question as it is. When that question does not stand alone (a fragment such as "and
restores?", or a word that points back: "How do I change it?"), it is searched together with the
previous question, which names what it is about; the model still reads only the new question, so
that it does not answer the previous one again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from generator.base import GenerationOptions, Generator, Message, PromptTooLongError
from generator.citations import cited_numbers, content_words, is_declined, strip_markers
from generator.window import Window, fit_turns

REWRITE_PROMPT = (
    "Rewrite the user's last question so it can be understood without the conversation. "
    "Reply with the question only."
)
REWRITE_TOKENS = 64
HISTORY_TURNS = 6  # the newest turns the rewrite sees, before fitting them to the window
PREVIOUS_QUESTION_CHARS = 300  # of the previous question, searched with a fragment when no rewrite
KEPT_SHARE = 0.5  # of the new question's content words a rewrite must keep
FRAGMENT_WORDS = 1  # a question with at most this many content words does not stand alone
_WORD = re.compile(r"\w+")
POINTING_BACK = frozenset(["it", "its", "them", "they", "their", "that", "this", "those", "these", "there"])


@dataclass(frozen=True, slots=True)
class Rewrite:
    question: str  # what the model is asked
    search: str  # what is searched: the question, or with the previous one for context
    prompt_tokens: int = 0  # the model's reading and writing, when it was asked
    completion_tokens: int = 0


def standalone(generator: Generator, question: str, history: Sequence[Message]) -> Rewrite:
    """The question to search and ask; without user/assistant turns, the question as it is."""
    turns = [m for m in history if m.role in ("user", "assistant")]
    question = question.strip()
    if not turns:
        return Rewrite(question, question)

    def build(kept: list[Message]) -> list[Message]:
        transcript = "".join(f"{m.role}: {m.content}\n" for m in kept)
        asked = f"{transcript}user: {question}\n\nStandalone question:"
        return [Message("system", REWRITE_PROMPT), Message("user", asked)]

    kept = fit_turns(Window(generator, REWRITE_TOKENS), turns[-HISTORY_TURNS:], build)
    text, read, written = "", 0, 0
    if kept:
        try:
            options = GenerationOptions(max_tokens=REWRITE_TOKENS, stop=("\n",))
            generation = generator.generate(build(kept), options)
            text = generation.text.strip()
            read, written = generation.prompt_tokens, generation.completion_tokens
        except PromptTooLongError:  # the backend counts differently: go without a rewrite
            text = ""
    answers = [m.content for m in turns if m.role == "assistant"]
    if text and not is_declined(text) and is_about(text, question, answers):
        return Rewrite(text, text, read, written)
    if stands_alone(question):
        return Rewrite(question, question, read, written)
    previous = next((m.content for m in reversed(turns) if m.role == "user"), "")
    search = f"{previous.strip()[:PREVIOUS_QUESTION_CHARS]} {question}".strip()
    return Rewrite(question, search, read, written)


def stands_alone(question: str) -> bool:
    """Not a fragment ("and restores?") and nothing in it points back ("How do I change it?")."""
    words = set(_WORD.findall(question.lower()))
    return len(content_words(question)) > FRAGMENT_WORDS and not words & POINTING_BACK


def is_about(rewrite: str, question: str, answers: Sequence[str]) -> bool:
    """The rewrite reads as ``question`` made standalone, not as an answer or another question."""
    if len(rewrite) > 4 * len(question) + 200 or cited_numbers(rewrite):
        return False
    words = content_words(rewrite)
    asked = content_words(question)
    if asked and len(asked & words) < KEPT_SHARE * len(asked):
        return False
    plain = _plain(rewrite)
    return not any(plain == _plain(answer) for answer in answers)


def _plain(text: str) -> str:
    return " ".join(strip_markers(text).lower().split()).rstrip(".?! ")
