"""Packets of the second demo hospital (pcaps/demo2/plan.py), one Monday morning on a SPAN of the core trunk.

core: relayed DHCP (RFC 2131 section 4.1 / RFC 1542: the router, as relay agent, copies each
client broadcast to the configured servers with giaddr = its address on the client's VLAN, from
UDP 67 to UDP 67, and forwards the server's answer to the client), a second helper address on
floor 3 pointing at an undeclared server, ARP, NetBIOS name registrations of Windows PCs (RFC 1002),
LLMNR queries (RFC 4795), DNS, NTP, LLDP from access switches (IEEE 802.1AB), CDP from the core.
clinical: DICOM (PS3.8) storage and modality worklist, DICOM over TLS, HL7 v2 over MLLP (clear and
TLS), ASTM E1381 from analyzers, supplier servers, office traffic (SMB2, SMB1 from a Windows 7 PC,
printing, HTTPS, Windows Update over HTTP), approved RDP maintenance through the bastion.
The builders of pcaps/demo/netkit.py and the payload builders of pcaps/fixtures make every frame.
"""

from __future__ import annotations

import struct

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import LLC, SNAP, Dot1Q, Dot3, Ether
from scapy.packet import Packet, Raw

from pcaps.demo import netkit
from pcaps.demo.netkit import (
    BROADCAST,
    ROUTER_MAC,
    WIN_SYN,
    Host,
    arp_pair,
    at,
    gateway_ip,
    tcp_session,
    timed,
    udp_bcast,
)
from pcaps.demo2 import plan as P
from pcaps.fixtures import gen_infra as infra, gen_medical as med, gen_remote as rem

PRL = {  # DHCP option 55 as each OS family sends it (Windows 10 and 11 send the same list)
    "windows": bytes([1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252]),
    "windows7": bytes([1, 15, 3, 6, 44, 46, 47, 31, 33, 121, 249, 43, 252]),
    "linux": bytes([1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42]),
    "embedded": bytes([1, 3, 6, 12, 15, 28, 42]),
}
US_IMAGE = b"1.2.840.10008.5.1.4.1.1.6.1"
DX_IMAGE = b"1.2.840.10008.5.1.4.1.1.1.1"


def _ip4(a: str) -> bytes:
    return bytes(map(int, a.split(".")))


def _mac(m: str) -> bytes:
    return bytes.fromhex(m.replace(":", ""))


# =============================================================================== core


def _relay_leg(relay: str, server: P.Dev, payload: bytes, to_server: bool) -> Packet:
    """Relay agent <-> server on the servers' VLAN: UDP 67 both ways (RFC 1542 section 4.1)."""
    if to_server:
        return (
            Ether(src=ROUTER_MAC, dst=server.mac)
            / Dot1Q(vlan=server.vlan)
            / IP(src=relay, dst=server.ip, ttl=64)
            / UDP(sport=67, dport=67)
            / Raw(payload)
        )
    return (
        Ether(src=server.mac, dst=ROUTER_MAC)
        / Dot1Q(vlan=server.vlan)
        / IP(src=server.ip, dst=relay, ttl=128)
        / UDP(sport=67, dport=67)
        / Raw(payload)
    )


