"""Reconciliation: match identification sheets to observed devices and list the discrepancies.

`match_sheets` pairs each sheet with at most one device by MAC, then IP, then
hostname (case-insensitive, DNS domain stripped), in that order of trust, in the
spirit of NetBox's split between intended and discovered state.  `check_rows`
compares each matched pair (declared vs observed) and yields one row per
discrepancy; the `sheet` subject provider feeds them to the ten
rules/reconciliation/*.yaml rules, which select rows by `check`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterable, Sequence
from typing import Any

from analyzer.classify import MEDICAL_APPS, MEDICAL_ROLES
from analyzer.digest import ConvGroup
from analyzer.models import Device, Evidence
from analyzer.sheets import Sheet
from analyzer.ssid_vlan import vlan_origin

REVIEW_DAYS = 365


def review_due(last_review: dt.date | None, today: dt.date) -> bool:
    """A sheet's yearly review is due: never reviewed, or more than REVIEW_DAYS days ago."""
    return last_review is None or (today - last_review).days > REVIEW_DAYS
INFRA_PORTS = frozenset({53, 67, 68, 123, 137, 138, 546, 547, 1900, 5353, 5355})
INFRA_APPS = frozenset({"dns", "dhcp", "ntp", "mdns", "llmnr", "netbios", "ssdp"})
CHECKS = (
    "undeclared-device", "declared-not-seen", "connection-mismatch", "vlan-mismatch", "undeclared-peer",
    "declared-server-silent", "remote-maintenance-mismatch", "os-mismatch", "review-overdue",
    "switch-port-mismatch",
)

FIELDS: dict[str, str] = {
    "check": "Which discrepancy: one of CHECKS (each reconciliation rule selects one).",
    "sheet_id": "Identification sheet id (None for undeclared-device).",
    "software_name": "Declared application name.",
    "supplier": "Declared supplier.",
    "mac": "MAC of the matched (or undeclared) device.",
    "ip": "First IP of the device, else the declared IP.",
    "hostname": "Observed hostname, else the declared workstation.",
    "match": "How the sheet matched: mac, ip, hostname or None.",
    "declared": "Declared value (connection, VLAN, OS, remote method@gateway, server, 'switch port'...).",
    "observed": "Observed value.",
    "peer": "Peer IP (undeclared-peer) or declared server (declared-server-silent).",
    "days_since_review": "Days since last_review (None when never reviewed).",
    "detail": "One-line explanation.",
}


def short_name(name: str | None) -> str:
    """Host name lower-cased with the DNS domain stripped (IP addresses kept whole)."""
    if not name:
        return ""
    text = name.strip().lower().rstrip(".")
    if _is_ip(text):
        return text
    return text.split(".", 1)[0]


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


INFRA_ROLES = frozenset({"router", "switch", "access-point"})


def perimeter_reason(device: Device) -> str | None:
    """Why a device is in the biomedical perimeter (so needs an identification sheet), or None.

    Every non-infrastructure device that is a DM, sits in a DM zone, or speaks a medical protocol
    (servers included: PACS and other archives, worklists, lab middleware, suppliers' servers)."""
    if device.is_router or device.role in INFRA_ROLES:
        return None
    if device.is_dm and device.role in MEDICAL_ROLES:
        return f"medical device, role {device.role}"
    if device.zone_kind == "dm":
        return f"in DM zone {device.zone}"
    if device.is_dm:
        return "medical device"
    medical = sorted({p.rsplit("/", 1)[0] for p in device.protocols if p.split("/", 1)[0] in MEDICAL_APPS})
    if medical:
        return f"speaks {', '.join(medical)}"
    return None


def match_sheets(devices: dict[str, Device], sheets: Sequence[Sheet]) -> dict[str, tuple[str, str]]:
    """sheet id -> (mac, how), how in mac/ip/hostname; sets device.sheet_id and sheet_match."""
    matches: dict[str, tuple[str, str]] = {}
    taken: set[str] = set()
    by_ip: dict[str, str] = {}
    by_name: dict[str, str] = {}
    mac: str | None
    for mac, device in sorted(devices.items()):
        if device.is_router:
            continue
        for ip in device.ips:
            by_ip.setdefault(ip, mac)
        for name in [device.hostname, *device.names]:
            if name:
                by_name.setdefault(short_name(name), mac)
    passes = (
        ("mac", lambda s: s.mac if s.mac in devices else None),
        ("ip", lambda s: by_ip.get(s.ip) if s.ip else None),
        ("hostname", lambda s: by_name.get(short_name(s.workstation)) if s.workstation else None),
    )
    for how, find in passes:
        for sheet in sheets:
            if sheet.id in matches:
                continue
            mac = find(sheet)
            if mac is not None and mac not in taken:
                matches[sheet.id] = (mac, how)
                taken.add(mac)
    for device in devices.values():
        device.sheet_id = None
        device.sheet_match = None
    for sheet_id, (mac, how) in matches.items():
        devices[mac].sheet_id = sheet_id
        devices[mac].sheet_match = how
    return matches


