"""Webhook to the biomedical referent: a tiny HTTP server on 127.0.0.1 fails the first POST, accepts the retry."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from store.records import save_findings
from tests.api.conftest import make_api
from tests.api.factories import findings


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    attempts: list[float] = []
    patched: threading.Event
    waited_for_patch: list[bool] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).attempts.append(time.monotonic())
        if len(type(self).attempts) == 1:
            # hold the first attempt until the PATCH has answered: a blocking change would time out here
            type(self).waited_for_patch.append(type(self).patched.wait(10))
            self.send_response(503)
        else:
            type(self).received.append(json.loads(body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        return None


def test_webhook_retries_and_never_blocks_the_change(sqlite_url: str, tmp_path: Path) -> None:
    handler = type("Receiver", (_Receiver,), {"received": [], "attempts": [], "patched": threading.Event(),
                                              "waited_for_patch": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        for api in make_api(sqlite_url, webhook_url=url, webhook_backoff=0.5, webhook_retries=3, webhook_spool=tmp_path):
            with api.session() as session:
                save_findings(session, findings(), today=__import__("datetime").date(2026, 1, 1))
                session.commit()
            fid = findings()[0].id
            response = api.patch(f"/api/v1/findings/{fid}", "biomedical", json={"status": "acknowledged"})
            handler.patched.set()
            assert response.status_code == 200
            assert api.get(f"/api/v1/findings/{fid}").json()["status"] == "acknowledged"
            deadline = time.monotonic() + 10
            while not handler.received and time.monotonic() < deadline:
                time.sleep(0.05)
            assert handler.waited_for_patch == [True]  # the change was answered while the receiver held attempt 1
            assert len(handler.attempts) == 2
            assert handler.attempts[1] - handler.attempts[0] >= 0.45  # backoff between attempts
            [event] = handler.received
            assert event["type"] == "finding.status" and event["id"] == fid and event["status"] == "acknowledged"
            assert event["actor"] == "biomedical:test-biomedical"
            # the receiver records the event before its reply reaches the notifier, which then counts it
            while api.app.state.notifier.delivered < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert api.app.state.notifier.delivered == 1
    finally:
        server.shutdown()
        server.server_close()


def test_unreachable_receiver_is_logged_not_raised(sqlite_url: str, caplog: Any, tmp_path: Path) -> None:
    from api.notify import Notifier

    notifier = Notifier("http://127.0.0.1:9/nothing", spool_dir=tmp_path, retries=2, backoff=0.05, timeout=0.5)
    notifier.send({"type": "test", "id": "x"})
    notifier.close()
    assert notifier.failed == 1 and notifier.delivered == 0
    assert any("gave up" in r.getMessage() for r in caplog.records)