def relayed_dora(
    dev: P.Dev, xid: int, t: float, servers: tuple[P.Dev, ...], lease_from: P.Dev
) -> list[Packet]:
    """DISCOVER relayed to every helper; each server offers; REQUEST names `lease_from`, which acks.

    The relay forwards each answer to the client on its VLAN (from the router's .1, UDP 67 -> 68)."""
    relay = gateway_ip(dev.ip)
    opts = [(12, dev.name.encode())] + ([(60, dev.vendor_class.encode())] if dev.vendor_class else [])
    opts += [(55, PRL[dev.prl]), (61, b"\x01" + _mac(dev.mac))]

    def client(mtype: int, extra: list[tuple[int, bytes]]) -> bytes:
        return infra.bootp(1, xid, dev.mac, [(53, bytes([mtype]))] + extra)

    def relayed(mtype: int, extra: list[tuple[int, bytes]]) -> bytes:
        return infra.bootp(1, xid, dev.mac, [(53, bytes([mtype]))] + extra, giaddr=relay)

    def answer(mtype: int, server: P.Dev) -> bytes:
        sopts = [
            (53, bytes([mtype])),
            (54, _ip4(server.ip)),
            (51, struct.pack("!I", 28800)),
            (1, _ip4("255.255.255.0")),
            (3, _ip4(relay)),
            (6, _ip4(P.DNS.ip)),
            (15, b"parc.example"),
        ]
        return infra.bootp(2, xid, dev.mac, sopts, yiaddr=dev.ip, giaddr=relay)

    def to_client(payload: bytes) -> Packet:
        return (
            Ether(src=ROUTER_MAC, dst=BROADCAST)
            / Dot1Q(vlan=dev.vlan)
            / IP(src=relay, dst="255.255.255.255")
            / UDP(sport=67, dport=68)
            / Raw(payload)
        )

    pkts = [udp_bcast(dev.host, "255.255.255.255", 68, 67, client(1, opts), src_ip="0.0.0.0")]
    for s in servers:
        pkts.append(_relay_leg(relay, s, relayed(1, opts), True))
    for s in servers:
        offer = answer(2, s)
        pkts += [_relay_leg(relay, s, offer, False), to_client(offer)]
    req = [(50, _ip4(dev.ip)), (54, _ip4(lease_from.ip))] + opts
    pkts.append(udp_bcast(dev.host, "255.255.255.255", 68, 67, client(3, req), src_ip="0.0.0.0"))
    for s in servers:
        pkts.append(_relay_leg(relay, s, relayed(3, req), True))
    ack = answer(5, lease_from)
    pkts += [_relay_leg(relay, lease_from, ack, False), to_client(ack)]
    return timed(pkts, t, step=0.02)


def dns_query(client: P.Dev, name: str, answer_ip: str, tid: int, t: float) -> list[Packet]:
    return netkit.dns_a_exchange(client.host, P.DNS.host, name, answer_ip, tid, t)


def ntp_query(client: P.Dev, t: float) -> list[Packet]:
    return netkit.ntp_exchange(client.host, P.DNS.host, t)


def nbns_registration(dev: P.Dev, t: float, tid: int) -> list[Packet]:
    return netkit.nbns_registration(dev.host, dev.name, t, tid)


def llmnr(dev: P.Dev, name: str, t: float, tid: int) -> list[Packet]:
    msg = infra.dns_message(tid, 0x0000, [(name, 1)], [])
    return timed(
        [udp_bcast(dev.host, "224.0.0.252", 50000 + tid % 1000, 5355, msg, dst_mac="01:00:5e:00:00:fc")], t
    )


def lldp_switch(chassis: str, name: str, vlan: int, mgmt: str, port: str) -> Packet:
    return infra.aruba_access_lldp(chassis, name, vlan, mgmt, port)


def cdp_core() -> Packet:
    t = infra.cdp_tlv
    addr = struct.pack("!I", 1) + bytes([1, 1, 0xCC]) + struct.pack("!H", 4) + _ip4("172.20.99.1")
    body = b"\x02\xb4\x00\x00" + b"".join(
        [
            t(0x01, b"CORE-01"),
            t(0x02, addr),
            t(0x03, b"TenGigabitEthernet1/1/1"),
            t(0x04, struct.pack("!I", 0x29)),
            t(0x05, b"Cisco IOS Software [Cupertino], Catalyst L3 Switch Software, Version 17.9.4"),
            t(0x06, b"cisco C9500-24Y4C"),
            t(0x0A, struct.pack("!H", 99)),
            t(0x0B, b"\x01"),
        ]
    )
    return (
        Dot3(src=P.CORE_SW, dst="01:00:0c:cc:cc:cc")
        / LLC(dsap=0xAA, ssap=0xAA, ctrl=3)
        / SNAP(OUI=0x0C, code=0x2000)
        / Raw(body)
    )