def _os_parts(text: str) -> tuple[str, str]:
    words = re.findall(r"[a-z0-9.]+", text.lower().replace("microsoft", "").replace("windows nt", "windows"))
    if not words:
        return "", ""
    return words[0], " ".join(words[1:])


def os_differs(declared: str, observed: str) -> bool:
    """Family differs, or both versions are known and the declared one is not the observed one."""
    d_family, d_version = _os_parts(declared)
    o_family, o_version = _os_parts(observed)
    if not d_family or not o_family:
        return False
    if d_family != o_family:
        return True
    if d_version and o_version:
        d_main, o_main = d_version.split()[0], o_version.split()[0]
        return not (o_main.startswith(d_main) or d_main.startswith(o_main))
    return False


def _skip_peer(ip: str, devices_by_ip: dict[str, Device]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return True
    if addr.is_multicast or addr.is_unspecified or addr.is_loopback or str(addr).endswith(".255"):
        return True
    peer = devices_by_ip.get(ip)
    return peer is not None and peer.is_router


class _Resolver:
    """Declared peer names -> observed IPs (literal IP, device hostname/names, or device role)."""

    def __init__(self, devices: dict[str, Device]) -> None:
        self.by_name: dict[str, set[str]] = {}
        for device in devices.values():
            for key in {short_name(n) for n in [device.hostname, *device.names] if n} | {device.role.lower()}:
                self.by_name.setdefault(key, set()).update(device.ips)

    def ips(self, name: str) -> set[str]:
        key = short_name(name)
        if _is_ip(key):
            return {str(ipaddress.ip_address(key))}
        return set(self.by_name.get(key, set())) if key != "unknown" else set()


def _row(check: str, sheet: Sheet | None, device: Device | None, how: str | None,
         **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "check": check,
        "sheet_id": sheet.id if sheet else None,
        "software_name": sheet.software_name if sheet else None,
        "supplier": sheet.supplier if sheet else None,
        "mac": device.mac if device else (sheet.mac if sheet else None),
        "ip": (device.ips[0] if device and device.ips else (sheet.ip if sheet else None)),
        "hostname": (device.hostname if device and device.hostname
                     else (sheet.workstation if sheet else None)),
        "match": how,
        "declared": None,
        "observed": None,
        "peer": None,
        "days_since_review": None,
        "detail": "",
        "_devices": [device.mac] if device else [],
        "_ips": list(device.ips) if device else ([sheet.ip] if sheet and sheet.ip else []),
        "_zone": device.zone if device else None,
        "_first_seen": device.first_seen if device else None,
        "_last_seen": device.last_seen if device else None,
        "_evidence": [],
    }
    row.update(extra)
    base = sheet.id if sheet else (device.mac if device else "")
    row["_key"] = base + (f"|{row['peer']}" if row["peer"] else "")
    if not row["_evidence"]:
        row["_evidence"] = [Evidence(text=row["detail"] or check)]
    return row


def _conv_evidence(conv: ConvGroup, pointer: tuple[str, int, float, int]) -> Evidence:
    source, frame_no, ts, _ = pointer
    return Evidence(source=source or None, frame_no=frame_no or None, ts=ts,
                    text=f"{conv.client_ip} -> {conv.server_ip}:{conv.server_port} ({conv.transport or '?'}"
                         f"{', ' + conv.app if conv.app else ''})")


def _groups(conversations: Iterable[Any]) -> list[ConvGroup]:
    """Conversation groups as given (analyzer.digest), or one group per raw record, in the order given."""
    out = []
    for i, c in enumerate(conversations):
        if not isinstance(c, ConvGroup):
            key = (float(i), "", 0, i)
            g = ConvGroup(c, key)
            g.records, g.packets = 1, c.packets_c2s + c.packets_s2c
            g.top.put(key, (c.source, c.frame_no, c.ts, g.packets))
            c = g
        out.append(c)
    return out


DEFAULT_MIN_WINDOW = 3600.0
"""Seconds of observed traffic a silence check needs (site policy `min_observed_hours`, 1 hour by default)."""


def check_rows(
    *,
    devices: dict[str, Device],
    sheets: Sequence[Sheet],
    matches: dict[str, tuple[str, str]],
    conversations: Iterable[Any] = (),
    remote: Iterable[Any] = (),
    now: dt.datetime | None = None,
    min_window: float = DEFAULT_MIN_WINDOW,
) -> list[dict[str, Any]]:
    """One row per discrepancy between the sheets and what was observed (fields: FIELDS).

    `conversations` are analyzer.digest conversation groups or raw Conversation records; `remote`
    remote-access records (or analyzer.digest.RemoteRef), each in the order evidence is listed.
    The silence checks (declared-not-seen, declared-server-silent) need `min_window` seconds of
    traffic observed where the device should be (its declared VLAN, else the whole capture; for a
    declared server, the VLANs the device was seen on), so a freshly started sensor flags nothing;
    their detail says on what window they are based.
    """
    today = (now or dt.datetime.now(dt.UTC)).date()
    rows: list[dict[str, Any]] = []
    matched_macs = {mac for mac, _ in matches.values()}
    devices_by_ip = {ip: d for d in devices.values() for ip in d.ips}
    convs = _groups(conversations)
    remotes = list(remote)
    resolver = _Resolver(devices)
    windows = observed_windows(devices.values())
    for device in sorted(devices.values(), key=lambda d: d.mac):
        why = perimeter_reason(device)
        if why and device.mac not in matched_macs:
            rows.append(_row("undeclared-device", None, device, None, observed=device.role,
                             detail=f"{device.hostname or device.mac} ({device.role}) is in the biomedical "
                                    f"perimeter ({why}) and has no identification sheet"))
    for sheet in sorted(sheets, key=lambda s: s.id):
        if review_due(sheet.last_review, today):
            days = None if sheet.last_review is None else (today - sheet.last_review).days
            match = matches.get(sheet.id)
            rows.append(_row("review-overdue", sheet, devices.get(match[0]) if match else None,
                             match[1] if match else None,
                             days_since_review=days,
                             declared=sheet.last_review.isoformat() if sheet.last_review else None,
                             detail=f"sheet {sheet.id} last reviewed {days} days ago" if days is not None
                             else f"sheet {sheet.id} was never reviewed"))
        if sheet.id not in matches:
            where = (f"VLAN {sheet.vlan}" if sheet.vlan is not None and sheet.vlan in windows
                     else "the network")
            window = windows.get(sheet.vlan) if sheet.vlan is not None else None
            window = window or windows.get(None)
            if min_window <= 0 or (window is not None and window[1] - window[0] >= min_window):
                rows.append(_row("declared-not-seen", sheet, None, None,
                                 declared=sheet.mac or sheet.ip or sheet.workstation,
                                 detail=f"{sheet.software_name}: no device seen with its MAC, IP or hostname"
                                        + (f" ({_window_text(window)} observed on {where})" if window
                                           else "")))
            continue
        mac, how = matches[sheet.id]
        device = devices[mac]
        # the device's VLAN(s) observed long enough for a daily exchange (PACS, backup) to have shown
        seen = [windows[v] for v in device.vlans if v in windows] or [w for w in (windows.get(None),) if w]
        window = max(seen, key=lambda w: w[1] - w[0]) if seen else None
        silence = None
        if window is not None and window[1] - window[0] >= min_window:
            silence = (f" ({_window_text(window)} observed on VLAN "
                       f"{', '.join(str(v) for v in device.vlans) or '-'})")
        elif min_window <= 0:
            silence = ""
        rows.extend(_compare(sheet, device, how, convs, remotes, resolver, devices_by_ip, silence))
    return rows


def observed_windows(devices: Iterable[Device]) -> dict[int | None, tuple[float, float]]:
    """Per VLAN (0 for untagged), and for the whole capture (key None), the first and last time a device was
    seen."""
    out: dict[int | None, tuple[float, float]] = {}
    for d in devices:
        if d.first_seen is None or d.last_seen is None:
            continue
        for key in (*d.vlans, None):
            cur = out.get(key)
            out[key] = (d.first_seen, d.last_seen) if cur is None else (min(cur[0], d.first_seen),
                                                                        max(cur[1], d.last_seen))
    return out


def _window_text(window: tuple[float, float]) -> str:
    start = dt.datetime.fromtimestamp(window[0], dt.UTC).strftime("%Y-%m-%d %H:%M")
    end = dt.datetime.fromtimestamp(window[1], dt.UTC).strftime("%Y-%m-%d %H:%M")
    return f"{(window[1] - window[0]) / 3600:.1f} h, {start} to {end} UTC"


def _compare(sheet: Sheet, device: Device, how: str, convs: list[ConvGroup], remotes: list[Any],
             resolver: _Resolver,
             devices_by_ip: dict[str, Device], silence: str | None) -> list[dict[str, Any]]:
    """Discrepancies of one matched sheet; `silence` (the observed window, as text) is None when too little
    was observed for declared-server-silent."""
    rows = []
    if "unknown" not in (sheet.connection, device.connection) and sheet.connection != device.connection:
        rows.append(_row("connection-mismatch", sheet, device, how, declared=sheet.connection,
                         observed=device.connection,
                         detail=f"declared {sheet.connection}, observed {device.connection}"))
    if sheet.vlan is not None and device.vlans and sheet.vlan not in device.vlans:
        observed = ",".join(str(v) for v in device.vlans)
        origin = "; ".join(vlan_origin(device))  # a tunnelled station's VLAN comes from its SSID's mapping
        rows.append(_row("vlan-mismatch", sheet, device, how, declared=str(sheet.vlan), observed=observed,
                         detail=f"declared VLAN {sheet.vlan}, observed {observed}"
                         + (f" ({origin})" if origin else "")))
    cabling = _cabling_row(sheet, device, how)
    if cabling is not None:
        rows.append(cabling)
    declared_os = " ".join(x for x in (sheet.os_name, sheet.os_version) if x)
    if declared_os and device.os and os_differs(declared_os, device.os):
        rows.append(_row("os-mismatch", sheet, device, how, declared=declared_os, observed=device.os,
                         detail=f"declared {declared_os}, observed {device.os}"))
    own = set(device.ips)
    mine = [c for c in convs if c.client_ip in own or c.server_ip in own
            or (device.mac in (c.client_mac, c.server_mac))]
    declared_names = [i.peer for i in sheet.interfaces] + [s.name for s in sheet.servers]
    declared_ips: set[str] = set()
    for name in declared_names:
        declared_ips |= resolver.ips(name)
    gateway_ips = (resolver.ips(sheet.remote_maintenance.gateway) if sheet.remote_maintenance.gateway
                   else set())
    seen_peers: dict[str, list[ConvGroup]] = {}
    for conv in mine:
        peer = conv.server_ip if conv.client_ip in own or conv.client_mac == device.mac else conv.client_ip
        seen_peers.setdefault(peer, []).append(conv)
    for peer, peer_convs in sorted(seen_peers.items()):
        if peer in own or peer in declared_ips or peer in gateway_ips or _skip_peer(peer, devices_by_ip):
            continue
        useful = [c for c in peer_convs if c.server_port not in INFRA_PORTS
                  and (c.app or "") not in INFRA_APPS]
        if not useful:
            continue
        first = min(useful, key=lambda c: c.first_ts)
        rows.append(_row("undeclared-peer", sheet, device, how, peer=peer, observed=peer,
                         detail=f"{device.hostname or device.mac} talks to {peer}, "
                                "not in the sheet's interfaces or servers",
                         _evidence=[_conv_evidence(c, pointer) for _, pointer,
                                    c in _first_pointers(useful, 5)],
                         _first_seen=first.first_ts,
                         _last_seen=max(c.last_ts for c in useful), _ips=sorted({*device.ips[:1], peer})))
    for name in sorted(set(declared_names)) if silence is not None else ():
        ips = resolver.ips(name)
        if not (ips & set(seen_peers)):
            rows.append(_row("declared-server-silent", sheet, device, how, peer=name, declared=name,
                             detail=f"declared peer {name} " + ("never seen on the network" if not ips else
                                                                "not contacted in the capture")
                             + (silence or "")))
    rows.extend(_remote_rows(sheet, device, how, remotes, own, gateway_ips))
    return rows


def port_key(port: str) -> tuple[str, str]:
    """(interface type, number) of a switch port id, lower-case, without spaces: 'Gi1/0/13' -> ('gi',
    '1/0/13')."""
    text = re.sub(r"\s+", "", port.lower())
    m = re.match(r"([a-z-]*)(.*)", text)
    assert m is not None
    return m.group(1).rstrip("-"), m.group(2)


def same_port(declared: str, observed: str) -> bool:
    """Port ids equal up to case, spaces and the abbreviation of the interface type (Gi1/0/13 and
    GigabitEthernet1/0/13, Fa0/1 and FastEthernet0/1; a bare number matches any type)."""
    (dtype, dnum), (otype, onum) = port_key(declared), port_key(observed)
    return dnum == onum and (dtype.startswith(otype) or otype.startswith(dtype))


def observed_cabling(device: Device) -> tuple[str, str, str, float] | None:
    """(switch, port, lldp|cdp, time) of the latest switch port announcement paired with the device
    (analyzer.inventory: facts `switch` and `port`)."""
    def latest(attribute: str) -> Any:
        facts = [f for f in device.facts if f.attribute == attribute]
        return max(facts, key=lambda f: (f.last_seen, f.value)) if facts else None

    switch, port = latest("switch"), latest("port")
    if switch is None or port is None:
        return None
    return switch.value, port.value, switch.source, switch.last_seen


def _cabling_row(sheet: Sheet, device: Device, how: str) -> dict[str, Any] | None:
    """switch-port-mismatch: the sheet says where the device is plugged, LLDP/CDP shows it elsewhere."""
    if not (sheet.switch or sheet.switch_port):
        return None
    seen = observed_cabling(device)
    if seen is None:
        return None
    switch, port, source, ts = seen
    switch_ok = not sheet.switch or short_name(sheet.switch) == short_name(switch)
    port_ok = not sheet.switch_port or same_port(sheet.switch_port, port)
    if switch_ok and port_ok:
        return None
    declared = f"{sheet.switch or '?'} {sheet.switch_port or '?'}"
    observed = f"{switch} {port}"
    socket = f" (wall socket {sheet.wall_socket})" if sheet.wall_socket else ""
    detail = (f"declared on switch {sheet.switch or '?'} port {sheet.switch_port or '?'}{socket}, "
              f"{source.upper()} shows switch {switch} port {port}")
    return _row("switch-port-mismatch", sheet, device, how, declared=declared, observed=observed,
                detail=detail,
                _evidence=[Evidence(ts=ts, text=detail)])


def _first_pointers(groups: list[ConvGroup], n: int) -> list[tuple[Any, Any, ConvGroup]]:
    """The first `n` evidence pointers of several groups, in analysis order."""
    return sorted(((key, pointer, g) for g in groups for key, pointer in g.top.items), key=lambda t: t[0])[:n]


def _remote_rows(sheet: Sheet, device: Device, how: str, remotes: list[Any], own: set[str],
                 gateway_ips: set[str]) -> list[dict[str, Any]]:
    declared = sheet.remote_maintenance
    label = declared.method + (f"@{declared.gateway}" if declared.gateway else "")
    out: dict[str, dict[str, Any]] = {}
    for obs in remotes:
        ends = {obs.client_ip, obs.server_ip, obs.src_ip, obs.dst_ip} - {None}
        if not ends & own:
            continue
        other = next(iter(sorted(ends - own)), "?")
        reason = None
        if declared.method in ("", "none"):
            reason = f"declared no remote maintenance, observed {obs.method} with {other}"
        elif obs.method.lower() != declared.method.lower():
            reason = f"declared {label}, observed {obs.method} with {other}"
        elif gateway_ips and other not in gateway_ips:
            reason = f"declared {label}, observed {obs.method} with {other} (not the gateway)"
        elif declared.gateway and not gateway_ips:
            reason = f"declared {label}, gateway unknown on the network, observed {obs.method} with {other}"
        if reason and f"{obs.method}|{other}" not in out:
            out[f"{obs.method}|{other}"] = _row(
                "remote-maintenance-mismatch", sheet, device, how, declared=label,
                observed=f"{obs.method}@{other}",
                peer=f"{obs.method}@{other}", detail=reason,
                _evidence=[Evidence(source=obs.source or None, frame_no=obs.frame_no or None, ts=obs.ts,
                                    text=reason)],
                _first_seen=obs.ts, _last_seen=obs.ts)
    return list(out.values())
