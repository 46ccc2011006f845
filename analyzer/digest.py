"""Observations folded as they arrive into what the analysis reads: memory follows entities, not frames.

`Digest.add(observation)` keeps, per kind, only what analyzer.engine and the subject providers use:
the inventory accumulators (analyzer.inventory), conversation records grouped by endpoints,
transport, server port, VLAN, application and MACs (`ConvGroup`), DHCP servers, remote-access
sessions, the first few evidence pointers of each, and small sets of identities (DICOM
associations, HL7 pairs, application hints per address and port).  A replay of 5 million frames
over the same hosts and conversations keeps about what a replay of 1 million keeps.

The analysis is defined on the observations of each kind sorted by (ts, source, frame_no), ties
in arrival order.  Every "first", "latest" or "first three" below compares that order key plus an
arrival counter, so the digest gives the same report whatever order the observations come in
(beyond ties between identical keys, broken by arrival as a stable sort would).

A rule on the `observation` subject (or a subject provider outside this package) needs every raw
record: `raw` re-reads them (from the database, or from the caller's list) only then.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, cast

from analyzer.inventory import InventoryBuilder, Key
from analyzer.site import SitePolicy
from analyzer.top import Top
from analyzer.writes import WriteTable
from collector.schema import CaptureStats, Observation

ADMIN_APPS = ("telnet", "ftp")
"""Remote-access methods that are cleartext administration (after HTTP basic auth and SNMP v1/v2c, ranks
0-2)."""
DIGEST_SUBJECTS = frozenset({"capture", "conversation", "device", "dhcp_server", "hl7_sender", "intervention",
                             "port", "remote_session", "sheet", "write_path"})
"""Subject providers that read the digest; any other subject reads the raw observations."""
CONV_EVIDENCE = 5
"""Evidence pointers kept per conversation group (3 for a conversation, 5 for a sheet's undeclared peer)."""


class ConvGroup:
    """Conversation records with the same client/server IP, transport, server port, VLAN, app and MACs.

    Records of one conversation across flush periods usually fall in one group; `first` is the
    order key of its first record and `top` holds (source, frame_no, ts, frames) of its first ones.
    """

    __slots__ = (
        "app",
        "bytes",
        "client_ip",
        "client_mac",
        "first",
        "first_ts",
        "last_ts",
        "packets",
        "records",
        "server_ip",
        "server_mac",
        "server_port",
        "syn_seen",
        "top",
        "transport",
        "vlan",
    )

    def __init__(self, o: Any, key: Key) -> None:
        self.client_ip: str = o.client_ip
        self.server_ip: str = o.server_ip
        self.transport: str | None = o.transport
        self.server_port: int | None = o.server_port
        self.vlan: int | None = o.vlan
        self.app: str | None = o.app
        self.client_mac: str | None = o.client_mac
        self.server_mac: str | None = o.server_mac
        self.first = key
        self.records = 0
        self.packets = 0
        self.bytes = 0
        self.syn_seen = False
        self.first_ts: float = o.first_ts
        self.last_ts: float = o.last_ts
        self.top = Top(CONV_EVIDENCE)


class DhcpServer:
    """Offers, acks and naks answered under one server identifier (option 54, else the source address)."""

    __slots__ = ("answers", "clients", "first_ts", "last_ts", "macs", "relayed", "top", "vlans")

    def __init__(self, ts: float) -> None:
        self.answers = 0
        self.clients: set[str | None] = set()
        self.vlans: set[int] = set()
        self.relayed = False
        self.macs: set[str] = set()
        self.first_ts = self.last_ts = ts
        self.top = Top(3)


class RemoteSession:
    """Remote-access records of one (client, server, port, method).

    `best` is (confidence, method, signature, evidence) of the first record with the highest confidence.
    """

    __slots__ = (
        "best",
        "best_key",
        "client",
        "first_ts",
        "gateway",
        "in_window",
        "last_ts",
        "port",
        "server",
        "top",
        "user_present",
    )

    def __init__(self, client: str | None, server: str | None, port: int | None, site: SitePolicy | None,
                 ts: float) -> None:
        self.client, self.server, self.port = client, server, port
        self.best: tuple[float, str, str, str] | None = None
        self.best_key: Key | None = None
        self.first_ts = self.last_ts = ts
        self.gateway = (site.gateway_for(client) or site.gateway_for(server)) if site else None
        self.in_window = True
        self.user_present = False
        self.top = Top(3)


class RemoteRef:
    """What a sheet check reads of a remote-access record (addresses, method, evidence pointer)."""

    __slots__ = ("client_ip", "dst_ip", "frame_no", "method", "server_ip", "source", "src_ip", "ts")

    def __init__(self, o: Any) -> None:
        self.client_ip, self.server_ip, self.src_ip, self.dst_ip = (o.client_ip, o.server_ip,
                                                                    o.src_ip, o.dst_ip)
        self.method, self.source, self.frame_no, self.ts = o.method, o.source, o.frame_no, o.ts


class Digest:
    """Fold observations one at a time (`add`, `add_many`); analyzer.engine.analyze reads the result.

    `site` must be the policy the analysis uses (maintenance windows are checked as records arrive).
    `raw`, when given, returns every observation again (any order) for the rare consumers of raw records.
    """

    def __init__(self, *, site: SitePolicy | None = None,
                 raw: Callable[[], Iterable[Observation]] | None = None,
                 inventory: InventoryBuilder | None = None) -> None:
        self.site = site
        self.raw = raw
        self.inventory = inventory if inventory is not None else InventoryBuilder(site)
        self.count = 0
        self.generation = 0
        """Store generation this digest reflects (set by the store that feeds it; 0 for none)."""
        self.interventions: tuple[Any, ...] = ()
        """Recorded interventions (analyzer.interventions.InterventionRef), set by the store before each
        analysis: what the `intervention` subject reads."""
        self.max_ts: float | None = None
        self.stats: list[tuple[Key, Observation]] = []
        self.conversations: dict[tuple[Any, ...], ConvGroup] = {}
        self.app_hints: set[tuple[tuple[str | None, str | None, int | None], str]] = set()
        self.os_hints: dict[tuple[Any, ...], Key] = {}
        self.wifi: set[tuple[Any, ...]] = set()
        self.dicom_assoc: set[tuple[str | None, str | None, frozenset[str]]] = set()
        self.hl7_pairs: set[tuple[str | None, str | None]] = set()
        self.values: dict[tuple[str, str], set[Any]] = defaultdict(set)
        self.admin: dict[tuple[Any, ...], Top] = {}
        self.remote_best: dict[tuple[Any, ...], tuple[float, Key, str]] = {}
        self.remote_first: dict[tuple[Any, ...], tuple[Key, RemoteRef]] = {}
        self.sessions: dict[tuple[Any, ...], RemoteSession] = {}
        self.smb1: dict[tuple[Any, ...], Top] = {}
        self.dhcp_servers: dict[str, DhcpServer] = {}
        self.dhcp_relays: set[tuple[str, str]] = set()
        """(relay agent address, server address) of relayed DHCP (RFC 1542: giaddr, UDP 67 both ways)."""
        self.writes = WriteTable()
        """Write paths into devices and HL7 flows (analyzer.writes)."""
        inv = self.inventory
        self._folds: dict[str, Callable[[Any, Key], None]] = {
            "host": inv.add_host, "conversation": self._conversation, "arp": inv.add_arp, "dhcp": self._dhcp,
            "dns": inv.add_dns, "netbios": inv.add_netbios, "ssdp": inv.add_ssdp, "http": self._http,
            "lldp": inv.add_lldp, "cdp": inv.add_cdp, "os_hint": self._os_hint, "wifi": self._wifi,
            "dicom": self._dicom, "hl7": self._hl7, "tls": self._tls, "ssh": self._app_hint,
            "snmp": self._snmp, "remote_access": self._remote, "smb": self._smb, "sdc": self._sdc,
            "astm": self._astm, "intellivue": self._intellivue, "poct": self._poct, "stats": self._stats,
        }

    # ------------------------------------------------------------------ feeding

    def add(self, o: Observation) -> None:
        self.count += 1
        ts = o.ts
        if self.max_ts is None or ts > self.max_ts:
            self.max_ts = ts
        fold = self._folds.get(o.kind)
        if fold is not None:
            fold(o, (ts, o.source, o.frame_no, self.count))

    def add_many(self, observations: Iterable[Observation]) -> int:
        """Fold every observation of `observations`; returns how many."""
        folds = self._folds.get
        n = start = self.count
        max_ts = self.max_ts
        if max_ts is None:
            max_ts = float("-inf")
        try:
            for o in observations:
                n += 1
                ts = o.ts
                max_ts = max(max_ts, ts)
                fold = folds(o.kind)
                if fold is not None:
                    fold(o, (ts, o.source, o.frame_no, n))
        finally:
            self.count = n
            self.max_ts = None if max_ts == float("-inf") else max_ts
        return n - start

    def _stats(self, o: Any, key: Key) -> None:
        self.stats.append((key, o))

    def _conversation(self, o: Any, key: Key) -> None:
        self.inventory.add_conversation(o, key)
        gkey = (o.client_ip, o.server_ip, o.transport, o.server_port, o.vlan, o.app, o.client_mac,
                o.server_mac)
        g = self.conversations.get(gkey)
        if g is None:
            g = self.conversations[gkey] = ConvGroup(o, key)
        elif key < g.first:
            g.first = key
        frames = o.packets_c2s + o.packets_s2c
        g.records += 1
        g.packets += frames
        g.bytes += o.bytes_c2s + o.bytes_s2c
        if o.syn_seen:
            g.syn_seen = True
        g.first_ts = min(g.first_ts, o.first_ts)
        g.last_ts = max(g.last_ts, o.last_ts)
        top = g.top
        if top.wants(key):
            top.put(key, (o.source, o.frame_no, key[0], frames))

    def _dhcp(self, o: Any, key: Key) -> None:
        self.inventory.add_dhcp(o, key)
        relay = o.relay_ip
        if (relay not in (None, "0.0.0.0") and o.src_port == 67 and o.dst_port == 67
                and o.src_ip and o.dst_ip and relay in (o.src_ip, o.dst_ip)):
            # relay agent <-> server leg: the server is the other end (RFC 1542 section 4.1)
            self.dhcp_relays.add((relay, o.dst_ip if relay == o.src_ip else o.src_ip))
        if o.message_type not in ("offer", "ack", "nak"):
            return
        ip = o.server_id or o.src_ip
        if not ip:
            return
        ts = key[0]
        s = self.dhcp_servers.get(ip)
        if s is None:
            s = self.dhcp_servers[ip] = DhcpServer(ts)
        s.answers += o.count
        s.clients.add(o.client_mac)
        s.vlans.add(o.vlan or 0)
        if o.relay_ip not in (None, "0.0.0.0"):
            s.relayed = True
        if o.src_ip == ip and o.src_mac:
            s.macs.add(o.src_mac)
        s.first_ts, s.last_ts = min(s.first_ts, ts), max(s.last_ts, o.last_ts or ts)
        if s.top.wants(key):
            text = (f"DHCP {o.message_type} from {o.src_ip} (server id {o.server_id}) "
                    f"to {o.client_mac} assigning {o.assigned_ip}")
            s.top.put(key, (o.source, o.frame_no, ts, text))

    def _http(self, o: Any, key: Key) -> None:
        self.inventory.add_http(o)
        self.writes.http(o, key)
        if o.basic_auth:
            self._admin(o, key, "http-basic", 0)

    def _snmp(self, o: Any, key: Key) -> None:
        self.writes.snmp(o, key)
        if o.version in ("v1", "v2c"):
            self._admin(o, key, f"snmp-{o.version}", 1)

    def _admin(self, o: Any, key: Key, name: str, rank: int) -> None:
        _keep_evidence(self.admin, (o.src_ip, o.dst_ip, o.dst_port, o.src_port, name, rank), o, key)

    def _remote(self, o: Any, key: Key) -> None:
        ts = key[0]
        if o.evidence != "port":  # the tool recognised by content or server name names the conversation
            self._app_hint(o, key, o.method)
        self.writes.remote(o, key)
        if o.method in ADMIN_APPS:
            self._admin(o, key, o.method, 2)
        # the best record per connection: highest confidence, the first one at that confidence
        ckey = (o.src_ip, o.dst_ip, o.dst_port, o.src_port)
        cur = self.remote_best.get(ckey)
        if cur is None or o.confidence > cur[0] or (o.confidence == cur[0] and key < cur[1]):
            self.remote_best[ckey] = (o.confidence, key, o.method)
        rkey = (o.client_ip, o.server_ip, o.src_ip, o.dst_ip, o.method)
        first = self.remote_first.get(rkey)
        if first is None or key < first[0]:
            self.remote_first[rkey] = (key, RemoteRef(o))
        client = o.client_ip or o.src_ip
        server = o.server_ip or o.dst_ip
        port = o.server_port if o.server_port is not None else o.dst_port
        skey = (client, server, port, o.method)
        s = self.sessions.get(skey)
        if s is None:
            s = self.sessions[skey] = RemoteSession(client, server, port, self.site, ts)
        best = s.best
        if best is None or o.confidence > best[0] or (o.confidence == best[0] and key < s.best_key):  # type: ignore[operator]
            s.best, s.best_key = (o.confidence, o.method, o.signature, o.evidence), key
        s.first_ts, s.last_ts = min(s.first_ts, ts), max(s.last_ts, o.last_ts or ts)
        if s.gateway is not None and s.in_window:
            s.in_window = s.gateway.in_window(ts)
        if o.user_present:
            s.user_present = True
        if s.top.wants(key):
            text = (f"{o.method} ({o.evidence}, {o.signature}) {client} -> {server}:{port}"
                    + (f" {o.detail}" if o.detail else ""))
            s.top.put(key, (o.source, o.frame_no, ts, text))
        self.values[("remote_access", "server_ip")].add(o.server_ip)

    def _os_hint(self, o: Any, key: Key) -> None:
        hkey = (o.mac, o.ip or o.src_ip, o.confidence, 1 if o.version else 0, o.family, o.version)
        cur = self.os_hints.get(hkey)
        if cur is None or key < cur:
            self.os_hints[hkey] = key

    def _wifi(self, o: Any, key: Key) -> None:
        self.wifi.add((o.client_mac, o.client_ip, o.evidence, o.confidence))
        self.values[("wifi", "ap_mac")].add(o.ap_mac)
        self.inventory.add_wifi(o, key)

    def _app_hint(self, o: Any, key: Key, app: str | None = None) -> None:
        label = app or o.kind
        self.app_hints.add(((o.src_ip, o.dst_ip, o.dst_port), label))
        self.app_hints.add(((o.dst_ip, o.src_ip, o.src_port), label))

    def _tls(self, o: Any, key: Key) -> None:
        self._app_hint(o, key)
        self.inventory.add_tls(o, key)

    def _dicom(self, o: Any, key: Key) -> None:
        self._app_hint(o, key, "dicom-tls" if o.tls else "dicom")
        if o.pdu == "associate-rq":
            self.dicom_assoc.add((o.src_ip, o.dst_ip, frozenset(o.modality_hints)))
        elif o.dimse_commands:
            self.writes.dicom(o, key)

    def _hl7(self, o: Any, key: Key) -> None:
        self._app_hint(o, key, "hl7")
        self.hl7_pairs.add((o.dst_ip, o.src_ip))
        self.writes.hl7_message(o, key)

    def _smb(self, o: Any, key: Key) -> None:
        # smb1, smb2, smb3 name the conversation (analyzer.engine.protocol_names); a record without
        # `versions` (an older collector, SMB1 outside a TCP session) that says SMBv1 names smb1
        for family in o.versions or (("smb1",) if o.smb1 else ()):
            self._app_hint(o, key, family)
        if not o.smb1:
            return
        # NetBEUI carries no IP: its sender is known by MAC (analyzer.subjects.device.smb1_macs)
        _keep_evidence(self.smb1, (o.src_ip or o.src_mac, o.dst_ip or o.dst_mac, tuple(o.dialects_offered),
                                   o.dialect_chosen), o, key)

    def _sdc(self, o: Any, key: Key) -> None:
        if o.action in ("hello", "probe-match", "resolve-match"):
            self.values[("sdc", "src_ip")].add(o.src_ip)

    def _astm(self, o: Any, key: Key) -> None:
        if o.sender:
            self.values[("astm", "src_ip")].add(o.src_ip)

    def _intellivue(self, o: Any, key: Key) -> None:
        self.values[("intellivue", "monitor_mac")].add(o.monitor_mac)
        self.values[("intellivue", "src_mac")].add(o.src_mac)

    def _poct(self, o: Any, key: Key) -> None:
        self.values[("poct", "src_ip")].add(o.src_ip)

    # ------------------------------------------------------------------ reading

    def stats_records(self) -> list[CaptureStats]:
        """The CaptureStats records in analysis order."""
        return [cast(CaptureStats, o) for _, o in sorted(self.stats, key=lambda item: item[0])]

    def conversation_groups(self) -> list[ConvGroup]:
        """Conversation groups in the order of their first record."""
        return sorted(self.conversations.values(), key=lambda g: g.first)

    def remote_records(self) -> list[RemoteRef]:
        """One remote-access record per (client, server, addresses, method): the first, in analysis order."""
        return [o for _, o in sorted(self.remote_first.values(), key=lambda item: item[0])]

    def raw_buckets(self) -> Mapping[str, list[Observation]]:
        """Every raw observation by kind, sorted (read again through `raw`)."""
        return LazyBuckets(self.raw)


def bucket(observations: Iterable[Observation]) -> dict[str, list[Observation]]:
    """Observations by kind, each list in analysis order (ts, source, frame_no; stable)."""
    out: dict[str, list[Observation]] = defaultdict(list)
    for o in observations:
        out[o.kind].append(o)
    for items in out.values():
        items.sort(key=lambda o: (o.ts, o.source, o.frame_no))
    return dict(out)


class LazyBuckets(Mapping[str, list[Observation]]):
    """`bucket()` of the raw observations, read only when first needed."""

    def __init__(self, raw: Callable[[], Iterable[Observation]] | None) -> None:
        self._raw = raw
        self._data: dict[str, list[Observation]] | None = None

    def _load(self) -> dict[str, list[Observation]]:
        if self._data is None:
            if self._raw is None:
                raise RuntimeError("this analysis needs the raw observations (a rule on the `observation` "
                                   "subject or a subject provider outside analyzer.subjects) "
                                   "but they were not kept")
            self._data = bucket(self._raw())
        return self._data

    def __getitem__(self, kind: str) -> list[Observation]:
        return self._load()[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


def digest_of(ctx: Any) -> Digest:
    """The digest of an analysis context; built from `ctx.observations` for a hand-made context (tests)."""
    digest = getattr(ctx, "digest", None)
    if digest is None:
        digest = Digest(site=getattr(ctx, "site", None))
        for items in (getattr(ctx, "observations", None) or {}).values():
            digest.add_many(items)
        try:
            ctx.digest = digest
        except AttributeError:  # pragma: no cover - frozen namespace
            pass
    return digest


def _keep_evidence(table: dict[Any, Top], group: Any, o: Any, key: Key) -> None:
    """Keep the first three evidence pointers (source, frame, time) of one group of records."""
    top = table.get(group)
    if top is None:
        top = table[group] = Top(3)
    if top.wants(key):
        top.put(key, (o.source, o.frame_no, key[0]))
