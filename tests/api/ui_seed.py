"""A small demo hospital for the web UI tests (httpx and Chromium), stored through the service layer.

When the analyzer engine and the demo captures exist, the database is filled by
replaying pcaps/demo/*.pcap (collector.pipeline.replay -> service.store_observations
-> service.reanalyze); otherwise a hand-built inventory (CT scanner, PACS, Wi-Fi
pump, monitor, office PC) with its conversations and four findings is stored
with the same service functions.  Tokens are created with api.auth.create_token.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlmodel import Session

from analyzer.models import Device, Evidence, Finding, Stats
from analyzer.sheets import Sheet
from collector.schema import Conversation
from tests.keys import TEST_KEY

REPO = Path(__file__).resolve().parents[2]
T0 = 1_767_000_000.0

CT, PACS, PUMP, MONITOR, OFFICE = (f"00:1b:00:00:00:0{i}" for i in range(1, 6))
DEVICES = [
    Device(mac=CT, ips=["10.10.110.5"], vlans=[110], zone="imaging", zone_kind="dm", is_dm=True, hostname="CT-SCAN-01",
           vendor="Siemens Healthineers", role="imaging-modality", os="Windows 7", os_eol=True, service="biomedical",
           protocols=["dicom/client", "rdp/server"], peers=["10.50.0.20", "203.0.113.7"], first_seen=T0, last_seen=T0 + 3600,
           sheet_id="SH-CT", sheet_match="mac", switch_port="sw-img-1 Gi1/0/5", connection="wired"),
    Device(mac=PACS, ips=["10.50.0.20"], vlans=[50], zone="servers", zone_kind="servers", hostname="PACS", role="pacs",
           protocols=["dicom/server"], first_seen=T0, last_seen=T0 + 3600, connection="wired"),
    Device(mac=PUMP, ips=["10.30.0.9"], vlans=[300], zone="wifi", zone_kind="wifi", is_dm=True, role="infusion-pump",
           connection="wifi", vendor="B. Braun", service="biomedical", first_seen=T0, last_seen=T0 + 3000),
    Device(mac=MONITOR, ips=["10.10.120.7"], vlans=[120], zone="monitoring", zone_kind="dm", is_dm=True,
           hostname="MON-ICU-07", role="patient-monitor", service="biomedical", first_seen=T0, last_seen=T0 + 3600),
    Device(mac=OFFICE, ips=["10.20.0.15"], vlans=[200], zone="office", zone_kind="office", hostname="PC-ACCUEIL",
           role="workstation", os="Windows 10", first_seen=T0, last_seen=T0 + 1200),
]
# (client, server, port, app, client mac, server mac)
CONVERSATIONS = [
    ("10.10.110.5", "10.50.0.20", 104, "dicom", CT, PACS),
    ("10.10.110.5", "203.0.113.7", 443, "tls", CT, None),
    ("10.30.0.9", "10.50.0.20", 2575, None, PUMP, PACS),
    ("10.20.0.15", "10.10.120.7", 80, "http", OFFICE, MONITOR),
]


def _finding(fid: str, rule: str, severity: str, title: str, title_fr: str, *, ips: list[str], devices: list[str],
             zone: str, service: str = "biomedical", text: str = "") -> Finding:
    return Finding(id=fid, rule=rule, severity=severity, title=title, title_fr=title_fr, subject="-".join(ips) or devices[0],
                   ips=ips, devices=devices, zone=zone, service=service, first_seen=T0 + 10, last_seen=T0 + 3000,
                   recommendation="Block the flow at the zone firewall; allow it through an approved conduit only.",
                   evidence=[Evidence(source="demo.pcap", frame_no=42, ts=T0 + 10, text=text or " -> ".join(ips))])


FINDINGS = [
    _finding("MT-dminternet01", "dm-internet", "high", "Medical device talks to the Internet",
             "Dispositif médical en communication avec Internet", ips=["10.10.110.5", "203.0.113.7"], devices=[CT],
             zone="imaging", text="10.10.110.5 -> 203.0.113.7:443/tcp (TLS)"),
    _finding("MT-crosszone001", "cross-zone-flow", "medium", "Flow between zones without a conduit",
             "Flux entre zones sans conduit autorisé", ips=["10.20.0.15", "10.10.120.7"], devices=[OFFICE, MONITOR],
             zone="office", service="it", text="10.20.0.15 -> 10.10.120.7:80/tcp"),
    _finding("MT-undeclared01", "undeclared-device", "medium", "Medical device without an identification sheet",
             "Dispositif médical sans fiche d'identification", ips=["10.30.0.9"], devices=[PUMP], zone="wifi"),
    _finding("MT-eolos000001", "os-end-of-life", "low", "Operating system out of support",
             "Système d'exploitation hors support", ips=["10.10.110.5"], devices=[CT], zone="imaging", service="it"),
]
SHEETS = [
    Sheet(id="SH-CT", software_name="Syngo CT", software_version="VB20", supplier="Siemens Healthineers", mac=CT,
          ip="10.10.110.5", vlan=120, connection="wired", workstation="CT-SCAN-01", os_name="Windows", os_version="7",
          interfaces=[{"peer": "PACS", "protocol": "dicom", "port": 104}], remote_maintenance={"method": "none"},
          biomedical_referent="biomed@demo-hospital.example", last_review=dt.date(2025, 3, 1)),
    Sheet(id="SH-LAB", software_name="Lab analyser", supplier="Roche", ip="10.10.130.51", vlan=130),
]


@dataclass
class Seeded:
    app: FastAPI
    tokens: dict[str, str] = field(default_factory=dict)
    demo: bool = False


def _seed_rows(session: Session) -> None:
    from store import records as store, service

    store.store_observations(session, [
        Conversation(ts=T0 + 10, sensor="sensor-a", source="demo.pcap", client_ip=c, server_ip=s, server_port=p,
                     transport="tcp", app=a, client_mac=cm, server_mac=sm, first_ts=T0 + 10, last_ts=T0 + 3000,
                     packets_c2s=10, packets_s2c=8, syn_seen=True)
        for c, s, p, a, cm, sm in CONVERSATIONS], sensor="sensor-a")
    run = store.start_run(session, sources=["demo.pcap"], sensor="sensor-a")
    store.save_devices(session, DEVICES)
    store.save_findings(session, FINDINGS, today=dt.date.today())
    store.finish_run(session, run, Stats(packets=12345, first_ts=T0, last_ts=T0 + 3600, files=["demo.pcap"]))
    session.commit()
    for sheet in SHEETS:
        service.create_sheet(session, sheet, actor="seed")


DEMO = REPO / "pcaps" / "demo"


def demo_available() -> bool:
    """The demo captures, site and sheets exist and the analyzer engine imports."""
    try:
        import analyzer.engine  # noqa: F401
        import collector.pipeline  # noqa: F401
    except ImportError:
        return False
    return bool(sorted(DEMO.glob("*.pcap"))) and (DEMO / "site.yaml").is_file() and (DEMO / "sheets.csv").is_file()


class _StoreSink:
    """collector sink -> store.service.store_observations, batch by batch."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def emit(self, batch: list[Any]) -> None:
        from store.service import store_observations

        store_observations(self.session, batch, sensor="demo-sensor")

    def close(self) -> None:
        return None


