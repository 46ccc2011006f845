"""Imports flow one way: collector <- analyzer <- store <- api. The analyzer never loads scapy.

The store (persistence, the run loop, the central's background analysis) never imports the HTTP
layer, so a sensor and the CLI run without FastAPI.

An AST walk over every module (static), plus a subprocess check that importing the analyzer
and running an analysis does not pull scapy into sys.modules (dynamic).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

FORBIDDEN: dict[str, tuple[str, ...]] = {
    "collector": ("analyzer", "store", "api", "sqlmodel", "fastapi", "sqlalchemy"),
    "analyzer": ("store", "api", "scapy", "sqlmodel", "fastapi", "sqlalchemy", "pyshark", "dpkt"),
    "store": ("api", "fastapi", "starlette", "uvicorn", "jinja2", "rich", "typer"),
}
# The analyzer may use only the documented records of the collector.
# collector.yamlsafe: the one strict YAML loader, which the collector needs for its own tables.
ANALYZER_ALLOWED_COLLECTOR = ("collector.schema", "collector.datafiles", "collector.yamlsafe")


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def _modules(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_imports_point_one_way(package: str) -> None:
    bad: list[str] = []
    for path in _modules(package):
        for line, name in _imports(path):
            top = name.split(".")[0]
            if top in FORBIDDEN[package]:
                bad.append(f"{path.relative_to(REPO)}:{line} imports {name}")
            if package == "analyzer" and top == "collector" and not name.startswith(ANALYZER_ALLOWED_COLLECTOR):
                bad.append(f"{path.relative_to(REPO)}:{line} imports {name} (only collector.schema and collector.yamlsafe allowed)")
    assert not bad, "\n".join(bad)


def test_packages_exist() -> None:
    for name in ("collector", "analyzer", "store", "api", "rules", "pcaps", "tests"):
        assert (REPO / name).is_dir(), name


def test_analyzer_does_not_load_scapy_at_runtime() -> None:
    code = (
        "import sys, analyzer, analyzer.models, analyzer.sheets\n"
        "import importlib, pkgutil\n"
        "for m in pkgutil.walk_packages(analyzer.__path__, 'analyzer.'):\n"
        "    importlib.import_module(m.name)\n"
        "assert 'scapy' not in sys.modules, sorted(k for k in sys.modules if k.startswith('scapy'))\n"
        "assert 'api' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
