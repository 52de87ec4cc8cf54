"""A rich progress bar for ingest: files done of total, chunks embedded and their rate."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ingest.discovery import SourceFile


class RichIngestProgress:
    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]ingest[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files"),
            TextColumn("{task.fields[chunks]} chunks · {task.fields[rate]} chunks/s"),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[current]}"),
            console=console,
            transient=False,
        )
        self._task = self._progress.add_task("ingest", total=None, chunks=0, rate="0", current="")
        self._chunks = 0
        self._started = time.perf_counter()

    def __enter__(self) -> RichIngestProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def start(self, total_files: int) -> None:
        self._started = time.perf_counter()
        self._progress.update(self._task, total=total_files)

    def file_done(self, source: SourceFile, outcome: str, chunks: int) -> None:
        self._progress.update(self._task, advance=1, current=source.relative[-50:])

    def embedded(self, chunks: int) -> None:
        self._chunks += chunks
        rate = self._chunks / max(time.perf_counter() - self._started, 1e-9)
        self._progress.update(self._task, chunks=self._chunks, rate=f"{rate:.0f}")


@contextlib.contextmanager
def task_progress(console: Console, label: str) -> Iterator[Callable[[int, int], None]]:
    """A bar for any (done, total) callback; shown only once the first update arrives."""
    progress = Progress(
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task(label, total=None)
    started = False

    def update(done: int, total: int) -> None:
        nonlocal started
        if not started:
            progress.start()
            started = True
        progress.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if started:
            progress.stop()
