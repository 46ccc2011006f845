"""analyze(): observations -> inventory, findings, report (schema 1).

Steps: fold the observations into a digest as they are read (analyzer.digest: memory follows
devices and conversations, not records); build the inventory (analyzer.inventory); merge
conversation groups and resolve their endpoints to devices and zones; finish devices (zone, OS
and end of life, connection, protocols, peers); classify roles; reconcile sheets when the sheet
module is present; evaluate every rule on its subject's rows; drop findings covered by an
unexpired policy exception.  Pure and deterministic: same input, same report, whatever the
order the observations come in (each kind is taken in (ts, source, frame_no) order).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from analyzer.baseline import Baseline
from analyzer.classify import classify, decide_service, load_endpoints, load_roles, vendor_class_os
from analyzer.context import AnalysisContext, ConvView, Tables
from analyzer.digest import DIGEST_SUBJECTS, ConvGroup, Digest, bucket
from analyzer.enrich import load_aliases
from analyzer.models import SEVERITY_ORDER, Device, Evidence, Finding, Report, Stats
from analyzer.os_eol import eol_verdict, load_eol, load_fingerprints, refine_with_declared
from analyzer.rules import Rule, load_rules
from analyzer.rules.match import fill
from analyzer.sheets import Sheet
from analyzer.site import SitePolicy
from analyzer.ssid_vlan import apply_ssid_vlans
from analyzer.subjects import providers
from collector.schema import Observation

WIFI_TUNNELS = ("capwap", "lwapp", "aruba-gre", "dot11")


def load_tables(rules_dir: Path) -> Tables:
    return Tables(rules_dir=rules_dir, vendors=load_aliases(rules_dir / "vendors.yaml"),
                  eol=load_eol(rules_dir / "os_eol.yaml"),
                  fingerprints=load_fingerprints(rules_dir / "os_fingerprints.yaml"),
                  roles=list(load_roles(rules_dir / "classification.yaml")),
                  endpoints=load_endpoints(rules_dir / "endpoints.yaml"))


def _bucket(observations: Iterable[Observation]) -> dict[str, list[Observation]]:
    return bucket(observations)


def stats_of(obs: Mapping[str, list[Observation]] | Digest) -> Stats:
    s = Stats()
    records = obs.stats_records() if isinstance(obs, Digest) else obs.get("stats", [])
    for r in records:
        s.packets += r.packets  # type: ignore[attr-defined]
        s.bytes += r.bytes  # type: ignore[attr-defined]
        s.malformed += r.malformed  # type: ignore[attr-defined]
        for k, v in r.weirds.items():  # type: ignore[attr-defined]
            s.weirds[k] = s.weirds.get(k, 0) + v
        for k, v in r.table_overflow.items():  # type: ignore[attr-defined]
            s.table_overflow[k] = s.table_overflow.get(k, 0) + v
        if r.first_ts is not None:  # type: ignore[attr-defined]
            s.first_ts = r.first_ts if s.first_ts is None else min(s.first_ts, r.first_ts)  # type: ignore[attr-defined]
        if r.last_ts is not None:
            s.last_ts = r.last_ts if s.last_ts is None else max(s.last_ts, r.last_ts)
        if r.kernel_drops is not None:  # type: ignore[attr-defined]
            s.kernel_drops = (s.kernel_drops or 0) + r.kernel_drops  # type: ignore[attr-defined]
        s.truncated |= r.truncated  # type: ignore[attr-defined]
        s.queue_drops += r.queue_drops  # type: ignore[attr-defined]
        for i, n in enumerate(r.workers):  # type: ignore[attr-defined]
            if i < len(s.workers):
                s.workers[i] += n
            else:
                s.workers.append(n)
        s.files += [f for f in r.files if f not in s.files]  # type: ignore[attr-defined]
    s.weirds = dict(sorted(s.weirds.items()))
    s.table_overflow = dict(sorted(s.table_overflow.items()))
    return s


def _default_now(digest: Digest, stats: Stats) -> dt.datetime:
    last = stats.last_ts
    if last is None:
        last = digest.max_ts if digest.max_ts is not None else 0.0
    return dt.datetime.fromtimestamp(last, dt.UTC)


# --------------------------------------------------------------------------- conversations


def build_conversations(ctx: AnalysisContext) -> list[ConvView]:
    """Conversation groups merged per (client IP, server IP, transport, server port), endpoints resolved."""
    digest = ctx.digest
    assert digest is not None
    views: dict[tuple[Any, ...], ConvView] = {}
    groups: dict[int, list[ConvGroup]] = {}
    for g in digest.conversation_groups():
        key = (g.client_ip, g.server_ip, g.transport, g.server_port)
        c = views.get(key)
        if c is None:
            # the view takes VLAN, app and MACs from its first record
            c = views[key] = ConvView(client_ip=g.client_ip, server_ip=g.server_ip, transport=g.transport,
                                      server_port=g.server_port, vlan=g.vlan, app=g.app,
                                      first_ts=g.first_ts, last_ts=g.last_ts)
            c._client_mac, c._server_mac = g.client_mac, g.server_mac  # type: ignore[attr-defined]
            groups[id(c)] = []
        c.first_ts, c.last_ts = min(c.first_ts, g.first_ts), max(c.last_ts, g.last_ts)
        c.packets += g.packets
        c.bytes += g.bytes
        c.records += g.records
        c.syn_seen |= g.syn_seen
        if g.app:
            c.apps.add(g.app)
            c.app = c.app or g.app
        groups[id(c)].append(g)
    for c in views.values():
        tops = groups[id(c)]
        if len(tops) == 1:
            items = [(g, item) for g in tops for item in g.top.items[:3]]
        else:
            items = sorted(((g, item) for g in tops for item in g.top.items), key=lambda gi: gi[1][0])[:3]
        for g, (_, (source, frame_no, ts, frames)) in items:
            c.evidence.append(Evidence(
                source=source or None, frame_no=frame_no or None, ts=ts,
                text=f"{g.client_ip} -> {g.server_ip}:{g.server_port} {g.transport}"
                     f"{' ' + g.app if g.app else ''}"
                     f" ({frames} frames)"))
    out = sorted(views.values(), key=lambda c: (c.first_ts, c.key))
    index = {(c.client_ip, c.server_ip, c.server_port): c for c in out}
    for k, app in digest.app_hints:
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
    # an unspecified source (a DHCP client before it has an address) is the device of its MAC
    if d is not None and not d.is_router and (ip in d.ips or ip in ("0.0.0.0", "::")):
        return d
    return None


# --------------------------------------------------------------------------- device finishing


def _finish_devices(ctx: AnalysisContext) -> None:
    site, today = ctx.site, ctx.now.date()
    apply_ssid_vlans(ctx.devices.values(), site)  # before the zones: a tunnelled station's VLAN from its SSID
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
        apps = protocol_names(c)
        if c.client is not None:
            protocols[c.client.mac].update(f"{app}/client" for app in apps)
            peers[c.client.mac].add(c.server_ip)
        if c.server is not None:
            protocols[c.server.mac].update(f"{app}/server" for app in apps)
            peers[c.server.mac].add(c.client_ip)
    for mac, d in ctx.devices.items():
        d.protocols = sorted(protocols.get(mac, ()))
        d.peers = sorted(peers.get(mac, ()))


# A label that a more precise one of the same conversation replaces: the SMB family a header
# showed (smb3, known from a 3.x dialect or a transform header, is more precise than smb2, which
# also stands for "2.x or 3.x, negotiate not seen"); the remote-access tool a signature recognised
# over the generic name of the signature detector or the transport it rides.
_REFINED_BY = {"smb": ("smb1", "smb2", "smb3"), "smb2": ("smb3",),
               "remote-signatures-tcp": (), "remote-signatures-udp": (), "tls": ("rdp", "dicom-tls")}


def protocol_names(c: ConvView) -> list[str]:
    """Every protocol decoded on a conversation (its app and the hints of its records), generic labels
    replaced by precise ones; the transport and port when nothing was decoded."""
    names = set(c.apps)
    if c.app:
        names.add(c.app)
    for generic, precise in _REFINED_BY.items():
        if generic in names and (not precise and len(names) > 1 or names.intersection(precise)):
            names.discard(generic)
    if not names:
        return [f"{c.transport}/{c.server_port}" if c.server_port is not None else c.transport or "other"]
    return sorted(names)


def _os(ctx: AnalysisContext, today: dt.date) -> None:
    digest = ctx.digest
    assert digest is not None
    best: dict[str, tuple[float, int, str, str | None]] = {}
    # one entry per distinct hint, at its first record: the first record with the best (confidence, version)
    # wins
    for (hint_mac, ip, confidence, has_version, family, version), _ in sorted(digest.os_hints.items(),
                                                                             key=lambda item: item[1]):
        mac = hint_mac if hint_mac in ctx.devices else None
        if mac is None:
            d = ctx.device_by_ip(ip)
            mac = d.mac if d else None
        if mac is None or ctx.devices[mac].is_router:
            continue
        cand = (confidence, has_version, family, version)
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
        if mac not in best and ctx.tables.endpoints is not None:
            guess = vendor_class_os(d, ctx.tables.endpoints)
            if guess is not None:
                best[mac] = (0.3, 1 if guess[1] else 0, guess[0], guess[1])
        if mac in best:
            conf, _, family, version = best[mac]
            d.os = f"{family} {version}" if version else family
            d.os_confidence = conf
            verdict = eol_verdict(family, version, ctx.tables.eol, today)
            d.os_eol = verdict is not None and verdict.obsolete
            d.os_eol_evidence = [verdict.basis] if verdict is not None else []


def _declared_os(ctx: AnalysisContext) -> None:
    """The matched sheet's OS may name the edition or release that the wire evidence does not
    (Windows 10 IoT Enterprise LTSC 2021): the end-of-support verdict then follows it (analyzer.os_eol)."""
    sheets = {s.id: s for s in ctx.sheets}
    for d in ctx.devices.values():
        sheet = sheets.get(d.sheet_id or "")
        declared = " ".join(x for x in (sheet.os_name, sheet.os_version) if x) if sheet else ""
        if sheet is None or not declared or not d.os:
            continue
        family, _, version = d.os.partition(" ")
        verdict = refine_with_declared(family, version, declared, ctx.tables.eol, ctx.now.date())
        if verdict is not None:
            d.os_eol = verdict.obsolete
            d.os_eol_evidence = [f"{verdict.basis} (edition or release from sheet {sheet.id}: {declared})"]


def _connection(ctx: AnalysisContext) -> None:
    strong: dict[str, list[str]] = defaultdict(list)
    weak: dict[str, list[str]] = defaultdict(list)
    digest = ctx.digest
    assert digest is not None
    for client_mac, client_ip, evidence, confidence in digest.wifi:
        mac = client_mac
        if mac not in ctx.devices:
            d = ctx.device_by_ip(client_ip)
            mac = d.mac if d else None
        if mac is None:
            continue
        text = f"wifi evidence {evidence} (confidence {confidence:g})"
        (strong if confidence >= 0.9 else weak)[mac].append(text)
    for mac, a in digest.inventory.acc.items():
        if a.tunnels and mac in ctx.devices:
            strong[mac].extend(f"frames inside {t}" for t in a.tunnels)
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


def finding_id(rule_uid: str, key: str) -> str:
    """A finding's stable id: the rule's immutable uid and the subject (a renamed rule keeps its findings)."""
    return "MT-" + hashlib.sha1(f"{rule_uid}|{key}".encode()).hexdigest()[:12]


def evaluate(rules: Sequence[Rule], ctx: AnalysisContext) -> list[Finding]:
    provs = providers()
    cache: dict[str, list[dict[str, Any]]] = {}
    found: dict[str, Finding] = {}
    for rule in rules:
        subject = rule.match.subject
        if rule.status == "deprecated" or subject not in provs:
            continue
        if subject not in cache:
            cache[subject] = list(provs[subject](ctx))
        predicate, subject_key = rule.predicate, rule.match.subject_key
        for row in cache[subject]:
            if not predicate(row):
                continue
            key = fill(subject_key, row) if subject_key else str(row.get("_key", ""))
            fid = finding_id(rule.uid, key)
            prev = found.get(fid)
            if prev is not None:
                prev.devices = sorted(set(prev.devices) | set(row.get("_devices", [])))
                prev.ips = sorted(set(prev.ips) | set(row.get("_ips", [])))
                prev.evidence = (prev.evidence + list(row.get("_evidence", [])))[:10]
                prev.first_seen = _min(prev.first_seen, row.get("_first_seen"))
                prev.last_seen = _max(prev.last_seen, row.get("_last_seen"))
                continue
            found[fid] = Finding(
                id=fid, rule=rule.id, rule_uid=rule.uid, severity=rule.severity, title=rule.title,
                title_fr=rule.title_fr, subject=key,
                devices=sorted(set(row.get("_devices", []))), ips=sorted(set(row.get("_ips", []))),
                evidence=_with_policy(row), service=rule.service,
                recommendation=fill(rule.remediation, row).strip(),
                recommendation_fr=fill(rule.remediation_fr, row).strip() if rule.remediation_fr else "",
                zone=row.get("_zone"), playbook=rule.playbook, playbook_fr=rule.playbook_fr,
                first_seen=row.get("_first_seen"), last_seen=row.get("_last_seen"),
            )
    return list(found.values())


MAX_EVIDENCE = 10


def _with_policy(row: dict[str, Any]) -> list[Evidence]:
    """The row's evidence, then the policy lines the verdict rests on (`policy: site.yaml:12 zone ...`),
    within MAX_EVIDENCE entries: a reviewer sees what was observed and which declaration it broke."""
    policy = [Evidence(text=f"policy: {p}") for p in row.get("_policy", [])][:3]
    return list(row.get("_evidence", []))[:MAX_EVIDENCE - len(policy)] + policy


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


def _needs_raw(rules: Sequence[Rule]) -> bool:
    """A rule whose subject reads raw observations (the `observation` subject, or a provider of a plug-in)."""
    provs = providers()
    return any(r.status != "deprecated" and r.match.subject in provs
               and r.match.subject not in DIGEST_SUBJECTS
               for r in rules)


def digest_observations(observations: Iterable[Observation] | Digest, *, site: SitePolicy | None,
                        rules: Sequence[Rule]) -> Digest:
    """The digest of `observations` (a Digest given is checked: it must have been built for `site`)."""
    if isinstance(observations, Digest):
        if observations.site is not site:
            raise ValueError("this digest was built for another site policy "
                             "(maintenance windows depend on it)")
        return observations
    if not isinstance(observations, Sequence) and _needs_raw(rules):
        observations = list(observations)
    kept = observations if isinstance(observations, Sequence) else None
    digest = Digest(site=site, raw=(lambda: kept) if kept is not None else None)
    digest.add_many(observations)
    return digest


def analyze(observations: Iterable[Observation] | Digest, *, site: SitePolicy | None = None,
            sheets: Sequence[Sheet] = (), rules_dir: Path | None = None, baseline: Baseline | None = None,
            now: dt.datetime | None = None, rules: Sequence[Rule] | None = None,
            sheet_origins: Mapping[str, str] | None = None) -> Report:
    """Analyze observations into a Report (devices sorted by MAC, findings by severity desc, rule, id).

    `observations` may be any iterable (folded as it is read, see analyzer.digest) or a Digest
    already fed (built with the same `site`); `sheet_origins` maps a sheet id to the file and line it
    was imported from (`sheets.csv:12`), which the findings on that sheet cite.
    """
    from analyzer.paths import rules_dir as default_rules_dir

    root = Path(rules_dir) if rules_dir is not None else default_rules_dir()
    rule_list = list(rules) if rules is not None else load_rules(root)
    digest = digest_observations(observations, site=site, rules=rule_list)
    stats = stats_of(digest)
    if now is None:
        now = _default_now(digest, stats)
    tables = load_tables(root)
    digest.inventory.site, digest.inventory.vendors = site, tables.vendors
    devices, ip_to_mac, home_vlan = digest.inventory.build()
    ctx = AnalysisContext(devices=devices, conversations=[], observations=digest.raw_buckets(), site=site,
                          sheets=list(sheets), now=now, tables=tables, ip_to_mac=ip_to_mac, baseline=baseline,
                          home_vlan=home_vlan, digest=digest, sheet_origins=dict(sheet_origins or {}))
    ctx.conversations = build_conversations(ctx)
    _finish_devices(ctx)
    classify(ctx)
    for c in ctx.conversations:
        c.client_zone = _zone(ctx, c.client, c.client_ip)
        c.server_zone = _zone(ctx, c.server, c.server_ip)
    _reconcile(ctx)
    _declared_os(ctx)
    _services(ctx)
    findings = apply_exceptions(evaluate(rule_list, ctx), site, now.date())
    findings.sort(key=lambda f: (-SEVERITY_ORDER[f.severity], f.rule, f.id))
    return Report(stats=stats, devices=[devices[m] for m in sorted(devices)], findings=findings)


def _zone(ctx: AnalysisContext, device: Device | None, ip: str) -> Any:
    if device is not None and device.zone is not None and ctx.site is not None:
        return ctx.site.zone(device.zone)
    return ctx.zone_of_ip(ip)
