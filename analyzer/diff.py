"""Device behaviour over two sets of observations, compared: `medtap diff` and the intervention check.

A `Profile` is what one device did in a set of records (a capture, or the facts of a time window):
the peers it talked to with the bytes exchanged, the services it offered (transport/port it
answered on), the application protocols it spoke as client or server, its medical identity (DICOM
AE titles and implementation class/version, HL7 sending application and facility, LLDP-MED and
banner software facts) and its OS hint.  `compare` lists what was gained and lost between two
profiles of the same MAC; `verdict` turns that into unchanged, changed or silent-after.

Pure: records in, dataclasses out.  Facts carry first and last seen (collector.facts), so a time
window keeps each fact seen inside it (`in_window`): a fact seen both before and after a moment
counts on both sides, which is what "still in use" means.  Volumes of a fact spanning both sides
are not split; a volume change is reported only when the bytes per second of observed window
differ by `VOLUME_FACTOR` or more.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from collector.schema import Observation

VOLUME_FACTOR = 10.0
"""A peer's traffic rate changed when one side is at least this many times the other."""
IDENTITY_FACTS = ("software", "model", "manufacturer", "platform", "lldp_system_description",
                  "http_server", "ssdp_server")
"""Inventory facts (analyzer.inventory) that are part of a device's identity for the comparison."""

Verdict = Literal["unchanged", "changed", "silent-after"]


@dataclass
class Profile:
    """What one device (a MAC) did in a set of records."""

    mac: str
    ips: set[str] = field(default_factory=set)
    peers: dict[str, int] = field(default_factory=dict)
    """Peer IP -> bytes exchanged (both directions)."""
    services: set[str] = field(default_factory=set)
    """Services it answered on, as 'tcp/104'."""
    protocols: set[str] = field(default_factory=set)
    """Application protocols, as 'dicom/client' or 'http/server'."""
    identity: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    """Attribute -> values: ae_title, dicom_implementation, hl7_application, os, software, ..."""
    records: int = 0
    """Records (facts) that involve it: 0 means silent."""
    names: set[str] = field(default_factory=set)
    """Names it announced (DHCP, DNS, NetBIOS, LLDP), lower-case, short form."""


@dataclass
class DeviceDiff:
    """What changed for one MAC between two profiles (JSON field names are `medtap diff`'s contract)."""

    mac: str
    ips: list[str]
    peers_added: list[str] = field(default_factory=list)
    peers_removed: list[str] = field(default_factory=list)
    services_added: list[str] = field(default_factory=list)
    services_removed: list[str] = field(default_factory=list)
    protocols_added: list[str] = field(default_factory=list)
    protocols_removed: list[str] = field(default_factory=list)
    identity_changed: list[dict[str, Any]] = field(default_factory=list)
    """{attribute, before: [...], after: [...]} per identity attribute whose values differ."""
    volume_changed: list[dict[str, Any]] = field(default_factory=list)
    """{peer, before_bytes, after_bytes} for peers kept whose rate changed by VOLUME_FACTOR or more."""
    seen_before: bool = True
    seen_after: bool = True

    @property
    def changed(self) -> bool:
        return any((self.peers_added, self.peers_removed, self.services_added, self.services_removed,
                    self.protocols_added, self.protocols_removed, self.identity_changed, self.volume_changed,
                    not self.seen_before, not self.seen_after))

    @property
    def verdict(self) -> Verdict:
        if not self.seen_after:
            return "silent-after"
        return "changed" if self.changed else "unchanged"

    def as_dict(self) -> dict[str, Any]:
        return {
            "mac": self.mac, "ips": self.ips, "verdict": self.verdict,
            "seen_before": self.seen_before, "seen_after": self.seen_after,
            "peers_added": self.peers_added, "peers_removed": self.peers_removed,
            "services_added": self.services_added, "services_removed": self.services_removed,
            "protocols_added": self.protocols_added, "protocols_removed": self.protocols_removed,
            "identity_changed": self.identity_changed, "volume_changed": self.volume_changed,
        }

    def lines(self) -> list[str]:
        """The changes as short sentences (the UI and the text output)."""
        out = []
        if not self.seen_before:
            out.append("not seen before")
        if not self.seen_after:
            out.append("silent after")
        for label, values in (("peers gained", self.peers_added), ("peers lost", self.peers_removed),
                              ("services gained", self.services_added),
                              ("services lost", self.services_removed),
                              ("protocols gained", self.protocols_added),
                              ("protocols lost", self.protocols_removed)):
            if values:
                out.append(f"{label}: {', '.join(values)}")
        for item in self.identity_changed:
            out.append(f"{item['attribute']}: {', '.join(item['before']) or '-'} -> "
                       f"{', '.join(item['after']) or '-'}")
        for item in self.volume_changed:
            out.append(f"volume with {item['peer']}: {item['before_bytes']} -> {item['after_bytes']} bytes")
        return out


