"""schemathesis over every operation of the OpenAPI schema (bounded, derandomized): no server error, and the
responses are what the schema says (documented statuses, content types, bodies); requests that break the
schema are refused. A request the schema allows may still be refused with a 4xx naming the reason (a kernel
larger than its input, a number with too many digits): JSON Schema can't say those, so that check is off."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance, unsupported_method

from app.config import Settings
from app.main import create_app

APP = create_app(Settings())
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)


@SCHEMA.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_to_its_schema(case: Any) -> None:
    # unsupported_method: a TRACE is refused by the Origin check or the router, both 4xx, not always 405
    case.call_and_validate(excluded_checks=[positive_data_acceptance, unsupported_method])
