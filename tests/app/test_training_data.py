"""Fine-tuning examples: grounded replies, the teacher's format, and what gets skipped."""

from __future__ import annotations

from app.answering import ReadPlan
from app.training.data import parse_question, reply_for
from generator.prompt import NOT_IN_DOCUMENTS, Passage, PromptPlan


def read(*texts: str) -> ReadPlan:
    passages = [Passage(n, text) for n, text in enumerate(texts, start=1)]
    return ReadPlan(PromptPlan([], passages), [], [])


def test_the_reply_cites_the_first_passage_that_holds_the_answer() -> None:
    shown = read("Lunch is at noon.", "Backups run at two a.m. nightly.", "Backups run at two.")
    assert reply_for(shown, "two a.m.") == "two a.m [2]"
    assert reply_for(shown, "At Two") == "At Two [2]"  # matched without regard to case


def test_no_passage_holding_it_or_no_answer_means_a_decline() -> None:
    shown = read("Lunch is at noon.")
    assert reply_for(shown, "midnight") == NOT_IN_DOCUMENTS
    for unanswerable in ("", "unknown", "The documents do not say."):
        assert reply_for(shown, unanswerable) == NOT_IN_DOCUMENTS


def test_only_the_shown_sentences_count() -> None:
    passage = Passage(1, "First sentence here. The key is in the safe.", shown=((0, 20),))
    assert reply_for(ReadPlan(PromptPlan([], [passage]), [], []), "in the safe") == NOT_IN_DOCUMENTS


def test_the_teachers_question_is_found_or_refused() -> None:
    assert parse_question("Question: Where is the key?\nAnswer: in the safe.") == "Where is the key?"
    assert parse_question("What does the zipfile module do?") == "What does the zipfile module do?"
    assert parse_question("Here is a question about the passage.") is None


def test_the_teacher_answers_with_the_answer_prompt() -> None:
    from app.training.data import teacher_answer
    from generator.testing import ScriptedGenerator

    teacher = ScriptedGenerator(replies=["in the office safe [1].", "The documents do not say."])
    assert (
        teacher_answer(teacher, "Where is the key?", "The key is in the office safe.") == "in the office safe"
    )
    assert teacher.calls[0][0][-1].content.endswith("Question: Where is the key?\nAnswer:")
    assert teacher_answer(teacher, "Who?", "Nothing here.") is None


def test_a_question_too_long_for_the_window_is_counted_not_fatal() -> None:
    from app.training.data import from_records

    class Cramped:
        def prompt_for(self, question: str, query_vector=None):
            raise ValueError("the question alone needs 900 tokens")

    found = from_records(Cramped(), [{"question": "a very long question", "answer": "x"}])  # type: ignore[arg-type]
    assert found.examples == [] and found.counts["too long for the model's window"] == 1


def test_the_decline_phrase_as_an_answer_is_a_decline() -> None:
    assert (
        reply_for(read("The documents do not say. Lunch is at noon."), "The documents do not say.")
        == NOT_IN_DOCUMENTS
    )


def test_distilled_declines_stay_within_their_share_of_what_was_kept() -> None:
    import re

    from app.answering import AnswerOptions
    from app.training.data import distill
    from generator.testing import PassageTeacher

    class HalfShown:
        """Retrieval shows the asked passage for even steps, an unrelated one for odd steps."""

        embed = None
        options = AnswerOptions()

        def prompt_for(self, question: str, query_vector=None) -> ReadPlan:
            step = int(re.search(r"step (\d+)", question).group(1))  # type: ignore[union-attr]
            return read(
                f"Step {step}: run cmd-{step} on host 1 daily." if step % 2 == 0 else "Lunch is at noon."
            )

    passages = [f"Step {n}: run cmd-{n} on host 1 daily." for n in range(40)]
    found = distill(HalfShown(), PassageTeacher(), passages, count=100, seconds=60, max_decline_share=0.3)  # type: ignore[arg-type]
    declines = found.counts["declines"]
    assert found.counts["answers"] == 20 and declines >= 1 and found.counts["decline over the share"] >= 1
    assert declines <= 0.3 * len(found.examples)  # even though far fewer than 30% of 100 were made
