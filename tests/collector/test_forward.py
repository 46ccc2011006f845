"""The sensor forwarder: spool first, send in order, survive a central outage and a sensor restart."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from collector.forward import ForwardSink
from collector.schema import Weird


class _Central:
    """A tiny stand-in for /api/v1/ingest on 127.0.0.1 that stores (sensor, seq) once."""

    def __init__(self) -> None:
        self.batches: dict[tuple[str, int], int] = {}
        self.order: list[int] = []
        self.posts = 0
        central = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                central.posts += 1
                key = (body["sensor"], body["seq"])
                if key not in central.batches:
                    central.batches[key] = len(body["observations"])
                    central.order.append(body["seq"])
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"stored": true}')

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _batch(n: int) -> list[Weird]:
    return [Weird(ts=float(i), name="test_batch", detail=str(n)) for i in range(3)]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_batches_spool_while_central_is_down_then_drain_in_order(tmp_path: Path) -> None:
    port = _free_port()  # nothing listens there yet
    sink = ForwardSink(f"http://127.0.0.1:{port}", token="t", sensor="s1", spool_dir=tmp_path, timeout=0.5)
    for n in range(5):
        sink.emit(_batch(n))
    assert sink.pending_batches() == 5
    assert sink.sent_batches == 0
    sink.client.close()

    central = _Central()
    try:
        # A restarted sensor resumes from its spool and keeps numbering after it.
        restarted = ForwardSink(f"http://127.0.0.1:{central.port}", token="t", sensor="s1", spool_dir=tmp_path)
        assert restarted.stats()["next_seq"] == 6
        restarted.emit(_batch(5))
        restarted.close(retries=1)
    finally:
        central.stop()
    assert central.order == [1, 2, 3, 4, 5, 6]
    assert sum(central.batches.values()) == 18
    assert restarted.pending_batches() == 0


def test_full_spool_refuses_new_batches_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    port = _free_port()
    sink = ForwardSink(
        f"http://127.0.0.1:{port}", token="t", sensor="s1", spool_dir=tmp_path, max_spool_bytes=1500, timeout=0.5
    )
    with caplog.at_level("WARNING", logger="medtap.forward"):
        for n in range(10):
            sink.emit(_batch(n))
    assert sink.spooled_bytes() <= 1500
    assert sink.dropped_batches > 0
    assert sink.pending_batches() + sink.dropped_batches == 10
    assert any("is full" in r.message for r in caplog.records)
    sink.client.close()


def test_a_resent_batch_is_acknowledged_once(tmp_path: Path) -> None:
    """Crash after send, before the spool file was removed: the retry is harmless."""
    central = _Central()
    try:
        sink = ForwardSink(f"http://127.0.0.1:{central.port}", token="t", sensor="s2", spool_dir=tmp_path)
        sink._write_batch(_batch(0))  # spooled, not yet sent
        pending = sink._pending()[0]
        saved = pending.read_bytes()
        sink.drain()
        pending.write_bytes(saved)  # as if the sensor died before unlinking
        sink.drain()
        sink.close(retries=1)
    finally:
        central.stop()
    assert central.posts == 2
    assert central.batches == {("s2", 1): 3}
