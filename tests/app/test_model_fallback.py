"""When the default answer model is not installed, Citewise answers with the extractive backend and
says so everywhere a user looks: the CLI, /readyz and the web UI, not only in a log line."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

import generator.models
from app.api.main import create_app
from app.services import build_generator, fallback_of
from app.settings import Settings
from app.testing import live_api
from generator.models import DEFAULT_MODEL, ModelNotInstalledError
from tests.app.api.conftest import make_settings
from tests.app.cli_helpers import run_cli
from tests.app.test_cli import corpus  # noqa: F401  (fixture)
from tests.app.ui.conftest import UI


@pytest.fixture
def default_model_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generator.models, "package_dir", lambda name: None)  # as on a partial install


def test_the_default_model_falls_back_and_records_why(default_model_missing, tmp_path) -> None:
    answering = build_generator(Settings(data_dir=tmp_path))
    fallback = fallback_of(answering)
    assert answering.name == "extractive" and fallback is not None
    assert fallback.wanted == DEFAULT_MODEL and "not installed" in fallback.describe()
    with pytest.raises(ModelNotInstalledError):  # a model the user named must be there
        build_generator(Settings(data_dir=tmp_path), DEFAULT_MODEL).warm_up()


def test_the_installed_default_is_not_a_fallback(tmp_path) -> None:
    answering = build_generator(Settings(data_dir=tmp_path, generator="extractive"))
    assert fallback_of(answering) is None


def test_readyz_says_which_model_answers(default_model_missing, tmp_path) -> None:
    settings = make_settings(tmp_path, generator=DEFAULT_MODEL)
    with TestClient(create_app(settings)) as client:
        client.app.state.runtime.warm_up()
        model = client.get("/readyz").json()["answer_model"]
    assert model["configured"] == DEFAULT_MODEL and model["serving"] == "extractive"
    assert "extractive backend" in model["fallback"]


def test_ask_warns_on_the_terminal(default_model_missing, capsys, corpus) -> None:  # noqa: F811
    assert run_cli(capsys, "ingest", str(corpus), "-c", "guide").code == 0
    result = run_cli(capsys, "ask", "how do I install into a virtualenv", "--json")
    assert result.code == 0, result.err
    assert "warning:" in result.err and f"{DEFAULT_MODEL} is not installed" in result.err


def test_the_chat_page_shows_the_fallback(default_model_missing, tmp_path) -> None:
    with live_api(make_settings(tmp_path, generator=DEFAULT_MODEL)) as url:
        # a first answer loads the model (`citewise serve` loads it at start-up)
        assert httpx.post(f"{url}/v1/ask", json={"question": "anything?"}, timeout=30).status_code == 200
        app = AppTest.from_file(str(UI / "views" / "chat.py"), default_timeout=30)
        app.session_state["api_url"] = url
        app.run()
        assert any("extractive backend" in warning.value for warning in app.warning)
