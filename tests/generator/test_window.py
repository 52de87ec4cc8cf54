"""Fitting conversation turns to a model's window: oldest dropped first, the oldest kept one cut."""

from __future__ import annotations

from generator.base import Message
from generator.testing import ScriptedGenerator
from generator.window import TRUNCATED, Window, fit_turns


def build(turns: list[Message]) -> list[Message]:
    transcript = "".join(f"{m.role}: {m.content}\n" for m in turns)
    return [Message("system", "Rewrite the question."), Message("user", f"{transcript}user: and restores?")]


def words(count: int, stem: str = "w") -> str:
    return " ".join(f"{stem}{i}" for i in range(count))


def test_turns_that_fit_are_kept_whole() -> None:
    turns = [Message("user", "When do backups run?"), Message("assistant", "Nightly [1].")]
    assert fit_turns(Window(ScriptedGenerator(context_window=512), 64), turns, build) == turns


def test_the_oldest_turns_go_first_and_the_oldest_kept_one_is_cut_with_a_marker() -> None:
    generator = ScriptedGenerator(context_window=300)  # fake tokens are words
    window = Window(generator, 64)
    turns = [
        Message("user", "What did the old report say?"),
        Message("assistant", words(4000, "long")),  # 4,000 words: never fits whole
        Message("user", "When do backups run?"),
        Message("assistant", "Nightly at two [1]."),
    ]
    kept = fit_turns(window, turns, build)
    assert kept[1:] == turns[2:]  # the newest, whole
    assert kept[0].role == "assistant" and kept[0].content.endswith(TRUNCATED)
    assert turns[1].content.startswith(kept[0].content.removesuffix(TRUNCATED))
    assert window.tokens(build(kept)) <= window.budget
    # Maximal: a few more words of the cut turn would not have fitted.
    longer = Message("assistant", words(len(kept[0].content.split()) + 2, "long") + TRUNCATED)
    assert window.tokens(build([longer, *kept[1:]])) > window.budget


def test_a_window_too_small_for_the_question_keeps_no_turns() -> None:
    turns = [Message("user", "When do backups run?")]
    assert fit_turns(Window(ScriptedGenerator(context_window=20), 10), turns, build) == []
