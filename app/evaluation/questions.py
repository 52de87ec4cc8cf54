"""The question file of ``citewise eval``: JSONL, one question per line (see docs/evaluation.md).

Validated by hand rather than with pydantic so that every error names the file, the 1-based line
and the one thing that is wrong, in words a user who wrote the file by hand understands. Unknown
keys are errors: a misspelt ``answer`` or ``source`` would otherwise silently score nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.answer_scores import normalize

KNOWN_KEYS = ("id", "question", "answers", "facts", "sources", "unanswerable", "tags", "draft")


class QuestionFileError(ValueError):
    """The question file cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    id: str
    question: str
    answers: tuple[str, ...] = ()  # any one counts
    facts: tuple[str, ...] = ()  # all must appear
    sources: tuple[str | int, ...] = ()  # file names/paths or document ids holding the answer
    unanswerable: bool = False  # the documents do not answer it: the right outcome is to abstain
    tags: tuple[str, ...] = ()
    line: int = 0  # where it was read, for reports
    draft: bool = False  # written by ``citewise eval draft`` and not yet reviewed; scoring ignores it

    @property
    def answerable(self) -> bool:
        return not self.unanswerable


def load_questions(path: str | Path) -> list[EvalQuestion]:
    """Every question of a JSONL file; blank lines are skipped (JSONL has no comments)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise QuestionFileError(f"{path}: cannot read the question file ({error})") from error
    return parse_questions(text.splitlines(), str(path))


def parse_questions(lines: list[str], name: str) -> list[EvalQuestion]:
    questions: list[EvalQuestion] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        question = _parse_line(line, number, name)
        if question.id in seen:
            first = seen[question.id]
            raise QuestionFileError(
                f"{name}, line {number}: duplicate id {question.id!r} (first used on line {first})"
            )
        seen[question.id] = number
        questions.append(question)
    if not questions:
        raise QuestionFileError(f"{name}: the question file has no questions")
    return questions


def _parse_line(line: str, number: int, name: str) -> EvalQuestion:
    where = f"{name}, line {number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise QuestionFileError(f"{where}: not valid JSON ({error.msg} at column {error.colno})") from error
    if not isinstance(record, dict):
        raise QuestionFileError(f"{where}: expected a JSON object, got {_kind(record)}")
    unknown = [key for key in record if key not in KNOWN_KEYS]
    if unknown:
        raise QuestionFileError(
            f"{where}: unknown key {unknown[0]!r} (the keys are: {', '.join(KNOWN_KEYS)})"
        )
    if "question" not in record:
        raise QuestionFileError(f"{where}: missing 'question'")
    question = _text(record["question"], "question", where)
    unanswerable = record.get("unanswerable", False)
    if not isinstance(unanswerable, bool):
        raise QuestionFileError(f"{where}: 'unanswerable' must be true or false, got {_kind(unanswerable)}")
    draft = record.get("draft", False)
    if not isinstance(draft, bool):
        raise QuestionFileError(f"{where}: 'draft' must be true or false, got {_kind(draft)}")
    answers = _texts(record, "answers", where, scored=True)
    facts = _texts(record, "facts", where, scored=True)
    sources = _sources(record, where)
    tags = _texts(record, "tags", where)
    if unanswerable:
        given = [key for key in ("answers", "facts", "sources") if key in record]
        if given:
            raise QuestionFileError(
                f"{where}: an unanswerable question has no '{given[0]}' (remove it or the 'unanswerable')"
            )
    elif not answers and not facts:
        raise QuestionFileError(
            f"{where}: give 'answers' (or 'facts'), or mark the question \"unanswerable\": true"
        )
    identifier = record.get("id", f"line-{number}")
    if not isinstance(identifier, str) or not identifier.strip():
        raise QuestionFileError(f"{where}: 'id' must be a non-empty string, got {_kind(identifier)}")
    return EvalQuestion(
        identifier.strip(), question, answers, facts, sources, unanswerable, tags, line=number, draft=draft
    )


def _text(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str):
        raise QuestionFileError(f"{where}: '{key}' must be a string, got {_kind(value)}")
    if not value.strip():
        raise QuestionFileError(f"{where}: '{key}' is empty")
    return value.strip()


def _texts(record: dict[str, Any], key: str, where: str, scored: bool = False) -> tuple[str, ...]:
    """A list of non-empty strings; ``scored`` ones must keep some words after normalisation, or
    they would be found in every answer."""
    if key not in record:
        return ()
    values = record[key]
    if not isinstance(values, list) or not values:
        raise QuestionFileError(f"{where}: '{key}' must be a non-empty list of strings, got {_kind(values)}")
    texts = []
    for index, value in enumerate(values):
        text = _text(value, f"{key}[{index}]", where)
        if scored and not normalize(text):
            raise QuestionFileError(
                f"{where}: '{key}[{index}]' has no words left to match after normalisation ({text!r})"
            )
        texts.append(text)
    return tuple(texts)


def _sources(record: dict[str, Any], where: str) -> tuple[str | int, ...]:
    if "sources" not in record:
        return ()
    values = record["sources"]
    if not isinstance(values, list) or not values:
        raise QuestionFileError(
            f"{where}: 'sources' must be a non-empty list of file names or document ids, got {_kind(values)}"
        )
    sources: list[str | int] = []
    for index, value in enumerate(values):
        if isinstance(value, int) and not isinstance(value, bool):
            sources.append(value)
        elif isinstance(value, str) and value.strip():
            sources.append(value.strip())
        else:
            raise QuestionFileError(
                f"{where}: 'sources[{index}]' must be a file name or a document id, got {_kind(value)}"
            )
    return tuple(sources)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value.strip() else "a string"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    return "an object"
