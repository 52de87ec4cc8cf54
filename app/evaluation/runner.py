"""Running a question file through the real answer pipeline and scoring every answer.

The runner asks each question exactly as ``citewise ask`` would (same pipeline, same options), so
what it measures is what a user gets. Ctrl-C stops the loop between answers and keeps what was
measured: a long run on a slow model is never thrown away, and the result says it is partial.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.answering import AnswerOptions, AnswerPipeline
from app.evaluation.metrics import Summary, summarize
from app.evaluation.outcome import outcome_from_answer
from app.evaluation.questions import EvalQuestion
from app.evaluation.scoring import QuestionResult, score
from retriever.search import SearchMode

# The settings names users know (``CITEWISE_ANSWER_K``…) for the AnswerOptions fields they set.
SETTING_ALIASES = {"answer_k": "k", "search_mode": "mode", "answer_focus_sentences": "focus_sentences"}
_CONVERTERS: dict[str, Callable[[str], object]] = {
    "int": int,
    "str": str,
    "float": float,
    "bool": lambda text: _boolean(text),
    "SearchMode": SearchMode,
    "float | None": lambda text: None if text.strip().lower() == "none" else float(text),
}
SETTABLE = tuple(f.name for f in dataclasses.fields(AnswerOptions) if f.type in _CONVERTERS)

Progress = Callable[[int, QuestionResult], None]  # (questions done, the latest result)


class SettingError(ValueError):
    """A ``--set`` names no settable option, or its value does not fit the option."""


@dataclass(frozen=True, slots=True)
class Variant:
    """One column of a comparison: a model and the options changed from the defaults."""

    name: str
    model: str | None = None  # None: the configured model
    overrides: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EvalRun:
    variant: Variant
    results: list[QuestionResult]
    planned: int  # questions the run was asked to answer
    partial: bool  # stopped (Ctrl-C) before answering them all
    seconds: float

    @property
    def summary(self) -> Summary:
        return summarize(self.results)


def run_questions(
    pipeline: AnswerPipeline,
    questions: Sequence[EvalQuestion],
    variant: Variant | None = None,
    on_result: Progress | None = None,
) -> EvalRun:
    """Answer and score every question in order; Ctrl-C returns what was measured so far."""
    variant = variant or Variant("default")
    started = time.perf_counter()
    results: list[QuestionResult] = []
    partial = False
    try:
        for question in questions:
            answer = pipeline.ask(question.question)
            results.append(score(question, outcome_from_answer(answer, answer.retrieved)))
            if on_result is not None:
                on_result(len(results), results[-1])
    except KeyboardInterrupt:
        partial = True
    return EvalRun(variant, results, len(questions), partial, time.perf_counter() - started)


def with_overrides(pipeline: AnswerPipeline, overrides: dict[str, object]) -> AnswerPipeline:
    """The same pipeline (knowledge base, model, embedder) with some options changed."""
    options = _replaced(pipeline.options, overrides)
    return AnswerPipeline(pipeline.kb, pipeline.generator, options, embed=pipeline.embed)


def select(questions: Sequence[EvalQuestion], tag: str | None, limit: int | None) -> list[EvalQuestion]:
    """The slice to run: the questions with ``tag`` (all without one), then the first ``limit``."""
    chosen = [q for q in questions if tag is None or tag in q.tags]
    return chosen[:limit] if limit is not None else chosen


def parse_setting(text: str) -> dict[str, object]:
    """``"k=5"`` or ``"k=5,answer_tokens=64"`` → the AnswerOptions fields they set, converted."""
    overrides: dict[str, object] = {}
    for part in text.split(","):
        key, sep, raw = part.partition("=")
        key = SETTING_ALIASES.get(key.strip(), key.strip())
        if not sep or not key or not raw.strip():
            raise SettingError(f"expected KEY=VALUE (e.g. k=5), got {part.strip()!r}")
        if key not in SETTABLE:
            raise SettingError(f"cannot set {key!r}; the options are: {', '.join(SETTABLE)}")
        kind = next(f.type for f in dataclasses.fields(AnswerOptions) if f.name == key)
        try:
            overrides[key] = _CONVERTERS[str(kind)](raw.strip())
            _replaced(AnswerOptions(), {key: overrides[key]})  # the options' own checks
        except ValueError as error:
            raise SettingError(f"{key} cannot be {raw.strip()!r} (expected {kind})") from error
    return overrides


def _replaced(options: AnswerOptions, overrides: Mapping[str, object]) -> AnswerOptions:
    """``options`` with some fields changed, by name. ``parse_setting`` converted each value to its
    field's own type (``_CONVERTERS`` is keyed by the field's type), which a type checker cannot
    follow through a field name known only at run time: the values are ``Any`` from here on."""
    changes: dict[str, Any] = dict(overrides)
    return dataclasses.replace(options, **changes)


def plan_variants(models: Sequence[str], settings: Sequence[str]) -> list[Variant]:
    """Every model (the configured one when none is given) with the defaults, and with each
    ``--set`` on its own on top of the defaults: models × (defaults + one per --set)."""
    chosen_models: list[str | None] = list(models) or [None]
    setting_rows: list[tuple[str, dict[str, object]]] = [("", {})]
    setting_rows += [(text.strip(), parse_setting(text)) for text in settings]
    variants = []
    for model in chosen_models:
        for label, overrides in setting_rows:
            name = " ".join(part for part in (model, label) if part) or "default"
            variants.append(Variant(name, model, overrides))
    names = [variant.name for variant in variants]
    repeated = next((name for name in names if names.count(name) > 1), None)
    if repeated is not None:
        raise SettingError(f"the variant {repeated!r} is given twice")
    return variants


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(text)
