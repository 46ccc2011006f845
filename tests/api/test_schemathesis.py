"""Property-based API test (schemathesis, in-process ASGI): no 500 and no response outside the documented schema.

Bounded: a few examples per operation (MEDTAP_FUZZ_EXAMPLES, default 15), with a
valid admin token; the sensor-only ingest route gets a sensor token.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.auth import create_token
from store.records import save_devices, save_findings
from tests.api.factories import devices, findings

EXAMPLES = int(os.environ.get("MEDTAP_FUZZ_EXAMPLES", "15"))
TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module")
def app_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import datetime as dt

    from sqlmodel import Session

    from api.main import create_app
    from api.settings import Settings

    db = tmp_path_factory.mktemp("fuzz") / "medtap.db"
    app = create_app(Settings(db_url=f"sqlite:///{db}", max_body_bytes=256 * 1024,
                                     auto_analyze=False), web=False)
    with TestClient(app):
        with Session(app.state.engine) as session:
            TOKENS["admin"] = create_token(session, role="admin", name="fuzz")
            TOKENS["sensor"] = create_token(session, role="sensor", name="fuzz")
            save_devices(session, devices())
            save_findings(session, findings(), today=dt.date(2026, 1, 1))
            session.commit()
        yield schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


def test_api_never_fails(app_schema: Any) -> None:
    """Each operation of the OpenAPI document, EXAMPLES generated cases each (schemathesis' pytest plugin
    does not support pytest 9, so operations are walked here with their hypothesis strategies)."""
    from hypothesis import given

    operations = [result.ok() for result in app_schema.get_all_operations()]
    assert len(operations) >= 18
    for operation in operations:
        role = "sensor" if operation.path == "/ingest" or operation.path.endswith("/ingest") else "admin"

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            case.call_and_validate(  # run() is called just below, within this iteration
                headers={"Authorization": f"Bearer {TOKENS[role]}"},  # noqa: B023
                checks=[not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance],
            )

        run()
