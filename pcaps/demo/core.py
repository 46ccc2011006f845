"""Demo hospital scenes in the core and clinical networks (captures demo-core and demo-clinical).

core: DHCP (RFC 2131/2132) with hostnames, vendor classes and parameter lists, a rogue DHCP offer,
ARP, DNS, NTP, LLDP/LLDP-MED (IEEE 802.1AB, ANSI/TIA-1057) from switches, devices, an access point
and a desk switch, CDP.  clinical: DICOM PS3.8 associations, HL7 v2 over MLLP, IntelliVue, SDC
WS-Discovery, ASTM E1381/LIS2-A2, POCT1-A2.  What each flow must produce is in expected.yaml.
Protocol payloads come from the fixture generators (pcaps/fixtures/gen_*.py) so the demo exercises
the same byte formats the detectors are tested with.  Fake patients (DOE^JOHN, DOE^JANE, PAT-123456)
are planted in DICOM and HL7 to prove they are never stored.
"""

from __future__ import annotations

import struct

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import LLC, SNAP, Dot1Q, Dot3, Ether
from scapy.packet import Packet, Raw

from pcaps.demo import hosts as H, netkit
from pcaps.demo.netkit import (
    ROUTER_MAC,
    WIN_SYN,
    Host,
    arp_announce,
    arp_pair,
    at,
    gateway_ip,
    tcp_session,
    timed,
    udp_bcast,
)
from pcaps.fixtures import gen_infra as infra, gen_medical as med


def _ip4(a: str) -> bytes:
    return bytes(map(int, a.split(".")))


def _mac(m: str) -> bytes:
    return bytes.fromhex(m.replace(":", ""))


# =============================================================================== core


def dhcp_dora(host: Host, hostname: str, vendor: str, prl: bytes, xid: int, t: float) -> list[Packet]:
    """DISCOVER/REQUEST broadcast on the client's VLAN; OFFER/ACK from the declared server to the relay."""
    relay = gateway_ip(host[1])
    client = [(12, hostname.encode()), (60, vendor.encode()), (55, prl), (61, b"\x01" + _mac(host[0]))]
    server = [(54, _ip4(H.DHCP_SRV[1])), (51, struct.pack("!I", 86400)), (1, _ip4("255.255.255.0")),
              (3, _ip4(relay)), (6, _ip4(H.DNS_SRV[1])), (15, b"demo-hospital.example")]

    def c(mtype: int, extra: list[tuple[int, bytes]]) -> Packet:
        data = infra.bootp(1, xid, host[0], [(53, bytes([mtype]))] + extra)
        return udp_bcast(host, "255.255.255.255", 68, 67, data, src_ip="0.0.0.0")

    def s(mtype: int) -> Packet:
        data = infra.bootp(2, xid, host[0], [(53, bytes([mtype]))] + server, yiaddr=host[1], giaddr=relay)
        return (Ether(src=H.DHCP_SRV[0], dst=ROUTER_MAC) / Dot1Q(vlan=50) / IP(src=H.DHCP_SRV[1], dst=relay)
                / UDP(sport=67, dport=67) / Raw(data))

    def r(mtype: int, extra: list[tuple[int, bytes]]) -> Packet:  # the relay (router) forwards to the server
        data = infra.bootp(1, xid, host[0], [(53, bytes([mtype]))] + extra, giaddr=relay)
        return (Ether(src=ROUTER_MAC, dst=H.DHCP_SRV[0]) / Dot1Q(vlan=50) / IP(src=relay, dst=H.DHCP_SRV[1])
                / UDP(sport=67, dport=67) / Raw(data))

    req = [(50, _ip4(host[1])), (54, _ip4(H.DHCP_SRV[1]))] + client
    return timed([c(1, client), r(1, client), s(2), c(3, req), r(3, req), s(5)], t, step=0.05)


IOS = "Cisco IOS Software, C9300 Software, Version 17.9.4"
PRL_WIN = bytes([1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252])
PRL_EMBEDDED = bytes([1, 3, 6, 12, 15, 28, 42])
PRL_LINUX = bytes([1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42])

