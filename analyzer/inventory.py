"""The device inventory: one Device per MAC, merging addresses, names, vendor, switch port and OS.

Sources: HostSighting (MAC, IP, VLAN as frame source), ARP (RFC 826 sender bindings), DHCP
(RFC 2131 assigned addresses, options 12/81/60/55), DNS/mDNS/LLMNR answers (A/AAAA/PTR),
NetBIOS (RFC 1002), LLDP (IEEE 802.1AB, LLDP-MED), CDP, OS hints.

Routers: a MAC that sources more than 8 IPs, or public IPs that are not its own (external peers,
see `_own_public`), or addresses outside the zone of its VLAN, or that answers ARP for the gateway
(.1) of two or more subnets, is a routed interface (`is_router`); only its ARP/DHCP-bound
addresses are its own and it never wins IP->MAC lookups, which prefer ARP/DHCP bindings over frame
sources.

VLANs: a device's `vlans` are the 802.1Q tags of its frames, 0 when untagged; a frame that came
out of a Wi-Fi controller tunnel (CAPWAP, LWAPP, Aruba GRE) tells no VLAN of its station (the tag
on the wire is the tunnel's), so a station seen only that way has none: unknown, never 0.

Switch ports (SPAN heuristic, documented in rules/README.md): an LLDP frame carrying an LLDP-MED
device class, or whose chassis MAC is its own source MAC without the bridge capability, is a
device's own announcement; any other LLDP frame is a switch port announcement.  CDP is read the
same way: a CDP frame announcing a bridging capability (switch, trans-bridge, source-route-bridge,
two-port-mac-relay) is a switch port announcement, any other (host, phone, router) the sender's
own.  A device's switch_port is "<system name> <port id>" of the switch announcement (LLDP or
CDP) in the same VLAN with the nearest timestamp (the demo mirrors the switch frame right before
the device's own); the facts `switch` and `port` (source lldp or cdp) keep the two parts apart,
for the cabling check of the sheets (switch-port-mismatch).

Links without MAC addresses (raw IP, BSD null/loopback, PPP, Linux cooked frames without a
link-layer address, IP carried in MPLS or GRE): an address that only ever appears there (as a
conversation end without a usable MAC) becomes a device keyed `ip:<address>` (`ip_key`), unless a
MAC-keyed device sources or binds it; public addresses stay external peers and loopback
addresses are not devices.

Observations are folded one at a time (`add_*`, called by analyzer.digest) into per-MAC
accumulators whose size grows with devices and addresses, not with frames.  Where the result
depends on order ("the first host record's VLAN", "the latest ARP binding"), the accumulators
compare the analysis order key (ts, source, frame_no, arrival), so any arrival order gives the
inventory of the time-sorted observations.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from functools import lru_cache
from typing import Any

from analyzer.enrich import VendorInfo, vendor_of
from analyzer.macs import is_locally_administered, normalise_mac
from analyzer.models import Device, Fact
from analyzer.site import SitePolicy, is_public
from collector.schema import Observation

NAME_PRIORITY = {"dhcp": 0, "dns": 1, "netbios": 2, "lldp": 3, "cdp": 3}
CDP_BRIDGE = frozenset({"switch", "trans-bridge", "source-route-bridge", "two-port-mac-relay"})
"""CDP capabilities of a switch port announcement (any other CDP frame is its sender's own)."""
ROUTER_MAX_IPS = 8
Key = tuple[float, str, int, int]
"""Analysis order of an observation: (ts, source, frame_no, arrival counter); unique per observation."""


class _Acc:
    """What the inventory keeps of one MAC."""

    __slots__ = (
        "arp_vlan",
        "bound_ips",
        "client_ips",
        "conv_vlan",
        "facts",
        "first",
        "gateway_arp",
        "host_vlan",
        "last",
        "mac",
        "names",
        "sensors",
        "src_ips",
        "tunnels",
        "vlans",
        "wifi_frames",
    )

    def __init__(self, mac: str) -> None:
        self.mac = mac
        self.src_ips: dict[str, int] = {}
        self.bound_ips: dict[str, tuple[int, Key]] = {}  # ip -> first binding (ARP before DHCP, then key)
        self.client_ips: set[str] = set()  # addresses it opened conversations from
        self.vlans: set[int] = set()
        self.arp_vlan: dict[str, tuple[Key, int | None]] = {}  # latest ARP
        self.host_vlan: dict[str, tuple[Key, int | None]] = {}  # first host record
        self.conv_vlan: dict[str, tuple[Key, int | None]] = {}  # first conversation record
        self.first: float | None = None
        self.last: float | None = None
        self.sensors: set[str] = set()
        self.names: dict[str, int] = {}
        self.facts: dict[tuple[str, str, str], list[float]] = {}
        self.wifi_frames = False
        self.tunnels: set[str] = set()
        self.gateway_arp: set[str] = set()

    def seen(self, lo: float, hi: float, sensor: str) -> None:
        first = self.first
        if first is None or lo < first:
            self.first = lo
        last = self.last
        if last is None or hi > last:
            self.last = hi
        if sensor:
            self.sensors.add(sensor)

    def fact(self, attribute: str, value: Any, source: str, o: Any) -> None:
        """Upsert one fact of this MAC from observation `o` (its count and first/last time)."""
        _add_fact(self.facts, attribute, value, source, o.ts, o.count, o.last_ts)

    def name(self, value: str | None, source: str) -> None:
        _add_name(self.names, value, source)

    def bound(self, ip: str, rank: int, key: Key) -> None:
        cur = self.bound_ips.get(ip)
        if cur is None or (rank, key) < cur:
            self.bound_ips[ip] = (rank, key)

    def ip_vlan(self, ip: str) -> int | None:
        """Home VLAN of one of its addresses: latest ARP, else first host record, else first conversation."""
        for table in (self.arp_vlan, self.host_vlan, self.conv_vlan):
            hit = table.get(ip)
            if hit is not None:
                return hit[1]
        return None


@lru_cache(maxsize=1 << 16)
def _valid_mac(mac: str | None) -> bool:
    return bool(mac) and not int(mac[:2], 16) & 0x01 and mac != "00:00:00:00:00:00"  # type: ignore[index]


@lru_cache(maxsize=1 << 16)
def _usable_ip(ip: str | None) -> bool:
    if not ip:
        return False
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return not (a.is_unspecified or a.is_multicast or ip.endswith(".255"))


CONTROLLER_TUNNELS = frozenset({"capwap", "lwapp", "aruba-gre"})


def _vlan(o: Any) -> int | None:
    """The VLAN a record puts its device in; None (unknown) for a station seen only inside a Wi-Fi
    controller tunnel, whose tag is the tunnel's (access point to controller), not the station's."""
    if o.tunnel in CONTROLLER_TUNNELS:
        return None
    return o.vlan


def _add_vlan(a: _Acc, o: Any) -> None:
    """Record the VLAN of `o` on `a` (0 for untagged); nothing when it is unknown (see `_vlan`)."""
    if o.tunnel not in CONTROLLER_TUNNELS:
        a.vlans.add(o.vlan or 0)


IP_KEY_PREFIX = "ip:"
MAX_KEY = 32  # the device key column's length (api.models.DeviceRow.mac)


def ip_key(ip: str) -> str:
    """Device key of an address seen only on links without MAC addresses: 'ip:<address>' (a long IPv6
    address is replaced by a digest of itself, so the key fits the device key column)."""
    key = IP_KEY_PREFIX + ip
    if len(key) > MAX_KEY:
        import hashlib

        key = IP_KEY_PREFIX + hashlib.sha256(ip.encode()).hexdigest()[: MAX_KEY - len(IP_KEY_PREFIX)]
    return key


def is_ip_key(key: str) -> bool:
    """True for the key of a device known only by its IP address (`ip_key`)."""
    return key.startswith(IP_KEY_PREFIX)


@lru_cache(maxsize=1 << 16)
def _ip_only_candidate(ip: str | None) -> bool:
    """An address that may stand for a device without a MAC: usable, not public, not loopback."""
    if not _usable_ip(ip) or is_public(ip):
        return False
    return not ipaddress.ip_address(ip).is_loopback  # type: ignore[arg-type]


def _as_mac(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return normalise_mac(text)
    except ValueError:
        return None


class InventoryBuilder:
    """Folds observations into per-MAC accumulators; `build()` returns the inventory (and can be called
    again)."""

    def __init__(self, site: SitePolicy | None, vendors: tuple[Any, ...] = ()) -> None:
        self.site = site
        self.vendors = vendors
        self.acc: dict[str, _Acc] = {}
        self.ip_acc: dict[str, _Acc] = {}  # address -> accumulator of an address seen without a usable MAC
        self.ip_names: dict[str, dict[str, tuple[int, float]]] = defaultdict(dict)
        self.bindings: dict[str, tuple[tuple[float, int, Key], str]] = {}
        self.lldp_own: dict[str, dict[int | None, Key]] = {}  # device MAC -> VLAN -> first own announcement
        # VLAN -> switch port announcements: (ts, frame_no, order key, switch name, port id, lldp|cdp)
        self.lldp_switch: dict[int | None, list[tuple[float, int, Key, str, str, str]]] = defaultdict(list)

    def _get(self, mac: str | None) -> _Acc | None:
        a = self.acc.get(mac)  # type: ignore[arg-type]
        if a is None:
            if not _valid_mac(mac):
                return None
            assert mac is not None
            a = self.acc[mac] = _Acc(mac)
        return a

    def _bind(self, mac: str, ip: str, rank: int, key: Key) -> None:
        # the latest binding wins; at equal time DHCP (rank 1) after ARP, then analysis order
        cand = (key[0], rank, key)
        prev = self.bindings.get(ip)
        if prev is None or cand > prev[0]:
            self.bindings[ip] = (cand, mac)

    # ------------------------------------------------------------------ feeding

    def feed(self, obs: dict[str, list[Observation]]) -> None:
        """Fold observations bucketed by kind (compatibility helper; analyzer.digest feeds one at a time)."""
        from analyzer.digest import Digest

        digest = Digest(site=self.site, inventory=self)
        for items in obs.values():
            digest.add_many(items)

    def add_host(self, o: Any, key: Key) -> None:
        a = self._get(o.mac)
        if a is None:
            return
        ts = key[0]
        first, last = o.first_ts, o.last_ts
        a.seen(first if first is not None else ts, last if last is not None else ts, o.sensor)
        _add_vlan(a, o)
        if o.outer_vlan is not None:  # stacked tags: `vlan` is the inner (customer) tag, this the outer one
            a.fact("outer_vlan", f"{o.outer_vlan} (inner {o.vlan})", "802.1ad", o)
        if o.wifi:
            a.wifi_frames = True
            a.tunnels.add(o.tunnel or "802.11")
        ip = o.ip
        if _usable_ip(ip):
            a.src_ips[ip] = a.src_ips.get(ip, 0) + max(1, o.frames)
            cur = a.host_vlan.get(ip)
            if cur is None or key < cur[0]:
                a.host_vlan[ip] = (key, _vlan(o))

    def add_conversation(self, o: Any, key: Key) -> None:
        for mac, ip, client in ((o.client_mac, o.client_ip, True), (o.server_mac, o.server_ip, False)):
            a = self._get(mac)
            if a is None and not _valid_mac(mac) and _ip_only_candidate(ip):
                a = self.ip_acc.get(ip)
                if a is None:
                    a = self.ip_acc[ip] = _Acc(ip_key(ip))
            if a is not None:
                a.seen(o.first_ts, o.last_ts, o.sensor)
                _add_vlan(a, o)
                if _usable_ip(ip):
                    if client:
                        a.client_ips.add(ip)
                    if ip not in a.src_ips:
                        a.src_ips[ip] = 0
                    cur = a.conv_vlan.get(ip)
                    if cur is None or key < cur[0]:
                        a.conv_vlan[ip] = (key, _vlan(o))

    def add_arp(self, o: Any, key: Key) -> None:
        ip = o.sender_ip
        a = self._get(o.sender_mac)
        if a is None or not _usable_ip(ip):
            return
        # a merged record (collector.facts) stands for ARP packets up to its last time: "latest" compares that
        latest = _latest(o, key)
        a.seen(key[0], latest[0], o.sensor)
        _add_vlan(a, o)
        a.bound(ip, 0, key)
        cur = a.arp_vlan.get(ip)
        if cur is None or latest > cur[0]:
            a.arp_vlan[ip] = (latest, _vlan(o))
        self._bind(a.mac, ip, 0, latest)
        if o.op == "reply" and ip.endswith(".1"):
            a.gateway_arp.add(ip)

    def add_dhcp(self, o: Any, key: Key) -> None:
        a = self._get(o.client_mac)
        if a is None:
            return
        ts = key[0]
        a.seen(ts, o.last_ts if o.last_ts is not None else ts, o.sensor)
        if o.message_type in ("discover", "request",
                              "inform") and o.src_mac == o.client_mac:  # not a relayed copy
            _add_vlan(a, o)
        a.name(o.hostname, "dhcp")
        a.name(o.fqdn, "dhcp")
        a.fact("hostname", o.hostname, "dhcp.opt12", o)
        a.fact("fqdn", o.fqdn, "dhcp.opt81", o)
        a.fact("vendor_class", o.vendor_class, "dhcp.opt60", o)
        a.fact("dhcp_fingerprint", o.fingerprint, "dhcp.opt55", o)
        if o.message_type == "ack" and _usable_ip(o.assigned_ip):
            a.bound(o.assigned_ip, 1, key)
            self._bind(a.mac, o.assigned_ip, 1, _latest(o, key))
        if o.message_type in ("offer", "ack") and o.server_id and o.src_ip == o.server_id:
            # the server's own frame (a relay agent forwarding the answer to the client is not the server)
            srv = self._get(o.src_mac)
            if srv is not None:
                srv.fact("dhcp_server", o.server_id, "dhcp.opt54", o)

    def add_dns(self, o: Any, key: Key | None = None) -> None:
        if not o.response:
            return
        for ans in o.answers:
            if ans.rtype in ("A", "AAAA"):
                self._ip_name(ans.value, ans.name, "dns", o.ts)
            elif ans.rtype == "PTR" and ans.name.endswith((".in-addr.arpa", ".in-addr.arpa.")):
                parts = ans.name.rstrip(".").split(".")[:4]
                self._ip_name(".".join(reversed(parts)), ans.value, "dns", o.ts)

    def add_netbios(self, o: Any, key: Key | None = None) -> None:
        if o.group or o.suffix not in (0x00, 0x20):
            return
        ip = o.address or (o.src_ip if o.op in ("registration", "refresh") else None)
        if ip:
            self._ip_name(ip, o.name, "netbios", o.ts)

    def add_ssdp(self, o: Any, key: Key | None = None) -> None:
        a = self._get(o.src_mac)
        if a is not None and o.server:
            a.fact("ssdp_server", o.server, "ssdp.server", o)

    def add_http(self, o: Any, key: Key | None = None) -> None:
        if o.server:
            a = self._get(o.src_mac)
            if a is not None:
                a.fact("http_server", o.server, "http.server", o)
        if o.user_agent and o.method:  # a request: the client's own software (browser, update agent)
            a = self._get(o.src_mac)
            if a is not None:
                a.fact("user_agent", o.user_agent, "http.user-agent", o)
        if o.method and o.host:
            # the names a client asks for are part of its identity (update servers, vendor portals)
            a = self._get(o.src_mac)
            if a is not None:
                a.fact("http_host", o.host, "http.host", o)

    def add_wifi(self, o: Any, key: Key | None = None) -> None:
        """SSID and BSSID as facts: a station's network (`ssid`, `bssid`), an access point's (`ssid`).

        The access point's device is the BSSID's (a radio MAC; several SSIDs of one radio share it)."""
        if o.ssid is None and o.ap_mac is None:
            return
        source = "dot11" if o.evidence.startswith("dot11") else o.evidence
        client = self._get(o.client_mac) if o.client_mac else None
        # no seen(): a record about a station (a RADIUS exchange, an access point's answer) is not its packet
        if client is not None:
            client.fact("ssid", o.ssid, source, o)
            client.fact("bssid", o.ap_mac, source, o)
        ap = self._get(o.ap_mac) if o.ap_mac and o.ssid and o.client_mac is None else None
        if ap is not None:
            ap.fact("ssid", o.ssid, source, o)

    def add_tls(self, o: Any, key: Key | None = None) -> None:
        """The server name a TLS client asks for (ClientHello SNI) is a fact of the client device."""
        if o.hello == "client" and o.sni:
            a = self._get(o.src_mac)
            if a is not None:
                a.fact("tls_sni", o.sni, "tls.sni", o)

    def add_lldp(self, o: Any, key: Key) -> None:
        chassis = _as_mac(o.chassis_id)
        own = o.med_device_class is not None or (chassis == o.src_mac and "bridge" not in o.capabilities)
        a = self._get(chassis if own and chassis else o.src_mac)
        if a is None:
            return
        ts = key[0]
        a.seen(ts, o.last_ts if o.last_ts is not None else ts, o.sensor)
        a.vlans.add(o.vlan or 0)
        a.name(o.system_name, "lldp")
        a.fact("lldp_capabilities", ",".join(o.capabilities), "lldp", o)
        a.fact("lldp_system_description", o.system_description, "lldp", o)
        if own:
            a.fact("lldp_med_class", o.med_device_class, "lldp-med", o)
            a.fact("manufacturer", o.med_manufacturer, "lldp-med", o)
            a.fact("model", o.med_model, "lldp-med", o)
            a.fact("software", o.med_software, "lldp-med", o)
            self._own_announcement(a, o.vlan, key)
        else:
            self.lldp_switch[o.vlan].append((ts, o.frame_no, key, o.system_name or o.chassis_id, o.port_id,
                                             "lldp"))

    def _own_announcement(self, a: _Acc, vlan: int | None, key: Key) -> None:
        firsts = self.lldp_own.setdefault(a.mac, {})
        cur = firsts.get(vlan)
        if cur is None or key < cur:
            firsts[vlan] = key

    def add_cdp(self, o: Any, key: Key | None = None) -> None:
        a = self._get(o.src_mac)
        if a is None:
            return
        a.seen(o.ts, o.last_ts if o.last_ts is not None else o.ts, o.sensor)
        a.vlans.add(o.vlan or 0)
        a.name(o.device_id, "cdp")
        a.fact("cdp_capabilities", ",".join(o.capabilities), "cdp", o)
        a.fact("platform", o.platform, "cdp", o)
        if key is None:
            key = (o.ts, o.source or "", o.frame_no or 0, 0)
        if CDP_BRIDGE & set(o.capabilities):
            if o.port_id:
                self.lldp_switch[o.vlan].append((key[0], o.frame_no, key, o.device_id, o.port_id, "cdp"))
        else:
            self._own_announcement(a, o.vlan, key)

    def _ip_name(self, ip: str, name: str, source: str, ts: float) -> None:
        if not _usable_ip(ip) or not name:
            return
        name = name.strip().rstrip(".")
        prio = NAME_PRIORITY[source]
        names = self.ip_names[ip]
        prev = names.get(name)
        names[name] = (min(prio, prev[0]), min(ts, prev[1])) if prev else (prio, ts)

    # ------------------------------------------------------------------ building

    def _is_router(self, a: _Acc) -> tuple[bool, list[str]]:
        why: list[str] = []
        ips = set(a.src_ips)
        if len(ips) > ROUTER_MAX_IPS:
            why.append(f"sources {len(ips)} IP addresses (> {ROUTER_MAX_IPS})")
        public = sorted(ip for ip in ips if is_public(ip))
        peers = sorted(set(public) - self._own_public(a, public))
        if peers:
            why.append(f"sources public address(es) {', '.join(peers[:3])}")
        if len(a.gateway_arp) >= 2:
            why.append(f"answers ARP for gateways {', '.join(sorted(a.gateway_arp))}")
        if self.site is not None:
            for ip in sorted(ips):
                vlan = a.ip_vlan(ip)
                zone = self.site.zone_of(None, vlan)
                if zone is not None and zone.cidrs and not zone.contains(ip):
                    why.append(f"sources {ip} outside VLAN {vlan} zone {zone.name}")
                    break
        return bool(why), why

    def _own_public(self, a: _Acc, public: list[str]) -> set[str]:
        """The public addresses among `public` (all sourced by `a`) that are its own, not external peers.

        Its own: bound to it by ARP or DHCP; with a site policy, inside a declared zone (a public
        address plan); without one, the single public address it opens conversations from (a host
        captured on its own link).  Any other public source address is an external peer whose frames
        the MAC carries (a gateway): the address stays a peer, and never becomes a device.
        """
        own = {ip for ip in public if ip in a.bound_ips}
        if self.site is not None:
            own |= {ip for ip in public if any(z.cidrs and z.contains(ip) for z in self.site.zones)}
        elif len(public) == 1 and public[0] in a.client_ips:
            own.add(public[0])
        return own

    def build(self, obs: dict[str, list[Observation]] | None = None,
              ) -> tuple[dict[str, Device], dict[str, str], dict[str, int | None]]:
        """Return (devices by MAC, IP -> MAC, IP -> home VLAN); `obs` (by kind) is folded in first."""
        if obs is not None:
            self.feed(obs)
        owned = {ip for a in self.acc.values() for ip in (*a.src_ips, *a.bound_ips)}
        accs = dict(self.acc)
        for ip, a in self.ip_acc.items():
            if ip not in owned:  # a MAC-keyed device that uses the address is that device
                accs[a.mac] = a
        routers: dict[str, list[str]] = {}
        mac: str | None
        for mac, a in accs.items():
            router, why = self._is_router(a)
            if router:
                routers[mac] = why
        ip_to_mac: dict[str, str] = {ip: mac for ip, (_, mac) in sorted(self.bindings.items())}
        best: dict[str, tuple[int, str]] = {}
        for mac, a in sorted(accs.items()):
            if mac in routers:
                continue
            for ip, n in a.src_ips.items():
                if ip not in ip_to_mac and (ip not in best or n > best[ip][0]):
                    best[ip] = (n, mac)
        for ip, (_, mac) in best.items():
            ip_to_mac[ip] = mac
        home_vlan = {ip: accs[mac].ip_vlan(ip) for ip, mac in ip_to_mac.items()}
        # names learnt per IP (DNS, NetBIOS) go to the IP's device; merged into copies, so build() can run
        # again
        extra_names: dict[str, dict[str, int]] = {}
        extra_facts: dict[str, dict[tuple[str, str, str], list[float]]] = {}
        for ip, names in self.ip_names.items():
            mac = ip_to_mac.get(ip)
            if mac:
                a = accs[mac]
                if mac not in extra_names:
                    extra_names[mac] = dict(a.names)
                    extra_facts[mac] = {k: list(v) for k, v in a.facts.items()}
                for name, (prio, ts) in sorted(names.items()):
                    src = "dns" if prio == 1 else "netbios"
                    _add_name(extra_names[mac], name, src)
                    _add_fact(extra_facts[mac], "hostname", name, src, ts)
        switch_ports = self._switch_ports()
        for mac, (switch, port, source, ts) in switch_ports.items():
            if mac not in extra_facts:
                extra_facts[mac] = {k: list(v) for k, v in self.acc[mac].facts.items()}
            _add_fact(extra_facts[mac], "switch", switch, source, ts)
            _add_fact(extra_facts[mac], "port", port, source, ts)
        devices = {mac: self._device(a, routers.get(mac), ip_to_mac,
                                     f"{switch_ports[mac][0]} {switch_ports[mac][1]}" if mac in switch_ports
                                     else None,
                                     extra_names.get(mac, a.names), extra_facts.get(mac, a.facts))
                   for mac, a in sorted(accs.items())}
        return devices, ip_to_mac, home_vlan

    def _switch_ports(self) -> dict[str, tuple[str, str, str, float]]:
        """MAC -> (switch, port, lldp|cdp, time) of the switch announcement paired with its own."""
        out: dict[str, tuple[str, str, str, float]] = {}
        for mac, firsts in self.lldp_own.items():
            candidates = [(key, vlan) for vlan, key in firsts.items() if vlan in self.lldp_switch]
            if not candidates:
                continue
            key, vlan = min(candidates)
            t = key[0]
            # nearest in time, preferring the switch frame that precedes the device frame
            s = min(self.lldp_switch[vlan], key=lambda s: (abs(s[0] - t), s[0] > t, s[1], s[2]))
            out[mac] = (s[3], s[4], s[5], s[0])
        return out

    def _device(self, a: _Acc, router_why: list[str] | None, ip_to_mac: dict[str, str],
                switch_port: str | None,
                names_by: dict[str, int], facts_by: dict[tuple[str, str, str], list[float]]) -> Device:
        if router_why is not None:
            ips = sorted(sorted(a.bound_ips, key=a.bound_ips.__getitem__), key=_ip_key)
        else:
            ips = sorted({ip for ip in list(a.src_ips) + list(a.bound_ips) if ip_to_mac.get(ip) == a.mac},
                         key=_ip_key)
        ip_only = is_ip_key(a.mac)
        v = vendor_of(a.mac, self.vendors) if not ip_only else VendorInfo(None, None, False, False)
        names = sorted(names_by, key=lambda n: (names_by[n], n))
        facts = [Fact(attribute=k[0], value=k[1], source=k[2], count=int(c[0]), first_seen=c[1],
                      last_seen=c[2])
                 for k, c in sorted(facts_by.items())]
        if v.vendor:
            facts.append(Fact(attribute="vendor", value=v.vendor, source="oui", first_seen=a.first or 0.0,
                              last_seen=a.last or 0.0))
        return Device(
            mac=a.mac, ips=ips, vlans=sorted(a.vlans), vendor=v.vendor, oui_vendor=v.oui_vendor,
            radio_module=v.radio_module, random_mac=not ip_only and is_locally_administered(a.mac),
            hostname=names[0] if names else None, names=sorted(names_by), first_seen=a.first,
            last_seen=a.last,
            sensors=sorted(a.sensors), facts=facts, switch_port=switch_port, is_router=router_why is not None,
            role="router" if router_why is not None else "unknown",
            role_confidence=0.9 if router_why is not None else 0.0, role_evidence=list(router_why or []),
        )


def _add_fact(facts: dict[tuple[str, str, str], list[float]], attribute: str, value: Any, source: str,
              ts: float, count: int = 1, last: float | None = None) -> None:
    """Upsert (attribute, value, source) -> [count, first seen, last seen]."""
    if value in (None, "", ()):
        return
    key = (attribute, str(value), source)
    last = ts if last is None else last
    cur = facts.get(key)
    if cur is None:
        facts[key] = [count, ts, last]
    else:
        cur[0] += count
        cur[1], cur[2] = min(cur[1], ts), max(cur[2], last)


def _latest(o: Any, key: Key) -> Key:
    """The order key of the last observation a (possibly merged) record stands for."""
    last = o.last_ts
    return key if last is None or last <= key[0] else (last, key[1], key[2], key[3])


def _add_name(names: dict[str, int], value: str | None, source: str) -> None:
    """Keep the best (lowest) priority of each name."""
    if not value:
        return
    value = value.strip().rstrip(".")
    if value:
        prio = NAME_PRIORITY[source]
        names[value] = min(prio, names.get(value, prio))


@lru_cache(maxsize=1 << 16)
def _ip_key(ip: str) -> tuple[int, int]:
    try:
        a = ipaddress.ip_address(ip)
        return (a.version, int(a))
    except ValueError:
        return (9, 0)
