"""Running the real ``citewise`` entry point in-process and capturing what a user would see."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    from app.cli.main import main
    from app.settings import get_settings

    get_settings.cache_clear()
    old_argv = sys.argv
    sys.argv = ["citewise", *args]
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = old_argv
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)