DHCP_CLIENTS: list[tuple[Host, str, str, bytes]] = [
    (H.CT, "CT-SCANNER-01", "SIEMENS-CT-SOMATOM", PRL_WIN),
    (H.MR, "MR-SIGNA-01", "GEHC-MR", PRL_LINUX),
    (H.SUPPLIER_WS, "CT-SUPPLIER-PC", "MSFT 5.0", PRL_WIN),
    (H.MON_GW, "MON-GW-01", "Philips-IntelliVue-IX", PRL_LINUX),
    (H.MONITOR, "ICU-BED-03", "Philips-IntelliVue", PRL_EMBEDDED),
    (H.PUMP_GW, "PUMP-GW-01", "BBraun-SpaceCom", PRL_EMBEDDED),
    (H.OFFICE_IN_ICU, "SECRETARIAT-REA", "MSFT 5.0", PRL_WIN),
    (H.ANALYZER, "LAB-ANALYZER-01", "MSFT 5.0", PRL_WIN),
    (H.SYSMEX, "SYSMEX-XN-01", "Sysmex-XN", PRL_EMBEDDED),
    (H.WIN7_PC, "ACCUEIL-PC11", "MSFT 5.0", PRL_WIN),
    (H.OFFICE_PC, "BUREAU-PC44", "MSFT 5.0", PRL_WIN),
    (H.PRINTER, "HPLJ-M404-ACC", "Hewlett-Packard JetDirect", PRL_EMBEDDED),
    (H.ECG_CART, "ECG-CART-02", "Philips-PageWriter-TC50", PRL_EMBEDDED),
]


def rogue_offer(t: float) -> list[Packet]:
    """An office PC's DISCOVER answered by a home router plugged into the office VLAN (undeclared server)."""
    pc = H.OFFICE_PC
    disc_opts = [(53, b"\x01"), (12, b"BUREAU-PC44"), (60, b"MSFT 5.0"), (55, PRL_WIN)]
    disc = infra.bootp(1, 0x4444, pc[0], disc_opts)
    rogue = _ip4(H.ROGUE_DHCP[1])
    offer_opts = [(53, b"\x02"), (54, rogue), (51, struct.pack("!I", 3600)), (1, _ip4("255.255.255.0")),
                  (3, rogue), (6, rogue)]
    offer = infra.bootp(2, 0x4444, pc[0], offer_opts, yiaddr="10.20.0.123")
    return timed([udp_bcast(pc, "255.255.255.255", 68, 67, disc, src_ip="0.0.0.0"),
                  udp_bcast(H.ROGUE_DHCP, "255.255.255.255", 67, 68, offer)], t, step=0.02)


def dns_exchange(client: Host, name: str, answer_ip: str, tid: int, t: float) -> list[Packet]:
    return netkit.dns_a_exchange(client, H.DNS_SRV, name, answer_ip, tid, t)


def ntp_exchange(client: Host, t: float, sport: int = 49123) -> list[Packet]:
    return netkit.ntp_exchange(client, H.DNS_SRV, t, sport)


def _lldp(src: str, vlan: int, tlvs: list[bytes]) -> Packet:
    """An LLDP frame as the SPAN of an access port in `vlan` shows it (802.1Q-tagged copy on the trunk)."""
    body = b"".join(tlvs) + infra.tlv(0, b"")
    return Ether(src=src, dst="01:80:c2:00:00:0e") / Dot1Q(vlan=vlan, type=0x88CC) / Raw(body)


def lldp_switch(chassis: str, port: str, vlan: int, name: str, descr: str, caps: int, mgmt: str) -> Packet:
    tlv = infra.tlv
    return _lldp(chassis, vlan, [
        tlv(1, b"\x04" + _mac(chassis)), tlv(2, b"\x05" + port.encode()), tlv(3, b"\x00\x78"),
        tlv(4, port.encode()), tlv(5, name.encode()), tlv(6, descr.encode()),
        tlv(7, struct.pack("!HH", caps, caps)),
        tlv(8, bytes([5, 1]) + _ip4(mgmt) + b"\x02" + struct.pack("!I", 5) + b"\x00"),
        tlv(127, b"\x00\x80\xc2\x01" + struct.pack("!H", vlan)),
    ])


