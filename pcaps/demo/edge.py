"""Demo hospital scenes at the edges of the network: remote access, Wi-Fi and the office VLAN.

remote: TeamViewer (TCP 5938, magic 0x17 0x24 as nDPI matches it) from a public address to the CT's
supplier console; the approved RDP session through the bastion (X.224 Connection Request with an
mstshash cookie, MS-RDPBCGR 2.2.1.1) inside its window; VNC (RFC 6143) and Telnet (RFC 854) from an
office PC to DMs; SNMPv2c community "public" (RFC 3416) to a monitor.
wifi: an infusion pump inside a CAPWAP data tunnel (RFC 5415/5416, Cisco swapped frame control),
RADIUS Access/Accounting-Request with NAS-Port-Type 19 = Wireless-802.11 (RFC 2865/2866), and a
pump declared wired that shows up in the Wi-Fi VLAN 300.
office: SMBv1 negotiate + NTLMSSP version 6.1 (Windows 7, MS-SMB/MS-NLMP), TLS to the Internet,
printing, a lab analyzer fetching updates over plain HTTP from a public server, an office PC
reaching an MR console over HTTP with no conduit.
"""

from __future__ import annotations

import struct

from scapy.layers.dot11 import Dot11
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import LLC, SNAP, Dot1Q, Ether
from scapy.packet import Packet, Raw

from pcaps.demo import hosts as H
from pcaps.demo.core import PRL_EMBEDDED, dhcp_dora, dns_exchange, ntp_exchange, tls_session
from pcaps.demo.netkit import ROUTER_MAC, WIN_SYN, Host, at, tcp_session, timed, udp_dgram
from pcaps.fixtures import gen_infra as infra
from pcaps.fixtures import gen_remote as rem
from pcaps.fixtures import gen_wifi as wifi

# =============================================================================== remote


def remote() -> list[Packet]:
    pkts: list[Packet] = []
    # TeamViewer from the Internet to the supplier console (unapproved, DM reached from the Internet)
    tv = [(True, b"\x17\x24\x0a\x20" + bytes(20)), (False, b"\x17\x24\x0b\x20" + bytes(12)),
          (True, b"\x11\x30\x36\x00" + bytes(28)), (False, b"\x11\x30\x37\x00" + bytes(16))]
    pkts += tcp_session(H.TV_PEER, H.SUPPLIER_WS, 51200, 5938, tv, at(9, 31), ttl=49, server_ttl=128)
    # approved: RDP from the bastion, Monday 10:45 Paris time (window Mon-Fri 07:00-19:00)
    tls_after = b"\x16\x03\x01\x00\x30" + bytes(48)
    rdp = [(True, rem.x224_cr("supplier.tech", 0x3)), (False, rem.x224_cc(0x2)), (True, tls_after)]
    pkts += tcp_session(H.BASTION, H.SUPPLIER_WS, 50123, 3389, rdp, at(9, 45), server_ttl=128)
    # VNC from an office PC to the infusion-pump gateway (unapproved)
    vnc = [(False, b"RFB 003.008\n"), (True, b"RFB 003.008\n"), (False, b"\x01\x02"), (True, b"\x02")]
    pkts += tcp_session(H.OFFICE_PC, H.PUMP_GW, 50200, 5900, vnc, at(9, 55), ttl=128, syn_options=WIN_SYN)
    # Telnet from an office PC to the Sysmex analyzer (cleartext admin)
    iac = b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27"
    telnet = [(False, iac), (True, b"\xff\xfb\x18\xff\xfc\x20"), (False, b"login: "), (True, b"service\r\n"),
              (False, b"Password: "), (True, b"S3cret!\r\n"), (False, b"\r\nXN-1000 service shell\r\n# ")]
    pkts += tcp_session(H.OFFICE_PC, H.SYSMEX, 50300, 23, telnet, at(10, 2), ttl=128, syn_options=WIN_SYN)
    # SNMPv2c get with community "public" from the office PC to the IntelliVue monitor, and the answer
    pkts += timed([udp_dgram(H.OFFICE_PC, H.MONITOR, 40161, 161, infra.snmp_message(1, b"public", 0xA0)),
                   udp_dgram(H.MONITOR, H.OFFICE_PC, 161, 40161, infra.snmp_message(1, b"public", 0xA2))],
                  at(10, 10))
    return pkts


# =============================================================================== wifi


def _capwap(src: Host, dst: Host, sport: int, dport: int, payload: bytes) -> Packet:
    return (Ether(src=src[0], dst=dst[0]) / Dot1Q(vlan=src[2]) / IP(src=src[1], dst=dst[1], ttl=64)
            / UDP(sport=sport, dport=dport) / Raw(payload))


def _pump_dot11(pump: Host, dst_ip: str, dport: int, data: bytes) -> bytes:
    frame = Dot11(type=2, subtype=0, FCfield=0x01, addr1=H.BSSID, addr2=pump[0], addr3=ROUTER_MAC)
    frame /= LLC() / SNAP(code=0x0800) / IP(src=pump[1], dst=dst_ip, ttl=64) / UDP(sport=40123, dport=dport)
    frame /= Raw(data)
    return wifi.cisco_swapped(bytes(frame))


