"""Packets of the third demo hospital (pcaps/demo3/plan.py), one Monday morning, both sites.

Every frame is built once on the VLAN it travels in; gen_demo3 then files it by that VLAN: Nord's
VLANs into the Nord core SPAN (802.1Q), Sud's into the provider-edge SPAN where each frame carries
the operator's 802.1ad service tag above the customer 802.1Q tag.  A host of the other site is
seen through the router (`Dev.remote`), as on any routed trunk.

Protocols: relayed DHCP (RFC 2131 4.1, RFC 1542: giaddr, UDP 67 both sides on the relay leg),
ARP, NetBIOS name registration (RFC 1002), DNS, NTP, LLDP and LLDP-MED (IEEE 802.1AB, ANSI/TIA-1057),
DICOM upper layer (PS3.8) clear and over TLS (2762), HL7 v2 over MLLP (clear, and TLS on 2576),
ASTM E1381/LIS2-A2, POCT1-A2, CAPWAP data (RFC 5415/5416) carrying 802.11 association requests
and data frames, SMB1 (Windows XP, NTLMSSP 5.1.2600) and SMB2, printing (PJL on 9100), TLS with
SNI (AnyDesk relay, cloud archive, web), RDP (X.224) and SSH through the bastion.
"""

from __future__ import annotations

import struct
from typing import Any

from scapy.layers.dot11 import Dot11, Dot11AssoReq, Dot11Elt
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import LLC, SNAP, Dot1Q, Ether
from scapy.packet import Packet, Raw

from pcaps.demo import netkit
from pcaps.demo.netkit import (
    BROADCAST,
    ROUTER_MAC,
    WIN_SYN,
    arp_pair,
    at,
    gateway_ip,
    tcp_session,
    timed,
    udp_bcast,
)
from pcaps.demo3 import plan as P
from pcaps.fixtures import gen_infra as infra, gen_medical as med, gen_remote as rem, gen_wifi as wifi

Host = tuple[str, str, int]
PRL = {  # DHCP option 55 as each OS family sends it
    "windows": bytes([1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252]),
    "windowsxp": bytes([1, 15, 3, 6, 44, 46, 47, 31, 33, 249, 43]),
    "linux": bytes([1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42]),
    "embedded": bytes([1, 3, 6, 12, 15, 28, 42]),
}
CR_IMAGE = b"1.2.840.10008.5.1.4.1.1.1"
US_IMAGE = b"1.2.840.10008.5.1.4.1.1.6.1"
DOMAIN = b"trois-rivieres.example"
assert ROUTER_MAC == P.ROUTER


def _ip4(a: str) -> bytes:
    return bytes(map(int, a.split(".")))


def _mac(m: str) -> bytes:
    return bytes.fromhex(m.replace(":", ""))


# =============================================================================== core services


