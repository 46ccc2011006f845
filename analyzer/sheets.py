"""Identification sheets: what the hospital declares for each application and its equipment.

A sheet is the AFIB "fiche d'identification" of one application / workstation,
as the biomedical service writes it.  This module defines the declared model
(kept separate from what was observed, as NetBox does) and nothing else;
`analyzer.sheet_io` reads and writes files, `analyzer.reconcile` compares.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from analyzer.macs import normalise_mac

Owner = Literal["establishment", "supplier"]
ConnectionType = Literal["wired", "wifi", "unknown"]


class SheetModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Interface(SheetModel):
    """A declared interface: a peer the application talks to and how."""

    peer: str = Field(description="Peer hostname, IP or application name (e.g. PACS, 10.10.50.20).")
    protocol: str = Field(default="", description="dicom, hl7, http, smb, ... (free text, lower-case).")
    port: int | None = Field(default=None, description="Server port when known.")


class Server(SheetModel):
    """A declared server the application depends on (backup servers included)."""

    name: str = Field(description="Hostname or IP.")
    role: str = Field(default="", description="pacs, backup, database, licence, ...")


class RemoteMaintenance(SheetModel):
    """How the supplier maintains the system remotely (MDS2 RMOT)."""

    method: str = Field(default="none", description="none, or rdp, vnc, teamviewer, vpn, ssh, ...")
    gateway: str | None = Field(default=None, description="Approved gateway (name or IP) it goes through.")
    supplier: str | None = Field(default=None, description="Who connects.")


def _meta(group: str, *headers: str, widget: str | None = None, help: str | None = None) -> dict[str, Any]:
    """A sheet field's metadata: form `group`, other CSV `headers` it is known by, `widget`, `help`."""
    out: dict[str, Any] = {"group": group, "headers": list(headers)}
    if widget:
        out["widget"] = widget
    if help:
        out["help"] = help
    return out


