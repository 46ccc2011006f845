"""A generated hospital of 2,000 devices (or any size) for UI tests and measurements, stored by the store.

Deterministic: the same `size` and `seed` give byte-identical records.  `plan()` builds the hospital in
memory (devices, findings, conversations, sheets, review decisions); `fill(db_url)` stores it with the
store's own functions, exactly as an analysis and the reviewers would:

- conversations as facts (store.records.store_observations, one batch per sensor, so each sensor has a
  last batch), a run (start_run / finish_run);
- the inventory and findings (store.records.save_devices / save_findings), titles, severities,
  services and remediations read from the rule catalogue (rules/);
- sheets imported as a JSON export (store.service.import_sheets), some with a yearly review due;
- review decisions through store.service.set_finding_status (audited): acknowledged, risk-accepted with
  a bounded expiry, false-positive, resolved.

The hospital's segments exercise the map's grouping: zones of the site policy; VLANs that no zone
covers (devices with a VLAN and no zone); untagged subnets with neither (grouped by /24).  Addresses
are private (10/8, 172.16/12) plus RFC 5737 documentation addresses as Internet peers; names and
sheets are synthetic.

    tokens = fill("sqlite:///big.db")            # {"admin": "...", "biomedical": ..., "viewer": ..., ...}
    seeded = big_app(tmp_path / "big.db")        # the same, plus create_app on it (tests.api.ui_seed.Seeded)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.models import Device, Evidence, Finding, Stats
from analyzer.sheets import Sheet
from collector.schema import Conversation

T0 = 1_767_000_000.0  # 2025-12-29, packet times of the whole capture
SPAN = 7 * 86400.0
SIZE = 2000
SEED = 19
SENSORS = ("sensor-north", "sensor-south", "sensor-wifi")


@dataclass(frozen=True)
class Segment:
    """One network segment of the hospital: `share` of the devices, their zone (or none) and VLAN."""

    name: str
    share: float
    net: str  # "10.110" -> hosts 10.110.<i // 250>.<i % 250 + 10>
    vlan: int | None  # None: untagged
    zone: str | None
    zone_kind: str | None
    roles: tuple[str, ...]
    sensor: str
    wifi: bool = False


SEGMENTS: tuple[Segment, ...] = (
    Segment("imaging", 0.08, "10.110", 110, "imaging", "dm", ("imaging-modality", "imaging-workstation"),
            "sensor-north"),
    Segment("monitoring", 0.15, "10.120", 120, "monitoring", "dm", ("patient-monitor", "central-station"),
            "sensor-north"),
    Segment("lab", 0.06, "10.130", 130, "lab", "dm", ("lab-analyzer",), "sensor-north"),
    Segment("wifi-pumps", 0.13, "10.30", 300, "wifi", "wifi", ("infusion-pump",), "sensor-wifi", wifi=True),
    Segment("servers", 0.03, "10.50", 50, "servers", "servers", ("pacs", "server", "hl7-engine"),
            "sensor-north"),
    Segment("office", 0.25, "10.20", 200, "office", "office", ("workstation", "printer"), "sensor-south"),
    Segment("ward-east", 0.125, "10.210", 210, None, None, ("workstation", "patient-monitor", "printer"),
            "sensor-south"),
    Segment("ward-west", 0.10, "10.220", 220, None, None, ("workstation", "infusion-pump", "ip-phone"),
            "sensor-south"),
    Segment("legacy-a", 0.05, "172.16.5", None, None, None, ("lab-analyzer", "workstation"), "sensor-south"),
    Segment("legacy-b", 0.025, "172.16.6", None, None, None, ("imaging-modality", "printer"), "sensor-south"),
)

DM_ROLES = frozenset({"imaging-modality", "imaging-workstation", "patient-monitor", "central-station",
                      "lab-analyzer", "infusion-pump", "pacs", "hl7-engine"})
VENDORS: dict[str, tuple[str, ...]] = {
    "imaging-modality": ("Siemens Healthineers", "GE HealthCare", "Philips", "Canon Medical"),
    "imaging-workstation": ("Siemens Healthineers", "Philips"),
    "patient-monitor": ("Philips", "Dräger", "Mindray", "Nihon Kohden"),
    "central-station": ("Philips", "Dräger"),
    "lab-analyzer": ("Roche", "Abbott", "Sysmex", "Beckman Coulter"),
    "infusion-pump": ("B. Braun", "Fresenius Kabi", "BD"),
    "pacs": ("Agfa", "Sectra"), "hl7-engine": ("InterSystems",), "server": ("Dell", "HPE"),
    "workstation": ("Dell", "HP", "Lenovo"), "printer": ("Lexmark", "Brother"),
    "ip-phone": ("Cisco", "Alcatel"),
}
PREFIX = {"imaging-modality": "IMG", "imaging-workstation": "IWS", "patient-monitor": "MON",
          "central-station": "CST", "lab-analyzer": "LAB", "infusion-pump": "PMP", "pacs": "PACS",
          "hl7-engine": "HL7", "server": "SRV", "workstation": "PC", "printer": "PRN", "ip-phone": "TEL"}
OLD_OS = ("Windows 7", "Windows XP", "Windows Server 2008")
NEW_OS = ("Windows 10", "Windows 11", "Linux")
INTERNET = ("203.0.113.7", "203.0.113.40", "198.51.100.23")


@dataclass
class Review:
    """One reviewer decision, applied with store.service.set_finding_status."""

    finding_id: str
    status: str
    justification: str | None = None
    expires_in_days: int | None = None


@dataclass
class Hospital:
    devices: list[Device] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    conversations: list[Conversation] = field(default_factory=list)
    sheets: list[Sheet] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)

    def device(self, mac: str) -> Device:
        return next(d for d in self.devices if d.mac == mac)


def _counts(size: int) -> list[int]:
    counts = [int(size * s.share) for s in SEGMENTS]
    counts[-1] += size - sum(counts)
    return counts


def _ip(seg: Segment, i: int) -> str:
    if seg.net.count(".") == 2:  # an untagged legacy /24 and its neighbours
        third = int(seg.net.rsplit(".", 1)[1]) + i // 200
        return f"{seg.net.rsplit('.', 1)[0]}.{third}.{i % 200 + 20}"
    return f"{seg.net}.{i // 200}.{i % 200 + 20}"


def _fid(rule: str, subject: str) -> str:
    return "MT-" + hashlib.sha1(f"{rule}|{subject}".encode()).hexdigest()[:12]


def plan(size: int = SIZE, *, seed: int = SEED) -> Hospital:
    """The hospital in memory (no database): the same arguments give the same records."""
    from analyzer.rules.loader import load_rules

    rules = {r.id: r for r in load_rules()}
    rnd = random.Random(seed)
    h = Hospital()
    by_seg: dict[str, list[Device]] = {}
    mac_no = 0
    for seg, count in zip(SEGMENTS, _counts(size), strict=True):
        for i in range(count):
            mac_no += 1
            role = seg.roles[0] if seg.name == "servers" and i == 0 else rnd.choice(seg.roles)
            is_dm = role in DM_ROLES
            vendor = rnd.choice(VENDORS[role])
            eol = role in ("imaging-modality", "lab-analyzer", "imaging-workstation") and rnd.random() < 0.3
            os_name = rnd.choice(OLD_OS) if eol else (rnd.choice(NEW_OS) if role in ("workstation", "server",
                                                                                       "imaging-workstation")
                                                      else None)
            first = T0 + rnd.random() * 3600
            dev = Device(mac=f"02:1b:{mac_no >> 16 & 255:02x}:{mac_no >> 8 & 255:02x}:{mac_no & 255:02x}:01",
                         ips=[_ip(seg, i)], vlans=[seg.vlan] if seg.vlan is not None else [],
                         zone=seg.zone, zone_kind=seg.zone_kind, is_dm=is_dm,
                         hostname=f"{PREFIX[role]}-{seg.name[:4].upper()}-{i + 1:04d}",
                         vendor=vendor, role=role,
                         role_confidence=0.9, os=os_name, os_eol=eol,
                         connection="wifi" if seg.wifi else "wired",
                         service="biomedical" if is_dm else "it", sensors=[seg.sensor],
                         first_seen=first, last_seen=first + SPAN - rnd.random() * 86400)
            by_seg.setdefault(seg.name, []).append(dev)
            h.devices.append(dev)
    servers = by_seg["servers"]
    pacs = [d for d in servers if d.role == "pacs"] or servers[:1]
    hl7 = [d for d in servers if d.role == "hl7-engine"] or servers[:1]
    file_srv = [d for d in servers if d.role == "server"] or servers[:1]
    stations = [d for d in by_seg["monitoring"] if d.role == "central-station"] or by_seg["monitoring"][:1]
    pump_srv = file_srv[:1]

    convs: dict[tuple[str, str, int], Conversation] = {}

    def talk(a: Device, b_ip: str, port: int, app: str | None, b_mac: str | None = None) -> None:
        key = (a.ips[0], b_ip, port)
        if key in convs or a.ips[0] == b_ip:
            return
        ts = (a.first_seen or T0) + rnd.random() * 3600
        sensor = a.sensors[0]
        convs[key] = Conversation(ts=ts, sensor=sensor, source=f"{sensor}.pcap", frame_no=len(convs) + 1,
                                  client_ip=a.ips[0], client_mac=a.mac, server_ip=b_ip, server_mac=b_mac,
                                  server_port=port, transport="tcp", app=app, first_ts=ts,
                                  last_ts=ts + rnd.random() * SPAN / 2, packets_c2s=rnd.randint(5, 900),
                                  packets_s2c=rnd.randint(5, 900), syn_seen=True)

    internet_dm: list[tuple[Device, str]] = []
    crossing: list[tuple[Device, Device]] = []
    for d in h.devices:
        if d.role in ("imaging-modality", "imaging-workstation"):
            p = rnd.choice(pacs)
            talk(d, p.ips[0], 104, "dicom", p.mac)
            if rnd.random() < 0.06:
                peer = rnd.choice(INTERNET)
                talk(d, peer, 443, "tls")
                internet_dm.append((d, peer))
        elif d.role in ("patient-monitor",):
            s = rnd.choice(stations)
            talk(d, s.ips[0], 24105, None, s.mac)
        elif d.role in ("lab-analyzer", "central-station"):
            e = rnd.choice(hl7)
            talk(d, e.ips[0], 2575, "hl7", e.mac)
            if d.zone != e.zone:
                crossing.append((d, e))
        elif d.role == "infusion-pump":
            talk(d, pump_srv[0].ips[0], 443, "tls", pump_srv[0].mac)
        elif d.role in ("workstation", "printer", "ip-phone"):
            fs = rnd.choice(file_srv)
            talk(d, fs.ips[0], 445, "smb", fs.mac)
            if d.zone == "office" and rnd.random() < 0.08:
                mon = rnd.choice(by_seg["monitoring"])
                talk(d, mon.ips[0], 80, "http", mon.mac)
                crossing.append((d, mon))
    h.conversations = sorted(convs.values(), key=lambda c: (c.client_ip, c.server_ip, c.server_port or 0))

    def finding(rule_id: str, subject: str, devs: list[Device], ips: list[str], text: str,
                **values: Any) -> Finding:
        rule = rules[rule_id]
        main = devs[0]
        try:
            rec = rule.remediation.format_map({"hostname": main.hostname, "mac": main.mac,
                                               "vlans": ",".join(map(str, main.vlans)) or "-",
                                               "ip": main.ips[0], **values})
        except (KeyError, IndexError, ValueError):
            rec = rule.remediation
        seen = main.last_seen or T0
        return Finding(id=_fid(rule_id, subject), rule=rule_id, severity=rule.severity, title=rule.title,
                       title_fr=rule.title_fr, subject=subject, devices=[d.mac for d in devs], ips=ips,
                       service=rule.service, recommendation=rec, zone=main.zone,
                       evidence=[Evidence(source=f"{main.sensors[0]}.pcap", frame_no=rnd.randint(1, 10**6),
                                          ts=main.first_seen, text=text)],
                       first_seen=main.first_seen, last_seen=seen)

    findings: list[Finding] = []
    # flat-network: a DM on a segment (VLAN or subnet) with office endpoints, no zone separating them
    for name in ("ward-east", "ward-west", "legacy-a", "legacy-b"):
        members = by_seg[name]
        office = [d for d in members if not d.is_dm]
        for d in members:
            if d.is_dm and office:
                near = office[:3]
                names = ", ".join(o.hostname or o.mac for o in near)
                findings.append(finding("flat-network", d.mac, [d], d.ips,
                                        f"{d.hostname} shares {name} with {names}",
                                        segment_neighbours=names))
    for d, peer in internet_dm:
        findings.append(finding("dm-internet", f"{d.ips[0]}-{peer}", [d], [d.ips[0], peer],
                                f"{d.ips[0]} -> {peer}:443/tcp (TLS)", peer=peer, port=443))
    for a, b in crossing:
        rule = "cleartext-medical" if b.role == "hl7-engine" else "cross-zone-flow"
        port = 2575 if rule == "cleartext-medical" else 80
        findings.append(finding(rule, f"{a.ips[0]}-{b.ips[0]}-{port}", [a, b], [a.ips[0], b.ips[0]],
                                f"{a.ips[0]} -> {b.ips[0]}:{port}/tcp", peer=b.ips[0], port=port))
    for d in h.devices:
        if d.os_eol:
            findings.append(finding("obsolete-os", d.mac, [d], d.ips, f"{d.hostname}: {d.os}", os=d.os))
    # sheets: about 60 % of the medical devices; one in five with its yearly review due
    sheet_no = 0
    today = dt.date.today()
    for d in h.devices:
        if not d.is_dm:
            continue
        if rnd.random() < 0.6:
            sheet_no += 1
            sid = f"SH-{sheet_no:05d}"
            due = rnd.random() < 0.2
            review = today - dt.timedelta(days=rnd.randint(380, 900) if due else rnd.randint(10, 300))
            h.sheets.append(Sheet(id=sid, software_name=f"{d.vendor} {d.role}", supplier=d.vendor, mac=d.mac,
                                  ip=d.ips[0], vlan=d.vlans[0] if d.vlans else None,
                                  connection=d.connection if d.connection != "unknown" else None,
                                  workstation=d.hostname, last_review=review))
            d.sheet_id, d.sheet_match = sid, "mac"
            if due:
                findings.append(finding("review-overdue", sid, [d], d.ips,
                                        f"{sid}: last review {review.isoformat()}", sheet=sid))
        else:
            findings.append(finding("undeclared-device", d.mac, [d], d.ips, f"{d.hostname} has no sheet"))
    unique = {f.id: f for f in findings}
    h.findings = sorted(unique.values(), key=lambda f: f.id)
    # review decisions on a sample of findings
    sample = rnd.sample(h.findings, k=min(len(h.findings), max(4, len(h.findings) // 25)))
    for i, f in enumerate(sample):
        kind = i % 4
        if kind == 0:
            h.reviews.append(Review(f.id, "risk-accepted", "Vendor patch planned; isolated by ACL", 180))
        elif kind == 1:
            h.reviews.append(Review(f.id, "acknowledged"))
        elif kind == 2:
            h.reviews.append(Review(f.id, "false-positive", "Test bench, not a patient device"))
        else:
            h.reviews.append(Review(f.id, "resolved"))
    return h


def fill(db_url: str, *, size: int = SIZE, seed: int = SEED) -> dict[str, str]:
    """Create or migrate the database at `db_url`, store the hospital in it; returns one token per role.

    The database should be empty (a second fill of the same hospital is harmless: same records).
    """
    from sqlmodel import Session

    from analyzer.sheet_io import dump_sheets
    from api.auth import ROLES, create_token
    from store import records, service
    from store.db import make_engine

    h = plan(size, seed=seed)
    engine = make_engine(db_url)
    service.init_db(engine)
    try:
        with Session(engine) as session:
            for sensor in SENSORS:
                batch = [c for c in h.conversations if c.sensor == sensor]
                records.store_observations(session, batch, sensor=sensor)
            run = records.start_run(session, sources=[f"{s}.pcap" for s in SENSORS])
            exported = dump_sheets(h.sheets, fmt="json")
            result = service.import_sheets(session, exported, fmt="json", actor="seed")
            if result.errors:
                raise RuntimeError(f"big hospital sheets refused: {result.errors[:3]}")
            records.save_devices(session, h.devices)
            records.save_findings(session, h.findings, today=dt.date.today())
            records.finish_run(session, run, Stats(packets=40 * len(h.conversations), first_ts=T0,
                                                   last_ts=T0 + SPAN, files=[f"{s}.pcap" for s in SENSORS]))
            session.commit()
            today = dt.date.today()
            for r in h.reviews:
                expires = today + dt.timedelta(days=r.expires_in_days) if r.expires_in_days else None
                service.set_finding_status(session, r.finding_id, status=r.status,
                                           justification=r.justification, expires=expires,
                                           actor="reviewer@big-hospital.example")
            return {role: create_token(session, role=role, name=f"big-{role}") for role in ROLES}
    finally:
        engine.dispose()


def big_app(db_path: Path, *, size: int = SIZE, seed: int = SEED,
            secret: str = "big-hospital-secret-" + "x" * 24, **settings_kw: Any) -> Any:
    """`fill` a fresh SQLite file and build the app on it: a tests.api.ui_seed.Seeded (app, tokens)."""
    from api.main import create_app
    from api.settings import Settings
    from tests.api.ui_seed import Seeded

    url = f"sqlite:///{db_path}"
    tokens = fill(url, size=size, seed=seed)
    settings_kw.setdefault("auto_analyze", False)  # hand-built records: no analysis rebuilding them
    return Seeded(app=create_app(Settings(db_url=url, secret_key=secret, **settings_kw)), tokens=tokens)
