"""Runs as JSON: what ``--json`` prints, ``--out`` writes and every run leaves in the data dir.

Saved runs (``<data dir>/evals/<collection>/<UTC time>-<variant>.json``) keep the summary and every
question's result, so the web UI's Evaluation page (through ``app.evaluation.history`` and the API)
can show how the answers of a collection changed over time and what failed in each run.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.evaluation.metrics import Summary
from app.evaluation.runner import EvalRun
from app.evaluation.scoring import QuestionResult

STAMP = "%Y%m%dT%H%M%SZ"  # the UTC time that starts a saved run's file name


def summary_json(summary: Summary) -> dict[str, Any]:
    return asdict(summary)


def run_json(run: EvalRun, **context: Any) -> dict[str, Any]:
    """A run's variant, completeness and summary; ``context`` (question file, collection…) is
    recorded as given."""
    return {
        "variant": run.variant.name,
        "model": run.variant.model,
        "settings": {key: _plain(value) for key, value in run.variant.overrides.items()},
        **context,
        "planned": run.planned,
        "answered": len(run.results),
        "partial": run.partial,
        "seconds": round(run.seconds, 3),
        "summary": summary_json(run.summary),
    }


def result_json(result: QuestionResult) -> dict[str, Any]:
    question = result.question
    return {
        "id": question.id,
        "line": question.line,
        "question": question.question,
        "tags": list(question.tags),
        "expected": expected(result),
        "sources": list(question.sources),
        "passages": list(result.passages),
        "answer": result.answer,
        "abstained": result.abstained,
        "abstain_reason": result.abstain_reason,
        "answer_correct": result.answer_correct,
        "token_f1": result.token_f1,
        "failure": result.failure.value if result.failure else None,
        "source_rank": result.source_rank,
        "citations": result.citations,
        "citations_correct": result.citations_correct,
        "first_token_s": result.first_token_s,
        "total_s": result.total_s,
        "decline_logprob": result.decline_logprob,
        "retrieval_similarity": result.retrieval_similarity,
    }


def expected(result: QuestionResult) -> str:
    """What the question file expects, in a few words."""
    question = result.question
    if question.unanswerable:
        return "(abstain)"
    if question.answers:
        return " | ".join(question.answers)
    return "all of: " + "; ".join(question.facts)


def write_out(directory: Path, run: EvalRun, **context: Any) -> Path:
    """``<directory>/<variant>/summary.json`` and ``questions.jsonl`` (one result per line)."""
    folder = directory / slug(run.variant.name)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(run_json(run, **context), indent=2, ensure_ascii=False))
    lines = [json.dumps(result_json(r), ensure_ascii=False) for r in run.results]
    (folder / "questions.jsonl").write_text("".join(line + "\n" for line in lines))
    return folder


def save_run(
    data_dir: Path, collection: str, run: EvalRun, now: datetime | None = None, **context: Any
) -> Path:
    """Keep the run (summary and per-question results) in the data dir, one file per run and
    variant; the file stem is the run's id in the API."""
    moment = now or datetime.now(UTC)
    stamp = moment.strftime(STAMP)
    folder = data_dir / "evals" / slug(collection)
    folder.mkdir(parents=True, exist_ok=True)
    payload = run_json(run, collection=collection, **context)
    payload["time"] = moment.astimezone(UTC).isoformat(timespec="seconds")
    payload["results"] = [result_json(result) for result in run.results]
    text = json.dumps(payload, indent=2, ensure_ascii=False)
    base = f"{stamp}-{slug(run.variant.name)}"
    for attempt in range(1, 1000):  # two runs of a variant in one second both stay
        path = folder / (f"{base}.json" if attempt == 1 else f"{base}-{attempt}.json")
        try:
            with path.open("x", encoding="utf-8") as handle:
                handle.write(text)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"too many runs named {base} in {folder}")


def slug(name: str) -> str:
    """A file name from a variant or collection name (models can be paths)."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", name).strip("_.") or "default"


def _plain(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value