def core() -> list[Packet]:
    pkts: list[Packet] = []
    t = at(8, 0, 5)
    for i, dev in enumerate(d for d in P.CLIENTS if d.relayed):
        floor3 = dev.vlan == 203  # floor 3 has a second helper address: an undeclared server answers too
        servers = (P.DHCP_A, P.ROGUE) if floor3 else ((P.DHCP_A, P.DHCP_B) if i % 2 else (P.DHCP_A,))
        pkts += relayed_dora(dev, 0x20000 + i, t + i * 6.0, servers, P.DHCP_A)
        pkts += arp_pair(dev.host, t + i * 6.0 + 1.0)
    t = at(8, 40)
    for i, dev in enumerate(P.SERVERS):
        pkts += arp_pair(dev.host, t + i * 2.0)
    windows = [d for d in P.CLIENTS if d.role == "office-workstation"]
    for i, dev in enumerate(windows):
        pkts += nbns_registration(dev, at(8, 45, i * 0.5), 0x100 + i)
    for i, dev in enumerate(windows[::9]):
        pkts += llmnr(dev, "wpad", at(8, 48, i * 1.0), 0x300 + i)
    for i, (chassis, name, vlan, mgmt) in enumerate(P.SWITCHES):
        pkts += timed([lldp_switch(chassis, name, vlan, mgmt, f"{i + 1}/1/{49 + i}")], at(8, 50, i * 2.0))
    pkts += timed([cdp_core()], at(8, 51))
    names = [
        (P.CT, "pacs.parc.example", P.PACS.ip),
        (P.MR, "pacs.parc.example", P.PACS.ip),
        (P.US1, "vna.parc.example", P.VNA.ip),
        (P.SEC_PC, "files.parc.example", P.FILES.ip),
        (P.LAPTOP, "files.parc.example", P.FILES.ip),
        (P.CENTRAL, "mon-srv.parc.example", P.MON_SRV.ip),
        (P.XN, "lab-mw.parc.example", P.LAB_MW.ip),
    ]
    names += [(pc, "files.parc.example", P.FILES.ip) for pc in P.OFFICE_PCS[::15]]
    for i, (client, name, ip) in enumerate(names):
        pkts += dns_query(client, name, ip, 0x4000 + i, at(8, 52, i * 2.0))
    for i, dev in enumerate([P.CT, P.MR, P.CENTRAL, P.COBAS, P.PACS, P.MON_SRV, P.PUMP_SRV]):
        pkts += ntp_query(dev, at(8, 56, i * 2.0))
    return pkts


# =============================================================================== clinical


def _dicom(
    client: P.Dev,
    calling: str,
    server: P.Dev,
    called: str,
    sop: list[bytes],
    sport: int,
    t: float,
    dataset: bool = True,
) -> list[Packet]:
    chunks = [
        (True, med.associate_rq(calling, called, sop)),
        (False, med.associate_ac(calling, called, len(sop))),
    ]
    if dataset:
        chunks += [
            (True, med.p_data(1, b"\x00\x00\x00\x00\x04\x00\x00\x00" + bytes(4), flags=0x03)),
            (True, med.p_data(1, med.patient_dataset(), flags=0x02)),
            (False, med.p_data(1, b"\x00\x00\x00\x00\x04\x00\x00\x00" + bytes(4), flags=0x03)),
        ]
    chunks += [(True, med.RELEASE_RQ), (False, med.RELEASE_RP)]
    return tcp_session(client.host, server.host, sport, 104, chunks, t, ttl=128, syn_options=WIN_SYN)


def _tls(
    client: P.Dev | Host, server: P.Dev | Host, sport: int, dport: int, sni: str, t: float, **kw: object
) -> list[Packet]:
    c = client.host if isinstance(client, P.Dev) else client
    s = server.host if isinstance(server, P.Dev) else server
    app = b"\x17\x03\x03\x00\x40" + bytes((i * 11) % 256 for i in range(64))
    chunks = [
        (True, infra.client_hello(sni=sni, alpn=())),
        (False, infra.server_hello()),
        (True, app),
        (False, app),
    ]
    return tcp_session(c, s, sport, dport, chunks, t, **kw)  # type: ignore[arg-type]


def _hl7(sender: bytes, control: bytes) -> bytes:
    msh = (
        b"|".join(
            [
                b"MSH",
                b"^~\\&",
                sender,
                b"REA",
                b"HL7ENG",
                b"PARC",
                b"20260302093000",
                b"",
                b"ORU^R01^ORU_R01",
                control,
                b"P",
                b"2.6",
            ]
        )
        + b"\r"
    )
    return (
        msh
        + b"PID|1||PAT-998877^^^PARC^MR||DOE^JOHN||19500101|M\r"
        + b"OBX|1|NM|8867-4^Heart rate^LN||64|/min|||||F\r"
    )