# --------------------------------------------------------------------------- windows


def first_seen(o: Observation) -> float:
    """First packet time a record (a fact) stands for."""
    first = getattr(o, "first_ts", None)
    return o.ts if first is None else min(o.ts, first)


def last_seen(o: Observation) -> float:
    return o.last_ts if o.last_ts is not None else o.ts


def in_window(records: Iterable[Observation], start: float | None, end: float | None) -> list[Observation]:
    """Records (facts) seen at some time in [start, end): first seen before the end, last seen from the start.

    Capture statistics are dropped (they describe a run, not a device)."""
    out = []
    for o in records:
        if o.kind == "stats":
            continue
        if end is not None and first_seen(o) >= end:
            continue
        if start is not None and last_seen(o) < start:
            continue
        out.append(o)
    return out


def span(records: Iterable[Observation]) -> tuple[float, float] | None:
    """(first, last) packet time over records, None for none."""
    lo = hi = None
    for o in records:
        a, b = first_seen(o), last_seen(o)
        lo = a if lo is None else min(lo, a)
        hi = b if hi is None else max(hi, b)
    return None if lo is None or hi is None else (lo, hi)


# --------------------------------------------------------------------------- profiles


def profiles(records: Sequence[Observation], *, site: Any = None) -> dict[str, Profile]:
    """One profile per device (non-router MAC) of the inventory built from `records`."""
    from analyzer.engine import analyze

    report = analyze(records, site=site, rules=[])
    out: dict[str, Profile] = {}
    ip_to_mac: dict[str, str] = {}
    for d in report.devices:
        if d.is_router:
            continue
        p = out[d.mac] = Profile(mac=d.mac, ips=set(d.ips),
                                 names={n.lower().split(".")[0] for n in [d.hostname, *d.names] if n})
        for ip in d.ips:
            ip_to_mac.setdefault(ip, d.mac)
        if d.os:
            p.identity["os"].add(d.os)
        for f in d.facts:
            if f.attribute in IDENTITY_FACTS:
                p.identity[f.attribute].add(f.value)
    for o in records:
        _fold(o, out, ip_to_mac)
    return out


def _mine(ip: str | None, mac: str | None, out: dict[str, Profile],
          ip_to_mac: dict[str, str]) -> Profile | None:
    if mac is not None and mac in out and (ip is None or ip in out[mac].ips or ip not in ip_to_mac):
        return out[mac]
    owner = ip_to_mac.get(ip or "")
    return out.get(owner) if owner else None


