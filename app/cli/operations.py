"""``citewise doctor``, ``citewise backup`` and ``citewise restore``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.cli import errors
from app.cli.common import console, current_settings
from app.services import build_knowledge_base
from app.settings import Settings
from retriever.knowledge_base import KnowledgeBase

T = TypeVar("T")

STATE_STYLE = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[red]fail[/]"}


def _while_writable(settings: Settings, console: Console, fn: Callable[[KnowledgeBase], T]) -> T:
    """``fn`` on the knowledge base opened for writing, saying so if another process makes it wait."""
    from app.jobs.run import with_writer

    def say() -> None:
        console.print("Another citewise process is writing; waiting for it to finish…")

    return with_writer(settings, None, fn, on_wait=say)


def doctor() -> None:
    """Check configuration, model files, database, index and task queue; exit 1 if anything fails."""
    from app.doctor import FAIL, Check, run_checks

    try:
        checks = run_checks(current_settings())
    except ValidationError as exc:
        checks = [Check("configuration", FAIL, errors.describe(exc))]
    table = Table("check", "state", "detail", title="citewise doctor")
    for check in checks:
        table.add_row(check.name, STATE_STYLE[check.state], escape(check.detail))
    console.print(table)
    for check in checks:  # once more unwrapped, to read and copy
        if check.state != "ok":
            console.print(
                f"{check.state}: {check.name}: {escape(check.detail)}", soft_wrap=True, highlight=False
            )
    failed = [c.name for c in checks if c.state == FAIL]
    if failed:
        console.print(f"[red]{len(failed)} problem(s):[/] {', '.join(failed)}")
        raise typer.Exit(1)
    console.print("Everything Citewise needs is in place.")


def backup(
    out: Annotated[Path, typer.Argument(help="Archive to write (.tar.gz).")],
) -> None:
    """Save the database and the vector index into one archive (writes pause meanwhile)."""
    from retriever.backup import backup as write_backup

    if out.exists():
        raise errors.UsageError(f"{out} exists already; choose a new file name")
    summary = _while_writable(current_settings(), console, lambda kb: write_backup(kb, out))
    console.print(
        f"Backed up {summary.rows.get('documents', 0)} documents, {summary.rows.get('chunks', 0)} chunks "
        f"and {summary.vectors} vectors to {out} ({out.stat().st_size / 1e6:.1f} MB)."
    )


def restore(
    archive: Annotated[Path, typer.Argument(help="An archive written by `citewise backup`.")],
) -> None:
    """Load a backup into an empty knowledge base (a new database and data dir).

    SQLite and PostgreSQL backups restore into either."""
    from retriever.backup import BackupError, read_summary
    from retriever.backup import restore as read_backup

    if not archive.is_file():
        raise errors.UsageError(f"no backup file {archive}")
    settings = current_settings()
    try:
        read_summary(archive)
        summary = _while_writable(settings, console, lambda kb: read_backup(kb, archive))
    except BackupError as exc:
        raise errors.UsageError(str(exc)) from exc
    with build_knowledge_base(settings) as kb:
        report = kb.open()
    documents, chunks = summary.rows.get("documents", 0), summary.rows.get("chunks", 0)
    console.print(
        f"Restored {documents} documents and {chunks} chunks "
        f"(backup of {summary.created_at[:19]}); index {report.describe()}."
    )
