"""Drafting questions: what is kept, what is dropped and why, and the file it writes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from app.answer_scores import normalize
from app.evaluation.draft import (
    TRIES_PER_QUESTION,
    Drafter,
    Drafts,
    SourcePassage,
    default_unanswerable,
    short_names,
    write_drafts,
)
from app.evaluation.outcome import PassageRef
from app.evaluation.questions import load_questions
from app.evaluation.scoring import from_sources
from generator.prompt import Passage, build_messages
from generator.registry import create_generator

COMMANDS = ("backup", "rotate", "vacuum", "reindex", "compact", "restart", "drain", "purge")


def runbook(i: int) -> SourcePassage:
    return SourcePassage(f"Step {i}: run {COMMANDS[i]} on host {i + 10}. Then read the log.", f"ops{i}.md")


class ShowsPassages:
    """Stands in for the answer pipeline: retrieval shows ``shown`` (None: too weak to ask)."""

    def __init__(self, shown: list[str] | None) -> None:
        self.shown = shown
        self.options = SimpleNamespace(answer_tokens=32)
        self.asked: list[str] = []

    def prompt_for(self, question: str):
        self.asked.append(question)
        if self.shown is None:
            return None
        passages = [Passage(n, text) for n, text in enumerate(self.shown, start=1)]
        return SimpleNamespace(plan=SimpleNamespace(messages=build_messages(question, passages)))


def drafter(model: str, shown: list[str] | None = None) -> Drafter:
    return Drafter(create_generator(f"generator.testing:{model}"), ShowsPassages(shown))  # type: ignore[arg-type]


def test_short_names_are_the_fewest_path_components_that_tell_documents_apart() -> None:
    uris = {"/srv/docs/cli.md", "/srv/docs/api/index.md", "/srv/docs/ui/index.md", "file:///x/README.md"}
    names = short_names(uris)
    assert names == {
        "/srv/docs/cli.md": "cli.md",
        "/srv/docs/api/index.md": "api/index.md",
        "/srv/docs/ui/index.md": "ui/index.md",
        "file:///x/README.md": "README.md",
    }
    for uri, name in names.items():  # scoring finds each document by its name, and only it
        matched = [other for other in uris if from_sources(PassageRef(1, other), (name,))]
        assert matched == [uri]


def test_answerable_drafts_copy_a_short_answer_from_their_passage() -> None:
    passages = [runbook(i) for i in range(4)]
    drafts = drafter("draft_teacher").run(passages, count=3, unanswerable=0)
    assert drafts.answerable == 3 and drafts.unanswerable == 0 and drafts.tried == 3
    for question in drafts.questions:
        [passage] = [p for p in passages if p.source == question.source]
        assert question.answer and normalize(question.answer) in normalize(passage.text)
        assert question.question.startswith("Which command runs on host")


def test_candidates_are_dropped_with_a_reason() -> None:
    no_step = SourcePassage("Nothing to run here.", "notes.md")
    copy = SourcePassage(runbook(1).text, "copy.md")  # the same question again
    drafts = drafter("passage_teacher").run([runbook(1), copy, no_step], count=3, unanswerable=0)
    assert drafts.answerable == 1 and drafts.tried == 3
    assert drafts.counts == {"duplicate question": 1, "teacher wrote no question": 1}


PORT = SourcePassage("The server listens on port 8000 of every host in the lab network.", "serve.md")


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("port 8000 [1]", None),
        ("9000 [1]", "answer not found in the passage"),
        ("listens on port 8000 of every host in the [1]", "answer longer than 8 words"),
        ("The documents do not say.", "teacher could not answer its question"),
    ],
)
def test_an_answer_must_be_short_and_copied_from_its_passage(answer: str, reason: str | None) -> None:
    teacher = create_generator("fake", replies=["Which port does the server use?", answer])
    drafts = Drafter(teacher, ShowsPassages(None)).run([PORT], count=1, unanswerable=0)  # type: ignore[arg-type]
    assert len(drafts.questions) == (reason is None)
    assert drafts.counts == ({reason: 1} if reason else {})
    if reason is None:
        assert drafts.questions[0].answer == "port 8000" and drafts.questions[0].source == "serve.md"


def test_unanswerable_drafts_need_the_teacher_to_decline_what_retrieval_shows() -> None:
    passages = [runbook(i) for i in range(6)]
    shown = [p.text for p in passages[:3]]
    drafts = drafter("draft_teacher", shown).run(passages, count=5, unanswerable=2)
    assert drafts.answerable == 3 and drafts.unanswerable == 2
    assert all(q.question.startswith("Who approved") for q in drafts.questions if q.answer is None)
    # A teacher that answers whatever it is shown keeps none of them.
    answering = drafter("passage_teacher", shown).run(passages, count=5, unanswerable=2)
    assert answering.unanswerable == 0 and answering.counts["the collection answers it"] >= 2


def test_weak_retrieval_keeps_an_unanswerable_draft_without_asking_the_model() -> None:
    teacher = drafter("draft_teacher", shown=None)
    drafts = teacher.run([runbook(0)], count=1, unanswerable=1)
    assert drafts.unanswerable == 1 and teacher.pipeline.asked == ["Who approved step 0 on host 10?"]  # type: ignore[attr-defined]


def test_tries_stop_at_a_multiple_of_the_count() -> None:
    passages = [SourcePassage(f"Plain passage {i}.", f"p{i}.md") for i in range(100)]
    drafts = drafter("passage_teacher").run(passages, count=4, unanswerable=1)
    assert drafts.questions == [] and drafts.tried == TRIES_PER_QUESTION * 4


def test_ctrl_c_keeps_what_was_drafted() -> None:
    def press_ctrl_c(drafts: Drafts) -> None:
        if drafts.tried == 2:
            raise KeyboardInterrupt

    drafts = drafter("draft_teacher").run([runbook(i) for i in range(5)], 5, 0, on_step=press_ctrl_c)
    assert drafts.interrupted and drafts.tried == 2 and len(drafts.questions) == 2


@pytest.mark.parametrize(("count", "expected"), [(1, 0), (5, 1), (50, 10), (12, 2)])
def test_about_a_fifth_are_unanswerable_by_default(count: int, expected: int) -> None:
    assert default_unanswerable(count) == expected


def test_the_written_file_loads_as_a_question_file_of_drafts(tmp_path: Path) -> None:
    passages = [runbook(i) for i in range(5)]
    drafts = drafter("draft_teacher", [p.text for p in passages]).run(passages, count=5, unanswerable=1)
    path = tmp_path / "drafts" / "qa.jsonl"
    write_drafts(path, drafts)
    questions = load_questions(path)
    assert [q.id for q in questions] == [f"draft-00{i}" for i in range(1, 6)]
    assert all(q.draft and q.tags == ("draft",) for q in questions)
    assert sum(q.unanswerable for q in questions) == 1
    for question in questions:
        assert question.unanswerable or (len(question.answers) == 1 and len(question.sources) == 1)
