"""The CLI as a user meets it: commands, output, and one-line errors with exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.app.cli_helpers import run_cli


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CITEWISE_EMBEDDER", "fake-hashing")
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "install.md").write_text("# Install\n\nRun make run to install Citewise into a virtualenv.\n")
    (root / "backup.md").write_text("# Backups\n\nCopy the data directory while no ingest runs.\n")
    (root / "junk.bin").write_bytes(b"\x00\x01\x02" * 100)
    return root


def test_ingest_then_search_then_status(capsys, corpus) -> None:
    result = run_cli(capsys, "ingest", str(corpus), "-c", "guide")
    assert result.code == 0, result.err
    assert "Ingest job" in result.out and "junk.bin" in result.out and "binary" in result.out

    result = run_cli(capsys, "search", "how do I back up the data directory", "-k", "1", "-c", "guide")
    assert result.code == 0
    assert "backup.md" in result.out and "Backups" in result.out

    result = run_cli(capsys, "search", "install virtualenv", "--json", "-k", "2")
    payload = json.loads(result.out)
    assert payload["hits"][0]["source_uri"].endswith("install.md")
    assert {"rank", "score", "char_start", "char_end", "heading_path", "page"} <= set(payload["hits"][0])

    result = run_cli(capsys, "status")
    assert result.code == 0 and "guide" in result.out and "consistent" in result.out


def test_delete_by_path_and_whole_collection(capsys, corpus) -> None:
    run_cli(capsys, "ingest", str(corpus), "-c", "guide")
    result = run_cli(capsys, "delete", str(corpus / "install.md"))
    assert result.code == 0 and "Deleted 1 document" in result.out
    hits = json.loads(run_cli(capsys, "search", "install", "--json").out)["hits"]
    assert all(not h["source_uri"].endswith("install.md") for h in hits)

    result = run_cli(capsys, "delete", "--collection", "guide", "--yes")
    assert result.code == 0 and "Deleted collection 'guide'" in result.out
    assert "none yet" in run_cli(capsys, "status").out


def test_reindex_after_changing_the_embedder(capsys, corpus, monkeypatch) -> None:
    run_cli(capsys, "ingest", str(corpus))
    monkeypatch.setenv("CITEWISE_EMBEDDER", "fake-hashing-other")
    result = run_cli(capsys, "search", "install")
    assert result.code == 1 and "citewise reindex" in result.err and "Traceback" not in result.err
    assert run_cli(capsys, "reindex").code == 0
    assert "install.md" in run_cli(capsys, "search", "install", "-k", "1").out


@pytest.mark.parametrize(
    ("args", "env", "message", "code"),
    [
        (["ingest", "/definitely/not/here"], {}, "no such file or folder", 1),
        (["search", "x", "-c", "nope"], {}, "no collection named 'nope'", 1),
        (["search", "   "], {}, "the query is empty", 2),
        (["delete", "12345"], {}, "no document matches '12345'", 1),
        (["delete"], {}, "name documents to delete", 2),
        (["status"], {"CITEWISE_EMBEDDER": "no-such-model"}, "unknown embedder 'no-such-model'", 1),
        (["status"], {"CITEWISE_CHUNK_TOKENS": "banana"}, "CITEWISE_CHUNK_TOKENS", 1),
        (
            ["status"],
            {"CITEWISE_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/x"},
            "cannot use the database",
            1,
        ),
        (["search", "x", "-k", "0"], {}, "Invalid value", 2),
    ],
)
def test_user_mistakes_get_one_clear_line_and_an_exit_code(
    capsys, monkeypatch, args, env, message, code
) -> None:
    monkeypatch.setenv("CITEWISE_EMBEDDER", "fake-hashing")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = run_cli(capsys, *args)
    assert result.code == code, (result.out, result.err)
    assert message in result.err
    assert "Traceback" not in result.err + result.out


def test_help_lists_the_commands(capsys) -> None:
    result = run_cli(capsys, "--help")
    assert result.code == 0
    for command in ("ingest", "search", "status", "delete", "reindex"):
        assert command in result.out


def test_status_jobs_lists_recent_jobs_and_every_skipped_file(capsys, corpus) -> None:
    run_cli(capsys, "ingest", str(corpus), "-c", "guide")
    result = run_cli(capsys, "status", "--jobs", "3")
    assert result.code == 0
    assert "Recent ingest jobs" in result.out and "completed" in result.out
    assert "junk.bin" in result.out and "binary" in result.out


def test_search_warns_and_still_answers_while_the_index_is_damaged(capsys, corpus, tmp_path) -> None:
    run_cli(capsys, "ingest", str(corpus))
    (tmp_path / "data" / "index" / "manifest.json").write_text("garbage")
    result = run_cli(capsys, "search", "install", "-k", "1")
    assert result.code == 0 and "install.md" in result.out
    assert "rebuilding it from the database" in result.err


def test_search_modes_and_filters_from_the_command_line(capsys, corpus) -> None:
    run_cli(capsys, "ingest", str(corpus), "-c", "guide")
    for mode in ("dense", "sparse", "hybrid"):
        result = run_cli(capsys, "search", "virtualenv", "--mode", mode, "--json", "-k", "1")
        assert result.code == 0, result.err
        assert json.loads(result.out)["hits"][0]["source_uri"].endswith("install.md")
    result = run_cli(
        capsys, "search", "data directory", "--json", "--path-prefix", str(corpus / "install.md")
    )
    assert {h["source_uri"] for h in json.loads(result.out)["hits"]} == {str(corpus / "install.md")}
    assert "unknown search mode" in run_cli(capsys, "search", "x", "--mode", "fuzzy").err
    assert "unknown fusion 'borda'" in run_cli(capsys, "search", "x", "--fusion", "borda").err
    assert "--meta takes KEY=VALUE" in run_cli(capsys, "search", "x", "--meta", "oops").err


def test_hybrid_is_the_default_and_fusion_options_apply(capsys, corpus, monkeypatch) -> None:
    run_cli(capsys, "ingest", str(corpus), "-c", "guide")
    hits = json.loads(run_cli(capsys, "search", "virtualenv", "--json", "-k", "3").out)["hits"]
    assert any(set(hit["retrievers"]) == {"dense", "sparse"} for hit in hits)
    dense_only = run_cli(
        capsys, "search", "virtualenv", "--json", "-k", "3", "--dense-weight", "1", "--fusion", "rrf"
    )
    dense = run_cli(capsys, "search", "virtualenv", "--json", "-k", "3", "--mode", "dense")
    ids = [[hit["chunk_id"] for hit in json.loads(result.out)["hits"]] for result in (dense_only, dense)]
    assert ids[0] == ids[1]  # all the weight on the dense ranking reproduces dense mode
    diverse = run_cli(capsys, "search", "virtualenv", "--json", "-k", "3", "--diversity", "0.5")
    assert diverse.code == 0 and json.loads(diverse.out)["hits"]
    monkeypatch.setenv("CITEWISE_SEARCH_MODE", "sparse")
    hits = json.loads(run_cli(capsys, "search", "virtualenv", "--json", "-k", "3").out)["hits"]
    assert {tuple(hit["retrievers"]) for hit in hits} == {("sparse",)}
