"""``citewise ask`` and ``citewise chat`` end to end with a fake model registered like a real one."""

from __future__ import annotations

import json

import pytest

from tests.app.cli_helpers import run_cli
from tests.app.test_cli import corpus  # noqa: F401  (fixture)

COPIER = "generator.testing:passage_copier"


@pytest.fixture
def ingested(capsys, corpus, monkeypatch):  # noqa: F811
    monkeypatch.setenv("CITEWISE_MIN_RETRIEVAL_SIMILARITY", "0")
    assert run_cli(capsys, "ingest", str(corpus), "-c", "guide").code == 0
    return corpus


def test_ask_json_has_the_documented_fields(capsys, ingested) -> None:
    result = run_cli(
        capsys, "ask", "how do I install into a virtualenv", "--model", COPIER, "--json", "-k", "2"
    )
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    assert payload["abstained"] is False and payload["answer"].endswith("[1].")
    [citation] = payload["citations"]
    assert {
        "number",
        "document_id",
        "source_uri",
        "title",
        "page",
        "heading",
        "char_start",
        "char_end",
        "quote",
        "supported",
    } <= set(citation)
    assert citation["supported"] and citation["source_uri"].endswith("install.md")
    assert {"retrieval_s", "first_token_s", "total_s"} <= set(payload["timings"])
    assert payload["dropped_passages"] == [] and payload["decline_probability"] is None  # fake: not scored


def test_ask_streams_then_shows_highlighted_sources(capsys, ingested) -> None:
    result = run_cli(capsys, "ask", "how do I install into a virtualenv", "--model", COPIER, "-k", "2")
    assert result.code == 0, result.err
    assert "[1]" in result.out and "install.md" in result.out and "✓" in result.out


def test_ask_abstains_plainly(capsys, ingested) -> None:
    result = run_cli(capsys, "ask", "what is the capital of peru", "--model", "fake", "--json")
    payload = json.loads(result.out)
    assert payload["abstained"] and payload["answer"] == "The documents do not say."
    assert payload["sources"] and payload["citations"] == []


def test_extractive_backend_from_the_command_line(capsys, ingested) -> None:
    result = run_cli(capsys, "ask", "copy the data directory", "--model", "extractive", "--json")
    payload = json.loads(result.out)
    assert not payload["abstained"] and payload["citations"][0]["source_uri"].endswith("backup.md")


def test_bad_models_are_one_line_errors(capsys, ingested) -> None:
    result = run_cli(capsys, "ask", "q", "--model", "gpt-17")
    assert result.code == 2 and "unknown generator 'gpt-17'" in result.err
    result = run_cli(capsys, "ask", "q", "--model", "/nowhere/model.gguf")
    assert result.code == 1 and "no model file" in result.err


def test_chat_keeps_the_conversation(capsys, ingested, monkeypatch, tmp_path) -> None:
    lines = iter(["how do I install into a virtualenv", "and backups?", ""])
    monkeypatch.setattr("rich.console.Console.input", lambda self, prompt="": next(lines))
    saved = tmp_path / "chat.json"
    result = run_cli(capsys, "chat", "--model", COPIER, "--save", str(saved))
    assert result.code == 0, result.err
    turns = json.loads(saved.read_text())
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[2]["content"] == "and backups?"
