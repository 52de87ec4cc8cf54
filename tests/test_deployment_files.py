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


def test_compose_services_run_commands_the_cli_has() -> None:
    """The api and ui services call `citewise serve` / `citewise ui` with options that exist."""
    import typer.main

    from app.cli.main import app

    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    click_app = typer.main.get_command(app)
    for name in ("api", "ui"):
        command = compose["services"][name]["command"]
        sub = click_app.commands[command[0]]  # type: ignore[attr-defined]
        options = {opt for param in sub.params for opt in param.opts}
        given = {arg for arg in command[1:] if arg.startswith("--")}
        assert given <= options, f"{name}: {given - options} are not options of `citewise {command[0]}`"
    assert compose["services"]["ui"]["depends_on"]["api"]["condition"] == "service_healthy"
    assert "/healthz" in " ".join(compose["services"]["api"]["healthcheck"]["test"])
