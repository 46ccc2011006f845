"""Errors the service raises and the JSON bodies the API returns for them: {"detail": ..., "field": ...}.

Service functions raise `ServiceError` subclasses (the web UI catches the same
ones); `install_error_handlers` maps them, FastAPI validation errors, HTTP errors
and any unexpected exception to JSON with the right status code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from store.errors import (  # noqa: F401  (re-exported: the API raises them too)
    AuthError,
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    ServiceError,
    TooLargeError,
)

log = logging.getLogger("medtap.api")


class ErrorBody(BaseModel):
    """Every error response."""

    detail: str = Field(description="What went wrong.",
                        examples=["sheet SH-0001 was changed by someone else (version 3)"])
    field: str | None = Field(default=None,
                              description="The offending field or parameter, when one is to blame.",
                              examples=["version"])


def error_response(status: int, detail: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "field": field}, status_code=status, headers=headers)


def _loc_field(loc: Sequence[Any]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (("." if out else "") + p)
    return out or None


def errors_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the given error codes."""
    names = {401: "Missing or invalid token", 403: "Role not allowed", 404: "Not found", 409: "Conflict",
             413: "Body too large", 422: "Invalid input"}
    return {c: {"model": ErrorBody, "description": names.get(c, "Error")} for c in codes}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service(_request: Request, exc: ServiceError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(exc.status, exc.detail, exc.field, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        field = _loc_field(first.get("loc", ()))
        return error_response(422, f"{field or 'request'}: {first.get('msg', 'invalid')}", field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), None, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover - last resort
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal error (logged)")
