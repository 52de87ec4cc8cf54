"""docker-compose.yml and the Dockerfile must stay in step with the code they package."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from app.settings import Settings

REPO = Path(__file__).resolve().parent.parent


def test_compose_only_sets_settings_that_exist() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    fields = {f"CITEWISE_{name.upper()}" for name in Settings.model_fields}
    for name, service in compose["services"].items():
        for variable in service.get("environment", {}):
            if variable.startswith("CITEWISE_"):
                assert variable in fields, f"service {name} sets unknown {variable}"


def test_compose_wires_citewise_to_a_healthy_postgres() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    citewise = compose["services"]["citewise"]
    assert citewise["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in compose["services"]["postgres"]
    assert citewise["environment"]["CITEWISE_DATABASE_URL"].startswith("postgresql+psycopg://")


def test_dockerfile_pins_torch_first_and_copies_every_package() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    torch_at = dockerfile.index('pip install "$TORCH_SPEC"')
    assert torch_at < dockerfile.index("pip install .")
    assert re.search(r"ARG TORCH_SPEC=torch==\d", dockerfile)
    for package in ("app", "retriever", "generator", "ingest"):
        assert f"COPY {package} ./{package}" in dockerfile
