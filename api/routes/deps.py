"""Shared route dependencies: session, notifier, pagination bounds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Query, Request

from api.auth import get_session  # noqa: F401  (re-exported)

Offset = Query(0, ge=0, le=2**31 - 1, description="Items to skip.")
Limit = Query(100, ge=1, le=1000, description="Page size (1..1000).")


def get_notify(request: Request) -> Callable[[dict[str, Any]], None] | None:
    notifier = getattr(request.app.state, "notifier", None)
    return notifier.send if notifier is not None else None
