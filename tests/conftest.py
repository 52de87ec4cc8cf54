"""Shared fixtures: a fresh database per test on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from generator.registry import register_generator
from generator.testing import ScriptedGenerator
from retriever.embedders.registry import register_embedder
from retriever.embedders.testing import HashingEmbedder, OtherHashingEmbedder
from retriever.index.factory import IndexPolicy
from retriever.knowledge_base import KnowledgeBase

# The fakes by name, through the real registries: "fake" (scripted answers), "fake-hashing".
register_generator("fake", ScriptedGenerator)
register_embedder(HashingEmbedder.name, HashingEmbedder)
register_embedder(OtherHashingEmbedder.name, OtherHashingEmbedder)

POSTGRES_ADMIN_URL = os.environ.get(
    "CITEWISE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may touch the user's data dir or pick up their configuration."""
    for name in list(os.environ):
        if name.startswith("CITEWISE_") and name != "CITEWISE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("CITEWISE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    from app.settings import get_settings

    get_settings.cache_clear()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A brand-new PostgreSQL database for one test, dropped afterwards."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"citewise_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the suite promises real PostgreSQL coverage: fail loudly, never skip
        pytest.fail(
            f"PostgreSQL at {POSTGRES_ADMIN_URL} is not usable ({exc}); start it with .ci/run's command"
        )
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kb.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def make_kb(database_url: str, index_dir: Path) -> Iterator:
    """Factory for knowledge bases over the same database and index dir (to test reopening)."""
    opened: list[KnowledgeBase] = []

    def factory(embedder: object | None = None, policy: IndexPolicy | None = None) -> KnowledgeBase:
        kb = KnowledgeBase(database_url, index_dir, embedder or HashingEmbedder(), policy)  # type: ignore[arg-type]
        opened.append(kb)
        return kb

    yield factory
    for kb in opened:
        kb.close()