def _fold(o: Any, out: dict[str, Profile], ip_to_mac: dict[str, str]) -> None:
    kind = o.kind
    if kind == "conversation":
        client = _mine(o.client_ip, o.client_mac, out, ip_to_mac)
        server = _mine(o.server_ip, o.server_mac, out, ip_to_mac)
        volume = o.bytes_c2s + o.bytes_s2c
        app = o.app
        if client is not None:
            client.records += 1
            client.peers[o.server_ip] = client.peers.get(o.server_ip, 0) + volume
            if app:
                client.protocols.add(f"{app}/client")
        if server is not None:
            server.records += 1
            server.peers[o.client_ip] = server.peers.get(o.client_ip, 0) + volume
            if o.server_port is not None and o.transport in ("tcp", "udp", "sctp"):
                server.services.add(f"{o.transport}/{o.server_port}")
            if app:
                server.protocols.add(f"{app}/server")
        return
    sender = _mine(o.src_ip, o.src_mac, out, ip_to_mac)
    if sender is None:
        return
    sender.records += 1
    if kind == "dicom":
        # the requestor names itself in calling_ae, the acceptor echoes its own title in called_ae
        title = o.calling_ae if o.pdu == "associate-rq" else o.called_ae if o.pdu == "associate-ac" else None
        if title:
            sender.identity["ae_title"].add(title)
        if o.implementation_class_uid or o.implementation_version:
            sender.identity["dicom_implementation"].add(
                f"{o.implementation_class_uid or '?'} {o.implementation_version or ''}".strip())
    elif kind == "hl7":
        if o.sending_application or o.sending_facility:
            app = f"{o.sending_application or ''}^{o.sending_facility or ''}"
            sender.identity["hl7_application"].add(app)
    elif kind == "ssh" and o.software:
        sender.identity["ssh_software"].add(o.software)


# --------------------------------------------------------------------------- comparison


def _rate(volume: int, seconds: float) -> float:
    return volume / max(seconds, 1.0)


def compare(mac: str, before: Profile | None, after: Profile | None, *, before_seconds: float = 1.0,
            after_seconds: float = 1.0) -> DeviceDiff:
    """What changed for `mac` from `before` to `after` (None or no record: not seen on that side)."""
    b = before if before is not None and before.records else None
    a = after if after is not None and after.records else None
    ips = sorted((b.ips if b else set()) | (a.ips if a else set()))
    out = DeviceDiff(mac=mac, ips=ips, seen_before=b is not None, seen_after=a is not None)
    if b is None or a is None:
        return out
    out.peers_added = sorted(set(a.peers) - set(b.peers))
    out.peers_removed = sorted(set(b.peers) - set(a.peers))
    out.services_added = sorted(a.services - b.services)
    out.services_removed = sorted(b.services - a.services)
    out.protocols_added = sorted(a.protocols - b.protocols)
    out.protocols_removed = sorted(b.protocols - a.protocols)
    for attribute in sorted(set(a.identity) | set(b.identity)):
        was, now = b.identity.get(attribute, set()), a.identity.get(attribute, set())
        if was and now and was != now:  # a value not observed on one side is no evidence of a change
            out.identity_changed.append({"attribute": attribute, "before": sorted(was), "after": sorted(now)})
    for peer in sorted(set(a.peers) & set(b.peers)):
        rb, ra = _rate(b.peers[peer], before_seconds), _rate(a.peers[peer], after_seconds)
        if rb and ra and max(rb, ra) / min(rb, ra) >= VOLUME_FACTOR:
            out.volume_changed.append({"peer": peer, "before_bytes": b.peers[peer],
                                       "after_bytes": a.peers[peer]})
    return out


def diff(before: Sequence[Observation], after: Sequence[Observation], *, site: Any = None,
         select: str | None = None) -> list[DeviceDiff]:
    """Per device seen on either side (sorted by MAC): what changed.  `select`: a MAC, an IP or a name."""
    pb, pa = profiles(before, site=site), profiles(after, site=site)
    sb, sa = span(before), span(after)
    seconds_b = (sb[1] - sb[0]) if sb else 1.0
    seconds_a = (sa[1] - sa[0]) if sa else 1.0
    macs = sorted(m for m in set(pb) | set(pa) if (m in pb and pb[m].records) or (m in pa and pa[m].records))
    if select is not None:
        macs = [m for m in macs if _selected(select, pb.get(m), pa.get(m))]
    return [compare(m, pb.get(m), pa.get(m), before_seconds=seconds_b, after_seconds=seconds_a) for m in macs]


def _selected(select: str, *found: Profile | None) -> bool:
    key = select.strip().lower()
    short = key.split(".")[0]
    return any(p is not None and (p.mac == key or key in p.ips or short in p.names) for p in found)
