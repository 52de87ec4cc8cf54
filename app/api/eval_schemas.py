"""Response bodies of ``/v1/evals``: saved evaluation runs as the web UI's Evaluation page reads them.

Every field has a default: saved runs come from older versions too, and a field a run lacks is
shown as missing rather than failing the whole listing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class EvalRunOut(BaseModel):
    """One run of one variant: what it ran, how complete it is and its metrics."""

    id: str = Field(description="The run's id (its file name without .json).")
    time: datetime
    collection: str
    variant: str
    model: str | None = Field(default=None, description="None: the configured answer model.")
    settings: dict[str, Any] = Field(default_factory=dict, description="The --set options of the variant.")
    question_file: str | None = None
    tag: str | None = None
    limit: int | None = None
    partial: bool = False
    answered: int = 0
    planned: int = 0
    seconds: float | None = None
    questions: int = 0
    answerable: int = 0
    unanswerable: int = 0
    metrics: dict[str, float | None] = Field(default_factory=dict)
    retrieval_k: int | None = None
    failures: dict[str, int] = Field(default_factory=dict, description="Questions per failure class.")


class EvalRunList(BaseModel):
    collection: str
    runs: list[EvalRunOut] = Field(description="Newest first.")


class EvalQuestionOut(BaseModel):
    """One question's result; ``failure`` is None for a success."""

    id: str
    line: int | None = None
    question: str = ""
    tags: list[str] = Field(default_factory=list)
    expected: str = ""
    sources: list[str | int] = Field(default_factory=list, description="The sources the file expects.")
    passages: list[str] = Field(
        default_factory=list, description="The files the answer cited (or read), when recorded."
    )
    answer: str = ""
    abstained: bool = False
    abstain_reason: str | None = None
    answer_correct: bool = False
    token_f1: float | None = None
    failure: str | None = None
    source_rank: int | None = None
    citations: int = 0
    citations_correct: int = 0
    first_token_s: float | None = None
    total_s: float | None = None


class EvalRunDetail(EvalRunOut):
    results: list[EvalQuestionOut] = Field(
        default_factory=list,
        description="Per question, in file order (empty for runs saved without them).",
    )
