"""The FastAPI application factory: `create_app(settings)` builds the API under /api/v1 (and mounts the web
UI).

Nothing happens at import time: the engine, the schema migration and the
webhook notifier are created by the factory and closed at shutdown.  A small
ASGI guard, in front of the API and the web UI alike, refuses bodies larger than
`max_body_bytes` (413), NUL characters in URLs and JSON bodies (422: PostgreSQL
text cannot store them; on ingest a NUL in a name from the wire is replaced in that
record instead, store.records.validate_batch, so one record never loses the batch) and
JSON nested deeper than MAX_JSON_DEPTH (422: the parser would exhaust its recursion).
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware

from api.errors import install_error_handlers
from api.settings import Settings
from collector.yamlsafe import nesting_exceeds

log = logging.getLogger("medtap.api")
API_PREFIX = "/api/v1"
NUL_CLEANED_PATHS = frozenset({f"{API_PREFIX}/ingest"})
"""Routes that clean NULs record by record (names from the wire) instead of refusing the whole body."""
MAX_JSON_DEPTH = 32  # the deepest body (a sheet in a PUT) nests 4 levels


class BodyGuard:
    """ASGI middleware: 413 above `limit` bytes, 422 on NUL characters (raw, %00 or \\u0000 in JSON) or deep
    JSON."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    @staticmethod
    async def _reply(send: Any, status: int, detail: str, field: str | None) -> None:
        body = json.dumps({"detail": detail, "field": field}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogateescape")
        query = scope.get("query_string", b"")
        if (b"\x00" in raw_path or b"%00" in raw_path or b"\x00" in query or b"%00" in query
                or "\x00" in scope.get("path", "")):
            await self._reply(send, 422, "NUL characters are not accepted in URLs", "url")
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reply(send, 413, f"body larger than {self.limit} bytes", "body")
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._reply(send, 413, f"body larger than {self.limit} bytes", "body")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if b"json" in headers.get(b"content-type", b""):
            if scope.get("path") not in NUL_CLEANED_PATHS and (b"\\u0000" in body or b"\x00" in body):
                await self._reply(send, 422, "NUL characters are not accepted", "body")
                return
            if nesting_exceeds(body, MAX_JSON_DEPTH):
                await self._reply(send, 422, f"JSON nested deeper than {MAX_JSON_DEPTH} levels", "body")
                return
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def create_app(settings: Settings | None = None, *, web: bool = True) -> FastAPI:
    """The API app for `settings`: engine, migrated schema, notifier, routes, error handlers, web UI."""
    from api.routes import (
        audit,
        devices,
        exports,
        findings,
        health,
        ingest,
        interventions,
        netmap,
        reconciliation,
        reports,
        runs,
        sheets,
        tokens,
    )
    from store.db import make_engine
    from store.service import init_db

    settings = settings or Settings()
    engine = make_engine(settings.db_url)
    init_db(engine)
    notifier = None
    if settings.webhook_url:
        from api.notify import Notifier

        notifier = Notifier(settings.webhook_url, spool_dir=settings.webhook_spool,
                            secret=settings.webhook_secret,
                            retries=settings.webhook_retries, backoff=settings.webhook_backoff,
                            timeout=settings.webhook_timeout)

    analyzer = None
    if settings.auto_analyze:
        from store.autoanalyze import AutoAnalyzer

        analyzer = AutoAnalyzer(engine, site_file=settings.site_file, rules_dir=settings.rules_dir,
                                notify=notifier.send if notifier is not None else None,
                                interval=settings.analyze_interval)

    # always on: the referents may come from the site policy, which a sensor or a replay can store later;
    # a look without referents (settings or policy) reads one row and sends nothing
    from api.referents import ReferentDigests

    referents: ReferentDigests | None = ReferentDigests(engine, settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if analyzer is not None:
            analyzer.start()
        if referents is not None:
            referents.start()
        yield
        if referents is not None:
            referents.stop()
        if analyzer is not None:
            analyzer.stop()
        if notifier is not None:
            notifier.close()
        engine.dispose()

    app = FastAPI(
        title="medtap API", version="1",
        description="Passive discovery and segmentation audit of hospital medical devices: inventory, "
                    "findings, identification sheets, reconciliation, audit, sensor ingest and "
                    "SIEM exports. Every route but /api/v1/health needs `Authorization: Bearer <token>` "
                    "(`medtap token create --role viewer|biomedical|it|admin|sensor`).",
        lifespan=lifespan, openapi_url=f"{API_PREFIX}/openapi.json", docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.notifier = notifier
    app.state.analyzer = analyzer
    app.state.referents = referents
    app.state.secret = (settings.secret_key or secrets.token_hex(32)).encode()
    for module in (health, devices, findings, sheets, reconciliation, audit, ingest, exports, runs, tokens,
                   reports, netmap, interventions):
        app.include_router(module.router, prefix=API_PREFIX)
    install_error_handlers(app)
    app.add_middleware(BodyGuard, limit=settings.max_body_bytes)
    # responses over 1 kB are gzip-compressed when the client accepts it (pages, JSON, the vendored scripts)
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    if web:
        try:
            from api.web import install_web
        except ImportError as exc:  # the UI is optional: the API works without it
            log.warning("web UI not installed: %s", exc)
        else:
            install_web(app, settings)
    return app
