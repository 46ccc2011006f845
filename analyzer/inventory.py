"""The device inventory: one Device per MAC, merging addresses, names, vendor, switch port and OS.

Sources: HostSighting (MAC, IP, VLAN as frame source), ARP (RFC 826 sender bindings), DHCP
(RFC 2131 assigned addresses, options 12/81/60/55), DNS/mDNS/LLMNR answers (A/AAAA/PTR),
NetBIOS (RFC 1002), LLDP (IEEE 802.1AB, LLDP-MED), CDP, OS hints.

Routers: a MAC that sources more than 8 IPs, or any public IP, or addresses outside the zone of
its VLAN, or that answers ARP for the gateway (.1) of two or more subnets, is a routed interface
(`is_router`); only its ARP/DHCP-bound addresses are its own and it never wins IP->MAC lookups,
which prefer ARP/DHCP bindings over frame sources.

Switch ports (SPAN heuristic, documented in rules/README.md): an LLDP frame carrying an LLDP-MED
device class, or whose chassis MAC is its own source MAC without the bridge capability, is a
device's own announcement; any other LLDP frame is a switch port announcement.  A device's
switch_port is "<system name> <port id>" of the switch announcement in the same VLAN with the
nearest timestamp (the demo mirrors the switch frame right before the device's own).
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from analyzer.enrich import vendor_of
from analyzer.macs import is_locally_administered, is_multicast, normalise_mac
from analyzer.models import Device, Fact
from analyzer.site import SitePolicy, is_public
from collector.schema import Observation

NAME_PRIORITY = {"dhcp": 0, "dns": 1, "netbios": 2, "lldp": 3, "cdp": 3}
ROUTER_MAX_IPS = 8


@dataclass
class _Acc:
    mac: str
    src_ips: Counter[str] = field(default_factory=Counter)
    bound_ips: dict[str, float] = field(default_factory=dict)
    vlans: set[int] = field(default_factory=set)
    ip_vlan: dict[str, int | None] = field(default_factory=dict)
    first: float | None = None
    last: float | None = None
    sensors: set[str] = field(default_factory=set)
    names: dict[str, int] = field(default_factory=dict)
    facts: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)
    wifi_frames: bool = False
    gateway_arp: set[str] = field(default_factory=set)

    def seen(self, obs: Observation, first: float | None = None, last: float | None = None) -> None:
        lo, hi = first if first is not None else obs.ts, last if last is not None else obs.ts
        self.first = lo if self.first is None else min(self.first, lo)
        self.last = hi if self.last is None else max(self.last, hi)
        if obs.sensor:
            self.sensors.add(obs.sensor)

    def fact(self, attribute: str, value: Any, source: str, ts: float) -> None:
        if value in (None, "", ()):
            return
        key = (attribute, str(value), source)
        cur = self.facts.get(key)
        if cur is None:
            self.facts[key] = [1, ts, ts]
        else:
            cur[0] += 1
            cur[1], cur[2] = min(cur[1], ts), max(cur[2], ts)

    def name(self, value: str | None, source: str) -> None:
        if not value:
            return
        value = value.strip().rstrip(".")
        if value:
            prio = NAME_PRIORITY[source]
            self.names[value] = min(prio, self.names.get(value, prio))


def _valid_mac(mac: str | None) -> bool:
    return bool(mac) and not is_multicast(mac) and mac != "00:00:00:00:00:00"  # type: ignore[arg-type]


def _usable_ip(ip: str | None) -> bool:
    if not ip:
        return False
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return not (a.is_unspecified or a.is_multicast or ip.endswith(".255"))


def _as_mac(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return normalise_mac(text)
    except ValueError:
        return None


class InventoryBuilder:
    """Accumulates observations into per-MAC devices; `build()` returns the inventory."""

    def __init__(self, site: SitePolicy | None, vendors: tuple[Any, ...]) -> None:
        self.site = site
        self.vendors = vendors
        self.acc: dict[str, _Acc] = {}
        self.ip_names: dict[str, dict[str, tuple[int, float]]] = defaultdict(dict)
        self.bindings: dict[str, tuple[float, str]] = {}

    def _get(self, mac: str | None) -> _Acc | None:
        if not _valid_mac(mac):
            return None
        assert mac is not None
        if mac not in self.acc:
            self.acc[mac] = _Acc(mac)
        return self.acc[mac]

    def _bind(self, mac: str, ip: str, ts: float) -> None:
        prev = self.bindings.get(ip)
        if prev is None or ts >= prev[0]:
            self.bindings[ip] = (ts, mac)

    # ------------------------------------------------------------------ feeding

    def feed(self, obs: dict[str, list[Observation]]) -> None:
        for o in obs.get("host", []):
            a = self._get(o.mac)  # type: ignore[attr-defined]
            if a is None:
                continue
            a.seen(o, o.first_ts, o.last_ts)  # type: ignore[attr-defined]
            a.vlans.add(o.vlan or 0)
            a.wifi_frames |= bool(o.wifi)  # type: ignore[attr-defined]
            ip = o.ip  # type: ignore[attr-defined]
            if _usable_ip(ip):
                a.src_ips[ip] += max(1, o.frames)  # type: ignore[attr-defined]
                a.ip_vlan.setdefault(ip, o.vlan)
        for o in obs.get("conversation", []):
            for mac, ip in ((o.client_mac, o.client_ip), (o.server_mac, o.server_ip)):  # type: ignore[attr-defined]
                a = self._get(mac)
                if a is not None:
                    a.seen(o, o.first_ts, o.last_ts)  # type: ignore[attr-defined]
                    a.vlans.add(o.vlan or 0)
                    if _usable_ip(ip):
                        a.src_ips[ip] += 0
                        a.ip_vlan.setdefault(ip, o.vlan)
        for o in obs.get("arp", []):
            a = self._get(o.sender_mac)  # type: ignore[attr-defined]
            if a is None or not _usable_ip(o.sender_ip):  # type: ignore[attr-defined]
                continue
            a.seen(o)
            a.vlans.add(o.vlan or 0)
            a.bound_ips[o.sender_ip] = o.ts  # type: ignore[attr-defined]
            a.ip_vlan[o.sender_ip] = o.vlan  # type: ignore[attr-defined]
            self._bind(a.mac, o.sender_ip, o.ts)  # type: ignore[attr-defined]
            if o.op == "reply" and o.sender_ip.endswith(".1"):  # type: ignore[attr-defined]
                a.gateway_arp.add(o.sender_ip)  # type: ignore[attr-defined]
        for o in obs.get("dhcp", []):
            self._dhcp(o)
        for o in obs.get("dns", []):
            if not o.response:  # type: ignore[attr-defined]
                continue
            for ans in o.answers:  # type: ignore[attr-defined]
                if ans.rtype in ("A", "AAAA"):
                    self._ip_name(ans.value, ans.name, "dns", o.ts)
                elif ans.rtype == "PTR" and ans.name.endswith((".in-addr.arpa", ".in-addr.arpa.")):
                    parts = ans.name.rstrip(".").split(".")[:4]
                    self._ip_name(".".join(reversed(parts)), ans.value, "dns", o.ts)
        for o in obs.get("netbios", []):
            if o.group or o.suffix not in (0x00, 0x20):  # type: ignore[attr-defined]
                continue
            ip = o.address or (o.src_ip if o.op in ("registration", "refresh") else None)  # type: ignore[attr-defined]
            if ip:
                self._ip_name(ip, o.name, "netbios", o.ts)  # type: ignore[attr-defined]
        for o in obs.get("ssdp", []):
            a = self._get(o.src_mac)
            if a is not None and o.server:  # type: ignore[attr-defined]
                a.fact("ssdp_server", o.server, "ssdp.server", o.ts)  # type: ignore[attr-defined]
        for o in obs.get("http", []):
            if o.server:  # type: ignore[attr-defined]
                a = self._get(o.src_mac)
                if a is not None:
                    a.fact("http_server", o.server, "http.server", o.ts)  # type: ignore[attr-defined]

    def _dhcp(self, o: Any) -> None:
        a = self._get(o.client_mac)
        if a is None:
            return
        a.seen(o)
        if o.message_type in ("discover", "request", "inform") and o.src_mac == o.client_mac:  # not a relayed copy
            a.vlans.add(o.vlan or 0)
        a.name(o.hostname, "dhcp")
        a.name(o.fqdn, "dhcp")
        a.fact("hostname", o.hostname, "dhcp.opt12", o.ts)
        a.fact("fqdn", o.fqdn, "dhcp.opt81", o.ts)
        a.fact("vendor_class", o.vendor_class, "dhcp.opt60", o.ts)
        a.fact("dhcp_fingerprint", o.fingerprint, "dhcp.opt55", o.ts)
        if o.message_type == "ack" and _usable_ip(o.assigned_ip):
            a.bound_ips[o.assigned_ip] = o.ts
            self._bind(a.mac, o.assigned_ip, o.ts)
        if o.message_type in ("offer", "ack") and o.server_id:
            srv = self._get(o.src_mac)
            if srv is not None:
                srv.fact("dhcp_server", o.server_id, "dhcp.opt54", o.ts)

    def _ip_name(self, ip: str, name: str, source: str, ts: float) -> None:
        if not _usable_ip(ip) or not name:
            return
        name = name.strip().rstrip(".")
        prio = NAME_PRIORITY[source]
        prev = self.ip_names[ip].get(name)
        self.ip_names[ip][name] = (min(prio, prev[0]), min(ts, prev[1])) if prev else (prio, ts)

    # ------------------------------------------------------------------ building

    def _is_router(self, a: _Acc) -> tuple[bool, list[str]]:
        why: list[str] = []
        ips = set(a.src_ips)
        if len(ips) > ROUTER_MAX_IPS:
            why.append(f"sources {len(ips)} IP addresses (> {ROUTER_MAX_IPS})")
        public = sorted(ip for ip in ips if is_public(ip))
        if public:
            why.append(f"sources public address(es) {', '.join(public[:3])}")
        if len(a.gateway_arp) >= 2:
            why.append(f"answers ARP for gateways {', '.join(sorted(a.gateway_arp))}")
        if self.site is not None:
            for ip in sorted(ips):
                zone = self.site.zone_of(None, a.ip_vlan.get(ip))
                if zone is not None and zone.cidrs and not zone.contains(ip):
                    why.append(f"sources {ip} outside VLAN {a.ip_vlan.get(ip)} zone {zone.name}")
                    break
        return bool(why), why

    def build(self, obs: dict[str, list[Observation]]) -> tuple[dict[str, Device], dict[str, str], dict[str, int | None]]:
        """Return (devices by MAC, IP -> MAC, IP -> home VLAN)."""
        self.feed(obs)
        routers: dict[str, list[str]] = {}
        for mac, a in self.acc.items():
            router, why = self._is_router(a)
            if router:
                routers[mac] = why
        ip_to_mac: dict[str, str] = {ip: mac for ip, (_, mac) in sorted(self.bindings.items())}
        best: dict[str, tuple[int, str]] = {}
        for mac, a in sorted(self.acc.items()):
            if mac in routers:
                continue
            for ip, n in a.src_ips.items():
                if ip not in ip_to_mac and (ip not in best or n > best[ip][0]):
                    best[ip] = (n, mac)
        for ip, (_, mac) in best.items():
            ip_to_mac[ip] = mac
        home_vlan = {ip: self.acc[mac].ip_vlan.get(ip) for ip, mac in ip_to_mac.items()}
        for ip, names in self.ip_names.items():
            mac = ip_to_mac.get(ip)
            if mac:
                for name, (prio, ts) in sorted(names.items()):
                    src = "dns" if prio == 1 else "netbios"
                    self.acc[mac].name(name, src)
                    self.acc[mac].fact("hostname", name, src, ts)
        switch_ports = self._lldp(obs)
        self._cdp(obs)
        devices = {mac: self._device(a, routers.get(mac), ip_to_mac, switch_ports.get(mac))
                   for mac, a in sorted(self.acc.items())}
        return devices, ip_to_mac, home_vlan

    def _lldp(self, obs: dict[str, list[Observation]]) -> dict[str, str]:
        switch_frames: list[Any] = []
        endpoint_frames: list[Any] = []
        for o in obs.get("lldp", []):
            chassis = _as_mac(o.chassis_id)  # type: ignore[attr-defined]
            own = o.med_device_class is not None or (  # type: ignore[attr-defined]
                chassis == o.src_mac and "bridge" not in o.capabilities)  # type: ignore[attr-defined]
            a = self._get(chassis if own and chassis else o.src_mac)
            if a is None:
                continue
            a.seen(o)
            a.vlans.add(o.vlan or 0)
            a.name(o.system_name, "lldp")  # type: ignore[attr-defined]
            a.fact("lldp_capabilities", ",".join(o.capabilities), "lldp", o.ts)  # type: ignore[attr-defined]
            a.fact("lldp_system_description", o.system_description, "lldp", o.ts)  # type: ignore[attr-defined]
            if own:
                a.fact("lldp_med_class", o.med_device_class, "lldp-med", o.ts)  # type: ignore[attr-defined]
                a.fact("manufacturer", o.med_manufacturer, "lldp-med", o.ts)  # type: ignore[attr-defined]
                a.fact("model", o.med_model, "lldp-med", o.ts)  # type: ignore[attr-defined]
                a.fact("software", o.med_software, "lldp-med", o.ts)  # type: ignore[attr-defined]
                endpoint_frames.append((o, a.mac))
            else:
                switch_frames.append(o)
        out: dict[str, str] = {}
        for o, mac in endpoint_frames:
            same = [s for s in switch_frames if s.vlan == o.vlan]
            if not same:
                continue
            # nearest in time, preferring the switch frame that precedes the device frame
            s = min(same, key=lambda s: (abs(s.ts - o.ts), s.ts > o.ts, s.frame_no))
            out.setdefault(mac, f"{s.system_name or s.chassis_id} {s.port_id}")
        return out

    def _cdp(self, obs: dict[str, list[Observation]]) -> None:
        for o in obs.get("cdp", []):
            a = self._get(o.src_mac)
            if a is None:
                continue
            a.seen(o)
            a.vlans.add(o.vlan or 0)
            a.name(o.device_id, "cdp")  # type: ignore[attr-defined]
            a.fact("cdp_capabilities", ",".join(o.capabilities), "cdp", o.ts)  # type: ignore[attr-defined]
            a.fact("platform", o.platform, "cdp", o.ts)  # type: ignore[attr-defined]

    def _device(self, a: _Acc, router_why: list[str] | None, ip_to_mac: dict[str, str],
                switch_port: str | None) -> Device:
        if router_why is not None:
            ips = sorted(a.bound_ips, key=_ip_key)
        else:
            ips = sorted({ip for ip in list(a.src_ips) + list(a.bound_ips) if ip_to_mac.get(ip) == a.mac}, key=_ip_key)
        v = vendor_of(a.mac, self.vendors)
        names = sorted(a.names, key=lambda n: (a.names[n], n))
        facts = [Fact(attribute=k[0], value=k[1], source=k[2], count=int(c[0]), first_seen=c[1], last_seen=c[2])
                 for k, c in sorted(self.acc[a.mac].facts.items())]
        if v.vendor:
            facts.append(Fact(attribute="vendor", value=v.vendor, source="oui", first_seen=a.first or 0.0,
                              last_seen=a.last or 0.0))
        return Device(
            mac=a.mac, ips=ips, vlans=sorted(a.vlans), vendor=v.vendor, oui_vendor=v.oui_vendor,
            radio_module=v.radio_module, random_mac=is_locally_administered(a.mac),
            hostname=names[0] if names else None, names=sorted(a.names), first_seen=a.first, last_seen=a.last,
            sensors=sorted(a.sensors), facts=facts, switch_port=switch_port, is_router=router_why is not None,
            role="router" if router_why is not None else "unknown",
            role_confidence=0.9 if router_why is not None else 0.0, role_evidence=list(router_why or []),
        )


def _ip_key(ip: str) -> tuple[int, int]:
    try:
        a = ipaddress.ip_address(ip)
        return (a.version, int(a))
    except ValueError:
        return (9, 0)
