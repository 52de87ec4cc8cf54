"""Symbolic links in ingested folders: links out of the roots are skipped and reported, links that
stay inside are taken once, and the user can allow outside links explicitly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ingest.chunking import Chunker
from ingest.discovery import discover
from ingest.prepare import Prepared, Skipped, prepare_file
from retriever.db.models import IngestJob
from retriever.embedders.testing import HashingEmbedder
from retriever.search import search
from tests.app.cli_helpers import run_cli
from tests.ingest.helpers import ingest_paths, stored_names

SECRET = "root:$6$saltsalt$notarealhash:19000:0:99999:7:::\nadmin:$6$pepper$anotherhash:19000::::::\n"


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """A folder to ingest holding one good note and a link to a secret file outside it."""
    outside = tmp_path / "etc"
    outside.mkdir()
    (outside / "shadow").write_text(SECRET)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.md").write_text("# Notes\n\nThe deploy runs every Tuesday after the review.\n")
    (corpus / "passwords").symlink_to(outside / "shadow")
    return corpus


def test_a_link_out_of_the_folder_is_skipped_with_a_reason_and_the_rest_lands(make_kb, planted) -> None:
    kb = make_kb()
    kb.open(writable=True)
    report = ingest_paths(kb, [planted])

    assert stored_names(kb) == {"notes.md"}
    [error] = report.errors
    assert Path(error.path).name == "passwords"
    assert "outside the folders being ingested" in error.reason and "shadow" in error.reason
    assert report.counts["skipped"] == 1 and report.counts["added"] == 1
    assert report.counts["files"] == report.counts["files_total"] == 2
    assert all("notarealhash" not in hit.text for hit in search(kb, "root saltsalt notarealhash", k=5))
    with kb.session() as session:
        job = session.get(IngestJob, report.job_id)
        assert job.counts["skipped"] == 1 and "outside" in job.errors[0]["reason"]


def test_outside_links_are_taken_when_the_user_allows_them(make_kb, planted) -> None:
    kb = make_kb()
    kb.open(writable=True)
    report = ingest_paths(kb, [planted], follow_outside_links=True)
    assert stored_names(kb) == {"notes.md", "passwords"} and not report.errors


def test_a_linked_folder_outside_the_roots_is_reported_not_walked(tmp_path: Path) -> None:
    outside = tmp_path / "home" / "other-user"
    outside.mkdir(parents=True)
    (outside / "diary.txt").write_text("private")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("a")
    (corpus / "theirs").symlink_to(outside, target_is_directory=True)

    found = discover([corpus])
    assert [f.relative for f in found.files] == ["a.md"]
    [refused] = found.skipped
    assert refused.path == corpus / "theirs" and "folder" in refused.reason and "outside" in refused.reason

    allowed = discover([corpus], follow_outside_links=True)
    assert [f.relative for f in allowed.files] == ["a.md", "theirs/diary.txt"] and not allowed.skipped


def test_links_inside_the_roots_are_fine_and_each_real_file_is_taken_once(tmp_path: Path) -> None:
    corpus, other = tmp_path / "corpus", tmp_path / "other"
    (corpus / "v2").mkdir(parents=True)
    other.mkdir()
    (corpus / "v2" / "guide.md").write_text("guide")
    (other / "shared.md").write_text("shared")
    (corpus / "latest.md").symlink_to(corpus / "v2" / "guide.md")  # same file, second name
    (corpus / "current").symlink_to(corpus / "v2", target_is_directory=True)  # a folder link inside
    (corpus / "loop").symlink_to(corpus, target_is_directory=True)  # must not walk forever
    (corpus / "shared.md").symlink_to(other / "shared.md")  # into another root of the same ingest

    found = discover([corpus, other])
    assert not found.skipped
    assert sorted(str(f.path.relative_to(tmp_path)) for f in found.files) == [
        "corpus/v2/guide.md",  # under its own name, not the link's
        "other/shared.md",
    ]


def test_an_outside_link_loop_is_walked_once_when_allowed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.txt").write_text("x")
    (outside / "again").symlink_to(outside, target_is_directory=True)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "out").symlink_to(outside, target_is_directory=True)
    found = discover([corpus], follow_outside_links=True)
    assert [f.relative for f in found.files] == ["out/x.txt"] and not found.skipped


def test_a_file_named_directly_is_its_own_root_even_through_a_link(tmp_path: Path, planted: Path) -> None:
    found = discover([planted / "passwords"])
    assert [f.path.name for f in found.files] == ["shadow"] and not found.skipped


def test_excluded_and_hidden_links_are_neither_taken_nor_reported(planted: Path) -> None:
    (planted / ".secret").symlink_to(planted.parent / "etc" / "shadow")
    found = discover([planted], exclude=["passwords"])
    assert [f.relative for f in found.files] == ["notes.md"] and not found.skipped


def test_cli_reports_the_link_and_the_option_takes_it(capsys, monkeypatch, planted) -> None:
    monkeypatch.setenv("CITEWISE_EMBEDDER", "fake-hashing")
    result = run_cli(capsys, "ingest", str(planted), "-c", "links")
    assert result.code == 0, result.err
    assert "Skipped files (1)" in result.out
    job = run_cli(capsys, "jobs", "show", "1").out  # one unwrapped line per skipped file
    assert re.search(r"corpus/passwords: links to .*shadow, outside the folders being ingested", job)
    assert "notarealhash" not in found_texts(capsys)

    result = run_cli(capsys, "ingest", str(planted), "-c", "links", "--follow-outside-links")
    assert result.code == 0, result.err
    assert "notarealhash" in found_texts(capsys)


def found_texts(capsys) -> str:
    out = run_cli(capsys, "search", "root saltsalt notarealhash", "-c", "links", "--json", "-k", "5").out
    return " ".join(hit["text"] for hit in json.loads(out)["hits"])


def _prepare(source, max_file_bytes: int = 1 << 20):
    chunker = Chunker(HashingEmbedder().count_tokens, max_tokens=60, overlap_tokens=10)
    return prepare_file(
        source, collection_id=1, known_hash=None, chunker=chunker, max_file_bytes=max_file_bytes
    )


def test_a_file_swapped_for_an_outside_link_after_discovery_is_not_read(planted: Path) -> None:
    [source] = discover([planted]).files
    outside = planted.parent / "etc" / "shadow"
    source.path.unlink()  # between discovery and the read, the note becomes a link to the secret
    source.path.symlink_to(outside)

    outcome = _prepare(source)

    assert isinstance(outcome, Skipped), outcome
    assert "no longer leads to" in outcome.reason


def test_a_file_replaced_in_place_after_discovery_is_still_read(planted: Path) -> None:
    [source] = discover([planted]).files
    replacement = planted / "notes.md.new"  # an editor saving by rename gives the name a new file
    replacement.write_text("# Notes\n\nThe deploy now runs every Wednesday.\n")
    replacement.replace(source.path)

    outcome = _prepare(source)

    assert isinstance(outcome, Prepared)
    assert "Wednesday" in outcome.document.chunks[0].text


def test_a_file_that_grows_past_the_limit_while_read_is_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "grow"
    folder.mkdir()
    path = folder / "log.txt"
    path.write_text("short line\n")
    [source] = discover([folder]).files
    with path.open("a") as log:  # the file grows after discovery, past the limit
        log.write("x" * 5000)

    outcome = _prepare(source, max_file_bytes=1000)

    assert isinstance(outcome, Skipped) and "over the" in outcome.reason
