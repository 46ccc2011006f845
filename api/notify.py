"""Webhook to the biomedical referent: a JSON POST per change, sent from a background thread.

`Notifier.send(event)` only queues the event, so a change is never blocked or
undone by a slow or unreachable receiver; the worker POSTs it with httpx and
retries with exponential backoff (backoff, 2*backoff, ...); a notification that
still fails after `retries` attempts is logged and dropped.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

import httpx

log = logging.getLogger("medtap.notify")
_STOP = object()


class Notifier:
    """Queue + worker thread; `close()` waits for the queue to drain (bounded by `timeout`)."""

    def __init__(self, url: str, *, retries: int = 4, backoff: float = 1.0, timeout: float = 5.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = url
        self.retries = max(1, retries)
        self.backoff = backoff
        self.delivered = 0
        self.failed = 0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=10000)
        self._client = httpx.Client(timeout=timeout, transport=transport)
        self._thread = threading.Thread(target=self._run, name="medtap-webhook", daemon=True)
        self._thread.start()

    def send(self, event: dict[str, Any]) -> None:
        """Queue one event (never blocks; a full queue drops the event with a log line)."""
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.failed += 1
            log.error("webhook queue full, event dropped: %s", event.get("type"))

    def _post(self, event: dict[str, Any]) -> bool:
        delay = self.backoff
        for attempt in range(1, self.retries + 1):
            try:
                response = self._client.post(self.url, json=event)
                if response.status_code < 300:
                    return True
                log.warning("webhook attempt %d/%d: HTTP %d", attempt, self.retries, response.status_code)
            except httpx.HTTPError as exc:
                log.warning("webhook attempt %d/%d failed: %s", attempt, self.retries, exc)
            if attempt < self.retries:
                time.sleep(delay)
                delay *= 2
        return False

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is _STOP:
                    return
                if self._post(event):
                    self.delivered += 1
                else:
                    self.failed += 1
                    log.error("webhook gave up after %d attempts: %s %s", self.retries, event.get("type"), event.get("id"))
            finally:
                self._queue.task_done()

    def close(self, timeout: float = 10.0) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._client.close()
