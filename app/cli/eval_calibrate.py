"""``citewise eval calibrate``: choose the abstention thresholds for a collection and model from a
question file's dev questions (``app.evaluation.calibration``).

The questions are answered once with both abstention tests off (the model's decline probability
scored but never acted on, no similarity floor); every pair of thresholds is then scored from that
one run. The table shows the best pairs and today's settings; the first row is the suggestion.

Exit codes: 0 done, 2 a bad question file or option, an unknown collection or a model that
cannot score its decline (the extractive backend), 130 interrupted.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.cli import errors
from app.cli.common import console, current_settings, warn_about_index
from app.evaluation.calibration import Calibrated, Thresholds, decline_grid, rescore, sweep
from app.evaluation.metrics import format_metric, summarize
from app.evaluation.questions import QuestionFileError, load_questions
from app.evaluation.runner import SettingError, Variant, parse_setting, select, with_overrides
from app.services import build_answer_pipeline, build_generator, build_knowledge_base
from retriever.search import SearchFilters

INTERRUPTED = 130
SIMILARITIES = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4)
COLUMNS = ("answer_correct", "token_f1", "abstention_precision", "abstention_recall", "abstention_f1")
HEADERS = ("correct", "F1", "abst. P", "abst. R", "abst. F1")  # COLUMNS, narrow enough for 80 columns
MEASURING = {"decline_threshold": math.inf, "min_retrieval_similarity": 0.0}


def calibrate(
    qa_file: Annotated[Path, typer.Argument(help="The question file (JSONL; docs/evaluation.md).")],
    collection: Annotated[str, typer.Option("--collection", "-c", help="The collection to answer from.")],
    tag: Annotated[
        str | None, typer.Option("--tag", help="Only the questions with this tag (use your dev split).")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="The model to calibrate (default: the configured one).")
    ] = None,
    setting: Annotated[
        str | None,
        typer.Option("--set", metavar="KEY=VALUE[,KEY=VALUE]", help="Answer options to calibrate under."),
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="How many threshold pairs to show.")] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Print the pairs as JSON.")] = False,
) -> None:
    """Choose the abstention thresholds (decline probability, retrieval similarity) on dev questions."""
    from app.cli.eval import run_with_progress

    try:
        questions = select(load_questions(qa_file), tag, None)
        overrides = {**(parse_setting(setting) if setting else {}), **MEASURING}
    except (QuestionFileError, SettingError) as error:
        raise errors.UsageError(str(error)) from error
    if not questions:
        raise errors.UsageError(f"no question in {qa_file} has the tag {tag!r}")
    settings = current_settings()
    err = Console(stderr=True)
    with build_knowledge_base(settings) as kb:
        warn_about_index(kb, kb.open())  # as `eval run` does: a stale index skews the thresholds
        kb.collection(collection)
        generator = build_generator(settings, model)
        generator.warm_up()
        base = build_answer_pipeline(
            settings, kb, generator, filters=SearchFilters(collections=(collection,))
        )
        today = Thresholds(
            _today(base.options.decline_threshold, generator), base.options.min_retrieval_similarity
        )
        variant = Variant(model or settings.generator, model, overrides)
        run = run_with_progress(err, with_overrides(base, overrides), questions, variant, as_json)
    if run.partial:
        err.print("[yellow]interrupted[/]: nothing calibrated")
        raise SystemExit(INTERRUPTED)
    try:
        ranked = sweep(run.results, decline_grid(run.results), SIMILARITIES)
    except ValueError as error:
        raise errors.UsageError(f"{variant.name}: {error} (this model cannot score a decline)") from error
    current = rescore(run.results, today)
    now = Calibrated(today, sum(1 for r in current if r.success), summarize(current))
    if as_json:
        print(json.dumps({"today": _json(now), "ranked": [_json(c) for c in ranked[:top]]}, indent=2))
        return
    _print(console, ranked[:top], now, len(run.results))


def _today(threshold: float | None, generator: object) -> float:
    value = threshold if threshold is not None else getattr(generator, "decline_threshold", None)
    return math.inf if value is None else value


def _print(console: Console, ranked: list[Calibrated], now: Calibrated, total: int) -> None:
    table = Table(title="Abstention thresholds (best first)")
    table.add_column("", no_wrap=True, min_width=5)
    for column in ("decline ≥", "similarity <", "handled", *HEADERS):
        table.add_column(column, justify="right")
    for label, item in [*((str(n), c) for n, c in enumerate(ranked, start=1)), ("today", now)]:
        metrics = item.summary.metrics
        table.add_row(
            label,
            _threshold(item.thresholds.decline_logprob),
            f"{item.thresholds.min_similarity:.2f}",
            f"{item.handled}/{total}",
            *(format_metric(metrics[name]) for name in COLUMNS),
        )
    console.print(table)
    if now.handled >= ranked[0].handled:
        console.print("Today's thresholds handle as many questions as any pair: keep them.")
        return
    best = ranked[0].thresholds
    decline = f"CITEWISE_DECLINE_THRESHOLD={best.decline_logprob} "
    decline = "" if math.isinf(best.decline_logprob) else decline
    console.print(
        "Suggested: "
        + escape(f"{decline}CITEWISE_MIN_RETRIEVAL_SIMILARITY={best.min_similarity}")
        + (" (the decline probability does not help: leave it unset)" if not decline else "")
    )


def _threshold(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:.2f} (p={math.exp(value):.2f})"


def _json(item: Calibrated) -> dict[str, object]:
    decline = item.thresholds.decline_logprob
    return {
        "decline_threshold": None if math.isinf(decline) else decline,
        "min_retrieval_similarity": item.thresholds.min_similarity,
        "handled": item.handled,
        **{name: item.summary.metrics[name] for name in COLUMNS},
    }