def lldp_med_device(host: Host, name: str, model: str, maker: str, fw: str) -> Packet:
    tlv = infra.tlv
    return _lldp(host[0], host[2], [
        tlv(1, b"\x04" + _mac(host[0])), tlv(2, b"\x03" + _mac(host[0])), tlv(3, b"\x00\x78"),
        tlv(5, name.encode()), tlv(7, struct.pack("!HH", 0x0080, 0x0080)),
        tlv(127, b"\x00\x12\xbb\x01" + struct.pack("!HB", 0x0033, 3)),
        tlv(127, b"\x00\x12\xbb\x05" + fw.encode()), tlv(127, b"\x00\x12\xbb\x09" + maker.encode()),
        tlv(127, b"\x00\x12\xbb\x0a" + model.encode()),
    ])


def cdp_lab_switch() -> Packet:
    t = infra.cdp_tlv
    addr = struct.pack("!I", 1) + bytes([1, 1, 0xCC]) + struct.pack("!H", 4) + _ip4("10.99.0.30")
    body = b"\x02\xb4\x00\x00" + b"".join([
        t(0x01, b"SW-LAB-01"), t(0x02, addr), t(0x03, b"GigabitEthernet1/0/7"),
        t(0x04, struct.pack("!I", 0x28)),
        t(0x05, b"Cisco IOS Software [Cupertino], Catalyst L3 Switch Software, Version 17.9.4"),
        t(0x06, b"cisco C9300-24P"), t(0x0A, struct.pack("!H", 130)), t(0x0B, b"\x01"),
    ])
    return (Dot3(src=H.SW_LAB, dst="01:00:0c:cc:cc:cc") / LLC(dsap=0xAA, ssap=0xAA, ctrl=3)
            / SNAP(OUI=0x0C, code=0x2000) / Raw(body))


def core() -> list[Packet]:
    pkts: list[Packet] = []
    for i, (host, name, vendor, prl) in enumerate(DHCP_CLIENTS):
        pkts += dhcp_dora(host, name, vendor, prl, 0x1000 + i, at(8, 1 + i))
    pkts += rogue_offer(at(8, 14, 30))
    every = [h for h, *_ in DHCP_CLIENTS] + [H.RAD_WS, H.MINDRAY_CS, H.ICU_HL7_GW, H.SDC_DEV, H.POCT_DEV]
    for i, host in enumerate(every):
        pkts += arp_pair(host, at(8, 15, i * 2.0))
    # LLDP: the imaging switch then the CT's own LLDP-MED; ICU switch + monitor; the AP; a desk switch
    pkts += timed([
        lldp_switch(H.SW_IMG, "Gi1/0/5", 110, "SW-IMG-01", IOS, 0x0014, "10.99.0.10"),
        lldp_med_device(H.CT, "CT-SCANNER-01", "SOMATOM go.Up", "Siemens Healthineers", "VA40A"),
    ], at(8, 17))
    pkts += timed([
        lldp_switch(H.SW_ICU, "Gi1/0/13", 120, "SW-ICU-01", IOS, 0x0014, "10.99.0.20"),
        lldp_med_device(H.MONITOR, "ICU-BED-03", "IntelliVue MX800", "Philips Medical Systems", "M.03.10"),
    ], at(8, 17, 30))
    pkts += timed([lldp_switch(H.AP[0], "GigabitEthernet0", 50, "AP-ICU-01",
                               "Cisco AP Software, C9120AXI-E, Version 17.9.4", 0x0008, H.AP[1])], at(8, 18))
    # a desk switch (announces repeater+bridge) under the ICU desk, then SW-ICU-01 Gi1/0/20 followed by
    # the LLDP-MED frames of three monitors behind that one access port; Lantronix boxes behind it only ARP
    pkts += timed([lldp_switch(H.DESK_SWITCH_MAC, "Port 3", 120, "DESK-SW-ICU",
                               "TP-LINK TL-SG108E 8-Port Gigabit Easy Smart Switch", 0x0006, "192.168.0.1")],
                  at(8, 18, 20))
    behind = [lldp_med_device(h, f"MX450-DESK-{i + 4}", "IntelliVue MX450", "Philips Medical Systems",
                              "M.03.10") for i, h in enumerate(H.BEHIND_DESK[3:6])]
    pkts += timed([lldp_switch(H.SW_ICU, "Gi1/0/20", 120, "SW-ICU-01", IOS, 0x0014, "10.99.0.20")] + behind,
                  at(8, 18, 30))
    for i, host in enumerate(H.BEHIND_DESK):
        pkts += arp_announce(host, at(8, 18, 31 + i))
    pkts += timed([cdp_lab_switch()], at(8, 19))
    # the same HP laptop in the office VLAN, then docked at the ICU desk (VLAN 120)
    pkts += arp_announce(H.DUAL_OFFICE, at(8, 20)) + arp_announce(H.DUAL_ICU, at(8, 21))
    names = [(H.CT, "pacs.demo-hospital.example", H.PACS[1]),
             (H.MON_GW, "hl7.demo-hospital.example", H.HL7_ENGINE[1]),
             (H.ANALYZER, "lis.demo-hospital.example", H.LIS[1]),
             (H.OFFICE_PC, "www.example.org", H.WEB_SITE[1]),
             (H.WIN7_PC, "files.demo-hospital.example", H.FILE_SRV[1]),
             (H.OFFICE_IN_ICU, "files.demo-hospital.example", H.FILE_SRV[1])]
    for i, (client, name, ip) in enumerate(names):
        pkts += dns_exchange(client, name, ip, 0x2000 + i, at(8, 22, i * 3.0))
    for i, client in enumerate([H.CT, H.MR, H.MON_GW, H.ANALYZER, H.SUPPLIER_WS]):
        pkts += ntp_exchange(client, at(8, 25, i * 2.0))
    return pkts


