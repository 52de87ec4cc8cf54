"""``citewise eval draft``: write a draft question file from a collection (``app.evaluation.draft``).

Exit codes: 0 written, 1 nothing could be drafted, 2 a bad option, an unknown or empty collection
or an existing --out without --force, 130 interrupted (Ctrl-C: the drafts kept so far are written).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.cli import errors
from app.cli.common import console, current_settings, warn_about_index
from app.services import build_answer_pipeline, build_generator, build_knowledge_base
from retriever.knowledge_base import CollectionNotFoundError
from retriever.search import SearchFilters

if TYPE_CHECKING:  # the drafting code loads the training stack: only when the command runs
    from app.evaluation.draft import Drafter, Drafts, SourcePassage

INTERRUPTED = 130


def draft(
    collection: Annotated[str, typer.Option("--collection", "-c", help="The collection to draft from.")],
    out: Annotated[Path, typer.Option("--out", help="The question file to write (JSONL).")],
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="How many questions.")] = 50,
    model: Annotated[
        str | None,
        typer.Option("--model", help="The model that writes them (default: the answer model)."),
    ] = None,
    unanswerable: Annotated[
        int | None,
        typer.Option(
            "--unanswerable",
            min=0,
            help="How many of them the collection does not answer (default: 20%).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Which passages are sampled.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --out file.")] = False,
) -> None:
    """Draft a question file from the collection's passages, to review before use.

    Questions whose short answer the model found verbatim in a passage, and on-topic questions
    the collection does not answer (the model, shown what retrieval finds, declines)."""
    from app.evaluation.draft import Drafter, collection_passages, default_unanswerable, write_drafts

    if out.exists() and not force:
        raise errors.UsageError(f"{out} exists; pass --force to overwrite it")
    unanswered = default_unanswerable(count) if unanswerable is None else unanswerable
    if unanswered > count:
        raise errors.UsageError(f"--unanswerable {unanswered} is more than -n {count}")
    settings = current_settings()
    err = Console(stderr=True)
    with build_knowledge_base(settings) as kb:
        warn_about_index(kb, kb.open())
        try:
            passages = collection_passages(kb, collection)
        except CollectionNotFoundError as error:
            raise errors.UsageError(str(error)) from error
        if not passages:
            raise errors.UsageError(f"the collection {collection!r} has no passages: ingest documents first")
        try:
            teacher = build_generator(settings, model)
            teacher.warm_up()
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/] while the model loaded: nothing drafted")
            raise SystemExit(INTERRUPTED) from None
        pipeline = build_answer_pipeline(
            settings, kb, teacher, filters=SearchFilters(collections=(collection,))
        )
        drafts = _draft_with_progress(err, Drafter(teacher, pipeline), passages, count, unanswered, seed)
    if drafts.questions:
        write_drafts(out, drafts)
    _print_summary(console, drafts, out, count)
    if drafts.interrupted:
        err.print(f"[yellow]interrupted[/] after {drafts.tried} passages: the drafts kept so far are written")
        raise SystemExit(INTERRUPTED)
    if not drafts.questions:
        raise typer.Exit(1)


def _draft_with_progress(
    err: Console, drafter: Drafter, passages: Sequence[SourcePassage], count: int, unanswered: int, seed: int
) -> Drafts:
    columns = (
        TextColumn("drafting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("kept, {task.fields[tried]} passages tried"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task("draft", total=count, tried=0)

        def on_step(drafts: Drafts) -> None:
            progress.update(task, completed=len(drafts.questions), tried=drafts.tried)

        return drafter.run(passages, count, unanswered, seed, on_step)


def _print_summary(console: Console, drafts: Drafts, out: Path, count: int) -> None:
    """How many were drafted and where, and why the other candidates were dropped."""
    if drafts.questions:
        console.print(
            f"Drafted {len(drafts.questions)} of {count} questions ({drafts.answerable} answerable, "
            f"{drafts.unanswerable} unanswerable) from {drafts.tried} passages into {escape(str(out))}. "
            "These are drafts: review before use (keep, fix or delete each line).",
            soft_wrap=True,
        )
    else:
        console.print(f"No question drafted from {drafts.tried} passages; nothing written.", soft_wrap=True)
    for reason, number in drafts.counts.most_common():
        console.print(f"  dropped {number}: {escape(reason)}", highlight=False)
