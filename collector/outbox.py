"""A worker's messages to its parent, written by a thread so that decoding goes on while the parent is busy.

A replay or capture worker (collector.parallel, collector.fanout) sends its batches over a pipe to
the parent, which merges the workers' periods and stores them.  While the parent stores a period,
it reads no pipe; a pipe holds 1 MiB at most (the kernel's pipe-max-size), less than a period of an
identity-heavy mix, so the workers blocked on `send` and the parent then waited for them in turn:
the two took turns instead of overlapping (on the 300k-frame identity mix, a profile showed each
worker blocked in `send` for 18 % of its time and the parent idle in `wait` for a third of its own).

`Outbox.send` pickles the message in the caller's thread (as `Connection.send` does, so the parent's
`recv` reads it unchanged) and queues the bytes; a daemon thread writes them in order and blocks on
the pipe instead of the caller (a blocked write releases the GIL).  The queue is bounded in bytes
(`limit`): past it, `send` waits, so a parent that falls behind for good slows its workers down
rather than letting their memory grow.  `close()` waits until everything queued is written; a write
that failed (the parent is gone) is raised there and by every later `send`.
"""

from __future__ import annotations

import threading
from collections import deque
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any, Protocol

LIMIT = 64 << 20
"""Bytes of pickled messages a worker may hold waiting for its pipe (64 MiB: several periods of the
identity-heavy bench mix; the worker's peak memory stays well under the command's 500 MiB target)."""


class Sends(Protocol):
    """What a worker's sink sends through: a Connection or an Outbox."""

    def send(self, message: Any) -> None: ...


class Outbox:
    """A connection's sending end with a writer thread (see the module docstring)."""

    def __init__(self, conn: Connection, *, limit: int = LIMIT) -> None:
        self.conn = conn
        self.limit = limit
        self._queue: deque[memoryview] = deque()
        self._queued = 0
        self._closing = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._write, name="medtap-outbox", daemon=True)
        self._thread.start()

    def send(self, message: Any) -> None:
        """Queue `message` (pickled now); waits while more than `limit` bytes are queued."""
        data = ForkingPickler.dumps(message)  # a view of the pickler's buffer: written as is, not copied
        with self._cond:
            while self._queued > self.limit and self._error is None:
                self._cond.wait()
            if self._error is not None:
                raise self._error
            self._queue.append(data)
            self._queued += data.nbytes
            self._cond.notify_all()

    def close(self) -> None:
        """Write everything queued, then stop the writer thread (raises a write's failure)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _write(self) -> None:
        cond, queue = self._cond, self._queue
        while True:
            with cond:
                while not queue and not self._closing:
                    cond.wait()
                if not queue:  # closing, and everything is written
                    return
                data = queue.popleft()
            try:
                self.conn.send_bytes(data)
            except BaseException as exc:  # noqa: BLE001 - raised in the sending thread (send, close)
                with cond:
                    self._error = exc
                    self._queue.clear()
                    self._queued = 0
                    cond.notify_all()
                return
            with cond:
                self._queued -= data.nbytes
                cond.notify_all()
