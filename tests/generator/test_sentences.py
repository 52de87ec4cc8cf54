from __future__ import annotations

from generator.sentences import sentence_spans


def units(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def test_sentences_end_at_closing_punctuation_followed_by_space() -> None:
    assert units("Backups run at 2 a.m. daily. Are they kept? Yes!") == [
        "Backups run at 2 a.m.",
        "daily.",
        "Are they kept?",
        "Yes!",
    ]


def test_text_without_a_sentence_break_is_one_unit() -> None:
    assert units("a heading") == ["a heading"] and units("") == [""]