# =============================================================================== clinical


def _dicom_store(modality: Host, ae: str, peer: Host, called: str, sport: int, t: float) -> list[Packet]:
    """A-ASSOCIATE-RQ/AC, P-DATA-TF fragments (command then a data set with a fake patient), release."""
    dataset = med.patient_dataset()  # (0010,0010) PatientName DOE^JOHN, (0010,0020) PatientID
    pixels = bytes((i * 7) % 251 for i in range(1200))
    pixel_data = b"\xe0\x7f\x10\x00OW\x00\x00" + struct.pack("<I", len(pixels)) + pixels  # (7FE0,0010)
    chunks = [
        (True, med.associate_rq(ae, called, [med.CT_IMAGE, med.VERIFICATION])),
        (False, med.associate_ac(ae, called, 2)),
        (True, med.p_data(1, b"\x00\x00\x00\x00\x04\x00\x00\x00" + bytes(4), flags=0x03)),
        (True, med.p_data(1, dataset, flags=0x00)),
        (True, med.p_data(1, pixel_data, flags=0x02)),
        (False, med.p_data(1, b"\x00\x00\x00\x00\x04\x00\x00\x00" + bytes(4), flags=0x03)),
        (True, med.RELEASE_RQ),
        (False, med.RELEASE_RP),
    ]
    return tcp_session(modality, peer, sport, 104, chunks, t, ttl=128, syn_options=WIN_SYN)  # Windows 10


def _hl7_oru(sender: bytes, facility: bytes, control: bytes) -> bytes:
    msh = b"|".join([b"MSH", b"^~\\&", sender, facility, b"HL7ENG", b"DEMOHOSP", b"20260302093000", b"",
                     b"ORU^R01^ORU_R01", control, b"P", b"2.5"]) + b"\r"
    pid = b"PID|1||PAT-123456^^^DEMOHOSP^MR||DOE^JANE||19620704|F\r"
    obx = (b"OBX|1|NM|8867-4^Heart rate^LN||78|/min|||||F\r"
           b"OBX|2|NM|59408-5^SpO2^LN||97|%|||||F\r")
    return msh + pid + b"PV1|1|I|ICU^03^1\r" + obx


def _hl7_ack(control: bytes) -> bytes:
    return (b"MSH|^~\\&|HL7ENG|DEMOHOSP|MONGW|ICU|20260302093001||ACK^R01^ACK|A" + control + b"|P|2.5\r"
            + b"MSA|AA|" + control + b"\r")


