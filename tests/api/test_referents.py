"""Referents' digests through a real local SMTP server (aiosmtpd) and a real HTTP receiver: the first
look records the perimeter, a later analysis that brings new devices and findings sends one digest
with links to the UI, nothing is sent twice, and an SMTP outage keeps the changes for the next look."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

DEMO = REPO / "pcaps" / "demo"
UI = "https://medtap.hospital.example"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Mailbox:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd)
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[_Mailbox, int, Any]]:
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    box = _Mailbox()
    port = _free_port()
    controller = aiosmtpd.Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port, controller
    finally:
        controller.stop()


@pytest.fixture
def receiver() -> Iterator[tuple[list[dict[str, Any]], str]]:
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            got.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield got, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def _replay(db_url: str, names: list[str]) -> None:
    from analyzer.site import load_site
    from store.loop import ReplayOptions, run_replay

    run_replay(ReplayOptions(paths=[DEMO / n for n in names], db_url=db_url, site=load_site(DEMO / "site.yaml"),
                             sheets=DEMO / "sheets.csv"))


def test_referents_get_one_digest_of_the_changes(smtp: tuple[_Mailbox, int, Any],
                                                 receiver: tuple[list[dict[str, Any]], str], tmp_path: Path) -> None:
    from api.referents import ReferentDigests
    from api.settings import Settings
    from store.db import make_engine
    from store.service import list_devices, list_findings

    box, port, _ = smtp
    hooks, hook_url = receiver
    db_url = f"sqlite:///{tmp_path / 'central.db'}"
    _replay(db_url, ["demo-core.pcap"])
    settings = Settings(db_url=db_url, auto_analyze=False, public_url=UI, smtp_host="127.0.0.1", smtp_port=port,
                        smtp_from="medtap@hospital.example", webhook_spool=tmp_path / "spool",
                        webhook_backoff=0.05,
                        referents={"biomedical": {"emails": ["biomed@hospital.example", "j.martin@hospital.example"],
                                                  "webhook": hook_url}})
    engine = make_engine(db_url)
    digests = ReferentDigests(engine, settings)
    try:
        assert digests.run_once() == {}  # the first look records the perimeter: nothing to tell yet
        assert box.envelopes == []
        from sqlmodel import Session

        with Session(engine) as session:
            before_devices = {d.mac for d in list_devices(session, limit=10_000)[0]}
            before_findings = {f.id for f in list_findings(session, limit=10_000)[0]}
        _replay(db_url, ["demo-core.pcap", "demo-clinical.pcap", "demo-remote.pcap"])
        sent = digests.run_once()
        assert sent.get("biomedical", 0) > 0
        assert len(box.envelopes) == 1
        envelope = box.envelopes[0]
        assert envelope.mail_from == "medtap@hospital.example"
        assert sorted(envelope.rcpt_tos) == ["biomed@hospital.example", "j.martin@hospital.example"]
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = mail.get_content()
        assert str(mail["Subject"]).strip().startswith("[medtap] biomedical: ")
        with Session(engine) as session:
            devices = list_devices(session, limit=10_000)[0]
            findings = list_findings(session, limit=10_000, service="biomedical")[0]
        new_devices = [d for d in devices if d.mac not in before_devices and d.service == "biomedical"
                       and not d.is_router]
        new_findings = [f for f in findings if f.id not in before_findings and f.status == "open"]
        assert new_devices and new_findings
        for d in new_devices:
            assert f"{UI}/devices/{d.mac}" in body
        for f in new_findings:
            assert f"{UI}/findings/{f.id}" in body
        assert all(f"/findings/{fid}" not in body for fid in before_findings)  # told once, not again
        assert "First response: " in body
        # the same digest as JSON to the service's webhook
        digests.stop()  # drains the webhook queue
        assert [h["type"] for h in hooks] == ["digest"]
        assert {i["id"] for i in hooks[0]["items"]["new_findings"]} == {f.id for f in new_findings}
        # no new analysis: nothing more
        digests = ReferentDigests(engine, settings)
        assert digests.run_once(force=True) == {} and len(box.envelopes) == 1
    finally:
        digests.stop()
        engine.dispose()


def test_an_smtp_outage_keeps_the_changes_for_the_next_look(smtp: tuple[_Mailbox, int, Any],
                                                            tmp_path: Path) -> None:
    from api.referents import ReferentDigests
    from api.settings import Settings
    from store.db import make_engine

    box, port, _ = smtp
    db_url = f"sqlite:///{tmp_path / 'central.db'}"
    _replay(db_url, ["demo-core.pcap"])
    down = Settings(db_url=db_url, auto_analyze=False, public_url=UI, smtp_host="127.0.0.1",
                    smtp_port=_free_port(), referents={"biomedical": {"emails": ["biomed@hospital.example"]}})
    engine = make_engine(db_url)
    try:
        digests = ReferentDigests(engine, down)
        digests.run_once()
        _replay(db_url, ["demo-core.pcap", "demo-clinical.pcap"])
        assert digests.run_once() == {} and digests.failed == 1 and "SMTP 127.0.0.1" in (digests.last_error or "")
        up = ReferentDigests(engine, down.model_copy(update={"smtp_port": port}))
        assert up.run_once().get("biomedical", 0) > 0 and len(box.envelopes) == 1
    finally:
        engine.dispose()


def test_digest_items_new_reopened_and_device_changes() -> None:
    """The comparison itself (analyzer.referents), on hand-made records."""
    from analyzer.models import Device, Fact, Finding
    from analyzer.referents import digest_items, state

    def finding(fid: str, status: str) -> Finding:
        return Finding(id=fid, rule="cleartext-admin", severity="high", title="T", service="biomedical",
                       subject=fid, status=status, playbook="Do this first.")  # type: ignore[arg-type]

    pump = Device(mac="02:00:00:00:00:01", hostname="PUMP-1", service="biomedical", ips=["192.0.2.1"],
                  peers=["192.0.2.9"], protocols=["http/server"],
                  facts=[Fact(attribute="software", value="1.0", source="lldp-med", first_seen=0, last_seen=0)])
    office = Device(mac="02:00:00:00:00:02", service="it")
    before = state([pump, office], [finding("MT-a", "resolved"), finding("MT-b", "open")], "biomedical")
    upgraded = pump.model_copy(update={
        "peers": ["192.0.2.9", "192.0.2.10"], "protocols": ["http/server", "telnet/server"],
        "facts": [*pump.facts, Fact(attribute="software", value="1.1", source="lldp-med", first_seen=1,
                                    last_seen=1)]})
    upgraded = upgraded.model_copy(update={"os": "Linux"})  # a first OS guess is not a version change
    monitor = Device(mac="02:00:00:00:00:03", hostname="MON-1", service="biomedical")
    findings = [finding("MT-a", "open"), finding("MT-b", "open"), finding("MT-c", "open"),
                finding("MT-d", "risk-accepted")]
    now = state([upgraded, office, monitor], findings, "biomedical")
    items = digest_items(before, now, findings, "biomedical")
    assert [i["id"] for i in items["new_findings"]] == ["MT-c"]
    assert [i["id"] for i in items["reopened_findings"]] == ["MT-a"]
    assert items["new_devices"] == [{"mac": "02:00:00:00:00:03", "name": "MON-1"}]
    assert items["version_changes"] == [{"mac": pump.mac, "name": "PUMP-1", "added": ["software=1.1"]}]
    assert items["new_peers"][0]["added"] == ["192.0.2.10"]
    assert items["new_services"][0]["added"] == ["telnet/server"]
    assert digest_items(now, now, findings, "biomedical") == {k: [] for k in items}


def test_the_central_starts_the_digests_only_when_referents_are_set(tmp_path: Path) -> None:
    from api.main import create_app
    from api.settings import Settings

    plain = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'a.db'}", auto_analyze=False))
    assert plain.state.referents is None
    with_referents = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'b.db'}", auto_analyze=False,
                                         referents={"it": {"emails": ["dsi@hospital.example"]}}))
    assert with_referents.state.referents is not None
    assert with_referents.state.referents.settings.referents["it"].emails == ["dsi@hospital.example"]