def relayed_dora(dev: P.Dev, xid: int, t: float) -> list[Packet]:
    """DORA: the client's broadcasts on its VLAN, the relay legs to DHCP-01 on VLAN 10 (UDP 67 both sides)."""
    relay = gateway_ip(dev.ip)
    opts = [(12, dev.name.encode())] + ([(60, dev.vendor_class.encode())] if dev.vendor_class else [])
    opts += [(55, PRL[dev.prl]), (61, b"\x01" + _mac(dev.mac))]

    def server_opts(mtype: int) -> list[tuple[int, bytes]]:
        return [
            (53, bytes([mtype])),
            (54, _ip4(P.DHCP.ip)),
            (51, struct.pack("!I", 28800)),
            (1, _ip4("255.255.255.0")),
            (3, _ip4(relay)),
            (6, _ip4(P.DNS.ip)),
            (15, DOMAIN),
        ]

    def leg(payload: bytes, to_server: bool) -> Packet:
        src, dst = (
            ((ROUTER_MAC, relay), (P.DHCP.mac, P.DHCP.ip))
            if to_server
            else ((P.DHCP.mac, P.DHCP.ip), (ROUTER_MAC, relay))
        )
        return (
            Ether(src=src[0], dst=dst[0])
            / Dot1Q(vlan=P.DHCP.vlan)
            / IP(src=src[1], dst=dst[1], ttl=64)
            / UDP(sport=67, dport=67)
            / Raw(payload)
        )

    def to_client(payload: bytes) -> Packet:
        return (
            Ether(src=ROUTER_MAC, dst=BROADCAST)
            / Dot1Q(vlan=dev.vlan)
            / IP(src=relay, dst="255.255.255.255")
            / UDP(sport=67, dport=68)
            / Raw(payload)
        )

    discover = infra.bootp(1, xid, dev.mac, [(53, b"\x01")] + opts)
    request_opts = [(53, b"\x03"), (50, _ip4(dev.ip)), (54, _ip4(P.DHCP.ip))] + opts
    request = infra.bootp(1, xid, dev.mac, request_opts)
    offer = infra.bootp(2, xid, dev.mac, server_opts(2), yiaddr=dev.ip, giaddr=relay)
    ack = infra.bootp(2, xid, dev.mac, server_opts(5), yiaddr=dev.ip, giaddr=relay)
    pkts = [
        udp_bcast(dev.host, "255.255.255.255", 68, 67, discover, src_ip="0.0.0.0"),
        leg(infra.bootp(1, xid, dev.mac, [(53, b"\x01")] + opts, giaddr=relay), True),
        leg(offer, False),
        to_client(offer),
        udp_bcast(dev.host, "255.255.255.255", 68, 67, request, src_ip="0.0.0.0"),
        leg(infra.bootp(1, xid, dev.mac, request_opts, giaddr=relay), True),
        leg(ack, False),
        to_client(ack),
    ]
    return timed(pkts, t, step=0.02)


def rogue_offer(dev: P.Dev, xid: int, t: float) -> list[Packet]:
    """The consumer router on the client's VLAN answers its DISCOVER itself (option 54 = its own address)."""
    opts = [
        (53, b"\x02"),
        (54, _ip4(P.ROGUE_DHCP.ip)),
        (51, struct.pack("!I", 86400)),
        (1, _ip4("255.255.255.0")),
        (3, _ip4(P.ROGUE_DHCP.ip)),
        (6, _ip4(P.ROGUE_DHCP.ip)),
    ]
    offer = infra.bootp(2, xid, dev.mac, opts, yiaddr="192.168.0.100")
    frame = (
        Ether(src=P.ROGUE_DHCP.mac, dst=BROADCAST)
        / Dot1Q(vlan=dev.vlan)
        / IP(src=P.ROGUE_DHCP.ip, dst="255.255.255.255", ttl=64)
        / UDP(sport=67, dport=68)
        / Raw(offer)
    )
    return timed([frame], t)


def browser_announcement(host: str, os_version: tuple[int, int]) -> bytes:
    """An SMB1 TRANSACTION to \\MAILSLOT\\BROWSE with a host announcement (MS-BRWS 2.2.1) naming the OS
    version, as gen_infra.browser_announcement builds it."""
    announce = (
        b"\x01\x00"
        + struct.pack("<I", 720000)
        + host.encode().ljust(16, b"\x00")
        + bytes(os_version)
        + struct.pack("<IBBH", 0x00001003, 15, 1, 0xAA55)
        + b"\x00"
    )
    name = b"\\MAILSLOT\\BROWSE\x00"
    setup = struct.pack("<HHH", 1, 1, 2)
    offset = 32 + 1 + 34 + 2 + len(name)
    words = struct.pack(
        "<HHHHBBHIHHHHHBB", 0, len(announce), 0, 0, 0, 0, 0, 0, 0, 0, offset, len(announce), offset, 3, 0
    )
    msg = infra.smb1(0x25, words + setup, name + announce)[4:]
    return msg[:10] + b"\x00\x00" + msg[12:]


