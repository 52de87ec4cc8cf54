"""User mistakes and environment problems become one clear line and an exit code, not a traceback."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from app.startup import StartupTimeoutError
from generator.base import GeneratorNotFoundError
from ingest.discovery import MissingPathError
from modelpack import ModelCorruptError, ModelNotInstalledError
from retriever.catalog import DatabaseUnavailableError
from retriever.embedders.registry import UnknownEmbedderError
from retriever.index.persistence import IndexLockedError
from retriever.knowledge_base import CollectionNotFoundError, IndexMismatchError


class UsageError(Exception):
    """The command line asks for something that makes no sense."""


class NotFoundError(LookupError):
    pass


HANDLED = (
    UsageError,
    NotFoundError,
    MissingPathError,
    CollectionNotFoundError,
    IndexMismatchError,
    IndexLockedError,
    UnknownEmbedderError,
    ModelNotInstalledError,
    ModelCorruptError,
    FileNotFoundError,
    ValidationError,
    DatabaseUnavailableError,
    StartupTimeoutError,
    ValueError,
)


def is_command_line_error(exc: BaseException) -> bool:
    """Typer's own parsing errors (it vendors click, so they are only reachable through its base)."""
    return isinstance(exc, typer.TyperException) and hasattr(exc, "show")


def describe(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"CITEWISE_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        return f"invalid configuration: {problems}"
    if isinstance(exc, DatabaseUnavailableError):
        return f"cannot use the database: {str(exc.orig).strip().splitlines()[0]}"
    if isinstance(exc, CollectionNotFoundError | NotFoundError):
        return str(exc.args[0]) if exc.args else str(exc)
    return str(exc)


def exit_code(exc: BaseException) -> int:
    """2 for the command line's own mistakes (what the CLI validated, a model name it was given);
    1 for everything else, including a ValueError from deeper down, which may well be a bug."""
    if isinstance(exc, UsageError | GeneratorNotFoundError):
        return 2
    return 1
