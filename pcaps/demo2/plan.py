"""Second demo hospital ("Clinique du Parc"): address plan, devices and what each one is.

A different topology from pcaps/demo: a routed core whose router relays DHCP for every VLAN
(giaddr = the VLAN's .1, UDP 67 on both sides) to two declared DHCP servers, several access
switches announcing LLDP and a core announcing CDP, three office floors (VLANs 201-203), office
PCs and printers inside DM VLANs, two archives (radiology PACS and a cardiology VNA), a worklist,
lab middleware, and suppliers' servers in a dedicated DM VLAN.  About two hundred and fifty
devices.  Addresses are RFC 1918 (172.20.0.0/16) and RFC 5737 for the Internet; MAC prefixes
are real IEEE OUIs of the makers named, hostnames and identities are synthetic.

Office PCs, the secretary's PC and the laptop run Windows 11 (supported on the capture day); the
reception PC PC-ACCUEIL-OLD runs Windows 7.  Every device is a `Dev`; `role` is the truth a careful
auditor writes from the scenario (pcaps/demo2/expected.yaml lists the findings that follow from it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dev:
    name: str
    mac: str
    ip: str
    vlan: int
    role: str  # truth: what the device is
    vendor_class: str | None = None  # DHCP option 60
    prl: str = "embedded"  # DHCP option 55 profile (see scenes.PRL)
    relayed: bool = True  # gets its address through a relayed DHCP exchange

    @property
    def host(self) -> tuple[str, str, int]:
        return (self.mac, self.ip, self.vlan)


def _mac(prefix: str, *tail: int) -> str:
    return prefix + "".join(f":{t:02x}" for t in tail)


DELL, DELL2, HP, HP_PRN, LCFC, BROTHER = (
    "d4:ae:52",
    "f8:bc:12",
    "3c:52:82",
    "00:1c:c4",
    "e8:6a:64",
    "00:80:77",
)
VMWARE, MINDRAY, PHILIPS, SIEMENS, GE, SYSMEX, ROCHE, BBRAUN = (
    "00:50:56",
    "00:0f:14",
    "00:09:fb",
    "00:0e:8c",
    "44:4b:5d",
    "00:06:6b",
    "00:0e:2f",
    "00:12:21",
)
CISCO, ARUBA = "00:3a:7d", "94:57:a5"

# ----------------------------------------------------------------------------- IT servers (VLAN 10)
DHCP_A = Dev("DHCP-A", _mac(VMWARE, 0x0A, 0, 0x05), "172.20.10.5", 10, "dhcp-server", relayed=False)
DHCP_B = Dev("DHCP-B", _mac(VMWARE, 0x0A, 0, 0x06), "172.20.10.6", 10, "dhcp-server", relayed=False)
DNS = Dev("DNS-NTP-01", _mac(VMWARE, 0x0A, 0, 0x10), "172.20.10.10", 10, "server", relayed=False)
FILES = Dev("FILES-01", _mac(VMWARE, 0x0A, 0, 0x40), "172.20.10.40", 10, "server", relayed=False)
ROGUE = Dev("APPSRV-77", _mac(VMWARE, 0x0A, 0, 0x77), "172.20.10.77", 10, "server", relayed=False)
# ----------------------------------------------------------------------------- clinical servers (VLAN 11)
PACS = Dev("PACS-RAD", _mac("00:14:22", 0x0B, 0, 0x20), "172.20.11.20", 11, "pacs", relayed=False)
VNA = Dev("VNA-CARDIO", _mac(HP, 0x0B, 0, 0x21), "172.20.11.21", 11, "pacs", relayed=False)
RIS = Dev("RIS-WL", _mac(VMWARE, 0x0B, 0, 0x25), "172.20.11.25", 11, "worklist", relayed=False)
LAB_MW = Dev("LAB-MW", _mac(VMWARE, 0x0B, 0, 0x30), "172.20.11.30", 11, "lab-middleware", relayed=False)
HL7 = Dev("HL7-ENGINE", _mac(VMWARE, 0x0B, 0, 0x35), "172.20.11.35", 11, "hl7-engine", relayed=False)
PACS_BACKUP_IP = "172.20.11.70"  # declared in the PACS sheet, never contacted
# ----------------------------------------------------------------------------- supplier servers (VLAN 20, DM)
PUMP_SRV = Dev(
    "PUMP-SRV", _mac("00:14:22", 0x14, 0, 0x10), "172.20.20.10", 20, "supplier-server", relayed=False
)
MON_SRV = Dev("MON-SRV", _mac(MINDRAY, 0x14, 0, 0x20), "172.20.20.20", 20, "supplier-server", relayed=False)
SUP_GW = Dev("SUPPLIER-GW", _mac(HP, 0x14, 0, 0x30), "172.20.20.30", 20, "supplier-server", relayed=False)
# ----------------------------------------------------------------------------- maintenance (VLAN 60)
BASTION = Dev("BASTION", _mac(VMWARE, 0x3C, 0, 0x10), "172.20.60.10", 60, "server", relayed=False)
# ----------------------------------------------------------------------------- imaging (VLAN 110, DM)
CT = Dev(
    "CT-01", _mac(SIEMENS, 0x6E, 0, 0x21), "172.20.110.21", 110, "imaging-modality", "SIEMENS-CT", "windows"
)
MR = Dev("MR-01", _mac(GE, 0x6E, 0, 0x22), "172.20.110.22", 110, "imaging-modality", "GEHC-MR", "linux")
US1 = Dev("ECHO-01", _mac(GE, 0x6E, 0, 0x31), "172.20.110.31", 110, "imaging-modality", None, "windows")
US2 = Dev("ECHO-02", _mac(GE, 0x6E, 0, 0x32), "172.20.110.32", 110, "imaging-modality", None, "windows")
DR = Dev(
    "DR-01", _mac(SIEMENS, 0x6E, 0, 0x40), "172.20.110.40", 110, "imaging-modality", "SIEMENS-YSIO", "linux"
)
SEC_PC = Dev(
    "SEC-RADIO-01",
    _mac(DELL, 0x6E, 0, 0x50),
    "172.20.110.50",
    110,
    "office-workstation",
    "MSFT 5.0",
    "windows",
)
IMG_PRN = Dev(
    "HP-RADIO-PRN",
    _mac(HP_PRN, 0x6E, 0, 0x60),
    "172.20.110.60",
    110,
    "printer",
    "Hewlett-Packard JetDirect",
    "embedded",
)
# ----------------------------------------------------------------------------- monitoring (VLAN 120, DM)
CENTRAL = Dev(
    "CMS-ICU",
    _mac(MINDRAY, 0x78, 0, 0x10),
    "172.20.120.10",
    120,
    "patient-monitor",
    "Mindray-CMS",
    "windows",
)
MONITORS = [
    Dev(
        f"ICU-BED-{i:02d}",
        _mac(MINDRAY, 0x78, 1, i),
        f"172.20.120.{100 + i}",
        120,
        "patient-monitor",
        "Mindray-BeneVision",
        "embedded",
    )
    for i in range(1, 25)
]
DOCKS = [
    Dev(
        f"SPACE-DOCK-{i}",
        _mac(BBRAUN, 0x78, 2, i),
        f"172.20.120.{40 + i}",
        120,
        "infusion-pump",
        "BBraun-SpaceStation",
        "embedded",
    )
    for i in range(1, 5)
]
LAPTOP = Dev(
    "PC-CADRE-REA",
    _mac(LCFC, 0x78, 0, 0x90),
    "172.20.120.90",
    120,
    "office-workstation",
    "MSFT 5.0",
    "windows",
)
# ----------------------------------------------------------------------------- lab (VLAN 130, DM)
XN = Dev("XN-1000", _mac(SYSMEX, 0x82, 0, 0x51), "172.20.130.51", 130, "lab-analyzer", None, "embedded")
COBAS = Dev("COBAS-C311", _mac(ROCHE, 0x82, 0, 0x52), "172.20.130.52", 130, "lab-analyzer", None, "windows")
# ----------------------------------------------------------------------------- office floors (VLANs 201-203)
FLOORS = (201, 202, 203)
_PC_OUIS = (DELL, HP, LCFC, DELL2)
OFFICE_PCS = [
    Dev(
        f"PC-E{f - 200}-{n:02d}",
        _mac(_PC_OUIS[n % 4], f - 200, 0, n),
        f"172.20.{f}.{20 + n}",
        f,
        "office-workstation",
        "MSFT 5.0",
        "windows",
    )
    for f in FLOORS
    for n in range(1, 61)
]
WIN7 = Dev(
    "PC-ACCUEIL-OLD",
    _mac(HP, 0xC9, 0, 0x07),
    "172.20.201.7",
    201,
    "office-workstation",
    "MSFT 5.0",
    "windows7",
)
PRINTERS = [
    Dev(
        f"PRN-E{f - 200}-{n}",
        _mac(HP_PRN if n == 1 else BROTHER, f - 200, 9, n),
        f"172.20.{f}.{200 + n}",
        f,
        "printer",
        "Hewlett-Packard JetDirect" if n == 1 else None,
        "embedded",
    )
    for f in FLOORS
    for n in (1, 2)
]
VITALS = Dev(
    "VITALS-CART-3",
    _mac(PHILIPS, 0xCA, 0, 0x33),
    "172.20.202.133",
    202,
    "patient-monitor",
    "Philips-IntelliVue",
    "embedded",
)
# ----------------------------------------------------------------------------- Internet
WEB = ("", "198.51.100.80", 0)  # office web browsing (HTTPS)
UPDATE = ("", "198.51.100.90", 0)  # Windows Update (HTTP)
VENDOR_CLOUD = ("", "203.0.113.40", 0)  # supplier cloud the supplier gateway reaches
# ----------------------------------------------------------------------------- switches (LLDP) and core (CDP)
SWITCHES = [  # (chassis MAC, name, access VLAN, management IP)
    (_mac(ARUBA, 0xEE, 0, 0x10), "SW-IMG-01", 110, "172.20.99.10"),
    (_mac(ARUBA, 0xEE, 0, 0x20), "SW-REA-01", 120, "172.20.99.20"),
    (_mac(ARUBA, 0xEE, 0, 0x21), "SW-REA-02", 120, "172.20.99.21"),
    (_mac(ARUBA, 0xEE, 0, 0x30), "SW-LAB-01", 130, "172.20.99.30"),
    (_mac(ARUBA, 0xEE, 0, 0x41), "SW-E1-01", 201, "172.20.99.41"),
    (_mac(ARUBA, 0xEE, 0, 0x42), "SW-E2-01", 202, "172.20.99.42"),
    (_mac(ARUBA, 0xEE, 0, 0x43), "SW-E3-01", 203, "172.20.99.43"),
]
CORE_SW = _mac(CISCO, 0xEE, 0, 0x01)

SERVERS = [DHCP_A, DHCP_B, DNS, FILES, ROGUE, PACS, VNA, RIS, LAB_MW, HL7, PUMP_SRV, MON_SRV, SUP_GW, BASTION]
CLIENTS = [
    CT,
    MR,
    US1,
    US2,
    DR,
    SEC_PC,
    IMG_PRN,
    CENTRAL,
    *MONITORS,
    *DOCKS,
    LAPTOP,
    XN,
    COBAS,
    *OFFICE_PCS,
    WIN7,
    *PRINTERS,
    VITALS,
]
ALL = SERVERS + CLIENTS