def _seed_demo(session: Session) -> None:
    """Replay the demo hospital captures, import its sheets, analyze with its site policy."""
    from analyzer.site import load_site
    from collector.pipeline import replay
    from store import service

    service.import_sheets(session, DEMO / "sheets.csv", fmt="csv", actor="seed")
    replay(sorted(DEMO.glob("*.pcap")), _StoreSink(session), sensor="demo-sensor", key=TEST_KEY)
    service.reanalyze(session, site=load_site(DEMO / "site.yaml"), sources=[p.name for p in sorted(DEMO.glob("*.pcap"))])


_TEMPLATES: dict[bool, tuple[Path, dict[str, str]]] = {}
"""Seeded database files by `demo`, built once per test process (migrating and seeding cost about a second)."""


def _keep_template(db_path: Path, tokens: dict[str, str]) -> tuple[Path, dict[str, str]]:
    folder = tempfile.mkdtemp(prefix="medtap-seed-")
    atexit.register(shutil.rmtree, folder, True)
    copy = Path(folder) / db_path.name
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(db_path, copy)
    return copy, dict(tokens)


def build_app(db_path: Path, *, secret: str = "ui-test-secret-" + "x" * 24, demo: bool = False, **settings_kw: Any) -> Seeded:
    """create_app on a fresh SQLite file, seeded (hand-built, or the demo replay), with one token per role.

    `settings_kw`: more api.settings.Settings values (e.g. short session timeouts).
    """
    from api.auth import create_token
    from api.settings import Settings
    from store.db import make_engine
    from store.service import init_db

    # a hand-built inventory has no facts behind it: no background analysis rebuilding it mid-test
    settings_kw.setdefault("auto_analyze", demo)
    settings = Settings(db_url=f"sqlite:///{db_path}", secret_key=secret, **settings_kw)
    template = _TEMPLATES.get(demo)
    if template is None or db_path.exists():
        engine = make_engine(settings.db_url)
        init_db(engine)
        with Session(engine) as session:
            _seed_demo(session) if demo else _seed_rows(session)
            tokens = {role: create_token(session, role=role, name=f"{role}-user")
                      for role in ("admin", "biomedical", "viewer", "sensor")}
        engine.dispose()
        if template is None and not db_path.with_name(db_path.name + "-wal").exists():
            _TEMPLATES[demo] = _keep_template(db_path, tokens)
    else:  # the same seed, built once per test process: a copy of its file
        shutil.copyfile(template[0], db_path)
        tokens = dict(template[1])
    try:
        from api.main import create_app
    except ImportError:  # the API factory is not there yet: the UI alone on the same engine
        from api.web import install_web

        app = FastAPI()
        app.state.engine = make_engine(settings.db_url)
        install_web(app, settings)
    else:
        app = create_app(settings)
    return Seeded(app=app, tokens=tokens, demo=demo)
