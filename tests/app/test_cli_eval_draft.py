"""``citewise eval draft`` end to end: real ingest, real retrieval, fake teachers from the registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.answer_scores import normalize
from app.evaluation.questions import load_questions
from tests.app.cli_helpers import run_cli

TEACHER = "generator.testing:draft_teacher"
NEVER_DECLINES = "generator.testing:passage_teacher"
COPIER = "generator.testing:passage_copier"
COMMANDS = ("backup", "rotate", "vacuum", "reindex", "compact", "restart")


@pytest.fixture
def runbooks(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CITEWISE_EMBEDDER", "fake-hashing")
    monkeypatch.setenv("CITEWISE_MIN_RETRIEVAL_SIMILARITY", "0")
    root = tmp_path / "runbooks"
    for i, command in enumerate(COMMANDS):
        folder = root / ("night" if i % 2 else "day")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"ops{i}.md").write_text(f"# Runbook {i}\n\nStep {i}: run {command} on host {i + 10}.\n")
    (root / "day" / "index.md").write_text("# Day\n\nStep 7: run audit on host 17.\n")
    (root / "night" / "index.md").write_text("# Night\n\nStep 8: run sweep on host 18.\n")
    assert run_cli(capsys, "ingest", str(root), "-c", "ops").code == 0
    return root


def _draft(capsys, out: Path, *args: str, model: str = TEACHER):
    return run_cli(capsys, "eval", "draft", "-c", "ops", "--out", str(out), "--model", model, *args)


def test_the_draft_file_loads_and_every_answer_is_in_its_source(capsys, runbooks, tmp_path) -> None:
    out = tmp_path / "qa.jsonl"
    result = _draft(capsys, out, "-n", "5")
    assert result.code == 0, result.err
    assert "Drafted 5 of 5 questions (4 answerable, 1 unanswerable)" in result.out
    assert "review before use" in result.out and str(out) in result.out

    questions = load_questions(out)
    assert len({q.id for q in questions}) == 5 and questions[0].id == "draft-001"
    assert all(q.draft and q.tags == ("draft",) for q in questions)
    [unanswerable] = [q for q in questions if q.unanswerable]
    assert unanswerable.question.startswith("Who approved") and not unanswerable.sources
    for question in (q for q in questions if q.answerable):
        [source] = question.sources
        [file] = [p for p in runbooks.rglob("*.md") if p.as_posix().endswith("/" + str(source))]
        assert normalize(question.answers[0]) in normalize(file.read_text())
    names = {str(q.sources[0]) for q in questions if q.answerable}
    assert all(name.startswith("ops") or name in ("day/index.md", "night/index.md") for name in names)
    assert json.loads(out.read_text().splitlines()[0])["draft"] is True


def test_eval_with_a_file_still_runs_the_evaluation(capsys, runbooks, tmp_path) -> None:
    out = tmp_path / "qa.jsonl"
    assert _draft(capsys, out, "-n", "5", "--unanswerable", "0").code == 0
    result = run_cli(capsys, "eval", str(out), "-c", "ops", "--model", COPIER, "--json")
    assert result.code == 0, result.err
    [run] = json.loads(result.out)["runs"]
    assert run["answered"] == 5 and run["summary"]["metrics"]["hit_at_k"] == 1.0
    assert run_cli(capsys, "eval", "run", str(out), "-c", "ops", "--model", COPIER).code == 0
    assert "draft" in run_cli(capsys, "eval", "--help").out


def test_a_teacher_that_never_declines_drafts_no_unanswerable_question(capsys, runbooks, tmp_path) -> None:
    result = _draft(capsys, tmp_path / "qa.jsonl", "-n", "5", model=NEVER_DECLINES)
    assert result.code == 0, result.err
    assert "Drafted 4 of 5 questions (4 answerable, 0 unanswerable)" in result.out
    assert "the collection answers it" in result.out


def test_an_existing_file_is_kept_without_force(capsys, runbooks, tmp_path) -> None:
    out = tmp_path / "qa.jsonl"
    out.write_text("mine\n")
    result = _draft(capsys, out, "-n", "2")
    assert result.code == 2 and "--force" in result.err and out.read_text() == "mine\n"
    assert _draft(capsys, out, "-n", "2", "--force").code == 0
    assert len(load_questions(out)) == 2


def test_an_unknown_or_empty_collection_is_a_usage_error(capsys, runbooks, tmp_path) -> None:
    out = tmp_path / "qa.jsonl"
    result = run_cli(capsys, "eval", "draft", "-c", "opz", "--out", str(out), "--model", TEACHER)
    assert result.code == 2 and "no collection named 'opz'" in result.err and not out.exists()

    for path in runbooks.rglob("*.md"):
        assert run_cli(capsys, "delete", str(path)).code == 0
    result = _draft(capsys, out)
    assert result.code == 2 and "has no passages" in result.err and not out.exists()


def test_more_unanswerable_than_questions_is_an_error(capsys, runbooks, tmp_path) -> None:
    result = _draft(capsys, tmp_path / "qa.jsonl", "-n", "2", "--unanswerable", "3")
    assert result.code == 2 and "--unanswerable 3 is more than -n 2" in result.err
