"""Fitting prompts to a model's context window: one mechanism for passages, chat history and any
other long text a caller sends to a generator.

The budget is the model's window less the tokens kept for its reply, and every measure goes through
the generator's own ``count_tokens`` (chat template included), so what fits here fits the model.
Passages are dropped whole (``generator.prompt.plan_prompt``); conversation turns are dropped
oldest first, and the oldest turn still kept may be cut short, marked with ``TRUNCATED``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial

from generator.base import Generator, Message

TRUNCATED = " […]"
MIN_KEPT_CHARS = 40  # a cut turn shorter than this says too little to be worth its tokens
# Tokens are rarely longer than this many characters: text beyond budget x this is cut before any
# counting, so a megabyte of history is never tokenised whole.
MAX_CHARS_PER_TOKEN = 16


@dataclass(frozen=True, slots=True)
class Window:
    generator: Generator
    reserve: int  # tokens kept free for the reply

    @property
    def budget(self) -> int:
        return self.generator.context_window - self.reserve

    def tokens(self, messages: Sequence[Message]) -> int:
        return self.generator.count_tokens(messages)

    def fits(self, messages: Sequence[Message]) -> bool:
        return self.tokens(messages) <= self.budget


def fit_turns(
    window: Window, turns: Sequence[Message], build: Callable[[list[Message]], list[Message]]
) -> list[Message]:
    """The newest of ``turns`` for which ``build(turns)`` fits the window, oldest dropped first; the
    oldest one kept is cut short (marked) when only part of it fits. Empty when not even
    ``build([])`` fits: the caller decides what to do without them."""
    kept: list[Message] = []
    if not window.fits(build(kept)):
        return kept
    for turn in reversed(turns):
        if window.fits(build([turn, *kept])):
            kept.insert(0, turn)
            continue
        cut = truncate(window, turn.content, partial(_with_first, build, turn, list(kept)))
        if cut is not None:
            kept.insert(0, replace(turn, content=cut))
        break
    return kept


def _with_first(
    build: Callable[[list[Message]], list[Message]], turn: Message, rest: list[Message], text: str
) -> list[Message]:
    return build([replace(turn, content=text), *rest])


def truncate(window: Window, text: str, build: Callable[[str], list[Message]]) -> str | None:
    """The longest start of ``text``, marked as cut, for which ``build`` fits; None when less than
    ``MIN_KEPT_CHARS`` would fit."""
    low, high = 0, min(len(text), max(0, window.budget) * MAX_CHARS_PER_TOKEN)
    best = None
    while low <= high:  # the longest fitting prefix: token counts grow with the prefix
        middle = (low + high) // 2
        candidate = text[:middle].rstrip() + TRUNCATED
        if window.fits(build(candidate)):
            best, low = middle, middle + 1
        else:
            high = middle - 1
    if best is None or best < MIN_KEPT_CHARS:
        return None
    return text[:best].rstrip() + TRUNCATED


def reply_tokens(generator: Generator, text: str) -> int:
    """Tokens of a reply by the model's tokenizer: the chat template's count with the text as a
    turn, less the count with an empty turn (the template's own tokens cancel out). A user turn,
    since some backends count only prompts, which end with one."""
    if not text:
        return 0
    with_text = generator.count_tokens([Message("user", text)])
    return max(1, with_text - generator.count_tokens([Message("user", "")]))