def _ack(control: bytes) -> bytes:
    return (
        b"MSH|^~\\&|HL7ENG|PARC|CMS|REA|20260302093001||ACK^R01^ACK|A"
        + control
        + b"|P|2.6\rMSA|AA|"
        + control
        + b"\r"
    )


def clinical() -> list[Packet]:
    pkts: list[Packet] = []
    # imaging: CT and MR store to the PACS over DICOM-TLS (2762); echo carts query the worklist and
    # store to the cardiology archive in clear; the DR stores to the PACS over TLS
    pkts += _tls(P.CT, P.PACS, 49200, 2762, "pacs.parc.example", at(9, 0), ttl=128, syn_options=WIN_SYN)
    pkts += _tls(P.MR, P.PACS, 49201, 2762, "pacs.parc.example", at(9, 1))
    pkts += _tls(P.DR, P.PACS, 49202, 2762, "pacs.parc.example", at(9, 2))
    for i, us in enumerate((P.US1, P.US2)):
        pkts += _dicom(
            us,
            us.name.replace("-", "_"),
            P.RIS,
            "RIS_MWL",
            [med.WORKLIST],
            49300 + i,
            at(9, 5 + i),
            dataset=False,
        )
        pkts += _dicom(
            us,
            us.name.replace("-", "_"),
            P.VNA,
            "VNA_CARDIO",
            [US_IMAGE, med.VERIFICATION],
            49310 + i,
            at(9, 10 + i),
        )
    # the CT queries the worklist over DICOM-TLS (2762)
    pkts += _tls(P.CT, P.RIS, 49320, 2762, "ris.parc.example", at(9, 12), ttl=128, syn_options=WIN_SYN)
    # monitoring: each bedside monitor sends HL7 over MLLP/TLS (2576) to the supplier's monitoring server,
    # the central station too; the monitoring server forwards HL7 in clear to the interface engine
    for i, mon in enumerate([*P.MONITORS, P.CENTRAL]):
        pkts += _tls(mon, P.MON_SRV, 41000 + i, 2576, "mon-srv.parc.example", at(9, 15, i * 3.0))
    ctl = [b"MONSRV0001", b"MONSRV0002"]
    chunks = []
    for c in ctl:
        chunks += [(True, med.mllp(_hl7(b"MONSRV^MINDRAY", c))), (False, med.mllp(_ack(c)))]
    pkts += tcp_session(P.MON_SRV.host, P.HL7.host, 42000, 2575, chunks, at(9, 20))
    # infusion docks report to the pump server (B. Braun OnlineSuite, TCP 5000) across monitoring -> biomed
    for i, dock in enumerate(P.DOCKS):
        pkts += tcp_session(
            dock.host,
            P.PUMP_SRV.host,
            43000 + i,
            5000,
            [(True, b"SPACE-STATUS " + dock.name.encode()), (False, b"OK")],
            at(9, 25, i * 5.0),
        )
    # lab: ASTM E1381 from both analyzers to the lab middleware
    records = [
        b"H|\\^&|||XN-1000^Sysmex^1.0|||||LIS||P|LIS2-A2|20260302093000",
        b"P|1||PAT-998877||DOE^JOHN||19500101|M",
        b"O|1|SPEC7||^^^WBC|R",
        b"R|1|^^^WBC|6.1|10*9/L||N||F",
        b"L|1|N",
    ]
    for i, an in enumerate((P.XN, P.COBAS)):
        chunks = [(True, b"\x05"), (False, b"\x06")]
        for n, rec in enumerate(records, start=1):
            chunks += [(True, med.astm_frame(n, rec)), (False, b"\x06")]
        chunks.append((True, b"\x04"))
        pkts += tcp_session(an.host, P.LAB_MW.host, 44000 + i, 5002, chunks, at(9, 30 + i))
    # the supplier's remote-service gateway reaches the supplier cloud directly (no conduit)
    pkts += _tls(P.SUP_GW, P.VENDOR_CLOUD, 45000, 443, "rs.vendor-cloud.example", at(9, 40))
    # approved maintenance: RDP from the bastion to the CT inside the window (Monday 10:50 Paris time)
    tls_after = b"\x16\x03\x01\x00\x30" + bytes(48)
    rdp = [(True, rem.x224_cr("maint.siemens", 0x3)), (False, rem.x224_cc(0x2)), (True, tls_after)]
    pkts += tcp_session(P.BASTION.host, P.CT.host, 50123, 3389, rdp, at(9, 50), server_ttl=128)
    return pkts


