"""Deterministic 1,000,000-frame hospital traffic mix for `make bench` (not committed).

Usage: python pcaps/make_bench_mix.py [OUT.pcap] [--frames N] [--seed S]
(default /tmp/medtap-bench/mix.pcap).  Frames are written as raw libpcap records with struct
(no scapy packet per frame, so 1M frames take seconds).  About 2,000 hosts on a SPAN port, ~30 %
of frames 802.1Q-tagged (the medical VLANs), interleaved sessions: DICOM C-STORE bulk
transfers (A-ASSOCIATE-RQ/AC then hundreds of full-size P-DATA segments), HL7 v2 over MLLP,
DHCP, LLDP, CDP, TLS ClientHello with SNI, SMB2 negotiate, RDP (X.224 with cookie), VNC (RFB),
TeamViewer (TCP 5938), ARP and DNS.  Same seed, same bytes.

`--profile identity` (issue 15, the second bench mix): the same hosts and sessions, but weighted
towards identity traffic whose content varies, as on a real core switch: DNS with distinct names,
transaction ids and answers, ARP, DHCP with distinct transaction ids and host names, NTP, mDNS and
SSDP and WS-Discovery announcements with distinct UUIDs, LLDP/CDP from many switch ports,
NBNS/LLMNR queries, DICOM associations with many distinct AE titles and HL7 messages from many
sending applications.  At least a quarter of its frames carry identity (the generator prints it).
"""

from __future__ import annotations

import argparse
import random
import struct
from collections.abc import Iterator
from pathlib import Path

ROUTER_MAC = bytes.fromhex("00000c9ff001")
BCAST = b"\xff" * 6
LLDP_MAC = bytes.fromhex("0180c200000e")
CDP_MAC = bytes.fromhex("01000ccccccc")
T0 = 1767258000.0
MEDICAL_VLANS = (110, 120, 130)
WORDS = ("ct", "mri", "pacs", "ris", "lab", "icu", "monitor", "pump", "gw", "ward", "print", "mail", "erp",
         "wiki", "backup", "update", "auth", "vpn", "drive", "cdn", "api", "portal", "stats", "time")
Host = tuple[bytes, bytes, int | None]  # mac, ip (4 bytes), vlan (None = untagged on the SPAN)


def _eth(dst: bytes, src: bytes, vlan: int | None, ethertype: int) -> bytes:
    if vlan is not None:
        return dst + src + struct.pack(">HHH", 0x8100, vlan, ethertype)
    return dst + src + struct.pack(">H", ethertype)


def _ip(src: bytes, dst: bytes, proto: int, length: int, ident: int) -> bytes:
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + length, ident & 0xFFFF, 0x4000, 64, proto, 0, src, dst)


