"""Jinja templates compiled once per process, however many environments render them.

Every web app (`api.main.create_app`: one in a server, hundreds in the test suite) and the report
builder (api.reports) make their own Jinja environment, and each compiled every template again on its
first rendering: 0.1 to 0.2 s a page, ten to twenty times the rendering itself.  `COMPILED` is a
bytecode cache kept in memory (Jinja's own mechanism, jinja2.BytecodeCache) that they all pass: a
template is still loaded and checked by each environment, only its compiled code is reused, and a
changed source has another checksum, so it is compiled anew.  Only environments built alike share it
(the same template folder, autoescape on): compiled code depends on those settings.
"""

from __future__ import annotations

import threading

from jinja2.bccache import Bucket, BytecodeCache


class MemoryBytecode(BytecodeCache):
    """Compiled templates by template key (name and file) and source checksum, in this process's memory."""

    def __init__(self) -> None:
        self._codes: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def load_bytecode(self, bucket: Bucket) -> None:
        with self._lock:
            code = self._codes.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)  # a code of another source checksum resets the bucket

    def dump_bytecode(self, bucket: Bucket) -> None:
        code = bucket.bytecode_to_string()
        with self._lock:
            self._codes[bucket.key] = code


COMPILED = MemoryBytecode()
"""The cache the web UI's and the reports' environments share."""
