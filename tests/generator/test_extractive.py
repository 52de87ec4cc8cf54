"""The extractive backend and the prompt round trip it relies on."""

from __future__ import annotations

from generator.base import GenerationOptions
from generator.citations import check_answer
from generator.prompt import NOT_IN_DOCUMENTS, Passage, build_messages, parse_messages
from generator.registry import create_generator

PASSAGES = [
    Passage(1, "The team meets on Mondays. Lunch is provided on Fridays.", title="Team", heading="Rituals"),
    Passage(2, "Backups run every night at two.\n\nRestores are tested monthly by the on-call engineer."),
    Passage(3, "See [the wiki] for details. Backups of laptops are not taken.", page=3),
]


def test_prompt_round_trip() -> None:
    question, parsed = parse_messages(build_messages("When do backups run?", PASSAGES))
    assert question == "When do backups run?"
    # Blank lines inside a passage are closed up (they would start the prompt's next part).
    assert [(p.number, p.text) for p in parsed] == [
        (p.number, p.text.replace("\n\n", "\n")) for p in PASSAGES
    ]


def test_answers_with_the_best_matching_sentences_cited_and_checked() -> None:
    generator = create_generator("extractive")
    messages = build_messages("When do the backups run?", PASSAGES)
    answer = generator.generate(messages, GenerationOptions()).text
    assert answer.startswith("Backups run every night at two [2].")
    assert all(sentence.supported for sentence in check_answer(answer, PASSAGES))
    assert "".join(generator.stream(messages, GenerationOptions())) == answer


def test_says_the_documents_do_not_say_when_nothing_matches() -> None:
    generator = create_generator("extractive")
    answer = generator.generate(build_messages("Who won the 1998 world cup?", PASSAGES), GenerationOptions())
    assert answer.text == NOT_IN_DOCUMENTS
    assert (
        generator.generate(build_messages("the and of?", PASSAGES), GenerationOptions()).text
        == NOT_IN_DOCUMENTS
    )
