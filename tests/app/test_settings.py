"""The one settings object: defaults, environment, .env file, validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.services import build_embedder, embedder_name
from app.settings import Settings


def test_defaults_live_in_the_xdg_data_dir(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("CITEWISE_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    settings = Settings()
    assert settings.data_dir == (tmp_path / "xdg" / "citewise").resolve()
    assert settings.resolved_database_url == f"sqlite:///{settings.data_dir / 'citewise.db'}"
    assert settings.index_dir == settings.data_dir / "index"
    assert (settings.chunk_tokens, settings.chunk_overlap, settings.embedder) == (200, 30, "minilm")


def test_dotenv_is_read_and_real_environment_wins(monkeypatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CITEWISE_CHUNK_TOKENS=300\nCITEWISE_EMBEDDER=from-dotenv\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CITEWISE_EMBEDDER", "from-env")
    settings = Settings()
    assert settings.chunk_tokens == 300
    assert settings.embedder == "from-env"


def test_postgres_url_is_used_as_given(monkeypatch) -> None:
    monkeypatch.setenv("CITEWISE_DATABASE_URL", "postgresql+psycopg://me@db/citewise")
    assert Settings().resolved_database_url == "postgresql+psycopg://me@db/citewise"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CITEWISE_CHUNK_OVERLAP", "500"),
        ("CITEWISE_CHUNK_TOKENS", "8"),
        ("CITEWISE_MAX_FILE_MB", "-1"),
        ("CITEWISE_SEARCH_MODE", "fuzzy"),
        ("CITEWISE_SEARCH_FUSION", "borda"),
        ("CITEWISE_SEARCH_DENSE_WEIGHT", "1.5"),
    ],
)
def test_nonsense_values_are_rejected(monkeypatch, name, value) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def _index_built_with(settings: Settings, embedder: str) -> None:
    settings.index_dir.mkdir(parents=True)
    manifest = {"embedder": embedder, "dimension": 384, "count": 0, "database_uid": "x", "generation": 0}
    (settings.index_dir / "manifest.json").write_text(json.dumps(manifest | {"index_file": "i.faiss"}))


def test_a_new_knowledge_base_gets_the_default_embedder_and_an_existing_one_keeps_its_own(tmp_path) -> None:
    fresh = Settings(data_dir=tmp_path / "new")
    assert embedder_name(fresh) == "minilm"
    old = Settings(data_dir=tmp_path / "old")
    _index_built_with(old, "minilm-int8")  # `CITEWISE_EMBEDDER=minilm-int8 citewise reindex` once
    assert embedder_name(old) == "minilm-int8" and build_embedder(old).name == "minilm-int8"


def test_an_embedder_the_user_chose_wins_over_the_index(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CITEWISE_EMBEDDER", "minilm")
    settings = Settings(data_dir=tmp_path)
    _index_built_with(settings, "minilm-int8")
    assert embedder_name(settings) == "minilm"  # opening then asks for `citewise reindex`


def test_an_index_of_an_unknown_or_unreadable_embedder_leaves_the_default(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path)
    _index_built_with(settings, "someone-elses-model")
    assert embedder_name(settings) == "minilm"
    (settings.index_dir / "manifest.json").write_text("{not json")
    assert embedder_name(settings) == "minilm"  # opening the knowledge base reports the damage


def test_packaged_models_join_into_the_data_dir_unless_an_image_points_elsewhere(tmp_path) -> None:
    assert Settings(data_dir=tmp_path).resolved_model_cache_dir == tmp_path.resolve() / "models"
    baked = Settings(data_dir=tmp_path, model_cache_dir=tmp_path / "image" / ".." / "baked")
    assert baked.resolved_model_cache_dir == tmp_path.resolve() / "baked"
