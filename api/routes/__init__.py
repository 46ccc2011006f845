"""API routers, one module per resource, all under /api/v1 (see api.main.create_app)."""
