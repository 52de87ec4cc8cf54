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


def test_dockerfile_keeps_torch_and_the_toolchain_out_of_the_image_it_runs() -> None:
    """torch (CPU build, for the one-time ONNX export) and the compilers live in the build stage
    only; every package pyproject.toml ships is copied in. `make image-test` checks the result."""
    dockerfile = (REPO / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", dockerfile, flags=re.M)[1:]
    assert len(stages) == 2
    build, final = stages
    assert re.search(r"ARG TORCH_INDEX=https://download\.pytorch\.org/whl/cpu", build)
    assert '--index-url "$TORCH_INDEX" "$TORCH_SPEC"' in build and "rm -rf /opt/export" in build
    assert "torch" not in final.lower() and "build-essential" not in final and "pip install" not in final
    shipped = re.search(r"^include = \[(.*)\]$", (REPO / "pyproject.toml").read_text(), flags=re.M)
    assert shipped is not None
    for package in re.findall(r'"(\w+)\*"', shipped.group(1)):
        assert f"COPY {package} ./{package}" in build


def test_compose_services_run_commands_the_cli_has() -> None:
    """The api and ui services call `citewise serve` / `citewise ui` with options that exist."""
    import typer.main

    from app.cli.main import app

    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    click_app = typer.main.get_command(app)
    for name in ("api", "ui", "worker"):
        command = compose["services"][name]["command"]
        sub = click_app.commands[command[0]]  # type: ignore[attr-defined]
        options = {opt for param in sub.params for opt in param.opts}
        given = {arg for arg in command[1:] if arg.startswith("--")}
        assert given <= options, f"{name}: {given - options} are not options of `citewise {command[0]}`"
    assert compose["services"]["ui"]["depends_on"]["api"]["condition"] == "service_healthy"
    assert "/healthz" in " ".join(compose["services"]["api"]["healthcheck"]["test"])


def test_api_and_workers_share_the_database_the_queue_and_the_volumes() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    api, worker = services["api"], services["worker"]
    for key in ("CITEWISE_DATABASE_URL", "CITEWISE_QUEUE_URL", "CITEWISE_DATA_DIR"):
        assert api["environment"][key] == worker["environment"][key], key
    assert api["environment"]["CITEWISE_QUEUE_URL"].startswith("redis://redis:")
    assert set(api["volumes"]) == set(worker["volumes"])
    assert any(v.endswith(":/var/lib/citewise") for v in api["volumes"])
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "healthcheck" in services["redis"]
    # Replicas need a host port each: a single fixed port would stop `--scale api=N`.
    host_ports = api["ports"][0].rsplit(":", 1)[0]  # "${CITEWISE_API_PORTS:-8000-8009}"
    assert re.search(r"\d+-\d+", host_ports), host_ports


def test_env_example_names_only_variables_the_compose_file_uses() -> None:
    compose_text = (REPO / "docker-compose.yml").read_text()
    names = [
        line.split("=", 1)[0]
        for line in (REPO / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert names
    for name in names:
        assert "${" + name in compose_text, f".env.example sets {name}, which docker-compose.yml never reads"
