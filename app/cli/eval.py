"""``citewise eval``: run a question file through the answer pipeline and report the metrics;
``citewise eval draft`` writes a first question file (``app.cli.eval_draft``), ``citewise eval
calibrate`` chooses the abstention thresholds (``app.cli.eval_calibrate``).

Exit codes: 0 done (and every --fail-under floor met), 1 a floor failed, 2 a bad question file or
option, 130 interrupted (Ctrl-C: the questions answered so far are reported, floors not checked).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, TypedDict

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from app.answering import AnswerPipeline
from app.cli import errors
from app.cli.common import console, current_settings, warn_about_index
from app.evaluation.metrics import METRICS, FloorError, check_floors, format_metric, parse_floor
from app.evaluation.questions import EvalQuestion, QuestionFileError, load_questions
from app.evaluation.records import expected, run_json, save_run, write_out
from app.evaluation.runner import (
    EvalRun,
    SettingError,
    Variant,
    plan_variants,
    run_questions,
    select,
    with_overrides,
)
from app.evaluation.scoring import Failure, QuestionResult
from app.services import build_answer_pipeline, build_generator, build_knowledge_base
from app.settings import Settings
from generator.base import Generator
from retriever.knowledge_base import KnowledgeBase
from retriever.search import SearchFilters

INTERRUPTED = 130


class RunContext(TypedDict):
    """What a run is recorded with besides its collection (``context`` of ``app.evaluation.records``)."""

    question_file: str
    tag: str | None
    limit: int | None


class EvalGroup(TyperGroup):
    """``eval`` is a group (``run``, ``draft``) that still takes ``citewise eval QA_FILE …``: an
    argument that is not a subcommand's name goes to ``run``. Click cannot mix a group's own
    positional argument with subcommands, hence the routing."""

    default_command = "run"

    # typer's base takes its vendored click Context, which typer does not export; typer.Context
    # subclasses it, and is what the command receives.
    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


group = typer.Typer(
    cls=EvalGroup,
    no_args_is_help=True,
    help="Score answers against a question file (`citewise eval QA_FILE -c C` is short for "
    "`citewise eval run QA_FILE -c C`), or draft a question file.",
)


def evaluate(
    qa_file: Annotated[Path, typer.Argument(help="The question file (JSONL; docs/evaluation.md).")],
    collection: Annotated[str, typer.Option("--collection", "-c", help="The collection to answer from.")],
    models: Annotated[
        list[str],
        typer.Option("--model", help="Compare this model (repeatable); default: the configured one."),
    ] = [],  # noqa: B006
    settings: Annotated[
        list[str],
        typer.Option(
            "--set",
            metavar="KEY=VALUE[,KEY=VALUE]",
            help="An answer option (k, answer_tokens, min_retrieval_similarity…); each --set is one "
            "more variant on top of the defaults, compared side by side (repeatable).",
        ),
    ] = [],  # noqa: B006
    floors: Annotated[
        list[str],
        typer.Option(
            "--fail-under", metavar="METRIC=VALUE", help="Exit 1 when a metric misses it (repeatable)."
        ),
    ] = [],  # noqa: B006
    as_json: Annotated[bool, typer.Option("--json", help="Print the summaries as JSON.")] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write summary.json and questions.jsonl per variant here."),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N questions.")] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Only the questions with this tag.")] = None,
) -> None:
    """Score answers against a question file: metrics, failure classes, the failed questions."""
    try:
        questions = select(load_questions(qa_file), tag, limit)
        variants = plan_variants(models, settings)
        gate = [parse_floor(text) for text in floors]
    except (QuestionFileError, SettingError, FloorError) as error:
        raise errors.UsageError(str(error)) from error
    if not questions:
        raise errors.UsageError(f"no question in {qa_file} has the tag {tag!r}")
    app_settings = current_settings()
    context: RunContext = {"question_file": str(qa_file), "tag": tag, "limit": limit}
    err = Console(stderr=True)
    with build_knowledge_base(app_settings) as kb:
        warn_about_index(kb, kb.open())
        kb.collection(collection)  # a misspelt collection is an error, not 0 answers correct
        runs, interrupted = _run_variants(app_settings, kb, collection, questions, variants, err, as_json)
        for run in runs:
            save_run(app_settings.data_dir, collection, run, **context)
            if out is not None:
                write_out(out, run, collection=collection, **context)
    failed = [] if interrupted else _failed_floors(runs, gate)
    if as_json:
        payload = {
            "runs": [run_json(r, collection=collection, **context) for r in runs],
            "failed": failed,
        }
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    elif runs:
        print_report(console, runs)
    if interrupted:
        answered = sum(len(run.results) for run in runs)
        err.print(
            f"[yellow]interrupted[/]: {answered} of {len(questions) * len(variants)} answers "
            f"({len(questions)} questions × {len(variants)} variants); the results above are "
            "partial and no floor was checked"
        )
        raise SystemExit(INTERRUPTED)
    if failed:
        for line in failed:
            err.print(f"[red]below the floor:[/] {escape(line)}", highlight=False)
        raise typer.Exit(1)


def _run_variants(
    settings: Settings,
    kb: KnowledgeBase,
    collection: str,
    questions: list[EvalQuestion],
    variants: list[Variant],
    err: Console,
    quiet: bool,
) -> tuple[list[EvalRun], bool]:
    """Each variant in turn, loading each model once; (the runs, whether Ctrl-C stopped them).
    Ctrl-C while a model loads keeps the variants already run."""
    runs: list[EvalRun] = []
    generators: dict[str | None, Generator] = {}
    try:
        for variant in variants:
            if variant.model not in generators:
                generators[variant.model] = build_generator(settings, variant.model)
                generators[variant.model].warm_up()
            base = build_answer_pipeline(
                settings, kb, generators[variant.model], filters=SearchFilters(collections=(collection,))
            )
            runs.append(
                run_with_progress(err, with_overrides(base, variant.overrides), questions, variant, quiet)
            )
            if runs[-1].partial:
                return runs, True
    except KeyboardInterrupt:
        return runs, True
    return runs, False


def _failed_floors(runs: list[EvalRun], gate: list[tuple[str, float]]) -> list[str]:
    prefix = len(runs) > 1
    return [
        f"{run.variant.name}: {line}" if prefix else line
        for run in runs
        for line in check_floors(run.summary, gate)
    ]


def run_with_progress(
    err: Console, pipeline: AnswerPipeline, questions: Sequence[EvalQuestion], variant: Variant, quiet: bool
) -> EvalRun:
    correct = answerable = 0
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TextColumn("answer_correct {task.fields[correct]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, disable=quiet, transient=False) as progress:
        task = progress.add_task(escape(variant.name), total=len(questions), rate="", correct="–")

        def on_result(done: int, result: QuestionResult) -> None:
            nonlocal correct, answerable
            if not result.should_abstain:
                answerable += 1
                correct += result.answer_correct
            elapsed = progress.tasks[task].elapsed or 0.0
            rate = f"{done / elapsed:.2f} q/s" if elapsed else ""
            share = format_metric(correct / answerable) if answerable else "–"
            progress.update(task, completed=done, rate=rate, correct=share)

        return run_questions(pipeline, questions, variant, on_result)


def print_report(console: Console, runs: list[EvalRun]) -> None:
    """The metrics (rows) per variant (columns), the failure classes, then each failed question."""
    summaries = [run.summary for run in runs]
    table = Table(title="Evaluation")
    table.add_column("metric", no_wrap=True, min_width=max(map(len, METRICS)))
    for run in runs:
        table.add_column(escape(run.variant.name) + (" (partial)" if run.partial else ""), justify="right")
    table.add_row("questions", *(f"{len(r.results)}/{r.planned}" for r in runs))
    table.add_row("retrieval_k", *(str(s.retrieval_k) if s.retrieval_k else "–" for s in summaries))
    for name in METRICS:
        table.add_row(name, *(format_metric(s.metrics[name]) for s in summaries))
    console.print(table)

    classes = Table(title="Failures")
    classes.add_column("class", no_wrap=True, min_width=max(len(f.value) for f in Failure))
    for run in runs:
        classes.add_column(escape(run.variant.name), justify="right")
    for failure in Failure:
        classes.add_row(failure.value, *(str(s.failures[failure.value]) for s in summaries))
    console.print(classes)
    for run in runs:
        _print_tags(console, run)

    for run in runs:
        failed = [r for r in run.results if r.failure is not None]
        if not failed:
            continue
        rows = Table(title=f"Failed questions: {escape(run.variant.name)}")
        rows.add_column("id", overflow="fold")
        rows.add_column("class", no_wrap=True, min_width=max(len(f.value) for f in Failure))
        for column in ("question", "answer", "expected"):
            rows.add_column(column, overflow="fold")
        for result in failed:
            assert result.failure is not None
            rows.add_row(
                escape(result.question.id),
                result.failure.value,
                escape(result.question.question),
                escape(_shown_answer(result)),
                escape(expected(result)),
            )
        console.print(rows)


TAG_METRICS = ("answer_correct", "token_f1", "abstention_f1", "citation_precision", "hit_at_k", "total_p50_s")


def _print_tags(console: Console, run: EvalRun) -> None:
    """The main metrics per tag (rows), so a weak kind of question shows; nothing without tags."""
    by_tag = run.summary.by_tag
    if not by_tag:
        return
    table = Table(title=f"By tag: {escape(run.variant.name)}")
    table.add_column("tag", no_wrap=True, min_width=max(map(len, by_tag)))
    table.add_column("answerable + not", justify="right", min_width=5)
    for name in TAG_METRICS:  # headers may wrap; the values (5 characters) never do
        table.add_column(name, justify="right", min_width=5, overflow="fold")
    for tag, summary in by_tag.items():
        counts = f"{summary.answerable} + {summary.unanswerable}"
        table.add_row(escape(tag), counts, *(format_metric(summary.metrics[n]) for n in TAG_METRICS))
    console.print(table)


def _shown_answer(result: QuestionResult) -> str:
    """The answer, or why the pipeline abstained: that is what tells the failure's cause."""
    return f"(abstained: {result.abstain_reason})" if result.abstained else result.answer