class Mix:
    def __init__(self, seed: int, n_hosts: int = 2000) -> None:
        self.rng = random.Random(seed)
        r = self.rng
        self.hosts: list[Host] = []
        for i in range(n_hosts):
            medical = i % 10 < 3
            vlan = MEDICAL_VLANS[i % 3] if medical else None
            net = {110: (10, 10, 110), 120: (10, 10, 120), 130: (10, 10, 130)}.get(vlan or 0, (10, 20, i // 250))
            ip = bytes((*net, 10 + i % 240))
            mac = bytes((0x00, 0x1B, 0x3F if medical else 0x50, i >> 8, i & 0xFF, 0x01))
            self.hosts.append((mac, ip, vlan))
        self.medical = [h for h in self.hosts if h[2] is not None]
        self.office = [h for h in self.hosts if h[2] is None]
        srv = lambda n, last: (bytes((0x00, 0x50, 0x56, 0x00, 0x00, n)), bytes((10, 50, 0, last)), None)  # noqa: E731
        self.pacs, self.hl7_engine, self.dns_server, self.dhcp_server, self.files = srv(1, 20), srv(2, 30), srv(3, 3), srv(4, 2), srv(5, 40)
        self.internet = [bytes((203, 0, 113, k)) for k in range(1, 60)] + [bytes((198, 51, 100, k)) for k in range(1, 40)]
        self.ident = 0
        self.bulk = bytes(r.getrandbits(8) for _ in range(1448))
        self.snis = [b"pacs.demo-hospital.example", b"update.vendor.example", b"relay-1.net.anydesk.com",
                     b"router12.teamviewer.com", b"login.microsoftonline.com", b"rs-eu.philips.com"]

    # -------------------------------------------------------------- frame builders

    def _l2(self, src: Host, dst: Host | None, dst_ip: bytes) -> tuple[bytes, bytes, int | None]:
        """(dst mac, src mac, vlan) as seen on the SPAN: across VLANs the router is the L2 peer."""
        if dst is not None and dst[2] == src[2]:
            return dst[0], src[0], src[2]
        return ROUTER_MAC, src[0], src[2]

    def tcp(self, src: Host, dst: Host | None, dst_ip: bytes, sport: int, dport: int, seq: int, ack: int,
            flags: int, payload: bytes) -> bytes:
        dmac, smac, vlan = self._l2(src, dst, dst_ip)
        self.ident += 1
        hdr = struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags, 64240, 0, 0)
        return _eth(dmac, smac, vlan, 0x0800) + _ip(src[1], dst_ip, 6, 20 + len(payload), self.ident) + hdr + payload

    def udp(self, src: Host, dst: Host | None, dst_ip: bytes, sport: int, dport: int, payload: bytes,
            dst_mac: bytes | None = None) -> bytes:
        dmac, smac, vlan = self._l2(src, dst, dst_ip)
        self.ident += 1
        return (_eth(dst_mac or dmac, smac, vlan, 0x0800) + _ip(src[1], dst_ip, 17, 8 + len(payload), self.ident)
                + struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload)

    def stream(self, client: Host, server: Host | None, server_ip: bytes, dport: int,
               chunks: Iterator[tuple[bool, bytes]]) -> Iterator[bytes]:
        """Handshake, payload chunks (True = client to server) with ACKs, FIN exchange."""
        sport = self.rng.randrange(49152, 65535)
        cs, ss = self.rng.getrandbits(32), self.rng.getrandbits(32)
        srv: Host = server if server is not None else (ROUTER_MAC, server_ip, client[2])
        yield self.tcp(client, server, server_ip, sport, dport, cs, 0, 0x02, b"")
        yield self.tcp(srv, client, client[1], dport, sport, ss, cs + 1, 0x12, b"")
        cs += 1
        ss += 1
        yield self.tcp(client, server, server_ip, sport, dport, cs, ss, 0x10, b"")
        unacked = 0
        for from_client, data in chunks:
            if from_client:
                yield self.tcp(client, server, server_ip, sport, dport, cs, ss, 0x18, data)
                cs += len(data)
            else:
                yield self.tcp(srv, client, client[1], dport, sport, ss, cs, 0x18, data)
                ss += len(data)
            unacked += 1
            if unacked == 2:
                unacked = 0
                if from_client:
                    yield self.tcp(srv, client, client[1], dport, sport, ss, cs, 0x10, b"")
                else:
                    yield self.tcp(client, server, server_ip, sport, dport, cs, ss, 0x10, b"")
        yield self.tcp(client, server, server_ip, sport, dport, cs, ss, 0x11, b"")
        yield self.tcp(srv, client, client[1], dport, sport, ss, cs + 1, 0x11, b"")
        yield self.tcp(client, server, server_ip, sport, dport, cs + 1, ss + 1, 0x10, b"")

    # -------------------------------------------------------------- sessions

    def dicom(self) -> Iterator[bytes]:
        r = self.rng
        modality = r.choice(self.medical[:150] if r.random() < 0.5 else self.office[:150])
        calling, called = b"CT_%04d" % (modality[0][4],), b"PACS_ARCHIVE"
        items = struct.pack(">BBH", 0x10, 0, 21) + b"1.2.840.10008.3.1.1.1"
        ctx = struct.pack(">BBH", 0x30, 0, 25) + b"1.2.840.10008.5.1.4.1.1.2" + struct.pack(">BBH", 0x40, 0, 17) + b"1.2.840.10008.1.2"
        items += struct.pack(">BBHBBBB", 0x20, 0, 4 + len(ctx), 1, 0, 0xFF, 0) + ctx
        items += struct.pack(">BBH", 0x50, 0, 8) + struct.pack(">BBHI", 0x51, 0, 4, 16384)
        body = b"\x00\x01\x00\x00" + called.ljust(16) + calling.ljust(16) + b"\x00" * 32 + items
        rq = struct.pack(">BBI", 1, 0, len(body)) + body
        ac = struct.pack(">BBI", 2, 0, len(body)) + body
        n = r.randrange(300, 1300)

        def chunks() -> Iterator[tuple[bool, bytes]]:
            yield True, rq
            yield False, ac
            total = n * 1448
            yield True, struct.pack(">BBII", 4, 0, total - 6, total - 10) + b"\x01\x02" + self.bulk[12:]
            for _ in range(n - 1):
                yield True, self.bulk
            yield False, struct.pack(">BBII", 4, 0, 12, 8) + b"\x01\x03" + b"\x00" * 6
            yield True, struct.pack(">BBI", 5, 0, 4) + b"\x00" * 4
            yield False, struct.pack(">BBI", 6, 0, 4) + b"\x00" * 4

        return self.stream(modality, self.pacs, self.pacs[1], 104, chunks())

    def hl7(self) -> Iterator[bytes]:
        r = self.rng
        dev = r.choice(self.medical)
        msgs = []
        for k in range(r.randrange(10, 60)):  # MLLP connections are long-lived
            msh = b"MSH|^~\\&|MONGW|ICU|HL7ENG|DEMOHOSP|20260101090000||ORU^R01|M%06d|P|2.5\r" % (k,)
            msgs.append((True, b"\x0b" + msh + b"OBX|1|NM|8867-4^HR^LN||72|/min\r" + b"\x1c\r"))
            msgs.append((False, b"\x0bMSH|^~\\&|HL7ENG|DEMOHOSP|MONGW|ICU|20260101090001||ACK|A1|P|2.5\rMSA|AA|M1\r\x1c\r"))
        return self.stream(dev, self.hl7_engine, self.hl7_engine[1], 2575, iter(msgs))

    def tls(self) -> Iterator[bytes]:
        r = self.rng
        client = r.choice(self.hosts)
        sni = r.choice(self.snis)
        name = b"\x00" + struct.pack(">H", len(sni)) + sni
        ext = struct.pack(">HH", 0, len(name) + 2) + struct.pack(">H", len(name)) + name
        hello = b"\x03\x03" + bytes(32) + b"\x00" + struct.pack(">H", 4) + b"\x13\x01\xc0\x2f" + b"\x01\x00"
        hello += struct.pack(">H", len(ext)) + ext
        hs = b"\x01" + struct.pack(">I", len(hello))[1:] + hello
        ch = b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs
        sh = b"\x16\x03\x03\x00\x32\x02\x00\x00\x2e\x03\x03" + bytes(32) + b"\x00\x13\x01\x00\x00\x06\x00\x2b\x00\x02\x03\x04"
        data = [(True, ch), (False, sh)] + [(r.random() < 0.3, b"\x17\x03\x03\x04\x00" + self.bulk[:1024]) for _ in range(r.randrange(10, 80))]
        return self.stream(client, None, r.choice(self.internet), 443, iter(data))

    def smb(self) -> Iterator[bytes]:
        client = self.rng.choice(self.office)
        neg = b"\xfeSMB" + struct.pack("<HHIHHII", 64, 0, 0, 0, 0, 0, 0) + bytes(44) + struct.pack("<HHHH", 36, 3, 1, 0) + bytes(28) + b"\x02\x02\x10\x02\x11\x03"
        pkt = lambda b: struct.pack(">I", len(b)) + b  # noqa: E731
        data = [(True, pkt(neg)), (False, pkt(neg))] + [(self.rng.random() < 0.2, pkt(b"\xfeSMB" + self.bulk[:1400])) for _ in range(self.rng.randrange(20, 200))]
        return self.stream(client, self.files, self.files[1], 445, iter(data))

    def rdp(self) -> Iterator[bytes]:
        client = self.rng.choice(self.office)
        cookie = b"Cookie: mstshash=biomed%d\r\n" % (client[0][5],)
        x224 = b"\x0e\xe0\x00\x00\x00\x00\x00" + cookie + b"\x01\x00\x08\x00\x03\x00\x00\x00"
        cr = b"\x03\x00" + struct.pack(">H", 4 + len(x224)) + x224
        cc = b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x00\x08\x00\x02\x00\x00\x00"
        target = self.rng.choice(self.medical)
        data = [(True, cr), (False, cc)] + [(self.rng.random() < 0.3, b"\x03\x00\x01\x04" + self.bulk[:700]) for _ in range(self.rng.randrange(100, 400))]
        return self.stream(client, target, target[1], 3389, iter(data))

    def vnc(self) -> Iterator[bytes]:
        client = self.rng.choice(self.office)
        target = self.rng.choice(self.medical)
        data = [(False, b"RFB 003.008\n"), (True, b"RFB 003.008\n"), (False, b"\x01\x02"), (True, b"\x02")]
        data += [(self.rng.random() < 0.1, b"\x00\x00\x00\x01" + self.bulk[:1200]) for _ in range(self.rng.randrange(100, 500))]
        return self.stream(client, target, target[1], 5900, iter(data))

    def teamviewer(self) -> Iterator[bytes]:
        client = self.rng.choice(self.hosts)
        data = [(True, b"\x17\x24\x0a\x20" + self.bulk[:60]), (False, b"\x17\x24\x0b\x30" + self.bulk[:60])]
        data += [(self.rng.random() < 0.5, b"\x17\x24\x10\x04" + self.bulk[:300]) for _ in range(self.rng.randrange(20, 120))]
        return self.stream(client, None, self.rng.choice(self.internet), 5938, iter(data))

    def dns(self) -> Iterator[bytes]:
        client = self.rng.choice(self.hosts)
        qid = self.rng.getrandbits(16)
        q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + b"\x04pacs\x0ddemo-hospital\x07example\x00\x00\x01\x00\x01"
        a = struct.pack(">HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q[12:] + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04" + self.pacs[1]
        sport = self.rng.randrange(49152, 65535)
        yield self.udp(client, self.dns_server, self.dns_server[1], sport, 53, q)
        yield self.udp(self.dns_server, client, client[1], 53, sport, a)

    def arp(self) -> Iterator[bytes]:
        a, b = self.rng.choice(self.hosts), self.rng.choice(self.hosts)
        req = struct.pack(">HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, a[0], a[1], b"\x00" * 6, b[1])
        rep = struct.pack(">HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, b[0], b[1], a[0], a[1])
        yield _eth(BCAST, a[0], a[2], 0x0806) + req + bytes(18)
        yield _eth(a[0], b[0], a[2], 0x0806) + rep + bytes(18)

    def dhcp(self) -> Iterator[bytes]:
        client = self.rng.choice(self.hosts)
        for mtype, src_ip, dst_ip, sport, dport in ((1, b"\0\0\0\0", b"\xff" * 4, 68, 67), (2, self.dhcp_server[1], client[1], 67, 68),
                                                     (3, b"\0\0\0\0", b"\xff" * 4, 68, 67), (5, self.dhcp_server[1], client[1], 67, 68)):
            op = 1 if mtype in (1, 3) else 2
            body = struct.pack(">BBBBIHH4s4s4s4s", op, 1, 6, 0, 0x1234, 0, 0, b"\0" * 4, client[1] if op == 2 else b"\0" * 4, b"\0" * 4, b"\0" * 4)
            body += client[0] + bytes(10) + bytes(192) + b"\x63\x82\x53\x63"
            body += bytes((53, 1, mtype, 12, 8)) + b"dev%05d" % (client[0][4] * 256 + client[0][5],) + bytes((55, 4, 1, 3, 6, 15, 60, 4)) + b"MSFT" + b"\xff"
            src = (client[0], src_ip, client[2]) if op == 1 else self.dhcp_server
            dst_mac = BCAST if op == 1 else None
            yield self.udp(src, client if op == 2 else None, dst_ip, sport, dport, body, dst_mac)

    # -------------------------------------------------------------- identity-heavy profile

    def _name(self) -> bytes:
        r = self.rng
        return b"%s%d" % (r.choice(WORDS).encode(), r.randrange(10_000))

    @staticmethod
    def _qname(*labels: bytes) -> bytes:
        return b"".join(bytes((len(x),)) + x for x in labels) + b"\x00"

    def dns_varied(self) -> Iterator[bytes]:
        """A query for a distinct name, a distinct transaction id, an answer with a distinct address."""
        r = self.rng
        client = r.choice(self.hosts)
        qid = r.getrandbits(16)
        qname = self._qname(self._name(), r.choice(WORDS).encode(), b"example")
        q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + b"\x00\x01\x00\x01"
        answer = bytes((10, r.randrange(256), r.randrange(256), r.randrange(1, 255)))
        a = (struct.pack(">HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q[12:]
             + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04" + answer)
        sport = r.randrange(49152, 65535)
        yield self.udp(client, self.dns_server, self.dns_server[1], sport, 53, q)
        yield self.udp(self.dns_server, client, client[1], 53, sport, a)

    def dhcp_varied(self) -> Iterator[bytes]:
        """DHCP INFORM/REQUEST with a distinct transaction id and host name (option 12)."""
        r = self.rng
        client = r.choice(self.hosts)
        body = struct.pack(">BBBBIHH4s4s4s4s", 1, 1, 6, 0, r.getrandbits(32), 0, 0, client[1], b"\0" * 4,
                           b"\0" * 4, b"\0" * 4)
        name = self._name()
        body += client[0] + bytes(10) + bytes(192) + b"\x63\x82\x53\x63"
        body += bytes((53, 1, 8, 12, len(name))) + name + bytes((55, 5, 1, 3, 6, 15, 119))
        body += bytes((60, 8)) + b"MSFT 5.0" + b"\xff"
        yield self.udp(client, None, b"\xff" * 4, 68, 67, body, BCAST)

    def ntp(self) -> Iterator[bytes]:
        r = self.rng
        client = r.choice(self.hosts)
        req = bytes((0x23, 0, 6, 0xEC)) + bytes(36) + struct.pack(">II", 0xE9A1B200 + r.getrandbits(16), r.getrandbits(32))
        rep = bytes((0x24, 2, 6, 0xEC)) + bytes(8) + b"GPS\x00" + bytes(24) + struct.pack(">II", 0xE9A1B200, 1)
        sport = r.randrange(49152, 65535) if r.random() < 0.5 else 123
        yield self.udp(client, self.dns_server, self.dns_server[1], sport, 123, req)
        yield self.udp(self.dns_server, client, client[1], 123, sport, rep)

    def mdns(self) -> Iterator[bytes]:
        """An mDNS announcement (response, port 5353) of a distinct instance name."""
        r = self.rng
        host = r.choice(self.hosts)
        inst = self._qname(self._name(), b"_ipp", b"_tcp", b"local")
        rr = inst + b"\x00\x21\x80\x01\x00\x00\x00\x78" + struct.pack(">H", 8) + b"\x00\x00\x00\x00\x02\x77\xc0\x0c"
        msg = struct.pack(">HHHHHH", 0, 0x8400, 0, 1, 0, 0) + rr
        yield self.udp(host, None, bytes((224, 0, 0, 251)), 5353, 5353, msg, bytes.fromhex("01005e0000fb"))

    def _uuid(self) -> bytes:
        h = "%032x" % self.rng.getrandbits(128)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}".encode()

    def ssdp(self) -> Iterator[bytes]:
        r = self.rng
        host = r.choice(self.hosts)
        uuid = self._uuid()
        msg = (b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\n"
               b"LOCATION: http://%d.%d.%d.%d:49152/desc.xml\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\n"
               b"SERVER: Linux/4.9 UPnP/1.0 %s/1.%d\r\nUSN: uuid:%s::upnp:rootdevice\r\n\r\n"
               % (*host[1], r.choice(WORDS).encode(), r.randrange(20), uuid))
        yield self.udp(host, None, bytes((239, 255, 255, 250)), 1900, 1900, msg, bytes.fromhex("01005e7ffffa"))

    def wsd(self) -> Iterator[bytes]:
        """A WS-Discovery Hello (SOAP over UDP, 3702) with a distinct endpoint UUID and message id."""
        r = self.rng
        host = r.choice(self.medical if r.random() < 0.5 else self.hosts)
        body = (b'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
                b' xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
                b' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Header>'
                b"<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Hello</a:Action>"
                b"<a:MessageID>urn:uuid:%s</a:MessageID><a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>"
                b"</s:Header><s:Body><d:Hello><a:EndpointReference><a:Address>urn:uuid:%s</a:Address>"
                b"</a:EndpointReference><d:Types>dpws:Device</d:Types><d:MetadataVersion>%d</d:MetadataVersion>"
                b"</d:Hello></s:Body></s:Envelope>" % (self._uuid(), self._uuid(), r.randrange(1, 9)))
        yield self.udp(host, None, bytes((239, 255, 255, 250)), 3702, 3702, body, bytes.fromhex("01005e7ffffa"))

    def nbns_llmnr(self) -> Iterator[bytes]:
        r = self.rng
        host = r.choice(self.office)
        name = self._name()[:15].upper()
        if r.random() < 0.5:  # NBNS name query, first-level encoded
            enc = b"".join(bytes((0x41 + (c >> 4), 0x41 + (c & 15))) for c in name.ljust(15) + b"\x00")
            q = struct.pack(">HHHHHH", r.getrandbits(16), 0x0110, 1, 0, 0, 0) + b"\x20" + enc + b"\x00\x00\x20\x00\x01"
            bcast = bytes((*host[1][:3], 255))
            yield self.udp(host, None, bcast, 137, 137, q, BCAST)
        else:  # LLMNR query
            q = struct.pack(">HHHHHH", r.getrandbits(16), 0, 1, 0, 0, 0) + self._qname(name.lower()) + b"\x00\x01\x00\x01"
            yield self.udp(host, None, bytes((224, 0, 0, 252)), r.randrange(49152, 65535), 5355, q,
                           bytes.fromhex("01005e0000fc"))

    def dicom_varied(self) -> Iterator[bytes]:
        """A short association (echo) from a modality with its own calling AE title to one of several archives."""
        r = self.rng
        modality = r.choice(self.medical)
        calling = b"MOD_%s" % (self._name()[:12].upper(),)
        called = b"ARCHIVE_%d" % (r.randrange(4),)
        ctx = struct.pack(">BBH", 0x30, 0, 17) + b"1.2.840.10008.1.1" + struct.pack(">BBH", 0x40, 0, 17) + b"1.2.840.10008.1.2"
        items = struct.pack(">BBH", 0x10, 0, 21) + b"1.2.840.10008.3.1.1.1"
        items += struct.pack(">BBHBBBB", 0x20, 0, 4 + len(ctx), 1, 0, 0xFF, 0) + ctx
        impl = b"1.2.276.0.7230010.3.0.3.%d" % (r.randrange(1, 7),)
        user = struct.pack(">BBHI", 0x51, 0, 4, 16384) + struct.pack(">BBH", 0x52, 0, len(impl)) + impl
        items += struct.pack(">BBH", 0x50, 0, len(user)) + user
        body = b"\x00\x01\x00\x00" + called.ljust(16) + calling.ljust(16) + b"\x00" * 32 + items
        chunks = iter([(True, struct.pack(">BBI", 1, 0, len(body)) + body),
                       (False, struct.pack(">BBI", 2, 0, len(body)) + body),
                       (True, struct.pack(">BBI", 5, 0, 4) + b"\x00" * 4),
                       (False, struct.pack(">BBI", 6, 0, 4) + b"\x00" * 4)])
        return self.stream(modality, self.pacs, self.pacs[1], 104, chunks)

    def hl7_varied(self) -> Iterator[bytes]:
        """A few HL7 messages from a sending application and facility of many."""
        r = self.rng
        dev = r.choice(self.medical)
        app, fac = self._name().upper(), r.choice(WORDS).upper().encode()
        msgs = []
        for k in range(r.randrange(1, 4)):
            msh = (b"MSH|^~\\&|%s|%s|HL7ENG|DEMOHOSP|20260101090000||ORU^R01|%s%d|P|2.5\r"
                   % (app, fac, app, k))
            msgs.append((True, b"\x0b" + msh + b"OBX|1|NM|8867-4^HR^LN||72|/min\r" + b"\x1c\r"))
            msgs.append((False, b"\x0bMSH|^~\\&|HL7ENG|DEMOHOSP|%s|%s|20260101090001||ACK|A1|P|2.5\rMSA|AA|M1\r\x1c\r"
                         % (app, fac)))
        return self.stream(dev, self.hl7_engine, self.hl7_engine[1], 2575, iter(msgs))

    def lldp_cdp(self) -> Iterator[bytes]:
        sw = bytes((0x00, 0x1C, 0x0E, 0x00, 0x00, self.rng.randrange(1, 40)))
        if self.rng.random() < 0.5:
            tlv = lambda t, v: struct.pack(">H", (t << 9) | len(v)) + v  # noqa: E731
            body = tlv(1, b"\x04" + sw) + tlv(2, b"\x05Gi1/0/%d" % self.rng.randrange(1, 48)) + tlv(3, b"\x00\x78") + tlv(5, b"sw-floor2") + tlv(0, b"")
            yield _eth(LLDP_MAC, sw, None, 0x88CC) + body
        else:
            tlvs = struct.pack(">HH", 1, 13) + b"sw-floor2" + struct.pack(">HH", 3, 14) + b"Gi1/0/12\x00\x00"
            cdp = b"\x02\xb4\x00\x00" + tlvs
            llc = b"\xaa\xaa\x03\x00\x00\x0c\x20\x00" + cdp
            yield CDP_MAC + sw + struct.pack(">H", len(llc)) + llc


PROFILES = ("default", "identity")


def frames(n: int, seed: int, profile: str = "default") -> Iterator[tuple[float, bytes]]:
    mix = Mix(seed)
    r = mix.rng
    if profile == "identity":
        kinds = [mix.dicom, mix.tls, mix.hl7, mix.smb, mix.rdp, mix.vnc, mix.teamviewer, mix.dns_varied, mix.arp,
                 mix.dhcp_varied, mix.lldp_cdp, mix.ntp, mix.mdns, mix.ssdp, mix.wsd, mix.nbns_llmnr,
                 mix.dicom_varied, mix.hl7_varied]
        # a session holds its slot for as many frames as it has: the short identity exchanges get
        # weights that give them about a third of the frames
        weights = [1, 10, 2, 3, 1, 1, 2, 400, 120, 80, 60, 80, 80, 80, 80, 80, 20, 20]
    else:
        kinds = [mix.dicom, mix.tls, mix.hl7, mix.smb, mix.rdp, mix.vnc, mix.teamviewer, mix.dns, mix.arp, mix.dhcp,
                 mix.lldp_cdp]
        weights = [1, 10, 3, 3, 1, 1, 2, 40, 20, 4, 10]
    active = [r.choices(kinds, weights)[0]() for _ in range(48)]
    t = T0
    for _ in range(n):
        while True:
            i = r.randrange(len(active))
            frame = next(active[i], None)
            if frame is not None:
                break
            active[i] = r.choices(kinds, weights)[0]()
        t += r.expovariate(10_000.0)
        yield t, frame


IDENTITY_UDP_PORTS = frozenset({53, 67, 68, 123, 137, 1900, 3702, 5353, 5355})


def _carries_identity(frame: bytes) -> bool:
    """ARP, LLDP, CDP and the identity UDP protocols (what reaches the collector's deep path)."""
    off = 16 if frame[12:14] == b"\x81\x00" else 12
    etype = frame[off:off + 2]
    if etype in (b"\x08\x06", b"\x88\xcc") or frame[:6] == CDP_MAC:
        return True
    if etype == b"\x08\x00" and frame[off + 11] == 17:
        udp = off + 2 + 20
        return (int.from_bytes(frame[udp:udp + 2], "big") in IDENTITY_UDP_PORTS
                or int.from_bytes(frame[udp + 2:udp + 4], "big") in IDENTITY_UDP_PORTS)
    return False


def write(path: Path, n: int, seed: int, profile: str = "default") -> dict[str, int]:
    path.parent.mkdir(parents=True, exist_ok=True)
    tagged = size = identity = 0
    rec = struct.Struct("<IIII")
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        out = []
        for k, (t, frame) in enumerate(frames(n, seed, profile)):
            sec = int(t)
            out.append(rec.pack(sec, int((t - sec) * 1e6), len(frame), len(frame)))
            out.append(frame)
            if frame[12:14] == b"\x81\x00":
                tagged += 1
            size += len(frame)
            identity += _carries_identity(frame)
            if k % 10000 == 9999:
                f.write(b"".join(out))
                out = []
        f.write(b"".join(out))
    return {"frames": n, "vlan_tagged": tagged, "bytes": size, "identity": identity}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="/tmp/medtap-bench/mix.pcap")
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--profile", choices=PROFILES, default="default",
                    help="default: the hospital mix; identity: identity frames varied and frequent (issue 15)")
    args = ap.parse_args()
    info = write(Path(args.out), args.frames, args.seed, args.profile)
    print(f"{args.out}: {info['frames']} frames ({args.profile}), {info['vlan_tagged'] / info['frames']:.0%} "
          f"VLAN-tagged, {info['identity'] / info['frames']:.0%} carrying identity, "
          f"{info['bytes'] / 1e6:.0f} MB of frames")


if __name__ == "__main__":
    main()
