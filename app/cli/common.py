"""What every command shares: the consoles, the settings, common options and argument parsing."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from app.cli import errors
from app.settings import Settings, get_settings
from retriever.consistency import ConsistencyReport
from retriever.knowledge_base import KnowledgeBase

console = Console()
err_console = Console(stderr=True)

Choice = TypeVar("Choice", bound=StrEnum)

CollectionOption = Annotated[str | None, typer.Option("--collection", "-c", help="Collection name.")]


def current_settings() -> Settings:
    """The settings of this run (environment, .env), read once per process."""
    return get_settings()


def parse_choice(value: str, choices: type[Choice], what: str) -> Choice:
    """``value`` as one of ``choices``, or a usage error naming them all."""
    try:
        return choices(value)
    except ValueError:
        known = ", ".join(choice.value for choice in choices)
        raise errors.UsageError(f"unknown {what} {value!r}; use one of: {known}") from None


def parse_meta(pairs: list[str]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise errors.UsageError(f"--meta takes KEY=VALUE, not {pair!r}")
        parsed[key] = value
    return parsed


def warn_about_index(kb: KnowledgeBase, report: ConsistencyReport) -> None:
    if kb.load_problem:
        err_console.print(f"[yellow]warning:[/] {escape(kb.load_problem)}", soft_wrap=True)
    if not report.consistent:
        err_console.print(
            f"[yellow]warning:[/] the index is not in step with the database ({report.describe()}); "
            "another citewise process is writing: results may miss its newest documents",
            soft_wrap=True,
        )
