"""One place that turns errors into JSON: {"detail": "..."} naming what was wrong and what is allowed."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.operations import NotFound
from cnn_core.errors import ArgumentError, ArgumentTypeError
from cnn_core.kernels import KernelParseError

log = logging.getLogger("kernel_lens")


def _location(parts: tuple[int | str, ...]) -> str:
    shown = [str(part) for part in parts if part not in ("body", "query", "path")]
    return ".".join(shown) or "request"


def validation_message(error: RequestValidationError) -> str:
    """Pydantic's errors as one readable sentence per problem."""
    messages = []
    for item in error.errors()[:5]:
        message = str(item.get("msg", "is invalid")).removeprefix("Value error, ")
        given = item.get("input")
        suffix = f" (got {given!r:.60})" if given is not None and not isinstance(given, dict | list) else ""
        messages.append(f"{_location(tuple(item.get('loc', ())))}: {message}{suffix}")
    return "; ".join(messages)


def install_error_handlers(app: FastAPI) -> None:
    """Refused arguments (cnn_core.errors) -> 422, unknown ids -> 404, bad requests -> 422, anything else -> 500."""

    @app.exception_handler(KernelParseError)
    async def kernel_text(request: Request, error: KernelParseError) -> JSONResponse:
        return JSONResponse({"detail": str(error), "row": error.row, "column": error.column}, status_code=422)

    # only the engine's own refusals are the user's mistake; any other ValueError or TypeError is a bug (500)
    @app.exception_handler(ArgumentError)
    async def refused_value(request: Request, error: ArgumentError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=422)

    @app.exception_handler(ArgumentTypeError)
    async def refused_type(request: Request, error: ArgumentTypeError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=422)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, error: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(error.args[0])}, status_code=404)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_message(error)}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(error.detail)}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error: the server could not complete this request"},
                            status_code=500)
