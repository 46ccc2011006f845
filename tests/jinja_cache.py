"""Templates compiled once per test process, whatever the number of apps the tests create.

Every `create_app` builds its own Jinja environment, so each test's first rendering of a page compiled
its templates again (0.1-0.2 s a page, 10 to 20 times its rendering).  `install()` gives every
Environment created without a bytecode cache this shared one (Jinja's own mechanism: a template is
still loaded and checked for changes by each environment; only the compiled code is reused, and a
changed source has another checksum, so it is compiled anew).  The application code is unchanged.
"""

from __future__ import annotations

from typing import Any

import jinja2
from jinja2.bccache import Bucket, BytecodeCache


class SharedBytecode(BytecodeCache):
    """Compiled templates in memory, by template and source checksum (jinja2.bccache.Bucket)."""

    def __init__(self) -> None:
        self.codes: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self.codes.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)  # resets the bucket if its checksum is not the source's

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.codes[bucket.key] = bucket.bytecode_to_string()


SHARED = SharedBytecode()


def install() -> None:
    if getattr(jinja2.Environment.__init__, "_medtap_shared", False):
        return
    original = jinja2.Environment.__init__

    def init(self: jinja2.Environment, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("bytecode_cache", SHARED)
        original(self, *args, **kwargs)

    init._medtap_shared = True  # type: ignore[attr-defined]
    jinja2.Environment.__init__ = init  # type: ignore[method-assign]
