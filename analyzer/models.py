"""Analyzer result types: the device inventory, findings and the report contract (schema 1).

These are the documented records the analyzer hands to the API and writes in
`--report` JSON.  The report shape is a stable machine contract: fields are
only ever added, and `REPORT_SCHEMA` changes when a field changes meaning.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

REPORT_SCHEMA = 1

Connection = Literal["wired", "wifi", "unknown"]
Service = Literal["biomedical", "it"]
Severity = Literal["info", "low", "medium", "high", "critical"]
Status = Literal["open", "acknowledged", "risk-accepted", "resolved", "false-positive", "no-longer-observed"]
STATUSES: tuple[str, ...] = get_args(Status)
"""Review statuses of a finding, in display order: the one catalogue the API, the UI and the store use."""
CLOSED_STATUSES = frozenset({"resolved", "false-positive", "no-longer-observed"})
"""Statuses of a finding nobody needs to act on; a resolved or no-longer-observed one reopens when seen
again."""
REVIEW_STATUSES = tuple(s for s in STATUSES if s != "no-longer-observed")
"""Statuses a person may set (no-longer-observed is set by the store when traffic stops showing it)."""

SEVERITY_ORDER: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Fact(Model):
    """One attribute value of a device with its origin and counts (IVRE passive-style)."""

    attribute: str = Field(description="hostname, vendor_class, dhcp_fingerprint, os, ae_title, ...")
    value: str = Field(description="The value as text.")
    source: str = Field(description="Where it came from: dhcp.opt12, lldp, dicom.calling_ae, ...")
    count: int = Field(default=1, description="How many observations carried it.")
    first_seen: float = Field(description="First packet time.")
    last_seen: float = Field(description="Last packet time.")


class Device(Model):
    """One device of the inventory: one MAC (per VLAN when the same MAC is in several)."""

    mac: str = Field(description="MAC address (lower-case colon form); the device key.  A device seen "
                                 "only on links without MAC addresses is keyed 'ip:<address>' "
                                 "(analyzer.inventory.ip_key).")
    ips: list[str] = Field(default_factory=list, description="IP addresses it used as source, sorted.")
    vlans: list[int] = Field(default_factory=list, description="VLAN ids it was seen in (0 = untagged).")
    vendor: str | None = Field(default=None,
                               description="Manufacturer from the OUI registry and alias table.")
    oui_vendor: str | None = Field(default=None, description="Raw IEEE registry organisation name.")
    radio_module: bool = Field(default=False,
                               description="The OUI belongs to an embedded radio/serial module maker.")
    random_mac: bool = Field(default=False, description="Locally administered (randomised) MAC.")
    hostname: str | None = Field(default=None,
                                 description="Best name: DHCP, DNS, NetBIOS, LLDP, in that order.")
    names: list[str] = Field(default_factory=list, description="Every name seen.")
    role: str = Field(default="unknown",
                      description="Role from the classification (imaging-modality, pacs, ...).")
    role_confidence: float = Field(default=0.0, description="0..1.")
    role_evidence: list[str] = Field(default_factory=list, description="Why the role was chosen.")
    is_dm: bool = Field(default=False,
                        description="Considered a medical device (DM) or DM supervision system.")
    connection: Connection = Field(default="unknown", description="wired, wifi or unknown.")
    connection_evidence: list[str] = Field(default_factory=list, description="Why.")
    zone: str | None = Field(default=None, description="Site policy zone name.")
    zone_kind: str | None = Field(default=None,
                                  description="dm, office, wifi, servers, maintenance, internet.")
    os: str | None = Field(default=None, description="OS family and version, e.g. 'Windows 7'.")
    os_confidence: float = Field(default=0.0, description="0..1.")
    os_eol: bool = Field(default=False, description="The end-of-life table marks this OS unsupported.")
    os_eol_evidence: list[str] = Field(default_factory=list,
                                       description="The end-of-support entry that applies to the OS and why "
                                                   "(what the evidence did not name was assumed).")
    switch_port: str | None = Field(default=None, description="'switch-name port-id' from LLDP/CDP.")
    protocols: list[str] = Field(default_factory=list,
                                 description="Protocols it speaks, as 'app/client' or 'app/server'.")
    peers: list[str] = Field(default_factory=list, description="IP addresses of its conversation peers.")
    first_seen: float | None = Field(default=None, description="First packet time.")
    last_seen: float | None = Field(default=None, description="Last packet time.")
    service: Service = Field(default="it", description="Responsible service (biomedical or it).")
    sheet_id: str | None = Field(default=None, description="Identification sheet matched to this device.")
    sheet_match: str | None = Field(default=None, description="How the sheet matched: mac, ip or hostname.")
    sensors: list[str] = Field(default_factory=list, description="Sensors that saw it.")
    facts: list[Fact] = Field(default_factory=list, description="Every fact with origin and counts.")
    is_router: bool = Field(default=False, description="One MAC behind many IPs: a routed interface.")


class Evidence(Model):
    """A pointer to what made a finding fire."""

    source: str | None = Field(default=None, description="Capture file or interface.")
    frame_no: int | None = Field(default=None, description="Frame number in that capture.")
    ts: float | None = Field(default=None, description="Packet time.")
    text: str = Field(description="Human-readable evidence (conversation, banner, field values).")


class Finding(Model):
    """One finding: a rule that fired on one subject."""

    id: str = Field(description="Stable id: same rule (uid) and subject give the same id across runs.")
    rule: str = Field(description="Rule id from the catalogue in rules/.")
    rule_uid: str = Field(default="", description="The rule's immutable uid (kept when the rule is renamed).")
    severity: Severity = Field(description="info..critical.")
    title: str = Field(description="English title.")
    title_fr: str = Field(default="", description="French title.")
    subject: str = Field(default="",
                         description="What the finding is about (device MAC, conversation key...).")
    devices: list[str] = Field(default_factory=list, description="MACs of the devices involved.")
    ips: list[str] = Field(default_factory=list, description="Addresses involved.")
    evidence: list[Evidence] = Field(default_factory=list, description="What was seen.")
    service: Service = Field(description="Responsible service.")
    recommendation: str = Field(default="", description="What to change, where.")
    playbook: str = Field(default="", description="First response in an incident (the rule's `playbook`).")
    playbook_fr: str = Field(default="", description="First response in French (the rule's `playbook_fr`).")
    recommendation_fr: str = Field(default="", description="The recommendation in French (the rule's "
                                   "remediation_fr filled with the same values); empty when the rule has "
                                   "none.")
    zone: str | None = Field(default=None, description="Zone of the main device.")
    status: Status = Field(default="open", description="Review status; survives re-analysis.")
    first_seen: float | None = Field(default=None, description="First packet time of the evidence.")
    last_seen: float | None = Field(default=None, description="Last packet time of the evidence.")


class Stats(Model):
    """Run counters as reported in the report's `stats`."""

    packets: int = 0
    bytes: int = 0
    malformed: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    weirds: dict[str, int] = Field(default_factory=dict)
    kernel_drops: int | None = None
    truncated: bool = False
    files: list[str] = Field(default_factory=list)
    table_overflow: dict[str, int] = Field(default_factory=dict)
    queue_drops: int = Field(default=0, description="Frames a live capture dropped in medtap's own queue.")
    workers: list[int] = Field(default_factory=list, description="Frames each worker process handled "
                               "(runs with several workers; summed position by position over the runs).")


class Report(Model):
    """The `--report` JSON contract, schema 1."""

    schema_: int = Field(default=REPORT_SCHEMA, alias="schema", description="Report schema version.")
    stats: Stats = Field(default_factory=Stats)
    devices: list[Device] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
