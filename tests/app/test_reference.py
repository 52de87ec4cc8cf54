"""The reference docs are written from the code, and the committed ones match it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field
from pydantic_settings import BaseSettings

from app import reference
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> object:
    spec = importlib.util.spec_from_file_location("reference_docs", ROOT / "scripts" / "reference_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Sample(BaseSettings):
    workers: int = Field(default=4, ge=1, le=64, description="Threads.")
    ratio: float = Field(default=0.5, gt=0, le=1, description="Share.")
    timeout: float = Field(default=1.0, gt=0, description="Seconds.")
    mode: Literal["a", "b", "c"] = Field(default="b", description="Mode.")
    url: str | None = Field(default=None, description="Where.", json_schema_extra={"doc_type": "URL"})
    name: str = Field(default="x", min_length=1, max_length=9, description="Name.")
    extra: list[str] = Field(default_factory=list, description="More.")
    on: bool = Field(default=False, description="Switch.")


@pytest.mark.parametrize(
    ("field", "kind", "default"),
    [
        ("workers", "integer, 1–64", "`4`"),
        ("ratio", "number, above 0 and at most 1", "`0.5`"),
        ("timeout", "number, > 0", "`1`"),
        ("mode", "`a`, `b` or `c`", "`b`"),
        ("url", "URL", "unset"),
        ("name", "1–9 characters", "`x`"),
        ("extra", "JSON list of text", "`[]`"),
        ("on", "`true` or `false`", "`false`"),
    ],
)
def test_types_and_defaults_are_read_off_the_field(field: str, kind: str, default: str) -> None:
    info = Sample.model_fields[field]
    assert (reference.setting_type(info), reference.setting_default(info)) == (kind, default)


def test_every_setting_has_a_row_and_an_undescribed_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    table = reference.settings_table()
    assert all(f"`CITEWISE_{name.upper()}`" in table for name in Settings.model_fields)
    monkeypatch.setattr(Settings.model_fields["ui_port"], "description", None)
    with pytest.raises(ValueError, match="ui_port"):
        reference.settings_table()


def test_the_cli_reference_lists_nested_commands_and_their_options() -> None:
    text = reference.cli_reference()
    assert "### `citewise keys create`" in text and "### `citewise eval draft`" in text
    assert "| `--collection`, `-c` |" in text and "citewise ask [OPTIONS] QUESTION" in text


def test_the_committed_docs_match_the_code() -> None:
    generator = _generator()
    for name, (path, render) in generator.BLOCKS.items():  # type: ignore[attr-defined]
        text = path.read_text(encoding="utf-8")
        assert generator.with_block(text, name, render()) == text, f"{path.name} is stale: run `make docs`"
