from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.evaluation.questions import EvalQuestion, QuestionFileError, load_questions


def write(tmp_path: Path, *lines: str | dict) -> Path:
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def error_of(tmp_path: Path, *lines: str | dict) -> str:
    path = write(tmp_path, *lines)
    with pytest.raises(QuestionFileError) as caught:
        load_questions(path)
    return str(caught.value)


GOOD = {"question": "Which port does serve use?", "answers": ["8000"]}


def test_a_full_file_loads_with_defaults_and_every_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        GOOD,
        "",
        {
            "id": "env",
            "question": "Which variable sets the data dir?",
            "facts": ["CITEWISE_DATA_DIR"],
            "sources": ["docs/configuration.md", 7],
            "tags": ["dev", "config"],
        },
        "   ",
        {"question": "Does Citewise speak Klingon?", "unanswerable": True, "tags": ["test"]},
    )
    questions = load_questions(path)
    assert questions == [
        EvalQuestion("line-1", "Which port does serve use?", answers=("8000",), line=1),
        EvalQuestion(
            "env",
            "Which variable sets the data dir?",
            facts=("CITEWISE_DATA_DIR",),
            sources=("docs/configuration.md", 7),
            tags=("dev", "config"),
            line=3,
        ),
        EvalQuestion("line-5", "Does Citewise speak Klingon?", unanswerable=True, tags=("test",), line=5),
    ]
    assert [q.answerable for q in questions] == [True, True, False]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ((GOOD, '{"question": "x", "answers": ["y"]'), "line 2: not valid JSON"),
        ((GOOD, GOOD, {"answers": ["8000"]}), "line 3: missing 'question'"),
        (({"question": "  ", "answers": ["x"]},), "line 1: 'question' is empty"),
        (({"question": 3, "answers": ["x"]},), "line 1: 'question' must be a string, got a number"),
        (({"question": "q", "answer": ["a"]},), "line 1: unknown key 'answer' (the keys are: id, question"),
        (
            ({"question": "q", "answers": ["x"], "unanswerable": True},),
            "line 1: an unanswerable question has no 'answers'",
        ),
        (
            ({"question": "q", "facts": ["x"], "unanswerable": True},),
            "line 1: an unanswerable question has no 'facts'",
        ),
        (({"question": "q", "sources": ["a.md"], "unanswerable": True},), "no 'sources'"),
        (({"question": "q"},), "line 1: give 'answers' (or 'facts'), or mark the question"),
        (
            ({"question": "q", "answers": "8000"},),
            "'answers' must be a non-empty list of strings, got a string",
        ),
        (
            ({"question": "q", "answers": []},),
            "'answers' must be a non-empty list of strings, got an empty list",
        ),
        (({"question": "q", "answers": ["x", ""]},), "'answers[1]' is empty"),
        (({"question": "q", "answers": ["The."]},), "'answers[0]' has no words left to match"),
        (
            ({"question": "q", "answers": ["x"], "sources": [1.5]},),
            "'sources[0]' must be a file name or a document id",
        ),
        (({"question": "q", "answers": ["x"], "sources": [True]},), "got a boolean"),
        (
            ({"question": "q", "answers": ["x"], "unanswerable": "yes"},),
            "'unanswerable' must be true or false",
        ),
        (
            ({"question": "q", "answers": ["x"], "draft": "yes"},),
            "'draft' must be true or false, got a string",
        ),
        (({"question": "q", "answers": ["x"], "draft": 1},), "'draft' must be true or false, got a number"),
        (({"question": "q", "answers": ["x"], "id": 4},), "'id' must be a non-empty string, got a number"),
        (({"question": "q", "answers": ["x"], "tags": "dev"},), "'tags' must be a non-empty list of strings"),
        (("[1, 2]",), "line 1: expected a JSON object, got a list"),
        (("# a comment",), "line 1: not valid JSON"),
    ],
)
def test_errors_name_the_file_the_line_and_the_problem(tmp_path: Path, lines: tuple, expected: str) -> None:
    message = error_of(tmp_path, *lines)
    assert message.startswith(f"{tmp_path / 'qa.jsonl'}, line ")
    assert expected in message


def test_a_duplicate_id_points_at_both_lines(tmp_path: Path) -> None:
    message = error_of(tmp_path, {**GOOD, "id": "port"}, GOOD, {**GOOD, "id": "port"})
    assert message.endswith("line 3: duplicate id 'port' (first used on line 1)")


def test_a_default_id_can_collide_with_an_explicit_one(tmp_path: Path) -> None:
    assert "line 2: duplicate id 'line-1'" in error_of(tmp_path, GOOD, {**GOOD, "id": "line-1"})


def test_blank_lines_keep_the_line_numbers_of_the_file(tmp_path: Path) -> None:
    assert "line 4: missing 'question'" in error_of(tmp_path, GOOD, "", "", {"answers": ["x"]})


def test_an_empty_or_missing_file_is_an_error(tmp_path: Path) -> None:
    assert "has no questions" in error_of(tmp_path, "", "  ")
    with pytest.raises(QuestionFileError, match="cannot read the question file"):
        load_questions(tmp_path / "missing.jsonl")


def test_the_example_in_the_docs_loads(tmp_path: Path) -> None:
    guide = (Path(__file__).parents[3] / "docs" / "evaluation.md").read_text()
    example = guide.split("```json\n", 1)[1].split("```", 1)[0]
    questions = load_questions(write(tmp_path, example.strip()))
    assert [q.id for q in questions] == ["port", "line-2", "line-3", "klingon"]
    assert questions[2].sources == (12, "ops/backup.md") and questions[3].unanswerable


def test_a_draft_flag_loads_and_defaults_to_false(tmp_path: Path) -> None:
    drafted = {"id": "draft-001", **GOOD, "sources": ["cli.md"], "tags": ["draft"], "draft": True}
    declined = {"id": "draft-002", "question": "Who wrote it?", "unanswerable": True, "draft": True}
    questions = load_questions(write(tmp_path, drafted, declined, {**GOOD, "draft": False}, GOOD))
    assert [q.draft for q in questions] == [True, True, False, False]
    assert questions[0].answers == ("8000",) and questions[0].tags == ("draft",)
    assert questions[1].unanswerable


def test_scoring_ignores_the_draft_flag() -> None:
    from dataclasses import replace

    from app.evaluation.outcome import Outcome
    from app.evaluation.scoring import score

    reviewed = EvalQuestion("p", "Which port does serve use?", answers=("8000",))
    drafted = replace(reviewed, draft=True)
    for outcome in (Outcome("Port 8000."), Outcome("Port 80."), Outcome("", abstained=True)):
        assert replace(score(drafted, outcome), question=reviewed) == score(reviewed, outcome)
