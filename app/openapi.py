"""The OpenAPI schema as the server really answers: every error is ErrorBody ({"detail": ...}), and the
statuses of the shared mechanisms (body limits, origin check, unexpected errors) are listed on each route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.schemas import ErrorBody

ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
SHARED = {
    "400": "the body is not the JSON (or form) it claims to be",
    "403": "a cross-site request (its Origin is neither this server nor allowed)",
    "408": "the request body stopped arriving",
    "413": "the request body is larger than allowed",
    "422": "the request is invalid: the detail says what was wrong and what is allowed",
}


def documented_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """A replacement for ``app.openapi`` (made once, then cached like FastAPI's)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        schemas.setdefault("ErrorBody", ErrorBody.model_json_schema())
        for methods in schema.get("paths", {}).values():
            for method, operation in methods.items():
                responses = operation.setdefault("responses", {})
                if method in ("post", "put", "patch", "delete"):
                    for status, description in SHARED.items():
                        responses.setdefault(status, {"description": description})
                responses.setdefault("500", {"description": "an unexpected server error (logged)"})
                for status, response in responses.items():
                    if status.startswith(("4", "5")):
                        response["content"] = ERROR
                        response.setdefault("description", "an error")
        app.openapi_schema = schema
        return schema

    return openapi