# =============================================================================== office


def office() -> list[Packet]:
    pkts: list[Packet] = []
    smb = infra.smb2_negotiate_311()
    ua = (
        b"GET /msdownload/update/v3/static/trustedr/en/authrootstl.cab HTTP/1.1\r\n"
        b"Host: ctldl.windowsupdate.example\r\n"
        b"User-Agent: Microsoft-CryptoAPI/10.0\r\n\r\n"
    )
    ok = b"HTTP/1.1 304 Not Modified\r\nServer: ECAcc\r\n\r\n"
    pjl = b'\x1b%-12345X@PJL JOB NAME="courrier"\r\n@PJL ENTER LANGUAGE=PCL\r\n' + bytes(120)
    # office PCs on every floor: file shares, web, Windows Update, printing on the floor's printers
    for i, pc in enumerate(P.OFFICE_PCS[::5]):
        t = at(10, 0, i * 8.0)
        pkts += tcp_session(pc.host, P.FILES.host, 49500 + i, 445, smb, t, ttl=128, syn_options=WIN_SYN)
        pkts += _tls(
            pc, P.WEB, 49600 + i, 443, "intranet-news.example.org", t + 2, ttl=128, syn_options=WIN_SYN
        )
        prn = next(p for p in P.PRINTERS if p.vlan == pc.vlan and p.name.endswith(str(1 + i % 2)))
        pkts += tcp_session(
            pc.host, prn.host, 49700 + i, 9100, [(True, pjl)], t + 4, ttl=128, syn_options=WIN_SYN
        )
    for i, pc in enumerate(P.OFFICE_PCS[1::12]):
        pkts += tcp_session(
            pc.host,
            P.UPDATE,
            49800 + i,
            80,
            [(True, ua), (False, ok)],
            at(10, 20, i * 4.0),
            ttl=128,
            syn_options=WIN_SYN,
        )
    # the secretary's PC inside the imaging VLAN: files, web, Windows Update, and its own printer
    for i, pc in enumerate((P.SEC_PC, P.LAPTOP)):
        t = at(10, 30 + i)
        pkts += tcp_session(pc.host, P.FILES.host, 49900 + i, 445, smb, t, ttl=128, syn_options=WIN_SYN)
        pkts += _tls(
            pc, P.WEB, 49910 + i, 443, "intranet-news.example.org", t + 5, ttl=128, syn_options=WIN_SYN
        )
        pkts += tcp_session(
            pc.host, P.UPDATE, 49920 + i, 80, [(True, ua), (False, ok)], t + 10, ttl=128, syn_options=WIN_SYN
        )
    pkts += tcp_session(
        P.SEC_PC.host, P.IMG_PRN.host, 49930, 9100, [(True, pjl)], at(10, 33), ttl=128, syn_options=WIN_SYN
    )
    # an old Windows 7 reception PC: SMB1 negotiate (NT LM 0.12 chosen) and NTLMSSP 6.1.7601
    names = (b"PC NETWORK PROGRAM 1.0", b"LANMAN1.0", b"NT LM 0.12", b"SMB 2.002", b"SMB 2.???")
    dialects = b"".join(b"\x02" + d + b"\x00" for d in names)
    words = struct.pack("<HBHHIIII", 2, 3, 50, 1, 4356, 65536, 0, 0x8000E3FD) + bytes(13)
    chunks = [
        (True, infra.smb1(0x72, b"", dialects)),
        (False, infra.smb1(0x72, words[:34], b"", True)),
        (True, infra.smb1(0x73, bytes(24), infra.ntlm_negotiate((6, 1, 7601)))),
        (False, infra.smb1(0x73, bytes(6), infra.ntlm_challenge("FILES-01", "PARC", (10, 0, 17763)), True)),
    ]
    pkts += tcp_session(
        P.WIN7.host, P.FILES.host, 49950, 445, chunks, at(10, 40), ttl=128, syn_options=WIN_SYN
    )
    # the vital-signs cart in an office socket on floor 2 sends HL7 over TLS to the monitoring server
    pkts += _tls(P.VITALS, P.MON_SRV, 49960, 2576, "mon-srv.parc.example", at(10, 45))
    return pkts