def smb1_datagram(dev: P.Dev, workgroup: str, os_version: tuple[int, int], t: float) -> list[Packet]:
    """SMB1 over the NetBIOS datagram service (RFC 1002 4.4.2, UDP 138): a browser host announcement."""
    names = infra.nb_encode(dev.name, 0x00) + infra.nb_encode(workgroup, 0x1D)
    body = names + browser_announcement(dev.name, os_version)
    dgm = struct.pack("!BBH4sHHH", 0x11, 0x02, 0x5150, _ip4(dev.ip), 138, len(body), 0) + body
    return timed([udp_bcast(dev.host, dev.ip.rsplit(".", 1)[0] + ".255", 138, 138, dgm)], t)


def _dns_server_for(client: P.Dev) -> Host:
    return P.DNS.remote if client.vlan in P.SUD_VLANS else P.DNS.host


def dns_query(client: P.Dev, name: str, answer_ip: str, tid: int, t: float) -> list[Packet]:
    return netkit.dns_a_exchange(client.host, _dns_server_for(client), name, answer_ip, tid, t)


def ntp_query(client: P.Dev, t: float) -> list[Packet]:
    return netkit.ntp_exchange(client.host, _dns_server_for(client), t)


def nbns_registration(dev: P.Dev, t: float, tid: int) -> list[Packet]:
    return netkit.nbns_registration(dev.host, dev.name, t, tid)


def lldp_switch(switch: tuple[str, str, int, str], port: str) -> Packet:
    return infra.aruba_access_lldp(*switch, port)


def lldp_med_device(dev: P.Dev, maker: bytes, model: bytes) -> Packet:
    """The device's own LLDP-MED announcement (endpoint class III, no bridge capability)."""
    tlv = infra.tlv
    raw = _mac(dev.mac)
    body = b"".join(
        [
            tlv(1, b"\x04" + raw),
            tlv(2, b"\x03" + raw),
            tlv(3, b"\x00\x78"),
            tlv(5, dev.name.encode()),
            tlv(7, struct.pack("!HH", 0x0080, 0x0080)),
            tlv(127, b"\x00\x12\xbb\x01" + struct.pack("!HB", 0x0033, 3)),
            tlv(127, b"\x00\x12\xbb\x09" + maker),
            tlv(127, b"\x00\x12\xbb\x0a" + model),
        ]
    ) + tlv(0, b"")
    return Ether(src=dev.mac, dst="01:80:c2:00:00:0e") / Dot1Q(vlan=dev.vlan, type=0x88CC) / Raw(body)


CABLING_MODELS = {
    "CT-N1": (b"Siemens Healthineers", b"SOMATOM go.Top"),
    "DOSE-WS": (b"Siemens Healthineers", b"teamplay Dose"),
    "ICU-N-01": (b"Philips Medical Systems", b"IntelliVue MX750"),
    "XN-N1": (b"Sysmex", b"XN-1000"),
}


