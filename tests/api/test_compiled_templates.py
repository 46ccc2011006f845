"""api.web.compiled: environments built alike share compiled templates, and a changed template is compiled
again, never served stale."""

from __future__ import annotations

from pathlib import Path

import jinja2

from api.web.compiled import MemoryBytecode


class Counting(MemoryBytecode):
    def __init__(self) -> None:
        super().__init__()
        self.compiled = 0

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.compiled += 1  # Jinja dumps what it had to compile
        super().dump_bytecode(bucket)


def _env(folder: Path, cache: MemoryBytecode) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(folder), autoescape=True, bytecode_cache=cache)


def test_a_second_environment_reuses_the_code_and_a_changed_source_is_compiled_again(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<p>{{ name }}</p>")
    cache = Counting()
    assert _env(tmp_path, cache).get_template("page.html").render(name="<b>") == "<p>&lt;b&gt;</p>"
    assert _env(tmp_path, cache).get_template("page.html").render(name="pompe") == "<p>pompe</p>"
    assert cache.compiled == 1  # the second app compiled nothing
    page.write_text("<li>{{ name }}</li>")
    assert _env(tmp_path, cache).get_template("page.html").render(name="pompe") == "<li>pompe</li>"
    assert cache.compiled == 2
