"""Headless Chromium for the web UI tests: the app served by uvicorn on 127.0.0.1, Playwright driving /usr/bin/chromium.

The browser binary is the Debian package (never `playwright install`).  When it is
missing the tests fail in CI (env CI set) and are skipped elsewhere.  Every page
records its console errors; `finish()` saves a screenshot under tests/artifacts/
(the window; the whole page when there were errors) and asserts there were none.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests import needs
from tests.api.ui_seed import Seeded, build_app, demo_available

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        needs.missing(str(CHROMIUM), "apt-get install chromium")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    seeded: Seeded


def _serve(seeded: Seeded) -> Iterator[Server]:
    """`seeded.app` served by uvicorn on a free 127.0.0.1 port until the generator is closed."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(seeded.app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="ui-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield Server(url=f"http://127.0.0.1:{port}", seeded=seeded)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _require_chromium()
    # The demo hospital replayed through collector -> service -> analyzer when it is there, else hand-built rows.
    seeded = build_app(tmp_path_factory.mktemp("ui") / "browser.db", demo=demo_available())
    yield from _serve(seeded)


@pytest.fixture(scope="session")
def big_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The generated 2,000-device hospital (tests.api.big_hospital), served once per test session."""
    _require_chromium()
    from tests.api.big_hospital import big_app

    yield from _serve(big_app(tmp_path_factory.mktemp("big") / "big.db"))


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Tab:
    """One browser page plus what it logged."""

    page: Any
    base: str
    server: Server
    errors: list[str] = field(default_factory=list)

    def db(self) -> Any:
        from sqlmodel import Session

        return Session(self.server.seeded.app.state.engine)

    def go(self, path: str) -> Any:
        return self.page.goto(self.base + path)

    def sign_in(self, role: str = "admin", path: str = "/") -> None:
        self.go(path)
        self.page.fill("#token", self.server.seeded.tokens[role])
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state()

    def forgive_status(self, status: int) -> None:
        """Drop only Chromium's own log line for a page answered with `status` (a refused form is expected)."""
        line = f"the server responded with a status of {status}"
        self.errors[:] = [e for e in self.errors if line not in e]

    def finish(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        # the window as a person sees it; the whole page when there is an error to look into (a full-page
        # shot of the hospital-size tables costs 0.3-0.5 s, a window 0.1 s)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=bool(self.errors))
        assert not self.errors, f"console errors: {self.errors}"


@pytest.fixture
def tab(ui_server: Server, chromium: Any) -> Iterator[Tab]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(10_000)
    tab = Tab(page=page, base=ui_server.url, server=ui_server)
    page.on("console", lambda msg: tab.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    yield tab
    context.close()


@pytest.fixture
def big_tab(big_server: Server, chromium: Any) -> Iterator[Tab]:
    """A browser page on the 2,000-device hospital (sign in with `big_tab.sign_in(role)`)."""
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    tab = Tab(page=page, base=big_server.url, server=big_server)
    page.on("console", lambda msg: tab.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    yield tab
    context.close()
