"""``Annotated`` dependencies: the process runtime and the calling principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from app.api.errors import ApiError
from app.api.runtime import Runtime
from app.api_keys import ANONYMOUS, Principal, authenticate
from retriever import catalog
from retriever.knowledge_base import KnowledgeBase


async def get_runtime(request: Request) -> Runtime:
    """Async on purpose: FastAPI runs a plain function dependency on a worker thread, a thread
    hop per request (and a wait for the GIL) to read an attribute."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_principal(
    runtime: RuntimeDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    """Without authentication everyone is unrestricted, decided on the event loop; with it, the
    key decides, looked up on a worker thread (a database read never blocks the loop)."""
    if not runtime.settings.auth_enabled:
        return ANONYMOUS
    secret = x_api_key
    if not secret and authorization:
        scheme, _, value = authorization.partition(" ")
        secret = value.strip() if scheme.lower() == "bearer" else None
    if not secret:
        raise ApiError(
            401,
            "an API key is required: send 'Authorization: Bearer <key>' "
            "(create one with `citewise keys create`)",
            {"WWW-Authenticate": "Bearer"},
        )
    principal = await run_in_threadpool(authenticate, runtime.kb, secret)
    if principal is None:
        raise ApiError(401, "unknown or revoked API key", {"WWW-Authenticate": "Bearer"})
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def allowed_collections(principal: Principal, requested: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The collections a request may read; naming one outside the key's scope is refused."""
    outside = [name for name in requested if not principal.may_see(name)]
    if outside:
        raise ApiError(403, f"this API key may not use collection {outside[0]!r}")
    return principal.visible(tuple(requested))


def existing_scope(
    kb: KnowledgeBase, principal: Principal, requested: list[str] | tuple[str, ...]
) -> tuple[str, ...]:
    """The collections to search, read on a worker thread. A scoped key that named none searches
    those of its collections that exist; if none exists yet, that is a 404, never a wider search."""
    chosen = allowed_collections(principal, requested)
    if principal.unrestricted or requested:
        return chosen
    present = catalog.existing_collections(kb, chosen)
    narrowed = tuple(name for name in chosen if name in present)
    if not narrowed:
        raise ApiError(404, "none of this API key's collections exists yet: " + ", ".join(chosen))
    return narrowed
