"""Signed, durable webhooks (issue 18): a real HTTP receiver on 127.0.0.1 verifies the Standard Webhooks
signature itself, and events queued while it was down survive a restart of the app.

Also: `medtap serve` says on stderr when MEDTAP_SECRET_KEY is missing (UI sessions would end at each restart).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from store.records import save_findings
from tests.api.conftest import make_api
from tests.api.factories import findings

KEY = b"medtap-webhook-test-key-32-bytes"
SECRET = "whsec_" + base64.b64encode(KEY).decode()


def verify(headers: dict[str, str], body: bytes, key: bytes = KEY, tolerance: int = 300) -> bool:
    """The receiver's side of Standard Webhooks, written from the scheme, not from api.notify."""
    msg_id, stamp, signature = headers.get("webhook-id"), headers.get("webhook-timestamp"), headers.get("webhook-signature")
    if not (msg_id and stamp and signature) or abs(time.time() - int(stamp)) > tolerance:
        return False
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()).decode()
    return any(part.startswith("v1,") and hmac.compare_digest(part[3:], expected) for part in signature.split(" "))


class Receiver(BaseHTTPRequestHandler):
    up = False
    attempts = 0
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        cls = type(self)
        cls.attempts += 1
        headers = {k.lower(): v for k, v in self.headers.items()}
        if not cls.up:
            self.send_response(503)
        elif not verify(headers, body):
            self.send_response(401)
        else:
            cls.received.append((headers, body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        return None


def wait_for(condition: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return bool(condition())


def test_signed_events_survive_a_restart_while_the_receiver_is_down(sqlite_url: str, tmp_path: Path) -> None:
    handler: Any = type("R", (Receiver,), {"up": False, "attempts": 0, "received": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    spool = tmp_path / "spool"
    settings = {"webhook_url": f"http://127.0.0.1:{server.server_address[1]}/hook", "webhook_secret": SECRET,
                "webhook_spool": spool, "webhook_retries": 2, "webhook_backoff": 0.02, "webhook_timeout": 2.0}
    first, second = (f.id for f in findings()[:2])
    try:
        for api in make_api(sqlite_url, **settings):  # first run: the receiver is down
            with api.session() as session:
                save_findings(session, findings(), today=__import__("datetime").date(2026, 1, 1))
                session.commit()
            for fid in (first, second):
                assert api.patch(f"/api/v1/findings/{fid}", "biomedical", json={"status": "acknowledged"}).status_code == 200
            assert wait_for(lambda: handler.attempts >= 4)  # both events tried and given up
            assert len(api.app.state.notifier.pending()) == 2
        spooled = sorted(p.stem for p in spool.glob("*.json"))
        assert len(spooled) == 2 and not list(spool.glob("*.tmp")) and handler.received == []
        handler.up = True
        for api in make_api(sqlite_url, **settings):  # restart: the spool is sent first
            assert wait_for(lambda: len(handler.received) == 2)
            assert wait_for(lambda: not list(spool.glob("*.json")))
            assert api.app.state.notifier.delivered == 2
    finally:
        server.shutdown()
        server.server_close()
    ids = [headers["webhook-id"] for headers, _ in handler.received]
    assert ids == spooled  # same ids across the restart (receivers deduplicate on it), in order
    events = [json.loads(body) for _, body in handler.received]
    assert [(e["type"], e["id"], e["status"]) for e in events] == [("finding.status", first, "acknowledged"),
                                                                    ("finding.status", second, "acknowledged")]
    headers, body = handler.received[0]
    assert headers["webhook-signature"].startswith("v1,")
    assert not verify(headers, body.replace(b"acknowledged", b"resolved"))  # a changed body fails the check
    assert not verify(headers, body, key=b"another key")


def _serve_stderr(env: dict[str, str], db: Path) -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--db", f"sqlite:///{db}"],
                            stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "Uvicorn running" in line or "Application startup complete" in line:
                break
    finally:
        proc.terminate()
        proc.wait(10)
    return "".join(lines)


def test_serve_warns_once_when_the_secret_key_is_missing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MEDTAP_SECRET_KEY"} | {"COLUMNS": "80"}
    output = _serve_stderr(env, tmp_path / "a.db")
    warnings = [line for line in output.splitlines() if "MEDTAP_SECRET_KEY" in line]
    assert len(warnings) == 1, output
    assert "every restart signs everyone out" in warnings[0] and "export MEDTAP_SECRET_KEY=" in warnings[0]
    assert "MEDTAP_SECRET_KEY" not in _serve_stderr(env | {"MEDTAP_SECRET_KEY": "x" * 32}, tmp_path / "b.db")
