"""Link layers in the inventory (issue 20 item 5): links without MAC addresses give devices keyed by IP;
stacked VLAN tags show both tags on the device.

Raw IP, BSD null/loopback, PPP, Linux cooked v1/v2 without a link-layer address, IP inside MPLS:
each address that only ever appears there becomes a device `ip:<address>` in the report, unless
a MAC-keyed device owns it; public and loopback addresses are never such devices.
"""

from __future__ import annotations

import struct

import pytest
from scapy.layers.inet import IP, UDP
from scapy.packet import Raw

from analyzer.engine import analyze
from analyzer.inventory import ip_key, is_ip_key
from collector.pipeline import Pipeline
from collector.sinks import ListSink
from collector.sources import RawFrame
from pcaps.fixtures.gen_infra import dns_message
from tests.collector.replay_helpers import run
from tests.conftest import real_pcap
from tests.keys import TEST_KEY

CLIENT, SERVER = "10.10.130.45", "10.50.0.3"


def _dns(src: str, dst: str, response: bool) -> bytes:
    msg = dns_message(0x3003, 0x8180 if response else 0x0100, [("lis.demo-hospital.example", 1)], [])
    sport, dport = (53, 53104) if response else (53104, 53)
    return bytes(IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / Raw(msg))


LINKS = {
    "raw": (101, lambda ip: ip),
    "null": (0, lambda ip: struct.pack("<I", 2) + ip),
    "loop": (108, lambda ip: struct.pack(">I", 2) + ip),
    "ppp": (9, lambda ip: b"\xff\x03\x00\x21" + ip),
    "linux_sll": (113, lambda ip: struct.pack("!HHH8sH", 0, 0xFFFE, 0, b"", 0x0800) + ip),
    "linux_sll2": (276, lambda ip: struct.pack("!HHIHBB8s", 0x0800, 0, 3, 0xFFFE, 0, 0, b"") + ip),
}


def _devices(linktype: int, wrap) -> dict:  # type: ignore[no-untyped-def]
    sink = ListSink()
    pipe = Pipeline(sink=sink, key=TEST_KEY)
    for n, ip in enumerate((_dns(CLIENT, SERVER, False), _dns(SERVER, CLIENT, True)), start=1):
        data = wrap(ip)
        pipe.feed(RawFrame(1767225600.0 + n, linktype, data, len(data), n, "t"))
    pipe.close()
    return {d.mac: d for d in analyze(sink.observations, rules=[]).devices}


@pytest.mark.parametrize("link", sorted(LINKS))
def test_link_without_macs_gives_ip_keyed_devices(link: str) -> None:
    # before: no device at all (the inventory was keyed by MAC only)
    devices = _devices(*LINKS[link])
    assert set(devices) == {"ip:10.10.130.45", "ip:10.50.0.3"}
    client, server = devices["ip:10.10.130.45"], devices["ip:10.50.0.3"]
    assert client.ips == [CLIENT] and server.ips == [SERVER]
    assert "dns/client" in client.protocols and "dns/server" in server.protocols
    assert client.vendor is None and not client.random_mac


def test_real_raw_and_null_captures() -> None:
    raw = run(real_pcap("tcpdump-LINKTYPE_RAW_ipv4.pcap"))  # one DNS query from 192.168.1.100
    devices = analyze(raw.observations, rules=[]).devices
    assert [(d.mac, d.ips) for d in devices] == [("ip:192.168.1.100", ["192.168.1.100"])]
    null = run(real_pcap("ndpi-rdp.pcap"))  # RDP between 172.16.2.185 and 192.168.2.142 on a BSD loopback link
    by = {d.mac: d for d in analyze(null.observations, rules=[]).devices}
    assert set(by) == {"ip:172.16.2.185", "ip:192.168.2.142"}
    assert "rdp/server" in by["ip:192.168.2.142"].protocols


def test_a_mac_device_keeps_its_address_and_public_or_loopback_are_no_devices() -> None:
    # pcpp-sll.pcap: Linux cooked v1; the peers' frames carry their MACs, so no ip: device appears
    sll = run(real_pcap("pcpp-sll.pcap"))
    devices = analyze(sll.observations, rules=[]).devices
    assert devices and not [d.mac for d in devices if is_ip_key(d.mac)]
    assert not _devices(101, lambda ip: ip.replace(bytes([10, 10, 130, 45]), bytes([127, 0, 0, 1]))).get(
        "ip:127.0.0.1")
    public = _devices(101, lambda ip: ip.replace(bytes([10, 50, 0, 3]), bytes([198, 51, 100, 7])))
    assert set(public) == {"ip:10.10.130.45"}  # the public peer is an external peer, not a device


def test_mpls_inner_ip_is_a_device_unless_a_mac_owns_it() -> None:
    from pcaps.fixtures.gen_infra import encap_tunnels

    by = {d.mac: d for d in analyze(run(encap_tunnels()).observations, rules=[]).devices}
    assert "ip:10.10.120.50" not in by  # the monitor's MAC (ERSPAN copy of its ARP) owns the address
    assert "10.10.120.50" in by["00:09:fb:20:00:50"].ips
    assert "ip:10.20.0.11" in by  # the office PC's DNS query seen only inside GRE


def test_ip_key_fits_the_device_key_column() -> None:
    assert ip_key("10.0.0.1") == "ip:10.0.0.1"
    long = ip_key("2001:db8:1111:2222:3333:4444:5555:6666")
    assert len(long) == 32 and is_ip_key(long) and long != ip_key("2001:db8:1111:2222:3333:4444:5555:6667")


def test_stacked_tags_show_on_the_device() -> None:
    devices = analyze(run(real_pcap("zeek-q-in-q.pcap")).observations, rules=[]).devices
    host = next(d for d in devices if d.mac == "00:c0:e4:01:2c:ed")
    assert host.vlans == [10]  # the customer tag: the VLAN the zones and rules use
    assert ("outer_vlan", "13 (inner 10)", "802.1ad") in {(f.attribute, f.value, f.source) for f in host.facts}