def core() -> list[Packet]:
    pkts: list[Packet] = []
    t = at(8, 0, 5)
    for i, dev in enumerate(d for d in P.CLIENTS if d.relayed):
        pkts += relayed_dora(dev, 0x30000 + i, t + i * 4.0)
        if dev is P.OFFICE_S[1]:  # the consumer router answers this PC's DISCOVER too (it takes DHCP-01's)
            pkts += rogue_offer(dev, 0x30000 + i, t + i * 4.0 + 0.05)
        pkts += arp_pair(dev.host, t + i * 4.0 + 1.0)
    t = at(8, 30)
    for i, dev in enumerate([*P.SERVERS, P.AP]):
        pkts += arp_pair(dev.host, t + i * 2.0)
    windows = [d for d in P.CLIENTS if d.role == "office-workstation"]
    for i, dev in enumerate(windows):
        pkts += nbns_registration(dev, at(8, 35, i * 0.5), 0x100 + i)
    # cabling: each switch announces the port, then the device plugged into it announces itself
    for i, (dev, switch, port) in enumerate(P.CABLING):
        maker, model = CABLING_MODELS[dev.name]
        pkts += timed([lldp_switch(switch, port), lldp_med_device(dev, maker, model)], at(8, 40, i * 5.0))
    for i, switch in enumerate(P.SWITCHES):  # uplink announcements towards the core
        pkts += timed([lldp_switch(switch, "1/1/49")], at(8, 42, i * 3.0))
    names = [
        (P.CT, "pacs-radio.trois-rivieres.example", P.PACS_A.ip),
        (P.MR, "pacs-radio.trois-rivieres.example", P.PACS_A.ip),
        (P.US[0], "pacs-cardio.trois-rivieres.example", P.PACS_B.ip),
        (P.CMS, "hl7.trois-rivieres.example", P.HL7.ip),
        (P.DIAL_SRV, "hl7.trois-rivieres.example", P.HL7.ip),
        (P.NURSE_PC, "files.trois-rivieres.example", P.FILES.ip),
    ]
    names += [(pc, "files.trois-rivieres.example", P.FILES.ip) for pc in (P.OFFICE_N + P.OFFICE_S)[::7]]
    for i, (client, name, ip) in enumerate(names):
        pkts += dns_query(client, name, ip, 0x4000 + i, at(8, 45, i * 2.0))
    for i, dev in enumerate([P.CT, P.MR, P.CMS, P.PACS_A, P.LAB_MW, P.DIAL_SRV, P.TELE_CENTRAL]):
        pkts += ntp_query(dev, at(8, 50, i * 2.0))
    # the cobas analyzer's embedded Windows 7 announces itself to the browse list over SMB1 (UDP 138)
    pkts += smb1_datagram(P.ANALYZERS[1], "LABO", (6, 1), at(8, 52))
    return pkts


# =============================================================================== clinical


def _dicom(
    client: Host,
    calling: str,
    server: Host,
    called: str,
    sop: list[bytes],
    sport: int,
    t: float,
    **kw: object,
) -> list[Packet]:
    chunks = [
        (True, med.associate_rq(calling, called, sop)),
        (False, med.associate_ac(calling, called, len(sop))),
        (True, med.p_data(1, b"\x00\x00\x00\x00\x04\x00\x00\x00" + bytes(4), flags=0x03)),
        (True, med.p_data(1, med.patient_dataset(), flags=0x02)),
        (False, med.p_data(1, b"\x00\x00\x00\x00\x04\x00\x00\x00" + bytes(4), flags=0x03)),
        (True, med.RELEASE_RQ),
        (False, med.RELEASE_RP),
    ]
    return tcp_session(client, server, sport, 104, chunks, t, **kw)  # type: ignore[arg-type]


def _tls(
    client: Host, server: Host, sport: int, dport: int, sni: str, t: float, **kw: object
) -> list[Packet]:
    app = b"\x17\x03\x03\x00\x40" + bytes((i * 11) % 256 for i in range(64))
    chunks = [
        (True, infra.client_hello(sni=sni, alpn=())),
        (False, infra.server_hello()),
        (True, app),
        (False, app),
    ]
    return tcp_session(client, server, sport, dport, chunks, t, **kw)  # type: ignore[arg-type]


def _mllp_oru(sender: bytes, facility: bytes, control: bytes) -> bytes:
    msh = (
        b"|".join(
            [
                b"MSH",
                b"^~\\&",
                sender,
                facility,
                b"HL7ENG",
                b"CHTR",
                b"20260302093000",
                b"",
                b"ORU^R01^ORU_R01",
                control,
                b"P",
                b"2.5",
            ]
        )
        + b"\r"
    )
    return med.mllp(
        msh
        + b"PID|1||PAT-445566^^^CHTR^MR||DOE^JANE||19620505|F\r"
        + b"OBX|1|NM|2703-7^pO2^LN||92|mm[Hg]|||||F\r"
    )


def _mllp_ack(control: bytes) -> bytes:
    return med.mllp(
        b"MSH|^~\\&|HL7ENG|CHTR|RAPIDPOINT|LABSUD|20260302093001||ACK^R01^ACK|A"
        + control
        + b"|P|2.5\rMSA|AA|"
        + control
        + b"\r"
    )


