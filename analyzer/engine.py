"""analyze(): observations -> inventory, findings, report (schema 1).

Steps: bucket observations by kind; build the inventory (analyzer.inventory); aggregate
conversations and resolve their endpoints to devices and zones; finish devices (zone, OS and
end of life, connection, protocols, peers); classify roles; reconcile sheets when the sheet
module is present; evaluate every rule on its subject's rows; drop findings covered by an
unexpired policy exception.  Pure and deterministic: same input, same report.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from analyzer.baseline import Baseline
from analyzer.classify import classify, decide_service, load_roles
from analyzer.context import AnalysisContext, ConvView, Tables, evidence_of
from analyzer.enrich import load_aliases
from analyzer.inventory import InventoryBuilder
from analyzer.models import SEVERITY_ORDER, Device, Finding, Report, Stats
from analyzer.os_eol import eol_entry, load_eol, load_fingerprints
from analyzer.rules import Rule, load_rules
from analyzer.rules.match import fill
from analyzer.sheets import Sheet
from analyzer.site import SitePolicy
from analyzer.subjects import providers
from collector.schema import Observation

WIFI_TUNNELS = ("capwap", "lwapp", "aruba-gre", "dot11")


def load_tables(rules_dir: Path) -> Tables:
    return Tables(rules_dir=rules_dir, vendors=load_aliases(rules_dir / "vendors.yaml"),
                  eol=load_eol(rules_dir / "os_eol.yaml"), fingerprints=load_fingerprints(rules_dir / "os_fingerprints.yaml"),
                  roles=list(load_roles(rules_dir / "classification.yaml")))


def _bucket(observations: Iterable[Observation]) -> dict[str, list[Observation]]:
    out: dict[str, list[Observation]] = defaultdict(list)
    for o in observations:
        out[o.kind].append(o)
    for items in out.values():
        items.sort(key=lambda o: (o.ts, o.source, o.frame_no))
    return dict(out)


def stats_of(obs: dict[str, list[Observation]]) -> Stats:
    s = Stats()
    for r in obs.get("stats", []):
        s.packets += r.packets  # type: ignore[attr-defined]
        s.bytes += r.bytes  # type: ignore[attr-defined]
        s.malformed += r.malformed  # type: ignore[attr-defined]
        for k, v in r.weirds.items():  # type: ignore[attr-defined]
            s.weirds[k] = s.weirds.get(k, 0) + v
        for k, v in r.table_overflow.items():  # type: ignore[attr-defined]
            s.table_overflow[k] = s.table_overflow.get(k, 0) + v
        if r.first_ts is not None:  # type: ignore[attr-defined]
            s.first_ts = r.first_ts if s.first_ts is None else min(s.first_ts, r.first_ts)  # type: ignore[attr-defined]
        if r.last_ts is not None:  # type: ignore[attr-defined]
            s.last_ts = r.last_ts if s.last_ts is None else max(s.last_ts, r.last_ts)  # type: ignore[attr-defined]
        if r.kernel_drops is not None:  # type: ignore[attr-defined]
            s.kernel_drops = (s.kernel_drops or 0) + r.kernel_drops  # type: ignore[attr-defined]
        s.truncated |= r.truncated  # type: ignore[attr-defined]
        s.files += [f for f in r.files if f not in s.files]  # type: ignore[attr-defined]
    s.weirds = dict(sorted(s.weirds.items()))
    s.table_overflow = dict(sorted(s.table_overflow.items()))
    return s


def _default_now(obs: dict[str, list[Observation]], stats: Stats) -> dt.datetime:
    last = stats.last_ts
    if last is None:
        last = max((items[-1].ts for items in obs.values() if items), default=0.0)
    return dt.datetime.fromtimestamp(last, dt.timezone.utc)


# --------------------------------------------------------------------------- conversations


def build_conversations(ctx: AnalysisContext) -> list[ConvView]:
    views: dict[tuple[Any, ...], ConvView] = {}
    for o in ctx.of_kind("conversation"):
        key = (o.client_ip, o.server_ip, o.transport, o.server_port)  # type: ignore[attr-defined]
        c = views.get(key)
        if c is None:
            c = views[key] = ConvView(client_ip=o.client_ip, server_ip=o.server_ip, transport=o.transport,  # type: ignore[attr-defined]
                                      server_port=o.server_port, vlan=o.vlan, app=o.app,  # type: ignore[attr-defined]
                                      first_ts=o.first_ts, last_ts=o.last_ts)  # type: ignore[attr-defined]
            for mac, attr in ((o.client_mac, "client"), (o.server_mac, "server")):  # type: ignore[attr-defined]
                setattr(c, f"_{attr}_mac", mac)
        c.first_ts, c.last_ts = min(c.first_ts, o.first_ts), max(c.last_ts, o.last_ts)  # type: ignore[attr-defined]
        c.packets += o.packets_c2s + o.packets_s2c  # type: ignore[attr-defined]
        c.bytes += o.bytes_c2s + o.bytes_s2c  # type: ignore[attr-defined]
        c.records += 1
        c.syn_seen |= o.syn_seen  # type: ignore[attr-defined]
        if o.app:  # type: ignore[attr-defined]
            c.apps.add(o.app)  # type: ignore[attr-defined]
            c.app = c.app or o.app  # type: ignore[attr-defined]
        if len(c.evidence) < 3:
            c.evidence.append(evidence_of(o, f"{o.client_ip} -> {o.server_ip}:{o.server_port} {o.transport}"  # type: ignore[attr-defined]
                                             f"{' ' + o.app if o.app else ''} ({o.packets_c2s + o.packets_s2c} frames)"))  # type: ignore[attr-defined]
    out = sorted(views.values(), key=lambda c: (c.first_ts, c.key))
    index = {(c.client_ip, c.server_ip, c.server_port): c for c in out}
    for o in ctx.of_kind("dicom"):
        for k in ((o.src_ip, o.dst_ip, o.dst_port), (o.dst_ip, o.src_ip, o.src_port)):
            if k in index:
                index[k].apps.add("dicom-tls" if o.tls else "dicom")  # type: ignore[attr-defined]
    for kind, app in (("hl7", "hl7"), ("tls", "tls"), ("ssh", "ssh")):
        for o in ctx.of_kind(kind):
            for k in ((o.src_ip, o.dst_ip, o.dst_port), (o.dst_ip, o.src_ip, o.src_port)):
                if k in index:
                    index[k].apps.add(app)
    for c in out:
        if c.app is None and c.apps:
            c.app = sorted(c.apps)[0]
        c.client = _resolve(ctx, c.client_ip, getattr(c, "_client_mac", None))
        c.server = _resolve(ctx, c.server_ip, getattr(c, "_server_mac", None))
    return out


def _resolve(ctx: AnalysisContext, ip: str, mac: str | None) -> Device | None:
    d = ctx.device_by_ip(ip)
    if d is not None:
        return d
    d = ctx.device_by_mac(mac)
    if d is not None and not d.is_router and ip in d.ips:
        return d
    return None


# --------------------------------------------------------------------------- device finishing


def _finish_devices(ctx: AnalysisContext) -> None:
    site, today = ctx.site, ctx.now.date()
    for d in ctx.devices.values():
        if site is not None and not d.is_router:
            ip = d.ips[0] if d.ips else None
            vlan = next((v for v in (ctx.home_vlan.get(i) for i in d.ips) if v), None) or next(
                (v for v in d.vlans if v), None)
            zone = site.zone_of(ip, vlan)
            if zone is not None:
                d.zone, d.zone_kind = zone.name, zone.kind
    _os(ctx, today)
    _connection(ctx)
    protocols: dict[str, set[str]] = defaultdict(set)
    peers: dict[str, set[str]] = defaultdict(set)
    for c in ctx.conversations:
        app = c.app or (f"{c.transport}/{c.server_port}" if c.server_port is not None else c.transport or "other")
        if c.client is not None:
            protocols[c.client.mac].add(f"{app}/client")
            peers[c.client.mac].add(c.server_ip)
        if c.server is not None:
            protocols[c.server.mac].add(f"{app}/server")
            peers[c.server.mac].add(c.client_ip)
    for mac, d in ctx.devices.items():
        d.protocols = sorted(protocols.get(mac, ()))
        d.peers = sorted(peers.get(mac, ()))


def _os(ctx: AnalysisContext, today: dt.date) -> None:
    best: dict[str, tuple[float, int, str, str | None]] = {}
    for o in ctx.of_kind("os_hint"):
        mac = o.mac if o.mac in ctx.devices else None  # type: ignore[attr-defined]
        if mac is None:
            d = ctx.device_by_ip(o.ip or o.src_ip)  # type: ignore[attr-defined]
            mac = d.mac if d else None
        if mac is None or ctx.devices[mac].is_router:
            continue
        cand = (o.confidence, 1 if o.version else 0, o.family, o.version)  # type: ignore[attr-defined]
        if mac not in best or cand[:2] > best[mac][:2]:
            best[mac] = cand
    fps = {f.fingerprint: f for f in ctx.tables.fingerprints}
    for mac, d in ctx.devices.items():
        if mac not in best:
            for fact in d.facts:
                fp = fps.get(fact.value) if fact.attribute == "dhcp_fingerprint" else None
                if fp is not None:
                    best[mac] = (fp.confidence, 1 if fp.version else 0, fp.family, fp.version)
                    break
        if mac in best:
            conf, _, family, version = best[mac]
            d.os = f"{family} {version}" if version else family
            d.os_confidence = conf
            d.os_eol = eol_entry(family, version, ctx.tables.eol, today) is not None


def _connection(ctx: AnalysisContext) -> None:
    strong: dict[str, list[str]] = defaultdict(list)
    weak: dict[str, list[str]] = defaultdict(list)
    for o in ctx.of_kind("wifi"):
        mac = o.client_mac  # type: ignore[attr-defined]
        if mac not in ctx.devices:
            d = ctx.device_by_ip(o.client_ip)  # type: ignore[attr-defined]
            mac = d.mac if d else None
        if mac is None:
            continue
        text = f"wifi evidence {o.evidence} (confidence {o.confidence:g})"  # type: ignore[attr-defined]
        (strong if o.confidence >= 0.9 else weak)[mac].append(text)  # type: ignore[attr-defined]
    for o in ctx.of_kind("host"):
        if o.wifi and o.mac in ctx.devices:  # type: ignore[attr-defined]
            strong[o.mac].append(f"frames inside {o.tunnel or '802.11'}")  # type: ignore[attr-defined]
    for mac, d in ctx.devices.items():
        ev = sorted(set(strong.get(mac, [])))
        if d.zone_kind == "wifi":
            ev.append(f"zone {d.zone} is a wifi zone")
        wired = []
        if d.switch_port:
            wired.append(f"LLDP/CDP: cabled on {d.switch_port}")
        if d.zone_kind not in (None, "wifi", "internet"):
            wired.append(f"zone {d.zone} ({d.zone_kind}) is wired")
        hints = sorted(set(weak.get(mac, []))) + (["radio module OUI (weak hint)"] if d.radio_module else [])
        if ev:
            d.connection, d.connection_evidence = "wifi", ev + hints
        elif wired:
            d.connection, d.connection_evidence = "wired", wired + hints
        else:
            d.connection, d.connection_evidence = "unknown", hints


def _reconcile(ctx: AnalysisContext) -> None:
    """Sheet matching lives in analyzer.reconcile (API engineer): sets device.sheet_id and ctx.matches."""
    if not ctx.sheets or importlib.util.find_spec("analyzer.reconcile") is None:
        return
    module = importlib.import_module("analyzer.reconcile")
    ctx.matches = module.match_sheets(ctx.devices, ctx.sheets)


def _services(ctx: AnalysisContext) -> None:
    sheets = {s.id: s for s in ctx.sheets}
    for d in ctx.devices.values():
        sheet = sheets.get(d.sheet_id or "")
        decide_service(d, sheet.responsibility if sheet else None,
                       supplier_owned=bool(sheet and sheet.workstation_owner == "supplier"))


# --------------------------------------------------------------------------- rules


def finding_id(rule_id: str, key: str) -> str:
    return "MT-" + hashlib.sha1(f"{rule_id}|{key}".encode()).hexdigest()[:12]


def evaluate(rules: Sequence[Rule], ctx: AnalysisContext) -> list[Finding]:
    provs = providers()
    cache: dict[str, list[dict[str, Any]]] = {}
    found: dict[str, Finding] = {}
    for rule in rules:
        if rule.status == "deprecated" or rule.match.subject not in provs:
            continue
        if rule.match.subject not in cache:
            cache[rule.match.subject] = list(provs[rule.match.subject](ctx))
        for row in cache[rule.match.subject]:
            if not rule.predicate(row):
                continue
            key = fill(rule.match.subject_key, row) if rule.match.subject_key else str(row.get("_key", ""))
            fid = finding_id(rule.id, key)
            prev = found.get(fid)
            if prev is not None:
                prev.devices = sorted(set(prev.devices) | set(row.get("_devices", [])))
                prev.ips = sorted(set(prev.ips) | set(row.get("_ips", [])))
                prev.evidence = (prev.evidence + list(row.get("_evidence", [])))[:10]
                prev.first_seen = _min(prev.first_seen, row.get("_first_seen"))
                prev.last_seen = _max(prev.last_seen, row.get("_last_seen"))
                continue
            found[fid] = Finding(
                id=fid, rule=rule.id, severity=rule.severity, title=rule.title, title_fr=rule.title_fr, subject=key,
                devices=sorted(set(row.get("_devices", []))), ips=sorted(set(row.get("_ips", []))),
                evidence=list(row.get("_evidence", []))[:10], service=rule.service,
                recommendation=fill(rule.remediation, row).strip(), zone=row.get("_zone"),
                first_seen=row.get("_first_seen"), last_seen=row.get("_last_seen"),
            )
    return list(found.values())


def _min(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def apply_exceptions(findings: list[Finding], site: SitePolicy | None, today: dt.date) -> list[Finding]:
    """Drop findings whose (rule, subject) has an unexpired exception; expired ones fire again."""
    if site is None or not site.exceptions:
        return findings
    active = {(e.rule, e.subject) for e in site.exceptions if e.active(today)}
    return [f for f in findings if (f.rule, f.subject) not in active]


def analyze(observations: Iterable[Observation], *, site: SitePolicy | None = None, sheets: Sequence[Sheet] = (),
            rules_dir: Path | None = None, baseline: Baseline | None = None, now: dt.datetime | None = None,
            rules: Sequence[Rule] | None = None) -> Report:
    """Analyze observations into a Report (devices sorted by MAC, findings by severity desc, rule, id)."""
    from analyzer.paths import rules_dir as default_rules_dir

    root = Path(rules_dir) if rules_dir is not None else default_rules_dir()
    obs = _bucket(observations)
    stats = stats_of(obs)
    if now is None:
        now = _default_now(obs, stats)
    tables = load_tables(root)
    devices, ip_to_mac, home_vlan = InventoryBuilder(site, tables.vendors).build(obs)
    ctx = AnalysisContext(devices=devices, conversations=[], observations=obs, site=site, sheets=list(sheets),
                          now=now, tables=tables, ip_to_mac=ip_to_mac, baseline=baseline, home_vlan=home_vlan)
    ctx.conversations = build_conversations(ctx)
    _finish_devices(ctx)
    classify(ctx)
    for c in ctx.conversations:
        c.client_zone = _zone(ctx, c.client, c.client_ip)
        c.server_zone = _zone(ctx, c.server, c.server_ip)
    _reconcile(ctx)
    _services(ctx)
    rule_list = list(rules) if rules is not None else load_rules(root)
    findings = apply_exceptions(evaluate(rule_list, ctx), site, now.date())
    findings.sort(key=lambda f: (-SEVERITY_ORDER[f.severity], f.rule, f.id))
    return Report(stats=stats, devices=[devices[m] for m in sorted(devices)], findings=findings)


def _zone(ctx: AnalysisContext, device: Device | None, ip: str) -> Any:
    if device is not None and device.zone is not None and ctx.site is not None:
        return ctx.site.zone(device.zone)
    return ctx.zone_of_ip(ip)
