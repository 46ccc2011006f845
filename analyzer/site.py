"""Site policy: zones (IEC 62443-3-2 zones), conduits between them, maintenance gateways, exceptions.

The policy is a YAML file written by the hospital (format in rules/README.md and the shared
contract).  It is validated with pydantic (unknown keys refused) and every error is reported with
its line: `site.yaml:12: zones[2].cidrs[0]: not a valid CIDR: '10.0.0.0/33'`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from netaddr import AddrFormatError, IPNetwork, IPSet
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from analyzer.referents import ReferentScope
from analyzer.yamlload import describe, load_with_lines, pydantic_errors, read_text

ZoneKind = Literal["dm", "office", "wifi", "servers", "maintenance", "internet"]
PortRange = tuple[str, int, int]  # (transport or "any", lo, hi)

APP_PORTS: dict[str, list[PortRange]] = {
    "dicom": [("tcp", 104, 104), ("tcp", 11112, 11112), ("tcp", 2762, 2762)],
    "hl7": [("tcp", 2575, 2575)],
    "dns": [("udp", 53, 53), ("tcp", 53, 53)],
    "dhcp": [("udp", 67, 68)],
    "ntp": [("udp", 123, 123)],
    "http": [("tcp", 80, 80), ("tcp", 8080, 8080)],
    "https": [("tcp", 443, 443)],
    "smb": [("tcp", 445, 445), ("tcp", 139, 139)],
    "ssh": [("tcp", 22, 22)],
    "rdp": [("tcp", 3389, 3389)],
    "syslog": [("udp", 514, 514)],
    "snmp": [("udp", 161, 162)],
    "any": [("any", 0, 65535)],
}
_SERVICE = re.compile(r"^(tcp|udp|any)/(\d{1,5})(?:-(\d{1,5}))?$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_SPECIAL = [ipaddress.ip_network(n) for n in ("100.64.0.0/10", "0.0.0.0/8", "240.0.0.0/4")]
_DOC = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]


@lru_cache(maxsize=1 << 16)
def _ip_value(ip: str) -> tuple[int, int] | None:
    """(version, integer value) of an address, None when it is not one (parsed once per address)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    return addr.version, int(addr)


class SiteError(ValueError):
    """The site policy file is invalid; the message lists `file:line: reason` lines."""


@lru_cache(maxsize=1 << 16)
def is_public(ip: str | None) -> bool:
    """Public Internet address (documentation ranges count as public so tests can use them)."""
    if not ip:
        return False
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if addr.version == 4 and any(addr in n for n in _SPECIAL):
        return False
    if addr.version == 4 and any(addr in n for n in _DOC):
        return True
    return not (addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_multicast
                or addr.is_unspecified or addr.is_reserved)


@lru_cache(maxsize=1024)
def parse_service(text: str) -> list[PortRange]:
    """'tcp/104' -> [('tcp',104,104)]; 'udp/67-68'; app names (dicom, hl7, dns, ...)."""
    value = str(text).strip().lower()
    if value in APP_PORTS:
        return APP_PORTS[value]
    m = _SERVICE.match(value)
    if not m:
        raise ValueError(f"not a service (proto/port, proto/lo-hi or one of "
                         f"{', '.join(sorted(APP_PORTS))}): {text!r}")
    lo = int(m.group(2))
    hi = int(m.group(3) or lo)
    if not (0 <= lo <= hi <= 65535):
        raise ValueError(f"bad port range: {text!r}")
    return [(m.group(1), lo, hi)]


def _cidr(value: object) -> str:
    try:
        ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise ValueError(f"not a valid CIDR: {value!r}") from None
    return str(value)


Cidr = Annotated[str, BeforeValidator(_cidr)]


class SiteModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Zone(SiteModel):
    name: str = Field(min_length=1)
    kind: ZoneKind
    vlans: list[int] = Field(default_factory=list)
    cidrs: list[Cidr] = Field(default_factory=list)
    description: str = ""
    _set: IPSet = PrivateAttr(default_factory=IPSet)
    _ranges: list[tuple[int, int, int]] = PrivateAttr(default_factory=list)

    @field_validator("vlans")
    @classmethod
    def _vlans(cls, value: list[int]) -> list[int]:
        for v in value:
            if not 0 <= v <= 4094:
                raise ValueError(f"not a VLAN id: {v}")
        return value

    def model_post_init(self, __context: object) -> None:
        try:
            self._set = IPSet(IPNetwork(c) for c in self.cidrs)
        except AddrFormatError:  # pragma: no cover - validated above
            self._set = IPSet()
        # integer ranges of the IPSet: membership tests without netaddr's per-call parsing
        self._ranges = [(c.version, c.first, c.last) for c in self._set.iter_cidrs()]

    def contains(self, ip: str) -> bool:
        parsed = _ip_value(ip)
        if parsed is None:
            return False
        version, value = parsed
        return any(v == version and lo <= value <= hi for v, lo, hi in self._ranges)


class Conduit(SiteModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: str = Field(alias="from")
    to: str
    services: list[str] = Field(default_factory=lambda: ["any"])
    description: str = ""

    @field_validator("services")
    @classmethod
    def _services(cls, value: list[str]) -> list[str]:
        for s in value:
            parse_service(s)
        return value

    def permits(self, transport: str | None, port: int | None, app: str | None) -> bool:
        for s in self.services:
            name = str(s).lower()
            if app and name == app.lower():
                return True
            for proto, lo, hi in parse_service(s):
                if proto == "any":
                    return True
                if transport == proto and port is not None and lo <= port <= hi:
                    return True
        return False


class Window(SiteModel):
    days: list[str] = Field(default_factory=lambda: list(DAYS))
    start: str = "00:00"
    end: str = "23:59"
    tz: str = "UTC"

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        bad = [d for d in value if d.lower()[:3] not in DAYS]
        if bad:
            raise ValueError(f"unknown day(s) {bad}: use {', '.join(DAYS)}")
        return [d.lower()[:3] for d in value]

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(str(value)):
            raise ValueError(f"not a HH:MM time: {value!r}")
        return str(value)

    @field_validator("tz")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone: {value!r}") from None
        return value

    def contains(self, ts: float) -> bool:
        """True when the epoch time `ts` falls on an allowed day between start and end (local time)."""
        local = dt.datetime.fromtimestamp(ts, ZoneInfo(self.tz))
        if DAYS[local.weekday()] not in self.days:
            return False
        hhmm = local.strftime("%H:%M")
        if self.start <= self.end:
            return self.start <= hhmm <= self.end
        return hhmm >= self.start or hhmm <= self.end  # window across midnight


class Gateway(SiteModel):
    name: str
    ips: list[str] = Field(default_factory=list)
    methods: list[str] = Field(default_factory=list)
    suppliers: list[str] = Field(default_factory=list)
    window: Window | None = None

    @field_validator("ips")
    @classmethod
    def _ips(cls, value: list[str]) -> list[str]:
        for ip in value:
            try:
                ipaddress.ip_address(str(ip))
            except ValueError:
                raise ValueError(f"not an IP address: {ip!r}") from None
        return [str(v) for v in value]

    def in_window(self, ts: float | None) -> bool:
        return self.window is None or ts is None or self.window.contains(ts)


class SsidVlan(SiteModel):
    """A Wi-Fi network and the VLAN the controller bridges it to (issue 20 item 7): a station seen only
    inside a controller tunnel (CAPWAP, LWAPP, Aruba GRE) has no VLAN on the wire, so its VLAN is the
    one its SSID maps to here, else unknown."""

    ssid: str = Field(min_length=1, description="The network name (IEEE 802.11: at most 32 octets).")
    vlan: int = Field(ge=1, le=4094, description="The 802.1Q VLAN the controller puts its stations in.")

    @field_validator("ssid", mode="before")
    @classmethod
    def _ssid(cls, value: object) -> object:
        if isinstance(value, str) and len(value.encode("utf-8")) > 32:
            raise ValueError(f"an SSID has at most 32 octets (IEEE 802.11): {value!r}")
        return value


class Maintenance(SiteModel):
    gateways: list[Gateway] = Field(default_factory=list)


class SiteException(SiteModel):
    rule: str
    subject: str
    reason: str = ""
    who: str = ""
    expires: dt.date | None = None

    @field_validator("subject", mode="before")
    @classmethod
    def _subject(cls, value: object) -> object:
        return str(value) if value is not None else value

    def active(self, today: dt.date) -> bool:
        return self.expires is None or today <= self.expires


_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>.][^@\s,;<>]*$")


