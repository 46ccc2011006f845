"""The server-rendered web UI (French/English) served beside the API by `create_app`.

`install_web(app, settings)` adds the HTML pages (mounted at "/") and the static
files (/static, shipped in the package: no CDN, no build step).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI


def install_web(app: FastAPI, settings: Any) -> None:
    """Mount the UI on an app built by `api.main.create_app` (one call, at the end of the factory)."""
    from fastapi.staticfiles import StaticFiles

    from api.web.ui import STATIC_DIR, WebState, install_handlers, router
    from api.web.ui_dashboard import router as dashboard_router
    from api.web.ui_exports import router as exports_router
    from api.web.ui_interventions import router as interventions_router
    from api.web.ui_map import router as map_router
    from api.web.ui_reports import router as reports_router
    from api.web.ui_sheets import router as sheets_router

    app.state.web = WebState.create(settings)
    app.include_router(exports_router)  # before the pages: /findings/export.csv is not a finding id
    app.include_router(router)
    app.include_router(dashboard_router)
    app.include_router(map_router)
    app.include_router(sheets_router)
    app.include_router(reports_router)
    app.include_router(interventions_router)
    install_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="web-static")


__all__ = ["install_web"]
