"""``Annotated`` dependencies: the process runtime and the calling principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from app.api.errors import ApiError
from app.api.runtime import Runtime
from app.api_keys import ANONYMOUS, Principal, authenticate


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_principal(
    runtime: RuntimeDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    """Without authentication everyone is unrestricted; with it, the key decides (a sync function,
    so FastAPI runs its database lookup off the event loop)."""
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
    principal = authenticate(runtime.kb, secret)
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
