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
        assert str(mail["Subject"]).strip().startswith("[medtap] biomédical : ")  # French by default
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
        assert "Premiers gestes : " in body and "First response" not in body
        assert "Nouveaux constats (" in body and "New findings" not in body
        assert all(f.title_fr in body for f in new_findings if f.title_fr)
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


def test_intervention_verdicts_are_told_once_and_again_when_they_change() -> None:
    """Issue 17 gap 1: a decided verdict on a device of the perimeter is an item (with its changes); told
    once; a later different verdict is told again; pending ones and other services' devices are not."""
    from analyzer.models import Device
    from analyzer.referents import digest_items, state

    pump = Device(mac="02:00:00:00:00:01", hostname="PUMP-1", service="biomedical")
    office = Device(mac="02:00:00:00:00:02", hostname="PC-1", service="it")
    diff = {"peers_removed": ["192.0.2.9"], "services_added": ["tcp/80"], "seen_before": True}
    verdicts = {"1": {"mac": pump.mac, "kind": "update", "at": "2026-03-02T14:30:00+00:00",
                      "verdict": "unchanged", "changes": [], "diff": None},
                "2": {"mac": office.mac, "kind": "update", "at": "2026-03-02T14:30:00+00:00",
                      "verdict": "changed", "changes": ["x"], "diff": diff}}
    before = state([pump, office], [], "biomedical")
    now = state([pump, office], [], "biomedical", verdicts)
    items = digest_items(before, now, [], "biomedical", verdicts)
    assert [(i["id"], i["name"], i["verdict"]) for i in items["intervention_verdicts"]] == [
        (1, "PUMP-1", "unchanged")]
    assert digest_items(now, now, [], "biomedical", verdicts)["intervention_verdicts"] == []
    changed = {**verdicts, "1": {**verdicts["1"], "verdict": "changed", "changes": ["peers lost: 192.0.2.9"],
                                 "diff": diff}}
    later = state([pump, office], [], "biomedical", changed)
    [item] = digest_items(now, later, [], "biomedical", changed)["intervention_verdicts"]
    assert item["verdict"] == "changed" and item["diff"] == diff
    legacy = {k: v for k, v in before.items() if k != "interventions"}  # a state saved before gap 1
    assert digest_items(legacy, now, [], "biomedical", verdicts)["intervention_verdicts"] == []


def test_the_security_referents_see_every_service() -> None:
    """`security` (the security officer): every service's devices, findings and verdicts, one digest."""
    from analyzer.models import Device, Finding
    from analyzer.referents import digest_items, state
    from api.referents import digest_message

    pump = Device(mac="02:00:00:00:00:01", hostname="PUMP-1", service="biomedical")
    office = Device(mac="02:00:00:00:00:02", hostname="PC-1", service="it")
    findings = [Finding(id=f"MT-{s}", rule="r", severity="high", title="T", service=s, subject=s,  # type: ignore[arg-type]
                        status="open") for s in ("biomedical", "it")]
    before = state([], [], "security")
    now = state([pump, office], findings, "security")
    assert set(now["devices"]) == {pump.mac, office.mac}
    assert set(now["findings"]) == {"MT-biomedical", "MT-it"}
    items = digest_items(before, now, findings, "security")
    assert [d["name"] for d in items["new_devices"]] == ["PUMP-1", "PC-1"] and len(items["new_findings"]) == 2
    assert set(state([pump, office], findings, "it")["devices"]) == {office.mac}
    mail = digest_message("security", items, public_url=UI, sender="m@hospital.example",
                          to=["rssi@hospital.example"])
    assert str(mail["Subject"]).startswith("[medtap] sécurité : 2 constat(s)")
    assert mail.get_content().rstrip().endswith(f"{UI}/findings")


def test_digest_mail_in_french_by_default_and_in_english_by_setting() -> None:
    """Issue 17 gap 2: the texts come from the UI's catalogue and the rule's French fields."""
    from api.referents import digest_message

    items = {"new_findings": [{"id": "MT-1", "rule": "cleartext-admin", "severity": "high",
                               "title": "Cleartext administration", "title_fr": "Administration en clair",
                               "subject": "a->b", "playbook": "Change the passwords.",
                               "playbook_fr": "Changer les mots de passe."}],
             "intervention_verdicts": [{"id": 3, "mac": "02:00:00:00:00:01", "name": "PUMP-1",
                                        "kind": "update",
                                        "at": "2026-03-02T14:30:00+00:00", "verdict": "changed",
                                        "changes": [], "diff": {"peers_removed": ["192.0.2.9"],
                                                                "seen_before": True}}]}
    kw: dict[str, Any] = {"public_url": UI, "sender": "m@hospital.example", "to": ["b@hospital.example"]}
    fr = digest_message("biomedical", items, **kw)
    body = fr.get_content()
    assert fr["Subject"] == ("[medtap] biomédical : 1 constat(s) nouveau(x) ou rouvert(s), "
                             "1 changement(s) d'équipement")
    assert "[élevée] Administration en clair (a->b)" in body
    assert "Premiers gestes : Changer les mots de passe." in body
    assert "Vérifications après une intervention (1) :" in body
    assert "PUMP-1 (02:00:00:00:00:01) : Mise à jour le 2026-03-02 14:30 UTC : modifié" in body
    assert "correspondants disparus: 192.0.2.9" in body
    assert f"{UI}/devices/02:00:00:00:00:01#interventions" in body
    en = digest_message("biomedical", items, lang="en", **kw).get_content()
    assert "[high] Cleartext administration (a->b)" in en and "First response: Change the passwords." in en
    assert "PUMP-1 (02:00:00:00:00:01): Update at 2026-03-02 14:30 UTC: changed" in en
    assert "peers lost: 192.0.2.9" in en
    assert "Administration en clair" not in en


