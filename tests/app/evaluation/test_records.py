"""Saved runs keep their question rows and a time, and read back through ``history``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.evaluation.history import RunNotFoundError, list_runs, read_run, valid_run_id
from app.evaluation.records import run_json, save_run
from app.evaluation.runner import Variant
from tests.app.api.test_evals import make_run


def test_a_saved_run_keeps_the_summary_and_every_question(tmp_path: Path) -> None:
    run = make_run(Variant("default"))
    path = save_run(tmp_path, "guide", run, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), tag=None)
    payload = json.loads(path.read_text())
    assert path.name == "20250102T030405Z-default.json"
    assert payload["time"] == "2025-01-02T03:04:05+00:00"
    assert payload["summary"] == run_json(run)["summary"]
    assert [row["id"] for row in payload["results"]] == ["install", "peru"]
    assert payload["results"][0]["sources"] == ["install.md"] and "passages" in payload["results"][0]
    assert "results" not in run_json(run)  # --json and --out summaries stay as they were


def test_history_reads_back_what_was_saved(tmp_path: Path) -> None:
    first = save_run(tmp_path, "guide", make_run(Variant("a")), datetime(2025, 1, 1, tzinfo=UTC))
    second = save_run(tmp_path, "guide", make_run(Variant("b")), datetime(2025, 1, 2, tzinfo=UTC))
    assert [run.id for run in list_runs(tmp_path, "guide")] == [second.stem, first.stem]
    assert read_run(tmp_path, "guide", first.stem).payload["variant"] == "a"
    assert list_runs(tmp_path, "other") == []
    for bad in ("../guide/" + first.stem, "..", ".x", "a/b", "", first.stem + "/"):
        assert not valid_run_id(bad)
        with pytest.raises(RunNotFoundError):
            read_run(tmp_path, "guide", bad)


def test_two_runs_of_a_variant_in_the_same_second_are_both_kept(tmp_path: Path) -> None:
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    first = save_run(tmp_path, "guide", make_run(Variant("a")), moment)
    second = save_run(tmp_path, "guide", make_run(Variant("a")), moment)
    assert first != second and first.is_file() and second.is_file()
    assert len(list_runs(tmp_path, "guide")) == 2


def test_a_listing_reads_only_the_newest_runs(tmp_path: Path) -> None:
    for day in range(1, 6):
        save_run(tmp_path, "guide", make_run(Variant(f"v{day}")), datetime(2025, 1, day, tzinfo=UTC))
    listed = list_runs(tmp_path, "guide", most=2)
    assert [run.payload["variant"] for run in listed] == ["v5", "v4"]
