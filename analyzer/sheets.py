"""Identification sheets: what the hospital declares for each application and its equipment.

A sheet is the AFIB "fiche d'identification" of one application / workstation,
as the biomedical service writes it.  This module defines the declared model
(kept separate from what was observed, as NetBox does) and nothing else;
`analyzer.sheet_io` reads and writes files, `analyzer.reconcile` compares.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Literal

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


class Sheet(SheetModel):
    """One identification sheet (fields follow the AFIB sheet; MDS2 items noted in descriptions)."""

    id: str = Field(description="Stable sheet id, e.g. SH-0001.", min_length=1, max_length=64)
    software_name: str = Field(description="Nom du logiciel (MDS2 DOC product name).", min_length=1)
    software_version: str | None = Field(default=None, description="Version (MDS2 DOC software version).")
    supplier: str | None = Field(default=None, description="Fournisseur (MDS2 DOC manufacturer).")
    workstation: str | None = Field(default=None, description="Poste informatique: hostname.")
    workstation_owner: Owner = Field(default="establishment",
                                     description="Poste: établissement ou fournisseur.")
    mac: str | None = Field(default=None,
                            description="MAC address where known (stored as aa:bb:cc:dd:ee:ff).")
    ip: str | None = Field(default=None, description="IPv4 or IPv6 address where known (stored normalised).")
    connection: ConnectionType = Field(default="unknown", description="Type de connexion réseau.")
    vlan: int | None = Field(default=None, description="Declared VLAN id (802.1Q: 1..4094).", ge=1, le=4094)
    interfaces: list[Interface] = Field(default_factory=list, description="Interfaces (peer, protocol).")
    servers: list[Server] = Field(default_factory=list, description="Servers, backup servers included.")
    os_name: str | None = Field(default=None, description="Operating system (MDS2 SAHD).")
    os_version: str | None = Field(default=None, description="OS version.")
    backups: str | None = Field(default=None, description="Sauvegardes: what and how (MDS2 DTBK).")
    protection: str | None = Field(default=None,
                                   description="Protection: antivirus, hardening (MDS2 MLDP/SAHD).")
    restoration: str | None = Field(default=None, description="Restauration en cas de panne (MDS2 DTBK).")
    remote_maintenance: RemoteMaintenance = Field(default_factory=RemoteMaintenance, description="MDS2 RMOT.")
    responsibility: Literal["biomedical", "it"] = Field(default="biomedical",
                                                        description="Service responsable.")
    perimeter_criterion: str | None = Field(default=None, description="Why it is in that perimeter.")
    biomedical_referent: str | None = Field(default=None, description="Référent biomédical.")
    it_referent: str | None = Field(default=None, description="Référent informatique.")
    last_review: dt.date | None = Field(default=None, description="Date of the last yearly review.")
    ce_marking: str | None = Field(default=None, description="CE marking / DM class (I, IIa, IIb, III).")

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
