"""The ``citewise`` command line: ingest, search, ask, chat, status, delete, reindex, and the rest."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from app.cli import ask, errors, eval_calibrate, eval_draft, operations, queue, render, server, train
from app.cli import eval as eval_cli
from app.cli.common import (
    CollectionOption,
    console,
    current_settings,
    err_console,
    parse_choice,
    parse_meta,
    warn_about_index,
)
from app.services import build_knowledge_base, build_pipeline, embedder_name
from app.settings import redact_url
from retriever import catalog

app = typer.Typer(
    name="citewise",
    help="Ingest, search and ask questions of your own documents, fully offline, with cited answers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    collection: CollectionOption = None,
    include: Annotated[list[str], typer.Option("--include", help="Only files matching this glob.")] = [],  # noqa: B006
    exclude: Annotated[list[str], typer.Option("--exclude", help="Skip files matching this glob.")] = [],  # noqa: B006
    sync: Annotated[bool, typer.Option("--sync", help="Remove documents whose files are gone.")] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Re-chunk and re-embed unchanged files too (after changing settings)."),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    follow_outside_links: Annotated[
        bool,
        typer.Option(
            "--follow-outside-links",
            help="Also ingest files that symbolic links lead to outside the given folders "
            "(skipped by default, so a link cannot expose a file nobody meant to share).",
        ),
    ] = False,
    run_async: Annotated[
        bool,
        typer.Option(
            "--async", help="Queue the job for `citewise worker` processes (CITEWISE_QUEUE_URL) and return."
        ),
    ] = False,
    ray: Annotated[
        bool,
        typer.Option(
            "--ray",
            help="Parse, chunk and embed on a Ray cluster (--ray-address, or $RAY_ADDRESS), or on a "
            "Ray instance started here when there is no address.",
        ),
    ] = False,
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", metavar="ADDRESS", help="The Ray cluster, e.g. ray://head:10001."),
    ] = None,
    ray_workers: Annotated[int, typer.Option("--ray-workers", min=1, help="Embedding actors for --ray.")] = 2,
) -> None:
    """Parse, chunk and embed documents; unchanged files are skipped, changed ones replaced."""
    from app.cli.progress import RichIngestProgress

    settings = current_settings()
    if run_async:
        if include or exclude or sync or force or ray or follow_outside_links:
            raise errors.UsageError("--async takes paths and --collection only")
        from app.cli.queue import enqueue_ingest

        job_id = enqueue_ingest(settings, paths, collection)
        console.print(f"Queued job {job_id}. Follow it: citewise jobs show {job_id} --wait")
        return
    preparer = None
    if ray_address and not ray:
        raise errors.UsageError("--ray-address needs --ray")
    if ray:
        from ingest.distributed import RayOptions, RayPreparer

        preparer = RayPreparer(
            RayOptions(
                address=ray_address or os.environ.get("RAY_ADDRESS") or None,
                workers=ray_workers,
                embedder=embedder_name(settings),
                chunk_tokens=settings.chunk_tokens,
                chunk_overlap=settings.chunk_overlap,
            )
        )
    with build_knowledge_base(settings) as kb, contextlib.ExitStack() as cleanup:
        if preparer is not None:
            cleanup.callback(preparer.close)
        kb.open(writable=True)
        decision_before = kb.index_decision
        pipeline = build_pipeline(
            settings,
            kb,
            collection=collection,
            include=tuple(include),
            exclude=tuple(exclude),
            sync=sync,
            force=force,
            preparer=preparer,
            follow_outside_links=follow_outside_links,
        )
        if quiet or not console.is_terminal:
            report = pipeline.run(paths)
        else:
            with RichIngestProgress(console) as progress:
                report = pipeline.run(paths, progress)
        decision = kb.index_decision
    render.print_ingest_report(console, report)
    if decision is not None and decision != decision_before and decision.note:  # decided during this run
        console.print(f"search index: {escape(decision.note)} ({decision.build_seconds:.1f} s)")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", min=1, max=1000, help="How many passages.")] = 5,
    collection: Annotated[
        list[str], typer.Option("--collection", "-c", help="Restrict to these collections.")
    ] = [],  # noqa: B006
    mode: Annotated[
        str | None, typer.Option("--mode", "-m", help="dense, sparse (BM25 keywords) or hybrid.")
    ] = None,
    document: Annotated[list[int], typer.Option("--document", help="Restrict to these document ids.")] = [],  # noqa: B006
    path_prefix: Annotated[
        str | None, typer.Option("--path-prefix", help="Only documents whose source starts with this.")
    ] = None,
    meta: Annotated[list[str], typer.Option("--meta", help="Metadata filter KEY=VALUE (repeatable).")] = [],  # noqa: B006
    fusion: Annotated[
        str | None, typer.Option("--fusion", help="Hybrid fusion: zscore (scores) or rrf (ranks).")
    ] = None,
    dense_weight: Annotated[
        float | None,
        typer.Option("--dense-weight", min=0.0, max=1.0, help="Share of the dense ranking in hybrid mode."),
    ] = None,
    diversity: Annotated[
        float | None,
        typer.Option(
            "--diversity",
            min=0.0,
            max=1.0,
            help="MMR re-ranking with this relevance weight, e.g. 0.5.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Find the passages most relevant to a query."""
    from app.cli.progress import task_progress
    from retriever.fusion import FusionMethod, FusionWeights
    from retriever.search import SearchFilters, SearchMode
    from retriever.search import search as run_search

    if not query.strip():
        raise errors.UsageError("the query is empty")
    settings = current_settings()
    filters = SearchFilters(
        collections=tuple(collection),
        document_ids=tuple(document),
        source_prefix=str(Path(path_prefix).expanduser().resolve()) if path_prefix else None,
        metadata=parse_meta(meta),
    )
    chosen = parse_choice(mode or settings.search_mode, SearchMode, "search mode")
    method = parse_choice(fusion or settings.search_fusion, FusionMethod, "fusion")
    weights = FusionWeights.from_dense_share(
        settings.search_dense_weight if dense_weight is None else dense_weight, method
    )
    with build_knowledge_base(settings) as kb:
        with task_progress(err_console, "repairing index") as repair:
            report = kb.open(repair_progress=repair)
        warn_about_index(kb, report)
        hits = run_search(kb, query, k=k, mode=chosen, filters=filters, weights=weights, diversity=diversity)
    if as_json:
        print(render.hits_json(query, hits))
    else:
        render.print_hits(console, query, hits)