def clinical() -> list[Packet]:
    pkts: list[Packet] = []
    win: dict[str, Any] = {"ttl": 128, "syn_options": WIN_SYN}
    # imaging: CT, MR and the dose workstation store to PACS-RADIO over DICOM-TLS; echo carts to PACS-CARDIO
    pkts += _tls(P.CT.host, P.PACS_A.host, 49200, 2762, "pacs-radio.trois-rivieres.example", at(9, 0), **win)
    pkts += _tls(P.MR.host, P.PACS_A.host, 49201, 2762, "pacs-radio.trois-rivieres.example", at(9, 1))
    pkts += _tls(P.DOSE_WS.host, P.PACS_A.host, 49202, 2762, "pacs-radio.trois-rivieres.example", at(9, 2))
    for i, us in enumerate(P.US):
        pkts += _tls(
            us.host, P.PACS_B.host, 49210 + i, 2762, "pacs-cardio.trois-rivieres.example", at(9, 3 + i), **win
        )
    # the Windows XP radiography unit stores in clear (DICOM, 104) and copies to its export share over SMB1
    pkts += _dicom(
        P.RX_XP.host,
        "RX_SALLE3",
        P.PACS_A.host,
        "PACS_RADIO",
        [CR_IMAGE, med.VERIFICATION],
        1050,
        at(9, 6),
        **win,
    )
    names = (
        b"PC NETWORK PROGRAM 1.0",
        b"LANMAN1.0",
        b"Windows for Workgroups 3.1a",
        b"LM1.2X002",
        b"LANMAN2.1",
        b"NT LM 0.12",
    )
    dialects = b"".join(b"\x02" + d + b"\x00" for d in names)
    words = struct.pack("<HBHHIIII", 5, 3, 50, 1, 4356, 65536, 0, 0x0000E3FD) + bytes(13)
    chunks = [
        (True, infra.smb1(0x72, b"", dialects)),
        (False, infra.smb1(0x72, words[:34], b"", True)),
        (True, infra.smb1(0x73, bytes(24), infra.ntlm_negotiate((5, 1, 2600)))),
        (False, infra.smb1(0x73, bytes(6), infra.ntlm_challenge("FILES-01", "CHTR", (10, 0, 17763)), True)),
    ]
    pkts += tcp_session(P.RX_XP.host, P.FILES.host, 1051, 445, chunks, at(9, 7), **win)
    # archives: PACS-RADIO and PACS-CARDIO synchronise over DICOM-TLS; PACS-RADIO sends to the archive
    # gateway in clear inside the clinical-servers zone; the gateway replicates to the cloud over HTTPS
    pkts += _tls(P.PACS_A.host, P.PACS_B.host, 49300, 2762, "pacs-cardio.trois-rivieres.example", at(9, 8))
    pkts += _dicom(P.PACS_A.host, "PACS_RADIO", P.CLOUD_GW.host, "ARCHIVE_GW", [CR_IMAGE], 49301, at(9, 9))
    pkts += _tls(P.CLOUD_GW.host, P.CLOUD, 49302, 443, "archive.cloud-pacs.example", at(9, 10))
    # ICU: every bedside monitor to the central over TLS (2576); the central to the HL7 engine over TLS
    for i, mon in enumerate(P.MONITORS):
        pkts += _tls(
            mon.host, P.CMS.host, 41000 + i, 2576, "piic-icu.trois-rivieres.example", at(9, 12, i * 3.0)
        )
    pkts += _tls(P.CMS.host, P.HL7.host, 42000, 2576, "hl7.trois-rivieres.example", at(9, 14), **win)
    # lab: ASTM from the analyzers, POCT1-A2 from the docks, to the lab middleware; results to HL7 over TLS
    records = [
        b"H|\\^&|||XN-1000^Sysmex^1.0|||||LIS||P|LIS2-A2|20260302093000",
        b"P|1||PAT-445566||DOE^JANE||19620505|F",
        b"O|1|SPEC9||^^^WBC|R",
        b"R|1|^^^WBC|6.1|10*9/L||N||F",
        b"L|1|N",
    ]
    for i, an in enumerate(P.ANALYZERS):
        chunks = [(True, b"\x05"), (False, b"\x06")]
        for n, rec in enumerate(records, start=1):
            chunks += [(True, med.astm_frame(n, rec)), (False, b"\x06")]
        chunks.append((True, b"\x04"))
        os_kw = win if an is P.ANALYZERS[1] else {}  # the cobas runs an embedded Windows 7
        pkts += tcp_session(an.host, P.LAB_MW.host, 44000 + i, 5002, chunks, at(9, 16 + i), **os_kw)
    hel, dst, obs = med.poct_hello_messages()
    ack = (
        b'<?xml version="1.0" encoding="UTF-8"?><ACK.R01><HDR><HDR.control_id V="1"/>'
        b'<HDR.version_id V="POCT1"/></HDR><ACK><ACK.type_cd V="AA"/></ACK></ACK.R01>'
    )
    for i, dock in enumerate(P.POCT):
        pkts += tcp_session(
            dock.host,
            P.LAB_MW.host,
            44100 + i,
            7010,
            [(True, hel), (False, ack), (True, dst), (True, obs)],
            at(9, 18, i * 5.0),
        )
    pkts += _tls(P.LAB_MW.host, P.HL7.host, 44200, 2576, "hl7.trois-rivieres.example", at(9, 19))
    # Sud dialysis: each machine reports to the dialysis server beside it; the server sends results to
    # the HL7 engine at Nord over TLS
    for i, dm in enumerate(P.DIALYSIS):
        pkts += tcp_session(
            dm.host,
            P.DIAL_SRV.host,
            45000 + i,
            4010,
            [(True, b"DIALOG+ STATUS " + dm.name.encode()), (False, b"ACK")],
            at(9, 20, i * 4.0),
        )
    pkts += _tls(
        P.DIAL_SRV.host, P.HL7.remote, 45100, 2576, "hl7.trois-rivieres.example", at(9, 22), server_ttl=63
    )
    # Sud lab: a blood-gas analyzer nobody declared sends ORU in clear to the HL7 engine at Nord
    chunks = []
    for c in (b"RP000101", b"RP000102"):
        chunks += [(True, _mllp_oru(b"RAPIDPOINT", b"LABSUD", c)), (False, _mllp_ack(c))]
    pkts += tcp_session(P.BLOOD_GAS.host, P.HL7.remote, 45200, 2575, chunks, at(9, 24), server_ttl=63)
    # maintenance through the bastion inside its window (Monday 10:50 and 10:55 Paris time)
    rdp = [
        (True, rem.x224_cr("maint.siemens", 0x3)),
        (False, rem.x224_cc(0x2)),
        (True, b"\x16\x03\x01\x00\x30" + bytes(48)),
    ]
    pkts += tcp_session(P.BASTION.host, P.CT.host, 50123, 3389, rdp, at(9, 50), server_ttl=128)
    ssh = [(False, b"SSH-2.0-OpenSSH_8.9\r\n"), (True, b"SSH-2.0-PuTTY_Release_0.81\r\n")]
    pkts += tcp_session(P.BASTION.host, P.DIAL_SRV.remote, 50124, 22, ssh, at(9, 55))
    # the MR console opens an AnyDesk session through AnyDesk's relay: not through the bastion
    anydesk = [(True, rem.client_hello("relay-4b1e9d07.net.anydesk.com")), (False, infra.server_hello())]
    pkts += tcp_session(P.MR.host, P.ANYDESK_RELAY, 50200, 443, anydesk, at(10, 5))
    return pkts