def tls_session(client: Host, server: Host, sport: int, dport: int, sni: str, t: float,
                 **kw: object) -> list[Packet]:
    app = b"\x17\x03\x03\x00\x40" + bytes((i * 13) % 256 for i in range(64))
    hello = infra.client_hello(sni=sni, alpn=())
    chunks = [(True, hello), (False, infra.server_hello()), (True, app), (False, app)]
    return tcp_session(client, server, sport, dport, chunks, t, **kw)  # type: ignore[arg-type]


def clinical() -> list[Packet]:
    pkts: list[Packet] = []
    # DICOM in clear from the CT to the PACS (crosses imaging -> servers): cleartext-medical
    pkts += _dicom_store(H.CT, "CT_SCANNER1", H.PACS, "PACS_ARCHIVE", 49152, at(8, 31))
    # DICOM inside the imaging zone (CT -> review workstation): normal
    pkts += _dicom_store(H.CT, "CT_SCANNER1", H.RAD_WS, "RADWS01", 49153, at(8, 33))
    # DICOM-TLS from the MR to the PACS on 2762: normal
    pkts += tls_session(H.MR, H.PACS, 49154, 2762, "pacs.demo-hospital.example", at(8, 35))
    # HL7 v2 / MLLP from the monitoring gateway to the interface engine (clear, crosses zones)
    ctl = [b"MONGW000101", b"MONGW000102"]
    chunks = []
    for c in ctl:
        chunks += [(True, med.mllp(_hl7_oru(b"MONGW^PHILIPS", b"ICU", c))), (False, med.mllp(_hl7_ack(c)))]
    pkts += tcp_session(H.MON_GW, H.HL7_ENGINE, 40001, 2575, chunks, at(8, 40))
    # HL7 inside the monitoring zone (Mindray central -> local HL7 gateway): normal
    ctl2 = b"CS00000001"
    pkts += tcp_session(H.MINDRAY_CS, H.ICU_HL7_GW, 40002, 2575,
                        [(True, med.mllp(_hl7_oru(b"CENTRAL^MINDRAY", b"ICU", ctl2))),
                         (False, med.mllp(_hl7_ack(ctl2)))],
                        at(8, 42))
    # HL7 over TLS (MLLP/TLS, tcp/2576) from the central station to the engine: normal
    pkts += tls_session(H.MINDRAY_CS, H.HL7_ENGINE, 40003, 2576, "hl7.demo-hospital.example", at(8, 44))
    # IntelliVue connect indication (UDP 24005 broadcast) and association; SDC WS-Discovery Hello
    pkts += timed(med.intellivue_connect(), at(8, 50))
    pkts += timed(med.sdc_hello(), at(8, 52))
    # ASTM E1381 / LIS2-A2 from the Roche analyzer to the LIS
    records = [b"H|\\^&|||cobas c311^Roche^2.1.0|||||LIS||P|LIS2-A2|20260302090000",
               b"P|1||PAT-123456||DOE^JANE||19620704|F", b"O|1|SPEC0042||^^^GLU|R",
               b"R|1|^^^GLU|5.1|mmol/L||N||F", b"L|1|N"]
    chunks = [(True, b"\x05"), (False, b"\x06")]
    for i, rec in enumerate(records, start=1):
        chunks += [(True, med.astm_frame(i, rec)), (False, b"\x06")]
    chunks.append((True, b"\x04"))
    pkts += tcp_session(H.ANALYZER, H.LIS, 43000, 5002, chunks, at(9, 0))
    # POCT1-A2 HEL / DST from the glucose dock to the POCT manager (no observations sent)
    hel, dst, _obs = med.poct_hello_messages()
    ack = b'<?xml version="1.0" encoding="UTF-8"?><ACK.R01><ACK><ACK.type_cd V="AA"/></ACK></ACK.R01>'
    poct = [(True, hel), (False, ack), (True, dst)]
    pkts += tcp_session(H.POCT_DEV, H.POCT_MGR, 42000, 7010, poct, at(9, 5))
    return pkts
