"""Take docs/map.png: the interactive map on the generated 2,000-device hospital (tests.api.big_hospital).

Not a test: run it by hand after a change of the map (`.venv/bin/python docs/map_screenshot.py`).  It
fills a temporary SQLite database, serves the app on 127.0.0.1, signs in with headless Chromium
(/usr/bin/chromium, Playwright), opens one VLAN group, shows one device's conversations and saves the page.
"""

from __future__ import annotations

import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
sys.path.insert(0, str(REPO))


def main(out: Path = REPO / "docs" / "map.png") -> None:
    import uvicorn
    from playwright.sync_api import sync_playwright

    from tests.api.big_hospital import big_app

    with tempfile.TemporaryDirectory() as tmp:
        seeded = big_app(Path(tmp) / "big.db")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(seeded.app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="en-GB")
                page.set_default_timeout(30_000)
                page.on("console", lambda msg: print("console:", msg.text, file=sys.stderr))
                page.goto(base + "/map")
                page.fill("#token", seeded.tokens["viewer"])
                page.click("button[type=submit]")
                page.wait_for_selector("#cy[data-state=ready]")
                page.evaluate("() => { window.medtapMap.cy.getElementById('g:vlan:210').emit('tap'); }")
                page.wait_for_function("() => window.medtapMap.cy.getElementById('g:vlan:210').isParent()")
                page.wait_for_selector("#cy[data-state=ready]")
                mac = page.evaluate(
                    "() => window.medtapMap.cy.getElementById('g:vlan:210').children()[0].id()")
                page.evaluate(f"() => {{ window.medtapMap.cy.getElementById('{mac}').emit('tap'); }}")
                page.get_by_role("button", name="Show its conversations").click()
                page.wait_for_selector("#map-edges")
                page.wait_for_selector("#cy[data-state=ready]")
                page.evaluate("() => { window.medtapMap.cy.fit(undefined, 20); }")
                page.wait_for_timeout(300)
                page.screenshot(path=str(out), full_page=False)
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    print(out)


if __name__ == "__main__":
    main()
