"""Sensor mode: forward observation batches to a central medtap, spooling on disk when it is away.

Every batch gets the sensor id and a sequence number that survives restarts
(`state.json` in the spool folder).  A batch is written to the spool (fsync)
before any send, and removed only after the central acknowledged it, so a
crash between the two re-sends it: the central stores a (sensor, seq) batch
once and acknowledges duplicates, which makes the retry harmless.  Batches are
sent strictly in sequence order; when the central is unreachable the sensor
keeps spooling, up to `max_spool_bytes`, then refuses new batches with a
warning and counts them (`dropped_batches`) rather than growing without bound.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import httpx

from collector.schema import SCHEMA_VERSION, Observation

log = logging.getLogger("medtap.forward")

DEFAULT_MAX_SPOOL_BYTES = 512 * 1024 * 1024


class ForwardSink:
    """A Sink that spools each batch then drains the spool to `{url}/api/v1/ingest`."""

    def __init__(
        self,
        url: str,
        *,
        token: str,
        sensor: str,
        spool_dir: Path,
        max_spool_bytes: int = DEFAULT_MAX_SPOOL_BYTES,
        timeout: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.endpoint = url.rstrip("/") + "/api/v1/ingest"
        self.sensor = sensor
        self.spool = Path(spool_dir)
        self.spool.mkdir(parents=True, exist_ok=True)
        self.max_spool_bytes = max_spool_bytes
        self.client = client or httpx.Client(timeout=timeout, headers={"Authorization": f"Bearer {token}"})
        self._owns_client = client is None
        if client is not None:
            self.client.headers["Authorization"] = f"Bearer {token}"
        self.dropped_batches = 0
        self.sent_batches = 0
        self._full_warned = False
        self._next_seq = self._load_state()

    # ------------------------------------------------------------------ spool

    def _state_path(self) -> Path:
        return self.spool / "state.json"

    def _load_state(self) -> int:
        """Next sequence number: max of the saved state and of any spooled batch (crash recovery)."""
        seq = 1
        try:
            seq = int(json.loads(self._state_path().read_text())["next_seq"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        for path in self._pending():
            seq = max(seq, int(path.stem.split("-")[1]) + 1)
        return seq

    def _save_state(self) -> None:
        tmp = self._state_path().with_suffix(".tmp")
        tmp.write_text(json.dumps({"next_seq": self._next_seq, "sensor": self.sensor}))
        os.replace(tmp, self._state_path())

    def _pending(self) -> list[Path]:
        return sorted(self.spool.glob("batch-*.json"))

    def spooled_bytes(self) -> int:
        return sum(p.stat().st_size for p in self._pending())

    def pending_batches(self) -> int:
        return len(self._pending())

    def _write_batch(self, batch: list[Observation]) -> bool:
        body = {
            "sensor": self.sensor,
            "seq": self._next_seq,
            "schema_version": SCHEMA_VERSION,
            "observations": [o.model_dump(mode="json") for o in batch],
        }
        data = json.dumps(body, separators=(",", ":")).encode()
        if self.spooled_bytes() + len(data) > self.max_spool_bytes:
            self.dropped_batches += 1
            if not self._full_warned:
                log.warning(
                    "spool %s is full (%d bytes max): new batches are dropped until the central is back",
                    self.spool,
                    self.max_spool_bytes,
                )
                self._full_warned = True
            return False
        path = self.spool / f"batch-{self._next_seq:012d}.json"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        self._next_seq += 1
        self._save_state()
        return True

    # ------------------------------------------------------------------ sending

    def drain(self) -> int:
        """Send spooled batches in order until one fails; returns how many were acknowledged."""
        sent = 0
        for path in self._pending():
            try:
                response = self.client.post(
                    self.endpoint, content=path.read_bytes(), headers={"Content-Type": "application/json"}
                )
            except httpx.HTTPError as exc:
                log.info("central unreachable (%s): %d batch(es) kept in %s", exc.__class__.__name__,
                         len(self._pending()), self.spool)
                break
            if response.status_code in (200, 201, 202):
                path.unlink(missing_ok=True)
                sent += 1
                self.sent_batches += 1
                self._full_warned = False
                continue
            if response.status_code in (400, 413, 422):
                # The central will never take this batch: keep it aside for a person, go on with the rest.
                path.rename(path.with_suffix(".rejected"))
                log.error("central rejected %s (%d): %s", path.name, response.status_code,
                          response.text[:200])
                continue
            log.warning("central answered %d for %s; will retry", response.status_code, path.name)
            break
        return sent

    def emit(self, batch: list[Observation]) -> None:
        if batch:
            self._write_batch(batch)
        self.drain()

    def close(self, retries: int = 3, delay: float = 1.0) -> None:
        """Last attempts to drain; what is left stays spooled for the next start."""
        for attempt in range(retries):
            self.drain()
            if not self._pending():
                break
            if attempt + 1 < retries:
                time.sleep(delay)
        if self._owns_client:
            self.client.close()

    def rejected_batches(self) -> list[Path]:
        """Batches the central refused for good (400, 413, 422), kept in the spool as *.rejected for a
        person."""
        return sorted(self.spool.glob("*.rejected"))

    def stats(self) -> dict[str, Any]:
        return {
            "sent_batches": self.sent_batches,
            "pending_batches": self.pending_batches(),
            "dropped_batches": self.dropped_batches,
            "next_seq": self._next_seq,
        }
