"""Third demo hospital ("Centre Hospitalier des Trois Rivieres"): two sites, devices, what each one is.

A topology neither pcaps/demo nor pcaps/demo2 has: two sites, Nord (the routing core, servers,
imaging, ICU, lab, office) and Sud (a dialysis unit, a telemetry ward on Wi-Fi, a small lab, an
office floor), joined by an operator's provider-edge link that carries Sud's VLANs as customer
VLANs inside one service VLAN (IEEE 802.1ad QinQ, S-VLAN 3000).  The single router sits at Nord;
Sud's DHCP is relayed by it to the one DHCP server at Nord.  Sud's telemetry monitors are Wi-Fi
stations whose frames reach the controller at Nord inside CAPWAP data (RFC 5415/5416): no VLAN on
the wire, the site policy maps their SSID to VLAN 220.  Two PACS and a cloud archive gateway; a
lab middleware receiving ASTM and POCT1-A2; an HL7 engine that also receives ORU from a blood-gas
analyzer nobody declared; supplier maintenance through the declared bastion and an AnyDesk
session that bypasses it; a Windows XP radiography unit; a dose-management workstation patched
to another switch port than its sheet says.  About 120 devices, most of them behaving as their
sheets say.

Addresses are RFC 1918 (10.31.0.0/16 Nord, 10.32.0.0/16 Sud) and RFC 5737 for the Internet; MAC
prefixes are real IEEE OUIs of the makers named; names and identities are synthetic.  `role` is
the truth a careful auditor writes from the scenario (expected.yaml lists what follows from it).
"""

from __future__ import annotations

from dataclasses import dataclass

S_VLAN = 3000  # the operator's service VLAN carrying Sud's customer VLANs (802.1ad outer tag)
SUD_VLANS = frozenset({210, 220, 230, 240, 250})


@dataclass(frozen=True)
class Dev:
    name: str
    mac: str
    ip: str
    vlan: int
    role: str  # truth: what the device is
    cls: str  # truth class: medical, office, server, infrastructure
    vendor_class: str | None = None  # DHCP option 60
    prl: str = "embedded"  # DHCP option 55 profile (scenes.PRL)
    relayed: bool = True  # gets its address through a relayed DHCP exchange

    @property
    def host(self) -> tuple[str, str, int]:
        return (self.mac, self.ip, self.vlan)

    @property
    def remote(self) -> tuple[str, str, int]:
        """The device as a host of the other site sees it: behind the router (vlan 0 in netkit)."""
        return (self.mac, self.ip, 0)


def _mac(prefix: str, *tail: int) -> str:
    return prefix + "".join(f":{t:02x}" for t in tail)


VMWARE, CISCO, ARUBA = "00:50:56", "00:3a:7d", "94:57:a5"
PHILIPS, SIEMENS, GE, SYSMEX, ROCHE, BBRAUN = (
    "00:09:fb",
    "00:0e:8c",
    "44:4b:5d",
    "00:06:6b",
    "00:0e:2f",
    "00:12:21",
)
DELL, HP, HP_PRN, LCFC = "d4:ae:52", "3c:52:82", "00:1c:c4", "e8:6a:64"
ROUTER = "00:00:0c:9f:f0:01"  # the Nord core router (relay agent, .1 of every VLAN of both sites)

