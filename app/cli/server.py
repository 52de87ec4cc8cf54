"""``citewise serve`` (the REST API), ``citewise ui`` (the web UI) and ``citewise keys``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from app.cli.common import console, current_settings, err_console
from app.services import build_knowledge_base

UI_SCRIPT = Path(__file__).resolve().parent.parent / "ui" / "Chat.py"


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port to listen on.")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Server processes.")] = 1,
) -> None:
    """Start the REST API (docs at /docs); models load in the background, /readyz says when."""
    import uvicorn

    from app.startup import dependencies, wait_for

    settings = current_settings()
    host, port = host or settings.api_host, port or settings.api_port
    wait_for(dependencies(settings), settings.startup_wait_s, err_console.print)
    console.print(f"Citewise API on http://{host}:{port}  (OpenAPI docs: http://{host}:{port}/docs)")
    uvicorn.run(
        "app.api.main:serve_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        timeout_graceful_shutdown=10,
    )


def ui(
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port of the web UI.")] = None,
    api_url: Annotated[str | None, typer.Option("--api-url", help="Where the REST API runs.")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """Start the web UI (Streamlit); it talks to the REST API, which must be running."""
    settings = current_settings()
    port = port or settings.ui_port
    env = {**os.environ, "CITEWISE_API_URL": api_url or settings.api_url}
    console.print(f"Citewise UI on http://{host}:{port}  (API: {env['CITEWISE_API_URL']})")
    command = [
        sys.executable, "-m", "streamlit", "run", str(UI_SCRIPT),
        "--server.port", str(port), "--server.address", host,
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
    ]  # fmt: skip
    raise typer.Exit(subprocess.call(command, env=env))


keys = typer.Typer(help="API keys for the REST API (when CITEWISE_AUTH_ENABLED=true).", no_args_is_help=True)


@keys.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Who or what the key is for.")],
    collection: Annotated[
        list[str],
        typer.Option("--collection", "-c", help="Limit the key to this collection (repeatable)."),
    ] = [],  # noqa: B006
) -> None:
    """Create a key; its secret is printed once and cannot be shown again."""
    from app.api_keys import create_key

    with build_knowledge_base(current_settings()) as kb:
        kb.open()
        info, secret = create_key(kb, name, tuple(collection))
    scope = ", ".join(info.collections) or "all collections"
    console.print(f"Created key {info.id} ({info.name}, {scope}). Its secret, shown only now:")
    print(secret)


@keys.command("list")
def list_() -> None:
    """The keys (never their secrets)."""
    from app.api_keys import list_keys

    with build_knowledge_base(current_settings()) as kb:
        kb.open()
        found = list_keys(kb)
    table = Table("id", "name", "starts with", "collections", "created", "state")
    for key in found:
        table.add_row(
            str(key.id), key.name, key.prefix + "…", ", ".join(key.collections) or "all",
            key.created_at.strftime("%Y-%m-%d %H:%M"), "revoked" if key.revoked else "active",
        )  # fmt: skip
    console.print(table if found else "No API keys yet: `citewise keys create NAME`.")


@keys.command("revoke")
def revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (see `citewise keys list`).")],
) -> None:
    """Revoke a key; requests with it are refused from now on."""
    from app.api_keys import revoke_key

    with build_knowledge_base(current_settings()) as kb:
        kb.open()
        if not revoke_key(kb, key_id):
            console.print(f"No active key {key_id}.")
            raise typer.Exit(1)
    console.print(f"Revoked key {key_id}.")