def wifi_capture() -> list[Packet]:
    pkts: list[Packet] = []
    pump = H.PUMP_09
    ntp = bytes([0x23]) + bytes(47)
    discovery = wifi.capwap_header(0, wbid=1) + struct.pack("!IBHB", 1, 0, 0, 0)
    pkts += timed([
        _capwap(H.AP, H.WLC, 12380, 5246, discovery),
        _capwap(H.AP, H.WLC, 12381, 5247, wifi.capwap_header(1) + _pump_dot11(pump, H.DNS_SRV[1], 123, ntp)),
        _capwap(H.AP, H.WLC, 12381, 5247, wifi.capwap_header(1) + _pump_dot11(pump, H.PUMP_GW[1], 5000,
                                                                              b"SPACE-STATUS RUN")),
    ], at(10, 31))
    mac_dash = pump[0].upper().replace(":", "-")
    attrs = [(1, pump[0].replace(":", "").encode()), (4, bytes(map(int, H.WLC[1].split(".")))),
             (61, struct.pack("!I", 19)), (30, b"00-3A-7D-AA-BB-01:MED-DEVICES"), (31, mac_dash.encode())]
    acct = attrs + [(8, bytes(map(int, pump[1].split(".")))), (40, struct.pack("!I", 1)), (44, b"0000A1B2")]
    pkts += timed([
        udp_dgram(H.WLC, H.RADIUS_SRV, 32768, 1812, wifi.radius_packet(1, 7, attrs + [(2, b"\x8a" * 16)])),
        udp_dgram(H.RADIUS_SRV, H.WLC, 1812, 32768, wifi.radius_packet(2, 7, [])),
        udp_dgram(H.WLC, H.RADIUS_SRV, 32769, 1813, wifi.radius_packet(4, 8, acct)),
        udp_dgram(H.RADIUS_SRV, H.WLC, 1813, 32769, wifi.radius_packet(5, 8, [])),
    ], at(10, 32))
    # PUMP-07 (declared wired in VLAN 120) bridged by the controller into the Wi-Fi VLAN 300
    pkts += dhcp_dora(H.PUMP_07, "PUMP-07", "BBraun-Space", PRL_EMBEDDED, 0x3007, at(10, 40))
    pkts += dns_exchange(H.PUMP_07, "spacecom.demo-hospital.example", H.PUMP_GW[1], 0x3100, at(10, 42))
    pkts += ntp_exchange(H.PUMP_07, at(10, 43))
    status = [udp_dgram(H.PUMP_07, H.PUMP_GW, 40123, 5000, b"SPACE-STATUS RUN PUMP-07") for _ in range(3)]
    pkts += timed(status, at(10, 44), step=20.0)
    return pkts


# =============================================================================== office


def office() -> list[Packet]:
    pkts: list[Packet] = []
    pc = H.WIN7_PC
    # Windows 7 PC: SMB1 NEGOTIATE offering NT LM 0.12 and SMB 2.x, server picks NT LM 0.12; NTLMSSP 6.1.7601
    names = (b"PC NETWORK PROGRAM 1.0", b"LANMAN1.0", b"NT LM 0.12", b"SMB 2.002", b"SMB 2.???")
    dialects = b"".join(b"\x02" + d + b"\x00" for d in names)
    resp_words = struct.pack("<HBHHIIII", 2, 3, 50, 1, 4356, 65536, 0, 0x8000E3FD) + bytes(13)
    challenge = infra.ntlm_challenge("FILES01", "DEMOHOSP", (10, 0, 17763))
    chunks = [(True, infra.smb1(0x72, b"", dialects)), (False, infra.smb1(0x72, resp_words[:34], b"", True)),
              (True, infra.smb1(0x73, bytes(24), infra.ntlm_negotiate((6, 1, 7601)))),
              (False, infra.smb1(0x73, bytes(6), challenge, True))]
    pkts += tcp_session(pc, H.FILE_SRV, 49301, 445, chunks, at(11, 1), ttl=128, syn_options=WIN_SYN)
    # Office PC in the monitoring VLAN (flat network): SMB2 to the file server
    pkts += tcp_session(H.OFFICE_IN_ICU, H.FILE_SRV, 49302, 445, infra.smb2_negotiate_311(), at(11, 5),
                        ttl=128, syn_options=WIN_SYN)
    # Office PC: HTTPS to the Internet (normal), printing (normal), HTTP to an MR console (no conduit)
    pkts += tls_session(H.OFFICE_PC, H.WEB_SITE, 49410, 443, "www.example.org", at(11, 10), ttl=128,
                         syn_options=WIN_SYN)
    pjl = b"\x1b%-12345X@PJL JOB NAME=\"planning\"\r\n@PJL ENTER LANGUAGE=PCL\r\n" + bytes(200)
    pkts += tcp_session(H.OFFICE_PC, H.PRINTER, 49411, 9100, [(True, pjl)], at(11, 15), ttl=128,
                        syn_options=WIN_SYN)
    get = (b"GET /console/status HTTP/1.1\r\nHost: 10.10.110.22\r\n"
           b"User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64)\r\n\r\n")
    ok = b"HTTP/1.1 200 OK\r\nServer: GEHC-Console/1.4\r\nContent-Length: 2\r\n\r\nOK"
    pkts += tcp_session(H.OFFICE_PC, H.MR, 49412, 80, [(True, get), (False, ok)], at(11, 20), ttl=128,
                        syn_options=WIN_SYN)
    # Lab analyzer (Windows 7 inside) fetching updates in clear from a public server
    upd = (b"GET /updates/cobas/c311/manifest.xml HTTP/1.1\r\nHost: update.demo-vendor.example\r\n"
           b"User-Agent: Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)\r\n\r\n")
    ok2 = b"HTTP/1.1 304 Not Modified\r\nServer: nginx/1.18.0\r\n\r\n"
    pkts += tcp_session(H.ANALYZER, H.UPDATE_SRV, 49500, 80, [(True, upd), (False, ok2)], at(11, 30), ttl=128,
                        syn_options=WIN_SYN)
    return pkts
