"""How CLI results look: tables for people, JSON for programs."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ingest.pipeline import IngestReport
from retriever.catalog import CollectionRow, JobRow
from retriever.consistency import ConsistencyReport
from retriever.index.factory import APPROXIMATE, IndexDecision
from retriever.types import SearchHit

MAX_ERRORS_SHOWN = 20


def location(hit: SearchHit) -> str:
    parts = []
    if hit.page is not None:
        parts.append(f"p. {hit.page}")
    if hit.heading_path:
        parts.append(" › ".join(hit.heading_path))
    return " · ".join(parts)


def print_ingest_report(console: Console, report: IngestReport) -> None:
    counts = Counter(report.counts)
    table = Table(title=f"Ingest job {report.job_id}: {report.status}", show_header=True)
    for column in ("files", "new", "changed", "same", "skipped", "removed", "chunks", "chunks/s"):
        table.add_column(column, justify="right")
    table.add_row(
        *(str(counts[key]) for key in ("files", "added", "updated", "unchanged", "skipped", "removed")),
        str(counts["chunks_added"]),
        f"{report.chunks_per_second:.1f}",
    )
    console.print(table)
    if report.errors:
        errors = Table(title=f"Skipped files ({len(report.errors)})", show_header=True, title_style="yellow")
        errors.add_column("file", overflow="fold")
        errors.add_column("reason", overflow="fold")
        for error in report.errors[:MAX_ERRORS_SHOWN]:
            errors.add_row(escape(error.path), escape(error.reason))
        console.print(errors)
        if len(report.errors) > MAX_ERRORS_SHOWN:
            console.print(
                f"… and {len(report.errors) - MAX_ERRORS_SHOWN} more "
                "(all of them: `citewise status --jobs 1`)"
            )


def print_hits(console: Console, query: str, hits: list[SearchHit], snippet_chars: int = 400) -> None:
    if not hits:
        console.print(f"No passages found for [bold]{escape(query)}[/].")
        return
    for hit in hits:
        where = location(hit)
        console.print(
            f"[bold cyan]{hit.rank}.[/] [bold]{escape(hit.title)}[/]  [dim]score {hit.score:.3f}[/]"
        )
        # soft_wrap: a path must stay one unbroken line so it can be copied or piped.
        console.print(
            f"   [green]{escape(hit.source_uri)}[/]" + (f"  [dim]{escape(where)}[/]" if where else ""),
            soft_wrap=True,
        )
        snippet = " ".join(hit.text.split())
        if len(snippet) > snippet_chars:
            snippet = snippet[:snippet_chars].rsplit(" ", 1)[0] + " …"
        console.print(f"   {escape(snippet)}\n")


def hits_json(query: str, hits: list[SearchHit]) -> str:
    return json.dumps({"query": query, "hits": [asdict(hit) for hit in hits]}, indent=2, ensure_ascii=False)


def print_status(
    console: Console,
    stats: list[CollectionRow],
    report: ConsistencyReport | None,
    embedder: str,
    database: str,
    decision: IndexDecision | None = None,
) -> None:
    table = Table(title="Collections")
    table.add_column("collection")
    table.add_column("documents", justify="right")
    table.add_column("chunks", justify="right")
    for row in stats:
        table.add_row(escape(row.name), str(row.documents), str(row.chunks))
    if not stats:
        table.add_row("[dim](none yet: run `citewise ingest PATH`)[/]", "", "")
    console.print(table)
    console.print(f"database: {escape(database)}")
    console.print(f"embedder: {escape(embedder)}")
    if report is not None:
        style = "green" if report.consistent else "red"
        note = " (repaired on open)" if report.repaired else ""
        console.print(f"index:    [{style}]{escape(report.describe())}[/]{note}")
    if decision is not None:
        console.print(f"search:   {escape(describe_index(decision))}")


def describe_index(decision: IndexDecision) -> str:
    if decision.kind == APPROXIMATE:
        recall = f", recall@10 {decision.recall_at_10:.3f} vs exact" if decision.recall_at_10 else ""
        lists, probes = decision.params.get("nlist"), decision.params.get("nprobe")
        return f"approximate (IVF, {lists} lists, nprobe {probes}{recall})"
    if decision.note:
        return f"exact ({decision.note})"
    return "exact"


def print_jobs(console: Console, jobs: list[JobRow]) -> None:
    table = Table(title="Recent ingest jobs")
    table.add_column("job", justify="right")
    table.add_column("collection", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("started (UTC)", no_wrap=True)
    for column in ("files", "new", "changed", "skipped"):
        table.add_column(column, justify="right")
    for job in jobs:
        counts = Counter(job.counts)
        table.add_row(
            str(job.id),
            escape(job.collection or "(deleted)"),
            job.status,
            job.started_at.strftime("%m-%d %H:%M"),
            *(str(counts[key]) for key in ("files", "added", "updated", "skipped")),
        )
    console.print(table)
    for job in jobs:
        if job.errors:
            console.print(f"[yellow]Job {job.id}: {len(job.errors)} skipped file(s)[/]")
            for error in job.errors:
                console.print(f"  {escape(error['path'])}: {escape(error['reason'])}", soft_wrap=True)
