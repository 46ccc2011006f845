"""Ingest that loses nothing and never fails (issue 18, defects 5 and 8).

- A sensor whose batches the central refuses for good says so and exits non-zero (5).
- Two identical batches posted at the same moment: one stored, one acknowledged, never a 500 (8).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from api.cli import EXIT_REJECTED, app
from tests.api.conftest import Api, make_api

DEMO = Path(__file__).resolve().parents[2] / "pcaps" / "demo"
V1 = "/api/v1"


class _Refuses(BaseHTTPRequestHandler):
    """A central that refuses every batch with 422 (as one would a batch it can never store)."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"detail": "refused", "field": "observations"}'
        self.send_response(422)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


def test_a_sensor_with_rejected_batches_says_so_and_exits_non_zero(tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Refuses)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = CliRunner().invoke(app, [
            "replay", str(DEMO / "demo-office.pcap"), "--db", f"sqlite:///{tmp_path / 'sensor.db'}", "-q",
            "--forward", f"http://127.0.0.1:{server.server_address[1]}", "--token", "mt_x",
            "--spool", str(tmp_path / "spool")])
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == EXIT_REJECTED, result.output
    assert "refused" in result.output and ".rejected" in result.output
    assert list((tmp_path / "spool").glob("*.rejected"))  # kept for a person, not lost


def test_identical_batches_posted_at_the_same_moment_store_once(db_url: str) -> None:
    obs = [{"kind": "host", "ts": 1.0 + i, "mac": f"02:00:00:00:00:{i:02x}", "ip": f"10.1.0.{i + 1}",
            "first_ts": 1.0 + i, "last_ts": 2.0 + i, "frames": 1} for i in range(200)]
    for api in make_api(db_url):
        for seq in range(5):
            batch = {"sensor": "test-sensor", "seq": seq, "schema_version": 1, "observations": obs}
            barrier = threading.Barrier(4)
            statuses: list[int] = []

            def post(body: dict[str, Any] = batch, barrier: threading.Barrier = barrier,
                     statuses: list[int] = statuses, api: Api = api) -> None:
                barrier.wait()
                statuses.append(api.post(f"{V1}/ingest", "sensor", json=body).status_code)

            threads = [threading.Thread(target=post) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert sorted(statuses) == [200, 200, 200, 201], statuses
        with api.session() as session:
            from sqlalchemy import func, select

            from store.models import FactRow

            total = session.execute(select(func.sum(FactRow.count)).where(FactRow.kind == "host")).scalar()
        assert total == 5 * len(obs)  # five batches, each stored once