# =============================================================================== office


def office() -> list[Packet]:
    pkts: list[Packet] = []
    smb = infra.smb2_negotiate_311()

    def with_ntlm(name: str) -> list[tuple[bool, bytes]]:
        if name not in P.NTLM_VERSIONS:
            return smb
        challenge = infra.ntlm_challenge("FILES-01", "CHTR", (10, 0, 17763))
        return smb + [
            (True, infra.smb2_session(infra.ntlm_negotiate(P.NTLM_VERSIONS[name]), False, 1)),
            (False, infra.smb2_session(challenge, True, 1)),
        ]

    pjl = b'\x1b%-12345X@PJL JOB NAME="planning"\r\n@PJL ENTER LANGUAGE=PCL\r\n' + bytes(120)
    win: dict[str, Any] = {"ttl": 128, "syn_options": WIN_SYN}
    for i, pc in enumerate(P.OFFICE_N[::3] + P.OFFICE_S[::3] + [P.NURSE_PC]):
        t = at(10, 10, i * 8.0)
        nord = pc.vlan not in P.SUD_VLANS
        files = P.FILES.host if nord else P.FILES.remote
        pkts += tcp_session(
            pc.host, files, 49500 + i, 445, with_ntlm(pc.name), t, server_ttl=None if nord else 63, **win
        )
        pkts += _tls(pc.host, P.WEB, 49600 + i, 443, "intranet-news.example.org", t + 2, **win)
        prn = P.PRN_DIAL if pc is P.NURSE_PC else (P.PRN_N[i % 2] if nord else P.PRN_S)
        pkts += tcp_session(pc.host, prn.host, 49700 + i, 9100, [(True, pjl)], t + 4, **win)
    # ECHO-N1 (Windows 10 IoT Enterprise LTSC 2021) copies exports to the share (SMB2, NTLM 10.0.19044)
    pkts += tcp_session(P.US[0].host, P.FILES.host, 49590, 445, with_ntlm("ECHO-N1"), at(10, 40), **win)
    return pkts


