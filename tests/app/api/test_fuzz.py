"""Property-based fuzzing of the whole OpenAPI schema (schemathesis) against a live server: whatever
a client sends that the schema allows, or almost allows, the API never answers with a 5xx.
Bounded examples per operation, derandomized so a failure reproduces."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from app.api.main import create_app
from app.testing import live_api
from app.ui.client import CitewiseClient
from tests.app.api.conftest import BACKUP, INSTALL, make_settings
from tests.app.ui.conftest import wait_for

# The schema needs no running app: build it from an app that is never started.
schema = schemathesis.openapi.from_dict(create_app(make_settings(Path("/nonexistent"))).openapi())


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("fuzz")
    with live_api(make_settings(tmp, api_extra_models=["fake"], request_timeout_s=30)) as url:
        client = CitewiseClient(url)
        accepted = client.upload("guide", [("install.md", INSTALL.encode()), ("backup.md", BACKUP.encode())])
        wait_for(client, accepted["job_id"])
        client.close()
        yield url


@schema.exclude(path="/readyz").parametrize()  # its 503 "not ready yet" is its contract
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_gets_a_server_error(case: schemathesis.Case, base_url: str) -> None:
    case.call_and_validate(base_url=base_url, checks=[not_a_server_error])