class Referents(SiteModel):
    """Who is told of the changes on one service's perimeter (api.referents sends the digest).

    Written in the site policy (`referents:` per service, validated with its line like the rest of the
    policy) or in the MEDTAP_REFERENTS setting; for a service named in both, the setting wins (see
    `referents_in_force`)."""

    emails: list[str] = Field(default_factory=list, description="E-mail addresses of the digest.")
    webhook: str | None = Field(default=None, description="http(s) URL that receives the digest as JSON.")

    @field_validator("emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        for address in value:
            if not _EMAIL.match(address.strip()):
                raise ValueError(f"not an e-mail address: {address!r}")
        return [a.strip() for a in value]

    @field_validator("webhook")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value.strip()


def referents_in_force(policy: SitePolicy | None,
                       override: Mapping[str, Referents] | None = None) -> dict[str, Referents]:
    """Per service, who receives its digest: the site policy's `referents`, each service named in
    `override` (the MEDTAP_REFERENTS setting) replacing the policy's entry for that service whole (an
    operator can redirect a digest without editing the policy; a service absent from the setting keeps
    the policy's referents)."""
    out: dict[str, Referents] = {str(k): v for k, v in policy.referents.items()} if policy is not None else {}
    out.update(override or {})
    return out


class SitePolicy(SiteModel):
    site: str = ""
    zones: list[Zone] = Field(default_factory=list)
    conduits: list[Conduit] = Field(default_factory=list)
    maintenance: Maintenance = Field(default_factory=Maintenance)
    dhcp_servers: list[str] = Field(default_factory=list)
    ssids: list[SsidVlan] = Field(default_factory=list,
                                  description="Wi-Fi networks and their VLANs, for stations seen only "
                                  "inside a controller tunnel.")
    exceptions: list[SiteException] = Field(default_factory=list)
    risk_acceptance_max_days: int = Field(default=365, ge=1, le=3650,
                                          description="Longest a risk acceptance of a finding may run, in "
                                          "days from the day it is given (the API and the UI refuse a later "
                                          "expiry).")
    min_observed_hours: float = Field(default=1.0, ge=0,
                                      description="Hours of traffic observed on a device's VLAN (or of the "
                                      "device) before declared-not-seen and declared-server-silent may fire: "
                                      "a freshly started sensor flags no sheet.")
    referents: dict[ReferentScope, Referents] = Field(
        default_factory=dict, description="Per service (biomedical, it, or security for every service's "
        "perimeter): e-mail addresses and webhook of the referents who receive the digest of its changes.")
    _zone_cache: dict[tuple[str | None, int | None], Zone | None] = PrivateAttr(default_factory=dict)
    _source: str = PrivateAttr(default="site policy")
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)

    @field_validator("ssids")
    @classmethod
    def _one_vlan_per_ssid(cls, value: list[SsidVlan]) -> list[SsidVlan]:
        names = [m.ssid for m in value]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"SSID mapped twice (a network has one VLAN): {dup}")
        return value

    @model_validator(mode="after")
    def _refs(self) -> SitePolicy:
        names = [z.name for z in self.zones]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate zone name(s): {dup}")
        known = set(names) | {"internet", "any"}
        for c in self.conduits:
            for end in (c.from_, c.to):
                if end not in known:
                    raise ValueError(f"conduit {c.from_} -> {c.to}: unknown zone {end!r}")
        return self

    # ------------------------------------------------------------------ where a verdict comes from

    def located(self, source: str, lines: dict[tuple[str | int, ...], int]) -> SitePolicy:
        """Remember the file and the line of every entry (parse_site does it), for `ref`."""
        self._source, self._lines = Path(source).name or source, dict(lines)  # no machine-specific folder
        return self

    def ref(self, *loc: str | int) -> str:
        """`file:line` of a policy entry (just the file when the policy was not read from text)."""
        line = self._lines.get(tuple(loc))
        return f"{self._source}:{line}" if line is not None else self._source

    def zone_ref(self, name: str | None) -> str | None:
        """Where zone `name` is defined, with its kind: `site.yaml:12 zone imaging (dm)`."""
        for i, z in enumerate(self.zones):
            if z.name == name:
                return f"{self.ref('zones', i)} zone {z.name} ({z.kind})"
        return None

    def conduit_ref(self, src_zone: str | None, dst_zone: str | None, transport: str | None,
                    port: int | None, app: str | None = None) -> str:
        """The policy line that allows a flow, or why none does."""
        if src_zone is not None and src_zone == dst_zone:
            return f"{self.zone_ref(src_zone) or src_zone}: same zone, always allowed"
        for i, c in enumerate(self.conduits):
            if c.from_ in (src_zone, "any") and c.to in (dst_zone, "any") and c.permits(transport, port, app):
                return f"{self.ref('conduits', i)} conduit {c.from_} -> {c.to} {', '.join(c.services)}"
        ends = [c for c in self.conduits if c.from_ in (src_zone, "any") and c.to in (dst_zone, "any")]
        listed = "; ".join(f"{self.ref('conduits', self.conduits.index(c))} allows only "
                           f"{', '.join(c.services)}" for c in ends[:3])
        return (f"{self.ref('conduits')} no conduit from {src_zone} to {dst_zone} allows "
                f"{transport}/{port}{' ' + app if app else ''}" + (f" ({listed})" if listed else ""))

    def dhcp_ref(self, ip: str | None) -> str:
        """Where the DHCP servers are declared, and whether `ip` is one of them."""
        if ip in self.dhcp_servers:
            return f"{self.ref('dhcp_servers', self.dhcp_servers.index(ip))} dhcp_servers lists {ip}"
        return f"{self.ref('dhcp_servers')} dhcp_servers [{', '.join(self.dhcp_servers)}] does not list {ip}"

    def ssid_vlan(self, ssid: str | None) -> tuple[int, str] | None:
        """(VLAN, `file:line` of the mapping) the policy gives SSID `ssid`, else None (unknown)."""
        for i, m in enumerate(self.ssids):
            if m.ssid == ssid:
                return m.vlan, self.ref("ssids", i)
        return None

    # ------------------------------------------------------------------ lookups

    def zone(self, name: str | None) -> Zone | None:
        for z in self.zones:
            if z.name == name:
                return z
        if name == "internet":
            return INTERNET
        return None

    def zone_of(self, ip: str | None, vlan: int | None = None) -> Zone | None:
        """VLAN match first, then CIDR; a public address outside every zone is the implicit internet zone."""
        key = (ip, vlan)
        if key not in self._zone_cache:
            self._zone_cache[key] = self._zone_of(ip, vlan)
        return self._zone_cache[key]

    def _zone_of(self, ip: str | None, vlan: int | None) -> Zone | None:
        if vlan is not None:
            for z in self.zones:
                if vlan in z.vlans:
                    return z
        if ip:
            for z in self.zones:
                if z.contains(ip):
                    return z
            if is_public(ip):
                return INTERNET
        return None

    def allowed(self, src_zone: str | None, dst_zone: str | None, transport: str | None,
                port: int | None, app: str | None = None) -> bool:
        """Same zone is allowed; otherwise a conduit from -> to must permit the service."""
        if src_zone is not None and src_zone == dst_zone:
            return True
        for c in self.conduits:
            if c.from_ in (src_zone, "any") and c.to in (dst_zone, "any") and c.permits(transport, port, app):
                return True
        return False

    def gateway_for(self, ip: str | None) -> Gateway | None:
        for g in self.maintenance.gateways:
            if ip in g.ips:
                return g
        return None


INTERNET = Zone(name="internet", kind="internet", description="Implicit: public addresses outside every zone")


def parse_site(text: str, name: str = "site.yaml") -> SitePolicy:
    """Validate YAML text; raise SiteError listing every problem with its line."""
    try:
        data, lines = load_with_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise SiteError(f"{name}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SiteError(f"{name}:1: the site policy must be a mapping")
    try:
        return SitePolicy.model_validate(data).located(name, lines)
    except ValidationError as exc:
        raise SiteError("\n".join(pydantic_errors(name, exc, lines))) from None


def load_site(path: Path | str) -> SitePolicy:
    """Load and validate a site policy file (raises SiteError with `path:line: reason`)."""
    try:
        text = read_text(Path(path))
    except yaml.YAMLError as exc:
        raise SiteError(describe(exc, str(path))) from None
    return parse_site(text, str(path))