# =============================================================================== Wi-Fi (CAPWAP)


def _capwap(payload: bytes, sport: int, dport: int) -> Packet:
    """AP (Sud, VLAN 250) -> WLC (Nord), routed: on the AP's VLAN towards the router."""
    return (
        Ether(src=P.AP.mac, dst=ROUTER_MAC)
        / Dot1Q(vlan=P.AP.vlan)
        / IP(src=P.AP.ip, dst=P.WLC.ip, ttl=64)
        / UDP(sport=sport, dport=dport)
        / Raw(payload)
    )


def _assoc(station: P.Dev) -> bytes:
    guest = station.name in P.ON_GUEST
    ssid, bssid = (P.GUEST_SSID, P.GUEST_BSSID) if guest else (P.SSID, P.BSSID)
    frame = (
        Dot11(type=0, subtype=0, addr1=bssid, addr2=station.mac, addr3=bssid)
        / Dot11AssoReq(cap=0x0431, listen_interval=10)
        / Dot11Elt(ID=0, info=ssid.encode())
        / Dot11Elt(ID=1, info=b"\x82\x84\x8b\x96")
    )
    return wifi.cisco_swapped(bytes(frame))


def _data(station: P.Dev, seq: int) -> bytes:
    bssid = P.GUEST_BSSID if station.name in P.ON_GUEST else P.BSSID
    frame = Dot11(type=2, subtype=0, FCfield=0x01, addr1=bssid, addr2=station.mac, addr3=P.TELE_CENTRAL.mac)
    frame /= (
        LLC()
        / SNAP(code=0x0800)
        / IP(src=station.ip, dst=P.TELE_CENTRAL.ip, ttl=64)
        / UDP(sport=24005, dport=24005)
        / Raw(b"MX40 WAVE " + station.name.encode() + bytes([seq]))
    )
    return wifi.cisco_swapped(bytes(frame))


def wifi_tunnel() -> list[Packet]:
    discovery = wifi.capwap_header(0, wbid=1) + struct.pack("!IBHB", 1, 0, 0, 0)
    pkts = timed([_capwap(discovery, 12380, 5246)], at(8, 20))
    for i, station in enumerate(P.TELEMETRY):
        frames = [_capwap(wifi.capwap_header(1) + _assoc(station), 12381, 5247)]
        frames += [_capwap(wifi.capwap_header(1) + _data(station, n), 12381, 5247) for n in range(3)]
        pkts += timed(frames, at(8, 21, i * 4.0), step=1.0)
    return pkts