def test_the_central_runs_the_digests_with_the_policy_or_the_setting(tmp_path: Path) -> None:
    """The digest thread always runs (the referents may come with a site policy stored later); without
    referents in the setting or the policy a look sends nothing."""
    from sqlmodel import Session

    from api.main import create_app
    from api.settings import Settings

    plain = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'a.db'}", auto_analyze=False))
    with Session(plain.state.engine) as session:
        assert plain.state.referents.referents(session) == {}
    assert plain.state.referents.run_once(force=True) == {}
    with_referents = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'b.db'}", auto_analyze=False,
                                         referents={"it": {"emails": ["dsi@hospital.example"]}}))
    with Session(with_referents.state.engine) as session:
        assert with_referents.state.referents.referents(session)["it"].emails == ["dsi@hospital.example"]


def test_referents_in_the_site_policy_validated_with_their_line_and_the_setting_wins() -> None:
    """Issue 17 gap 3: `referents:` in site.yaml, each error with its line; MEDTAP_REFERENTS replaces the
    policy's entry for the services it names, the others keep the policy's."""
    from analyzer.site import Referents, SiteError, parse_site, referents_in_force

    text = ("site: t\nreferents:\n  biomedical:\n    emails: [biomed@hospital.example, nobody]\n"
            "    webhook: ftp://hooks.example/x\n  pharmacy:\n    emails: [pharma@hospital.example]\n")
    with pytest.raises(SiteError) as err:
        parse_site(text)
    lines = str(err.value).splitlines()
    assert "site.yaml:4: referents.biomedical.emails: not an e-mail address: 'nobody'" in lines
    assert "site.yaml:5: referents.biomedical.webhook: not an http(s) URL: 'ftp://hooks.example/x'" in lines
    assert any(line.startswith("site.yaml:6: referents.pharmacy") and "'it' or 'security'" in line
               for line in lines)
    policy = parse_site("referents:\n  biomedical:\n    emails: [biomed@hospital.example]\n"
                        "  it:\n    emails: [dsi@hospital.example]\n    webhook: https://hooks.example/it\n")
    setting = {"it": Referents(emails=["astreinte@hospital.example"])}
    merged = referents_in_force(policy, setting)
    assert merged["biomedical"].emails == ["biomed@hospital.example"]
    assert merged["it"].emails == ["astreinte@hospital.example"] and merged["it"].webhook is None
    assert referents_in_force(None, setting) == setting and referents_in_force(policy)["it"].webhook


def test_an_intervention_verdict_reaches_the_referents_named_in_the_site_policy(
        smtp: tuple[_Mailbox, int, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issues 17 gaps 1 and 3 end to end through a real SMTP server: the referents come from site.yaml
    only; after an update of the CT (it stops sending HL7 results and now serves tcp/80), the next digest
    tells the verdict "changed" with the list, in French."""
    import datetime as dt

    from typer.testing import CliRunner

    from analyzer.sheets import Interface, Server, Sheet
    from api.cli import app
    from api.referents import ReferentDigests
    from api.settings import Settings
    from pcaps.fixtures.gen_diff import CT, HL7_ENGINE, INTERVENTION_AT, PACS
    from store.db import make_engine, session_for
    from store.interventions import add_intervention
    from store.service import create_sheet

    monkeypatch.setenv("MEDTAP_INTERVENTION_WINDOW_HOURS", "1")
    box, port, _ = smtp
    site = tmp_path / "site.yaml"
    site.write_text((REPO / "pcaps/fixtures/site-rules.yaml").read_text(encoding="utf-8")
                    + "\nreferents:\n  biomedical:\n    emails: [biomed@hospital.example]\n",
                    encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'm.db'}"
    cli = CliRunner()
    capture = REPO / "pcaps/fixtures/rule-post-intervention-change-positive.pcap"
    assert cli.invoke(app, ["replay", str(capture), "--db", db, "-q", "--site", str(site)]).exit_code == 0
    with session_for(db) as session:
        create_sheet(session, Sheet(id="SH-CT", software_name="CT console", mac=CT[0],
                                    responsibility="biomedical",
                                    interfaces=[Interface(peer=HL7_ENGINE[1], protocol="hl7")],
                                    servers=[Server(name=PACS[1], role="pacs")]), actor="test")
    assert cli.invoke(app, ["analyze", "--db", db]).exit_code == 0
    settings = Settings(db_url=db, auto_analyze=False, public_url=UI, smtp_host="127.0.0.1", smtp_port=port,
                        webhook_spool=tmp_path / "spool")
    engine = make_engine(db)
    digests = ReferentDigests(engine, settings)
    try:
        assert digests.run_once() == {}  # the reference
        with session_for(db) as session:
            add_intervention(session, device=CT[0], kind="update", by="Supplier tech", actor="test",
                             at=dt.datetime.fromtimestamp(INTERVENTION_AT, dt.UTC))
        assert digests.run_once(force=True).get("biomedical") == 1
        [envelope] = box.envelopes
        assert envelope.rcpt_tos == ["biomed@hospital.example"]
        body = email.message_from_bytes(envelope.content, policy=email.policy.default).get_content()
        assert "Vérifications après une intervention (1) :" in body
        assert f"({CT[0]}) : Mise à jour le " in body and ": modifié" in body
        assert f"correspondants disparus: {HL7_ENGINE[1]}" in body and "services apparus: tcp/80" in body
        assert digests.run_once(force=True) == {} and len(box.envelopes) == 1  # told once
    finally:
        digests.stop()
        engine.dispose()