@app.command()
def status(
    jobs: Annotated[
        int, typer.Option("--jobs", min=0, max=100, help="Also list the last N ingest jobs and their errors.")
    ] = 0,
) -> None:
    """Collections, document and chunk counts, and whether the index matches the database."""
    from app.cli.progress import task_progress

    settings = current_settings()
    with build_knowledge_base(settings) as kb, task_progress(err_console, "repairing index") as repair:
        report = kb.open(repair_progress=repair)
        warn_about_index(kb, report)
        stats = catalog.collection_rows(kb)
        recent = catalog.recent_jobs(kb, jobs) if jobs else []
    render.print_status(
        console,
        stats,
        report,
        kb.embedder.name,
        redact_url(settings.resolved_database_url),
        kb.index_decision,
    )
    if jobs:
        render.print_jobs(console, recent)


@app.command()
def delete(
    targets: Annotated[
        list[str], typer.Argument(help="Document ids, file paths or folders (everything under it).")
    ] = [],  # noqa: B006
    collection: CollectionOption = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before deleting a collection.")
    ] = False,
) -> None:
    """Delete documents, or a whole collection when only --collection is given."""
    from app.cli.deletion import delete_collection, delete_targets

    settings = current_settings()
    if not targets and not collection:
        raise errors.UsageError("name documents to delete, or --collection NAME to delete a whole collection")
    with build_knowledge_base(settings) as kb:
        kb.open(writable=True)
        if targets:
            count = delete_targets(kb, targets, collection)
            console.print(f"Deleted {count} document(s).")
        else:
            assert collection is not None
            if not yes and not typer.confirm(f"Delete collection {collection!r} and all its documents?"):
                err_console.print("Nothing deleted.")
                raise typer.Exit(1)
            count = delete_collection(kb, collection)
            console.print(f"Deleted collection {collection!r} ({count} document(s)).")


@app.command()
def reindex() -> None:
    """Rebuild the vector index from the stored chunks with the configured embedder."""
    from app.cli.progress import task_progress

    settings = current_settings()
    with build_knowledge_base(settings) as kb, task_progress(console, "reindex") as progress:
        kb.open(writable=True, rebuild=True, repair_progress=progress)
        count = len(kb.index)
    console.print(f"Reindexed {count} chunks with embedder {kb.embedder.name!r}.")


# Commands that live in their own modules, and the groups (eval, jobs, keys), wired up here: the
# modules never import this one.
for _command in (
    ask.ask,
    ask.chat,
    operations.doctor,
    operations.backup,
    operations.restore,
    queue.worker,
    server.serve,
    server.ui,
    train.train,
):
    app.command()(_command)
eval_cli.group.command(name="run")(eval_cli.evaluate)
eval_cli.group.command(name="draft")(eval_draft.draft)
eval_cli.group.command(name="calibrate")(eval_calibrate.calibrate)
app.add_typer(eval_cli.group, name="eval")
app.add_typer(queue.jobs, name="jobs")
app.add_typer(server.keys, name="keys")


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as exc:
        if not errors.is_command_line_error(exc):
            raise
        exc.show()  # type: ignore[attr-defined]  # usage line, hint and the problem
        sys.exit(getattr(exc, "exit_code", 2))
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except errors.HANDLED as exc:
        err_console.print(f"[red]error:[/] {escape(errors.describe(exc))}", highlight=False, soft_wrap=True)
        sys.exit(errors.exit_code(exc))
    if code == 130:  # typer turns Ctrl-C into this exit code
        err_console.print(
            "[yellow]interrupted[/]: everything written so far is saved; run the command again to continue"
        )
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