# ----------------------------------------------------------------------------- Nord: IT servers (VLAN 10)
DHCP = Dev("DHCP-01", _mac(VMWARE, 0x1F, 0, 0x05), "10.31.10.5", 10, "dhcp-server", "server", relayed=False)
DNS = Dev("DNS-NTP-01", _mac(VMWARE, 0x1F, 0, 0x10), "10.31.10.10", 10, "server", "server", relayed=False)
FILES = Dev("FILES-01", _mac(VMWARE, 0x1F, 0, 0x40), "10.31.10.40", 10, "server", "server", relayed=False)
WLC = Dev(
    "WLC-01",
    _mac(CISCO, 0x1F, 0, 0x50),
    "10.31.10.50",
    10,
    "wlan-controller",
    "infrastructure",
    relayed=False,
)
# ------------------------------------------------------------------------- Nord: clinical servers (VLAN 11)
PACS_A = Dev(
    "PACS-RADIO", _mac("00:14:22", 0x1F, 0x0B, 0x20), "10.31.11.20", 11, "pacs", "server", relayed=False
)
PACS_B = Dev("PACS-CARDIO", _mac(HP, 0x1F, 0x0B, 0x21), "10.31.11.21", 11, "pacs", "server", relayed=False)
CLOUD_GW = Dev(
    "ARCHIVE-GW",
    _mac(VMWARE, 0x1F, 0x0B, 0x22),
    "10.31.11.22",
    11,
    "archive-gateway",
    "server",
    relayed=False,
)
LAB_MW = Dev(
    "LAB-MW", _mac(VMWARE, 0x1F, 0x0B, 0x30), "10.31.11.30", 11, "lab-middleware", "server", relayed=False
)
HL7 = Dev(
    "HL7-ENGINE", _mac(VMWARE, 0x1F, 0x0B, 0x35), "10.31.11.35", 11, "hl7-engine", "server", relayed=False
)
PACS_A_BACKUP_IP = "10.31.11.70"  # declared in the PACS-RADIO sheet, never contacted
# ----------------------------------------------------------------------------- Nord: maintenance (VLAN 60)
BASTION = Dev(
    "BASTION",
    _mac(VMWARE, 0x1F, 0x3C, 0x10),
    "10.31.60.10",
    60,
    "maintenance-gateway",
    "server",
    relayed=False,
)
# ----------------------------------------------------------------------------- Nord: imaging (VLAN 110, DM)
CT = Dev(
    "CT-N1",
    _mac(SIEMENS, 0x1F, 0x6E, 0x21),
    "10.31.110.21",
    110,
    "imaging-modality",
    "medical",
    "SIEMENS-CT",
    "windows",
)
MR = Dev(
    "MR-N1",
    _mac(GE, 0x1F, 0x6E, 0x22),
    "10.31.110.22",
    110,
    "imaging-modality",
    "medical",
    "GEHC-MR",
    "linux",
)
RX_XP = Dev(
    "RX-SALLE3",
    _mac(PHILIPS, 0x1F, 0x6E, 0x23),
    "10.31.110.23",
    110,
    "imaging-modality",
    "medical",
    None,
    "windowsxp",
)
DOSE_WS = Dev(
    "DOSE-WS",
    _mac(SIEMENS, 0x1F, 0x6E, 0x30),
    "10.31.110.30",
    110,
    "dm-workstation",
    "medical",
    None,
    "linux",
)
US = [
    Dev(
        f"ECHO-N{i}",
        _mac(GE, 0x1F, 0x6E, 0x30 + i),
        f"10.31.110.{30 + i}",
        110,
        "imaging-modality",
        "medical",
        None,
        "windows",
    )
    for i in (1, 2)
]
# -------------------------------------------------------------------- Nord: ICU monitoring (VLAN 120, DM)
CMS = Dev(
    "PIIC-ICU",
    _mac(PHILIPS, 0x1F, 0x78, 0x10),
    "10.31.120.10",
    120,
    "patient-monitor",
    "medical",
    "Philips-PIIC",
    "windows",
)
MONITORS = [
    Dev(
        f"ICU-N-{i:02d}",
        _mac(PHILIPS, 0x1F, 0x79, i),
        f"10.31.120.{100 + i}",
        120,
        "patient-monitor",
        "medical",
        "Philips-IntelliVue",
        "embedded",
    )
    for i in range(1, 17)
]
# ----------------------------------------------------------------------------- Nord: lab (VLAN 130, DM)
ANALYZERS = [
    Dev("XN-N1", _mac(SYSMEX, 0x1F, 0x82, 0x51), "10.31.130.51", 130, "lab-analyzer", "medical"),
    Dev("COBAS-N1", _mac(ROCHE, 0x1F, 0x82, 0x52), "10.31.130.52", 130, "lab-analyzer", "medical"),
]
POCT = [
    Dev(f"POCT-DOCK-{i}", _mac(ROCHE, 0x1F, 0x83, i), f"10.31.130.{60 + i}", 130, "poct-dock", "medical")
    for i in (1, 2, 3)
]
# ----------------------------------------------------------------------------- Nord: office (VLAN 140)
_PC_OUIS = (DELL, HP, LCFC)
OFFICE_N = [
    Dev(
        f"PC-N-{n:02d}",
        _mac(_PC_OUIS[n % 3], 0x1F, 0x8C, n),
        f"10.31.140.{20 + n}",
        140,
        "office-workstation",
        "office",
        "MSFT 5.0",
        "windows",
    )
    for n in range(1, 31)
]
PRN_N = [
    Dev(
        f"PRN-N-{n}",
        _mac(HP_PRN, 0x1F, 0x8D, n),
        f"10.31.140.{200 + n}",
        140,
        "printer",
        "office",
        "Hewlett-Packard JetDirect",
    )
    for n in (1, 2)
]
# ----------------------------------------------------------------------------- Sud: dialysis (VLAN 210, DM)
DIAL_SRV = Dev(
    "DIAL-SRV",
    _mac(BBRAUN, 0x20, 0xD2, 0x10),
    "10.32.210.10",
    210,
    "supplier-server",
    "server",
    relayed=False,
)
DIALYSIS = [
    Dev(
        f"DIALOG-{i:02d}",
        _mac(BBRAUN, 0x20, 0xD3, i),
        f"10.32.210.{100 + i}",
        210,
        "dialysis-machine",
        "medical",
        "BBraun-Dialog",
        "embedded",
    )
    for i in range(1, 13)
]
DIALYSIS_SPARE = ("DIALOG-13", _mac(BBRAUN, 0x20, 0xD3, 13), "10.32.210.113")  # sheet only, never on the wire
NURSE_PC = Dev(
    "PC-DIAL-POSTE",
    _mac(DELL, 0x20, 0xD2, 0x90),
    "10.32.210.90",
    210,
    "office-workstation",
    "office",
    "MSFT 5.0",
    "windows",
)
PRN_DIAL = Dev(
    "PRN-DIAL",
    _mac(HP_PRN, 0x20, 0xD2, 0x95),
    "10.32.210.95",
    210,
    "printer",
    "office",
    "Hewlett-Packard JetDirect",
)
# ------------------------------------------------------------------- Sud: telemetry (VLAN 220, DM; Wi-Fi)
TELE_CENTRAL = Dev(
    "TELE-CENTRAL",
    _mac(PHILIPS, 0x20, 0xDC, 0x10),
    "10.32.220.10",
    220,
    "patient-monitor",
    "medical",
    "Philips-PIIC",
    "windows",
)
TELEMETRY = [
    Dev(
        f"MX40-{i:02d}",
        _mac(PHILIPS, 0x20, 0xDD, i),
        f"10.32.220.{100 + i}",
        220,
        "patient-monitor",
        "medical",
        relayed=False,
    )
    for i in range(1, 10)
]
SSID = "TELEMETRIE"
# MX40-09 was joined to the guest SSID, which the policy maps to no VLAN: its VLAN is unknown
GUEST_SSID, GUEST_BSSID, ON_GUEST = "INVITES", _mac(CISCO, 0xAA, 0xBB, 0x21), frozenset({"MX40-09"})
BSSID = _mac(CISCO, 0xAA, 0xBB, 0x20)
# ----------------------------------------------------------------------------- Sud: lab (VLAN 230, DM)
BLOOD_GAS = Dev(
    "RAPIDPOINT-SUD", _mac(SIEMENS, 0x20, 0xE6, 0x51), "10.32.230.51", 230, "lab-analyzer", "medical"
)
# ----------------------------------------------------------------------------- Sud: office (VLAN 240)
OFFICE_S = [
    Dev(
        f"PC-S-{n:02d}",
        _mac(_PC_OUIS[n % 3], 0x20, 0xF0, n),
        f"10.32.240.{20 + n}",
        240,
        "office-workstation",
        "office",
        "MSFT 5.0",
        "windows",
    )
    for n in range(1, 21)
]
PRN_S = Dev(
    "PRN-S-1",
    _mac(HP_PRN, 0x20, 0xF1, 1),
    "10.32.240.201",
    240,
    "printer",
    "office",
    "Hewlett-Packard JetDirect",
)
# a consumer router someone plugged into a Sud office socket: its DHCP server answers on VLAN 240
ROGUE_DHCP = Dev(
    "TPLINK-SUD", "68:dd:b7:20:f2:01", "192.168.0.1", 240, "router", "infrastructure", relayed=False
)
# ----------------------------------------------------------------------------- Sud: network (VLAN 250)
AP = Dev(
    "AP-SUD-01",
    _mac(CISCO, 0x20, 0xFA, 0x01),
    "10.32.250.11",
    250,
    "access-point",
    "infrastructure",
    relayed=False,
)
# ----------------------------------------------------------------------------- Internet
WEB = ("", "198.51.100.80", 0)  # office web browsing (HTTPS)
CLOUD = ("", "203.0.113.70", 0)  # the cloud archive the archive gateway replicates to
ANYDESK_RELAY = ("", "198.51.100.66", 0)  # AnyDesk relay reached by the MR console
# ----------------------------------------------------------------------------- Nord switches (LLDP)
SW_IMG = (_mac(ARUBA, 0x1F, 0xEE, 0x10), "SW-IMG-N1", 110, "10.31.99.10")
SW_ICU = (_mac(ARUBA, 0x1F, 0xEE, 0x20), "SW-ICU-N1", 120, "10.31.99.20")
SW_LAB = (_mac(ARUBA, 0x1F, 0xEE, 0x30), "SW-LAB-N1", 130, "10.31.99.30")
SWITCHES = [SW_IMG, SW_ICU, SW_LAB]
# (device, switch, port it is really patched to): the device's own LLDP-MED follows the switch's
# NTLM versions some Windows hosts show in their SMB2 session setup (MS-NLMP VERSION)
NTLM_VERSIONS = {
    "ECHO-N1": (10, 0, 19044),  # Windows 10 IoT Enterprise LTSC 2021 (its sheet says so): supported to 2032
    "PC-N-04": (10, 0, 26100),  # Windows 11 24H2: supported on the capture day
    "PC-S-04": (10, 0, 19045),  # Windows 10 22H2: support ended 2025-10-14
}
CABLING = [
    (CT, SW_IMG, "1/1/5"),
    (DOSE_WS, SW_IMG, "1/1/14"),
    (MONITORS[0], SW_ICU, "1/1/1"),
    (ANALYZERS[0], SW_LAB, "1/1/3"),
]

SERVERS = [DHCP, DNS, FILES, WLC, PACS_A, PACS_B, CLOUD_GW, LAB_MW, HL7, BASTION, DIAL_SRV]
CLIENTS = [
    CT,
    MR,
    RX_XP,
    DOSE_WS,
    *US,
    CMS,
    *MONITORS,
    *ANALYZERS,
    *POCT,
    *OFFICE_N,
    *PRN_N,
    *DIALYSIS,
    NURSE_PC,
    PRN_DIAL,
    TELE_CENTRAL,
    BLOOD_GAS,
    *OFFICE_S,
    PRN_S,
]
WIRED = SERVERS + CLIENTS + [AP, ROGUE_DHCP]
ALL = WIRED + TELEMETRY
