"""Rules and data tables are package data: a plain (non-editable) install runs `medtap replay` from any folder.

The wheel is built from this checkout without network (the test extras bring setuptools), installed
with `--target` into a temporary folder that comes first on PYTHONPATH, and run from another folder:
its rules must come from the install, not from the checkout.  A missing table is an error naming it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

# one worker builds the wheel once for both tests: two workers building it at once in the checkout's build/
# folder collide ("File exists: build/bdist...")
pytestmark = pytest.mark.xdist_group("packaging")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    # built from a copy of the checkout's files (tracked, or new and not ignored), as a fresh clone would be:
    # no stale build/ folder of an earlier build or of an editable install can leak into the wheel
    source = tmp / "source"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp / "dist"), str(source)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = (tmp / "dist").glob("medtap-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"rules/vendors.yaml", "rules/signatures/remote_access.yaml", "rules/segmentation/flat-network.yaml",
            "store/migrations/versions/0002_facts.py"} <= names
    assert "rules/ieee_mac_blocks.tsv" in names
    site = tmp / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                              str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-2000:]
    return site


def _run(site: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "MEDTAP_RULES_DIR"}
    environ.update(PYTHONPATH=str(site), **env)
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=environ)


def test_an_installed_medtap_replays_from_any_folder(installed: Path, tmp_path: Path) -> None:
    where = _run(installed, tmp_path, "-c", "from collector.datafiles import rules_dir; print(rules_dir())")
    assert where.returncode == 0 and Path(where.stdout.strip()).is_relative_to(installed), where.stdout + where.stderr
    demo = REPO / "pcaps" / "demo"
    run = _run(installed, tmp_path, "-m", "api.cli", "replay", str(demo / "demo-remote.pcap"), "--site",
               str(demo / "site.yaml"), "--db", f"sqlite:///{tmp_path / 'm.db'}", "--report", "r.json", "-q")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "remote-access-unapproved" in (tmp_path / "r.json").read_text()


def test_a_missing_table_is_an_error_naming_it(installed: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    run = _run(installed, tmp_path, "-m", "api.cli", "replay", str(REPO / "pcaps" / "demo" / "demo-remote.pcap"),
               "--db", f"sqlite:///{tmp_path / 'm.db'}", "-q", MEDTAP_RULES_DIR=str(rules))
    assert run.returncode == 1
    assert f"{rules / 'vendors.yaml'}: data table missing" in run.stderr and "Traceback" not in run.stderr
