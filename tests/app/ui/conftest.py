"""A live API with a small guide ingested, for driving the UI pages with Streamlit's AppTest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.testing import live_api
from app.ui.client import CitewiseClient
from tests.app.api.conftest import BACKUP, INSTALL, make_settings

UI = Path(__file__).resolve().parents[3] / "app" / "ui"


def wait_for(client: CitewiseClient, job_id: int) -> dict:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = client.job(job_id)
        if job["status"] not in ("queued", "running"):
            return job  # the API refreshes its index before every search here (interval 0)
        time.sleep(0.05)
    raise AssertionError("the ingest job did not finish")


@pytest.fixture
def api_url(tmp_path: Path) -> Iterator[str]:
    with live_api(make_settings(tmp_path, api_extra_models=["fake"])) as url:
        client = CitewiseClient(url)
        accepted = client.upload("guide", [("install.md", INSTALL.encode()), ("backup.md", BACKUP.encode())])
        assert wait_for(client, accepted["job_id"])["status"] == "completed"
        client.close()
        yield url


def page(name: str, api_url: str, **state: object) -> AppTest:
    app = AppTest.from_file(str(UI / "views" / f"{name}.py"), default_timeout=30)
    app.session_state["api_url"] = api_url
    for key, value in state.items():
        app.session_state[key] = value
    return app


def seed_eval_runs(data_dir: Path, collection: str = "guide") -> list[Path]:
    """Two saved runs of ``collection`` in the server's data dir, saved by the real ``save_run``:
    an older one that answers right and a newer one that answers wrongly."""
    from datetime import UTC, datetime

    from app.evaluation.records import save_run
    from app.evaluation.runner import Variant
    from tests.app.api.test_evals import make_run

    return [
        save_run(data_dir, collection, make_run(Variant("default")), datetime(2025, 1, 1, tzinfo=UTC)),
        save_run(
            data_dir,
            collection,
            make_run(Variant("default k=8", None, {"k": 8}), right=False),
            datetime(2025, 2, 1, tzinfo=UTC),
        ),
    ]
