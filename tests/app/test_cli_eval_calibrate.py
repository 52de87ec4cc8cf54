"""``citewise eval calibrate`` end to end: real ingest and pipeline, fake models from the registry."""

from __future__ import annotations

import json

from tests.app.cli_helpers import run_cli
from tests.app.test_cli import corpus  # noqa: F401  (fixture)
from tests.app.test_cli_eval import qa_file  # noqa: F401  (fixture)

DOUBTER = "generator.testing:doubting_copier"


def test_the_suggested_threshold_abstains_where_the_model_doubts_and_beats_today(capsys, qa_file) -> None:  # noqa: F811
    result = run_cli(capsys, "eval", "calibrate", str(qa_file), "-c", "guide", "--model", DOUBTER, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    best, today = report["ranked"][0], report["today"]
    # Either test can catch the Peru question here (its passages are also the least similar)
    assert best["decline_threshold"] == -0.2 or best["min_retrieval_similarity"] > 0
    assert best["handled"] == 3 and today["handled"] == 2  # + the unanswerable question caught
    assert best["abstention_recall"] == 1.0 and today["abstention_recall"] == 0.0
    assert best["answer_correct"] == today["answer_correct"] == 0.5  # no answer lost


def test_the_table_names_the_settings_to_use(capsys, qa_file) -> None:  # noqa: F811
    result = run_cli(capsys, "eval", "calibrate", str(qa_file), "-c", "guide", "--model", DOUBTER)
    assert result.code == 0, result.err
    assert "Suggested: " in result.out and "CITEWISE_MIN_RETRIEVAL_SIMILARITY=" in result.out
    assert "today" in result.out and "3/5" in result.out


def test_a_model_that_cannot_score_a_decline_is_a_usage_error(capsys, qa_file) -> None:  # noqa: F811
    result = run_cli(capsys, "eval", "calibrate", str(qa_file), "-c", "guide", "--model", "extractive")
    assert result.code == 2
    assert "decline_threshold=inf" in result.err
