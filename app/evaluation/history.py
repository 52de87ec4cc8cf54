"""Reading back the runs ``citewise eval`` saved in the data dir, for the API and the web UI.

The evals folder is written by hand-run commands over months, by older versions, and may hold
anything a user dropped there: a file that is not a run is skipped, never an error that would take
the whole page down. Run ids come from URLs, so they are checked to name a file directly inside the
collection's folder (no separators, no ``..``, no symlink leading out) before anything is opened.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.evaluation.records import STAMP, slug

MAX_LISTED = 200  # runs a listing reads at most: the newest
MAX_RUN_BYTES = 64 * 2**20  # a run of thousands of questions is a few MB; more is not ours
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]{0,199}$")


class RunNotFoundError(LookupError):
    """No saved run by that id in that collection (or the id is not one a run could have)."""


@dataclass(frozen=True, slots=True)
class SavedRun:
    """One saved run: its id (the file stem), when it ran and the file's JSON as saved."""

    id: str
    time: datetime
    payload: dict[str, Any]

    @property
    def results(self) -> list[dict[str, Any]]:
        rows = self.payload.get("results")
        return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


def evals_dir(data_dir: Path, collection: str) -> Path:
    return data_dir / "evals" / slug(collection)


def valid_run_id(run_id: str) -> bool:
    return bool(_RUN_ID.match(run_id)) and ".." not in run_id


def list_runs(data_dir: Path, collection: str, most: int = MAX_LISTED) -> list[SavedRun]:
    """The newest ``most`` readable runs of ``collection``, newest first (ties: by id, descending).
    Only the newest files by name (names start with the run's UTC time) are read, so a collection
    that piled up thousands of runs (a CI gate) costs one page of them, not all."""
    folder = evals_dir(data_dir, collection)
    if not folder.is_dir():
        return []
    runs = []
    for path in sorted(folder.glob("*.json"), key=lambda path: path.name, reverse=True)[:most]:
        run = _load(folder, path, collection)
        if run is not None:
            runs.append(run)
    runs.sort(key=lambda run: (run.time, run.id), reverse=True)
    return runs


def read_run(data_dir: Path, collection: str, run_id: str) -> SavedRun:
    """One run by id; ``RunNotFoundError`` when the id is malformed, absent or not a readable run."""
    if not valid_run_id(run_id):
        raise RunNotFoundError(f"no evaluation run {run_id!r} in collection {collection!r}")
    folder = evals_dir(data_dir, collection)
    run = _load(folder, folder / f"{run_id}.json", collection)
    if run is None:
        raise RunNotFoundError(f"no evaluation run {run_id!r} in collection {collection!r}")
    return run


def _load(folder: Path, path: Path, collection: str) -> SavedRun | None:
    """The run in ``path``, or None for anything that is not a readable run of this collection."""
    try:
        if path.is_symlink() or not path.is_file() or path.resolve().parent != folder.resolve():
            return None
        if path.stat().st_size > MAX_RUN_BYTES:
            return None
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not _looks_like_a_run(payload):
        return None
    # Collections whose names share a slug ("a b", "a_b") share a folder: keep only our own.
    if payload.get("collection", collection) != collection:
        return None
    return SavedRun(path.stem, _when(payload, path), payload)


def _looks_like_a_run(payload: object) -> bool:
    if not isinstance(payload, dict):
        return False
    summary = payload.get("summary")
    if not isinstance(summary, dict) or not isinstance(summary.get("metrics"), dict):
        return False
    return isinstance(payload.get("variant"), str)


def _when(payload: dict[str, Any], path: Path) -> datetime:
    """The run's time: as recorded, else from the file name's stamp, else the file's mtime."""
    recorded = payload.get("time")
    if isinstance(recorded, str):
        try:
            moment = datetime.fromisoformat(recorded)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        except ValueError:
            pass
    try:
        return datetime.strptime(path.stem[:16], STAMP).replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return datetime.fromtimestamp(0, UTC)
