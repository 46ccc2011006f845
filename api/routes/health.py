"""GET /health: liveness and database reachability, no token needed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from store.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Liveness and database check (no token)")
def health(request: Request) -> Health:
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("medtap")
    except PackageNotFoundError:  # pragma: no cover
        release = "0"
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        ok = True
    except SQLAlchemyError:
        ok = False
    return Health(status="ok" if ok else "degraded", database=ok, version=release)
