"""Webhook to the biomedical referent: a signed JSON POST per change, spooled on disk, sent from a background
thread.

`Notifier.send(event)` writes the event to the spool directory (one file per
event, written to a temporary name, synced, then renamed: a crash leaves either
the whole event or nothing) and queues it, so a change is never blocked or undone
by a slow or unreachable receiver.  The worker POSTs it with httpx, retries with
exponential backoff (backoff, 2*backoff, ...) and removes the file once the
receiver answered 2xx.  Files still in the spool at start (a restart, a crash, or
an event that exhausted its `retries` attempts) are sent again first, in order:
a restart loses nothing, and the receiver deduplicates on `webhook-id`.

Signature: the Standard Webhooks scheme (https://www.standardwebhooks.com):
headers `webhook-id` (stable across retries), `webhook-timestamp` (Unix seconds
of the attempt) and `webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">` keyed by MEDTAP_WEBHOOK_SECRET (a `whsec_<base64>`
secret is base64-decoded, as the scheme's libraries do; any other text is used
as UTF-8 bytes).  Without a secret the headers are sent unsigned and a warning
is logged at start.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import queue
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger("medtap.notify")
_STOP = object()
SECRET_PREFIX = "whsec_"


def signing_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (`whsec_` + base64), or the text itself."""
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
        except binascii.Error:
            raise ValueError("MEDTAP_WEBHOOK_SECRET starts with whsec_ but the rest is not base64") from None
    return secret.encode("utf-8")


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256("id.timestamp.body")>` (Standard Webhooks)."""
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


class Notifier:
    """Spool + queue + worker thread; `close()` waits for the queue to drain (bounded by `timeout`)."""

    def __init__(self, url: str, *, spool_dir: Path, secret: str = "", retries: int = 4, backoff: float = 1.0,
                 timeout: float = 5.0, transport: httpx.BaseTransport | None = None) -> None:
        self.url = url
        self.retries = max(1, retries)
        self.backoff = backoff
        self.delivered = 0
        self.failed = 0
        self.spool = Path(spool_dir)
        self.spool.mkdir(parents=True, exist_ok=True)
        self._key = signing_key(secret) if secret else None
        if self._key is None:
            log.warning("MEDTAP_WEBHOOK_SECRET is not set: webhook payloads are sent unsigned")
        self._stopping = threading.Event()
        self._queue: queue.Queue[Any] = queue.Queue()
        for path in sorted(self.spool.glob("*.json")):  # left by the previous run: sent first, in order
            self._queue.put(path)
        self._client = httpx.Client(timeout=timeout, transport=transport)
        self._thread = threading.Thread(target=self._run, name="medtap-webhook", daemon=True)
        self._thread.start()

    def pending(self) -> list[Path]:
        """Events on disk not yet delivered."""
        return sorted(self.spool.glob("*.json"))

    def send(self, event: dict[str, Any]) -> None:
        """Spool one event, then queue it (never blocks on the receiver)."""
        try:
            path = self._write(event)
        except OSError as exc:
            self.failed += 1
            log.error("webhook spool %s not writable, event dropped: %s (%s)", self.spool, event.get("type"),
                      exc)
            return
        self._queue.put(path)

    def _write(self, event: dict[str, Any]) -> Path:
        """One file per event, atomically: write a temporary file, sync it, rename it."""
        msg_id = f"msg_{time.time_ns():020d}_{secrets.token_hex(6)}"  # sorts in sending order
        path = self.spool / f"{msg_id}.json"
        tmp = self.spool / f".{msg_id}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(json.dumps(event, default=str).encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        return path

    def _headers(self, msg_id: str, body: bytes) -> dict[str, str]:
        timestamp = int(time.time())
        headers = {"content-type": "application/json", "webhook-id": msg_id,
                   "webhook-timestamp": str(timestamp)}
        if self._key is not None:
            headers["webhook-signature"] = sign(self._key, msg_id, timestamp, body)
        return headers

    def _post(self, path: Path) -> bool:
        body = path.read_bytes()
        delay = self.backoff
        for attempt in range(1, self.retries + 1):
            try:
                response = self._client.post(self.url, content=body, headers=self._headers(path.stem, body))
                if response.status_code < 300:
                    return True
                log.warning("webhook attempt %d/%d: HTTP %d", attempt, self.retries, response.status_code)
            except httpx.HTTPError as exc:
                log.warning("webhook attempt %d/%d failed: %s", attempt, self.retries, exc)
            if attempt < self.retries and self._stopping.wait(delay):
                return False  # shutting down: the event stays in the spool for the next start
            delay *= 2
        return False

    def _run(self) -> None:
        while True:
            path = self._queue.get()
            try:
                if path is _STOP:
                    return
                if self._post(path):
                    path.unlink(missing_ok=True)
                    self.delivered += 1
                elif not self._stopping.is_set():
                    self.failed += 1
                    log.error("webhook gave up after %d attempts on %s: kept in %s, "
                              "sent again at the next start",
                              self.retries, path.stem, self.spool)
            except OSError as exc:
                log.error("webhook spool file %s unreadable: %s", path, exc)
            finally:
                self._queue.task_done()

    def close(self, timeout: float = 10.0) -> None:
        """Drain the queue for up to `timeout` seconds; what is left stays in the spool."""
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._stopping.set()
        self._thread.join(timeout)
        self._client.close()
