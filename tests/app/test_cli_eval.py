"""``citewise eval`` end to end: real ingest, the real answer pipeline, fake models from the registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.evaluation.metrics import METRICS
from tests.app.cli_helpers import run_cli
from tests.app.test_cli import corpus  # noqa: F401  (fixture)

COPIER = "generator.testing:passage_copier"
INTERRUPTED = "generator.testing:interrupted_copier"
QUESTIONS = [
    # The copier answers with the first sentence of the best passage, cited: right here…
    {"id": "install", "question": "how do I install into a virtualenv", "answers": ["make run"],
     "sources": ["install.md"], "tags": ["test"]},
    {"id": "backup", "question": "copy the data directory while no ingest runs",
     "answers": ["while no ingest runs"], "sources": ["backup.md"], "tags": ["test"]},
    # …wrong here (the expected answer is not in that sentence)…
    {"id": "pip", "question": "how do I install into a virtualenv", "answers": ["pip install citewise"],
     "sources": ["install.md"], "tags": ["dev"]},
    # …answering what the documents do not say…
    {"id": "peru", "question": "what is the capital of peru", "unanswerable": True, "tags": ["test"]},
    # …and the source it should have found was never ingested.
    {"id": "missing", "question": "how do I install into a virtualenv", "answers": ["apt-get"],
     "sources": ["missing.md"], "tags": ["dev"]},
]  # fmt: skip
EXPECTED_FAILURES = {
    "install": None,
    "backup": None,
    "pip": "answered_wrongly",
    "peru": "answered_unanswerable",
    "missing": "not_retrieved",
}


@pytest.fixture
def qa_file(capsys, corpus, monkeypatch, tmp_path) -> Path:  # noqa: F811
    monkeypatch.setenv("CITEWISE_MIN_RETRIEVAL_SIMILARITY", "0")
    monkeypatch.setenv("CITEWISE_ANSWER_K", "2")
    assert run_cli(capsys, "ingest", str(corpus), "-c", "guide").code == 0
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    return path


def _eval(capsys, qa_file: Path, *args: str):
    return run_cli(capsys, "eval", str(qa_file), "-c", "guide", "--model", COPIER, *args)


def test_the_report_scores_every_question_and_saves_the_run(capsys, qa_file, tmp_path) -> None:
    out = tmp_path / "out"
    result = _eval(capsys, qa_file, "--out", str(out))
    assert result.code == 0, result.err
    assert "answer_correct" in result.out and "0.500" in result.out  # 2 of the 4 answerable
    for failed in ("pip", "peru", "missing"):
        assert failed in result.out
    assert "not_retrieved" in result.out and "answered_unanswerable" in result.out

    [folder] = out.iterdir()
    rows = [json.loads(line) for line in (folder / "questions.jsonl").read_text().splitlines()]
    assert {row["id"]: row["failure"] for row in rows} == EXPECTED_FAILURES
    assert [row["answer_correct"] for row in rows] == [True, True, False, False, False]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["partial"] is False and summary["answered"] == 5
    assert summary["summary"]["failures"] == {
        "answered_unanswerable": 1,
        "not_retrieved": 1,
        "retrieved_not_read": 0,
        "wrongly_abstained": 0,
        "answered_wrongly": 1,
        "citation_unsupported": 0,
    }
    assert summary["summary"]["metrics"]["abstention_recall"] == 0.0
    assert summary["summary"]["metrics"]["hit_at_k"] == pytest.approx(0.75)  # missing.md never found

    saved = list((tmp_path / "data" / "evals" / "guide").iterdir())
    assert len(saved) == 1 and saved[0].name.endswith(".json")
    kept = json.loads(saved[0].read_text())
    assert kept["summary"] == summary["summary"]
    passages = {row["id"]: row["passages"] for row in kept["results"]}
    assert [Path(uri).name for uri in passages["install"]] == ["install.md"]  # what it cited
    assert passages["missing"] and "missing.md" not in str(passages["missing"])  # what it found instead


def test_the_report_breaks_the_metrics_down_by_tag(capsys, qa_file) -> None:
    result = _eval(capsys, qa_file)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    start = next(i for i, line in enumerate(lines) if "By tag" in line)
    rows = {cells[0]: cells[1:] for cells in (_cells(line) for line in lines[start:]) if len(cells) > 2}
    # test: install and backup right, peru (unanswerable) answered; dev: pip wrong, missing not found
    assert rows["test"][:2] == ["2 + 1", "1.000"]
    assert rows["dev"][:2] == ["2 + 0", "0.000"]
    assert rows["dev"][3] == "–"  # no unanswerable question tagged dev: abstention F1 not measured


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip("│┃ ").replace("┃", "│").split("│")]


def test_json_output_has_every_metric(capsys, qa_file) -> None:
    result = _eval(capsys, qa_file, "--json", "--tag", "test")
    assert result.code == 0, result.err
    [run] = json.loads(result.out)["runs"]
    assert list(run["summary"]["metrics"]) == list(METRICS)
    assert run["answered"] == 3 and run["summary"]["metrics"]["answer_correct"] == 1.0


def test_floors_gate_the_exit_code(capsys, qa_file) -> None:
    result = _eval(capsys, qa_file, "--fail-under", "answer_correct=0.6", "--fail-under", "hit_at_k=0.5")
    assert result.code == 1
    assert "answer_correct 0.500 is below its floor 0.6" in result.err and "hit_at_k" not in result.err
    result = _eval(capsys, qa_file, "--fail-under", "answer_correct=0.5", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["failed"] == []
    assert _eval(capsys, qa_file, "--fail-under", "answer_correctness=0.5").code == 2


def test_models_and_settings_make_variants(capsys, qa_file) -> None:
    result = run_cli(
        capsys, "eval", str(qa_file), "-c", "guide", "--model", COPIER, "--model", "fake",
        "--set", "k=1", "--limit", "2", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    runs = json.loads(result.out)["runs"]
    assert [run["variant"] for run in runs] == [COPIER, f"{COPIER} k=1", "fake", "fake k=1"]
    assert [run["settings"] for run in runs] == [{}, {"k": 1}, {}, {"k": 1}]
    assert runs[0]["summary"]["retrieval_k"] == 2 and runs[1]["summary"]["retrieval_k"] == 1
    assert runs[0]["summary"]["metrics"]["answer_correct"] == 1.0
    # The echoing fake repeats the prompt: not an answer any passage supports.
    assert runs[2]["summary"]["metrics"]["answer_correct"] == 0.0

    table = run_cli(capsys, "eval", str(qa_file), "-c", "guide", "--model", COPIER, "--model", "fake")
    header = next(line for line in table.out.splitlines() if "metric" in line)
    cells = [cell.strip() for cell in header.strip("┃ ").split("┃")]
    assert cells == ["metric", COPIER, "fake"]  # one column per model


def test_an_abstention_shows_why_and_the_retrieval_k(capsys, qa_file, tmp_path) -> None:
    out = tmp_path / "out"
    result = _eval(capsys, qa_file, "--set", "min_retrieval_similarity=1", "--limit", "1", "--out", str(out))
    assert result.code == 0, result.err
    rows = {folder.name: json.loads((folder / "questions.jsonl").read_text()) for folder in out.iterdir()}
    weak = next(row for name, row in rows.items() if name.endswith("min_retrieval_similarity=1"))
    assert weak["failure"] == "wrongly_abstained" and weak["abstain_reason"].startswith("weak retrieval")
    assert "(abstained:" in result.out and "weak" in result.out and "wrongly_abstained " in result.out
    retrieval_k = next(line for line in result.out.splitlines() if "retrieval_k" in line)
    assert retrieval_k.replace("│", " ").split() == ["retrieval_k", "2", "2"]
    assert "unsupported_sentence_rate " in result.out  # metric names are never cut short


def test_a_bad_question_file_names_the_line(capsys, qa_file) -> None:
    qa_file.write_text(json.dumps(QUESTIONS[0]) + "\n\n" + '{"question": "no answer given"}\n')
    result = _eval(capsys, qa_file)
    assert result.code == 2 and "line 3" in result.err and "answers" in result.err
    assert _eval(capsys, qa_file.with_name("nowhere.jsonl")).code == 2
    assert _eval(capsys, qa_file, "--set", "k=many").code == 2
    qa_file.write_text(json.dumps(QUESTIONS[0]) + "\n")
    result = _eval(capsys, qa_file, "--tag", "nope")
    assert result.code == 2 and "no question" in result.err and "'nope'" in result.err


def test_an_unknown_collection_is_an_error(capsys, qa_file) -> None:
    result = run_cli(capsys, "eval", str(qa_file), "-c", "guides", "--model", COPIER)
    assert result.code == 1 and "no collection named 'guides'" in result.err


def test_ctrl_c_reports_what_was_measured(capsys, qa_file, tmp_path) -> None:
    out = tmp_path / "out"
    result = run_cli(
        capsys, "eval", str(qa_file), "-c", "guide", "--model", INTERRUPTED, "--model", COPIER,
        "--fail-under", "answer_correct=0.9", "--out", str(out),
    )  # fmt: skip
    assert result.code == 130
    assert "(partial)" in result.out and "2/5" in result.out
    assert "2 of 10 answers (5 questions × 2 variants)" in result.err and "below the floor" not in result.err
    [folder] = out.iterdir()  # the second model never ran
    assert json.loads((folder / "summary.json").read_text())["partial"] is True
    assert len((folder / "questions.jsonl").read_text().splitlines()) == 2


def test_ctrl_c_while_a_model_loads_keeps_the_variants_already_run(capsys, qa_file) -> None:
    loading = "generator.testing:interrupted_load"
    result = run_cli(capsys, "eval", str(qa_file), "-c", "guide", "--model", COPIER, "--model", loading)
    assert result.code == 130
    assert "5 of 10 answers" in result.err and "5/5" in result.out and "(partial)" not in result.out
