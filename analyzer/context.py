"""What rule subject providers see: the inventory, aggregated conversations, raw observations, policy.

`AnalysisContext` is built once per analysis by `analyzer.engine.analyze` and handed to every
subject provider (analyzer/subjects/*); providers read the observations through its `digest`
(analyzer.digest), and `observations` (every raw record by kind) only when they need raw records.
`ConvView` is one conversation aggregated over flush periods (same client IP, server IP,
transport and server port), with its endpoints resolved to inventory devices and site zones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.models import Device, Evidence
from analyzer.sheets import Sheet
from analyzer.site import SitePolicy, Zone, is_public
from collector.schema import Observation

if TYPE_CHECKING:
    from analyzer.baseline import Baseline
    from analyzer.digest import Digest

TLS_APPS = ("tls", "dicom-tls", "https", "ssh")


@dataclass
class ConvView:
    """One aggregated conversation with resolved endpoints."""

    client_ip: str
    server_ip: str
    transport: str | None
    server_port: int | None
    vlan: int | None
    app: str | None
    first_ts: float
    last_ts: float
    packets: int = 0
    bytes: int = 0
    records: int = 0
    syn_seen: bool = False
    client: Device | None = None
    server: Device | None = None
    client_zone: Zone | None = None
    server_zone: Zone | None = None
    evidence: list[Evidence] = field(default_factory=list)
    apps: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        port = "" if self.server_port is None else f":{self.server_port}"
        return f"{self.client_ip}->{self.server_ip}{port}/{self.transport or 'other'}"

    @property
    def pair(self) -> str:
        """Unordered address pair (what a baseline built from a report can know)."""
        a, b = sorted((self.client_ip, self.server_ip))
        return f"{a}<->{b}"

    @property
    def tls(self) -> bool:
        return any(a in TLS_APPS for a in self.apps) or self.server_port in (443, 2762, 6514)

    @property
    def client_is_public(self) -> bool:
        return is_public(self.client_ip)

    @property
    def server_is_public(self) -> bool:
        return is_public(self.server_ip)


@dataclass
class Tables:
    """Data tables from the rules folder."""

    rules_dir: Path
    vendors: tuple[Any, ...] = ()
    eol: tuple[Any, ...] = ()
    fingerprints: tuple[Any, ...] = ()
    roles: list[Any] = field(default_factory=list)
    endpoints: Any = None
    """Office/IT endpoint evidence (analyzer.classify.EndpointTable from rules/endpoints.yaml)."""


@dataclass
class AnalysisContext:
    devices: dict[str, Device]
    conversations: list[ConvView]
    observations: Mapping[str, list[Observation]]
    """Raw observations by kind, sorted; read lazily (analyzer.digest.LazyBuckets): steps use `digest`."""
    site: SitePolicy | None
    sheets: list[Sheet]
    now: dt.datetime
    tables: Tables
    ip_to_mac: dict[str, str] = field(default_factory=dict)
    matches: dict[str, tuple[str, str]] = field(default_factory=dict)
    baseline: Baseline | None = None
    home_vlan: dict[str, int | None] = field(default_factory=dict)
    digest: Digest | None = None
    sheet_origins: dict[str, str] = field(default_factory=dict)
    """Sheet id -> the file and line it was imported from (`sheets.csv:12`), cited by its findings."""

    def of_kind(self, kind: str) -> list[Observation]:
        return self.observations.get(kind, [])

    def device_by_ip(self, ip: str | None) -> Device | None:
        mac = self.ip_to_mac.get(ip or "")
        return self.devices.get(mac) if mac else None

    def device_by_mac(self, mac: str | None) -> Device | None:
        return self.devices.get(mac) if mac else None

    def zone_of_ip(self, ip: str | None) -> Zone | None:
        """Zone of an address: its device's home VLAN first, then CIDR/public."""
        if self.site is None:
            if ip and is_public(ip):
                from analyzer.site import INTERNET

                return INTERNET
            return None
        return self.site.zone_of(ip, self.home_vlan.get(ip or ""))


def evidence_of(obs: Observation, text: str) -> Evidence:
    return Evidence(source=obs.source or None, frame_no=obs.frame_no or None, ts=obs.ts, text=text)