class Sheet(SheetModel):
    """One identification sheet (fields follow the AFIB sheet; MDS2 items noted in descriptions).

    The one definition of the sheet's fields: their order is the CSV columns', `headers` lists the
    other column names a hospital's export may use (accents and punctuation folded), `group` and
    `widget` place the field in the web form (analyzer.sheet_io and api.web.forms derive from it).
    """

    id: str = Field(
        description="Stable sheet id, e.g. SH-0001.", min_length=1, max_length=64,
        json_schema_extra=_meta("identity", "identifiant", "id fiche", "fiche", "reference", "ref"))
    software_name: str = Field(
        description="Nom du logiciel (MDS2 DOC product name).", min_length=1,
        json_schema_extra=_meta("identity", "nom du logiciel", "logiciel", "application",
                                "nom de l application", "software", "name"))
    software_version: str | None = Field(
        default=None, description="Version (MDS2 DOC software version).",
        json_schema_extra=_meta("identity", "version", "version du logiciel", "version logiciel"))
    supplier: str | None = Field(
        default=None, description="Fournisseur (MDS2 DOC manufacturer).",
        json_schema_extra=_meta("identity", "fournisseur", "editeur", "fabricant", "vendor", "manufacturer"))
    workstation: str | None = Field(
        default=None, description="Poste informatique: hostname.",
        json_schema_extra=_meta("workstation", "poste informatique", "poste", "nom du poste", "hostname",
                                "host"))
    workstation_owner: Owner = Field(
        default="establishment", description="Poste: établissement ou fournisseur.",
        json_schema_extra=_meta("workstation", "proprietaire du poste", "proprietaire", "owner"))
    mac: str | None = Field(
        default=None, description="MAC address where known (stored as aa:bb:cc:dd:ee:ff).",
        json_schema_extra=_meta("network", "adresse mac", "mac address"))
    ip: str | None = Field(default=None, description="IPv4 or IPv6 address where known (stored normalised).",
                           json_schema_extra=_meta("network", "adresse ip", "ip address"))
    connection: ConnectionType = Field(
        default="unknown", description="Type de connexion réseau.",
        json_schema_extra=_meta("network", "type de connexion", "connexion", "connection type",
                                "type de connexion reseau"))
    vlan: int | None = Field(default=None, description="Declared VLAN id (802.1Q: 1..4094).", ge=1, le=4094,
                             json_schema_extra=_meta("network", "vlan id"))
    switch: str | None = Field(
        default=None, description="Switch the device is plugged into, by the name it announces in LLDP "
                                  "(system name) or CDP (device id); a DNS domain is ignored.",
        json_schema_extra=_meta("network", "commutateur", "nom du commutateur", "nom du switch",
                                "switch name"))
    switch_port: str | None = Field(
        default=None, description="Port of that switch (Gi1/0/13 or GigabitEthernet1/0/13: abbreviations "
                                  "compare equal).",
        json_schema_extra=_meta("network", "port du commutateur", "port du switch", "port switch",
                                "port de brassage", "switchport"))
    wall_socket: str | None = Field(
        default=None, description="Wall socket (prise murale) the device is cabled to: recorded with the "
                                  "cabling, not observable on the network.",
        json_schema_extra=_meta("network", "prise murale", "prise reseau", "prise", "socket"))
    interfaces: list[Interface] = Field(
        default_factory=list, description="Interfaces (peer, protocol).",
        json_schema_extra=_meta("network", "interface", help="sheet.interfaces_help"))
    servers: list[Server] = Field(
        default_factory=list, description="Servers, backup servers included.",
        json_schema_extra=_meta("network", "serveurs", "serveur", "server", help="sheet.servers_help"))
    os_name: str | None = Field(
        default=None, description="Operating system (MDS2 SAHD).",
        json_schema_extra=_meta("workstation", "systeme d exploitation", "os", "operating system", "systeme"))
    os_version: str | None = Field(
        default=None, description="OS version.",
        json_schema_extra=_meta("workstation", "version os", "version du systeme",
                                "version systeme d exploitation"))
    backups: str | None = Field(default=None, description="Sauvegardes: what and how (MDS2 DTBK).",
                                json_schema_extra=_meta("security", "sauvegardes", "sauvegarde", "backup",
                                                        widget="textarea"))
    protection: str | None = Field(
        default=None, description="Protection: antivirus, hardening (MDS2 MLDP/SAHD).",
        json_schema_extra=_meta("security", "antivirus", widget="textarea"))
    restoration: str | None = Field(
        default=None, description="Restauration en cas de panne (MDS2 DTBK).",
        json_schema_extra=_meta("security", "restauration", "restore", widget="textarea"))
    remote_maintenance: RemoteMaintenance = Field(
        default_factory=RemoteMaintenance, description="MDS2 RMOT.",
        json_schema_extra=_meta("remote", "telemaintenance", "tele maintenance", "maintenance a distance",
                                "remote access"))
    responsibility: Literal["biomedical", "it"] = Field(
        default="biomedical", description="Service responsable.",
        json_schema_extra=_meta("identity", "responsabilite", "service responsable", "service"))
    perimeter_criterion: str | None = Field(
        default=None, description="Why it is in that perimeter.",
        json_schema_extra=_meta("identity", "critere de perimetre", "perimetre", "perimeter"))
    biomedical_referent: str | None = Field(
        default=None, description="Référent biomédical.",
        json_schema_extra=_meta("people", "referent biomedical", "referent biomed"))
    it_referent: str | None = Field(default=None, description="Référent informatique.",
                                    json_schema_extra=_meta("people", "referent informatique", "referent it",
                                                            "referent dsi"))
    last_review: dt.date | None = Field(
        default=None, description="Date of the last yearly review.",
        json_schema_extra=_meta("people", "date de revue", "derniere revue", "date de la derniere revue",
                                "review date"))
    ce_marking: str | None = Field(
        default=None, description="CE marking / DM class (I, IIa, IIb, III).",
        json_schema_extra=_meta("identity", "marquage ce", "classe dm", "ce", "ce marking"))

    @field_validator("mac")
    @classmethod
    def _mac(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        return normalise_mac(value)

    @field_validator("ip")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        """A real address (999.1.1.1 or a hostname would never match a device): refused with the reason."""
        if value in (None, ""):
            return None
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError(f"not an IPv4 or IPv6 address: {value!r}") from None


SHEET_GROUPS = ("identity", "workstation", "network", "security", "remote", "people")
"""Form sections in display order (each field's `group`)."""


def field_meta(name: str) -> dict[str, Any]:
    """The `json_schema_extra` of a sheet field: headers, group, and optional widget and help key."""
    extra = Sheet.model_fields[name].json_schema_extra
    return dict(extra) if isinstance(extra, dict) else {}
