"""Keeps Citewise's hand-written guide question set (`bench/qa/guide.jsonl`) true to `docs/`.

The set measures answer quality on the guide, so a question whose answer has left the docs would
silently count right answers as wrong. These tests fail when a doc loses the answer to an
answerable question: none of its `answers`, or not all of its `facts`, can then be found in the
text of the `sources` files it names. They also fail when the file's shape or its dev/test split
breaks.

Matching is containment after one simple normalisation, applied the same way to the answer and to
the doc text: Markdown backticks and asterisks are removed, runs of whitespace become one space,
and everything is lowercased. Nothing else (no punctuation or accent stripping).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
QA_FILE = REPO_ROOT / "bench" / "qa" / "guide.jsonl"
DOCS_DIR = REPO_ROOT / "docs"
SPLITS = {"dev", "test"}


def normalize_for_match(text: str) -> str:
    """Drop Markdown code/emphasis markers, collapse whitespace, lowercase."""
    without_markup = text.replace("`", "").replace("*", "")
    return re.sub(r"\s+", " ", without_markup).strip().lower()


def load_questions() -> list[dict[str, object]]:
    """Every line of the question file, parsed; a bad line fails with its number."""
    questions = []
    for number, line in enumerate(QA_FILE.read_text(encoding="utf-8").splitlines(), start=1):
        assert line.strip(), f"line {number} is empty"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            pytest.fail(f"line {number} is not JSON: {error}")
        assert isinstance(row, dict), f"line {number} is not a JSON object"
        questions.append(row)
    return questions


QUESTIONS = load_questions()
ANSWERABLE = [q for q in QUESTIONS if not q.get("unanswerable")]


def split_of(question: dict[str, object]) -> str:
    """The one split tag of a question ("dev" or "test")."""
    return next(tag for tag in question["tags"] if tag in SPLITS)  # type: ignore[union-attr]


def is_list_of_strings(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(isinstance(item, str) and item.strip() for item in value)
    )


def doc_text(file_name: str) -> str:
    return normalize_for_match((DOCS_DIR / file_name).read_text(encoding="utf-8"))


def test_normalisation_strips_markup_case_and_whitespace() -> None:
    assert normalize_for_match("Set `CITEWISE_UI_PORT`,\n  **default**  8501") == (
        "set citewise_ui_port, default 8501"
    )


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: str(q.get("id")))
def test_every_line_has_the_keys_with_the_right_types(question: dict[str, object]) -> None:
    assert isinstance(question.get("id"), str) and question["id"]
    assert isinstance(question.get("question"), str) and question["question"].strip()
    tags = question.get("tags")
    assert is_list_of_strings(tags), "tags must be a non-empty list of strings"
    assert len([tag for tag in tags if tag in SPLITS]) == 1, "exactly one of dev/test"  # type: ignore[union-attr]
    assert len(tags) >= 2, "a split tag plus at least one kind tag"  # type: ignore[arg-type]
    known = {"id", "question", "answers", "facts", "sources", "unanswerable", "tags"}
    assert set(question) <= known, f"unknown keys: {set(question) - known}"
    if question.get("unanswerable"):
        assert question["unanswerable"] is True
        assert "unanswerable" in tags  # type: ignore[operator]
        for key in ("answers", "facts", "sources"):
            assert key not in question, f"an unanswerable question has no {key}"
    else:
        assert "unanswerable" not in question
        assert "unanswerable" not in tags  # type: ignore[operator]
        assert is_list_of_strings(question.get("answers")), "answers: non-empty list of strings"
        assert is_list_of_strings(question.get("sources")), "sources: non-empty list of strings"
        if "facts" in question:
            assert is_list_of_strings(question["facts"]), "facts: non-empty list of strings"


def test_ids_are_unique() -> None:
    repeated = [qid for qid, count in Counter(q["id"] for q in QUESTIONS).items() if count > 1]
    assert repeated == []


def test_set_is_large_enough() -> None:
    assert len(QUESTIONS) >= 80
    assert len(QUESTIONS) - len(ANSWERABLE) >= 20


def test_both_splits_hold_answerable_and_unanswerable_questions() -> None:
    kinds_per_split = {(split_of(q), bool(q.get("unanswerable"))) for q in QUESTIONS if q.get("tags")}
    assert kinds_per_split == {("dev", False), ("dev", True), ("test", False), ("test", True)}


def test_split_is_roughly_forty_sixty() -> None:
    dev_share = sum(split_of(q) == "dev" for q in QUESTIONS) / len(QUESTIONS)
    assert 0.3 <= dev_share <= 0.5


@pytest.mark.parametrize("question", ANSWERABLE, ids=lambda q: str(q.get("id")))
def test_answer_is_still_in_its_source_docs(question: dict[str, object]) -> None:
    """Fails when a doc change removes the answer: update the question or the doc."""
    sources = question["sources"]
    missing = [name for name in sources if not (DOCS_DIR / name).is_file()]  # type: ignore[union-attr]
    assert missing == [], f"source files not in docs/: {missing}"
    text = " \n ".join(doc_text(name) for name in sources)  # type: ignore[union-attr]
    answers = question["answers"]
    assert any(normalize_for_match(a) in text for a in answers), (  # type: ignore[union-attr]
        f"none of {answers} occurs in {sources}"
    )
    facts = question.get("facts", [])
    absent = [f for f in facts if normalize_for_match(f) not in text]  # type: ignore[union-attr]
    assert absent == [], f"facts not in {sources}: {absent}"


def test_checker_fails_when_the_answer_is_gone() -> None:
    """The containment check really rejects text without the answer (guards the test itself)."""
    text = normalize_for_match("The web UI listens on `127.0.0.1`.")
    assert normalize_for_match("8501") not in text
    assert normalize_for_match("127.0.0.1") in text
