"""Conversation/host tables: direction rules, caps, per-period deltas, Community ID v1."""

from __future__ import annotations

import pytest

from collector.communityid import community_id
from collector.flows import C_APP, Tables, TextCache, sender_is_client
from collector.schema import parse_observation

IP1, IP2 = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
M1, M2 = bytes.fromhex("02000000000a"), bytes.fromhex("02000000000b")


@pytest.mark.parametrize(
    "proto, sport, dport, flags, client",
    [
        (6, 104, 50000, 0x02, True),  # a SYN decides, whatever the ports
        (6, 50000, 104, 0x12, False),  # SYN/ACK: the receiver is the client
        (6, 104, 50000, 0x18, False),  # mid-stream: the service port is the server
        (6, 50000, 2575, 0x18, True),  # well-known port above 1024 (HL7 MLLP)
        (17, 68, 67, 0, True),  # both service ports: the lower one serves
        (17, 137, 137, 0, True),  # same port: first sender
        (17, 40000, 50000, 0, True),  # no service port: first sender
        (1, None, None, 0, True),
    ],
)
def test_direction_rules(proto: int, sport: int | None, dport: int | None, flags: int, client: bool) -> None:
    assert sender_is_client(proto, sport, dport, flags) is client


def test_caps_refuse_and_count() -> None:
    overflow: dict[str, int] = {}
    t = Tables(max_conversations=1, max_hosts=1, overflow=overflow)
    assert t.new_host((M1, IP1, None), 64, False, "f", None, None) is not None
    assert t.new_host((M2, IP2, None), 64, False, "f", None, None) is None
    assert t.new_conv((None, 6, IP1, IP2, 80), M1, M2, 40000, True, None) is not None
    assert t.new_conv((None, 6, IP2, IP1, 81), M2, M1, 40001, True, None) is None
    assert t.new_conv((None, 6, IP2, IP1, 82), M2, M1, 40002, True, None) is None
    assert overflow == {"hosts": 1, "conversations": 2}


def _touch(t: Tables, entry: list, ts: float, fwd: bool, size: int) -> None:
    """What the pipeline does for one frame of a conversation."""
    if not (entry[0] or entry[1]):
        entry[4], entry[6] = ts, 7
        entry[14] = (M1, M2, IP1, IP2, 40000, 80, None, None, "f.pcap")
        t.active_convs.append(entry)
    entry[5] = ts
    entry[0 if fwd else 1] += 1
    entry[2 if fwd else 3] += size


def test_flush_emits_deltas_and_keeps_state() -> None:
    t = Tables(sensor="s1")
    c = t.new_conv((110, 6, IP1, IP2, 80), M1, M2, 40000, True, None)
    assert c is not None
    _touch(t, c, 1.0, True, 100)
    _touch(t, c, 2.0, False, 300)
    c[C_APP] = "http"
    first = t.flush()
    assert len(first) == 1
    rec = first[0]
    assert parse_observation(rec.model_dump(mode="json")) == rec  # valid against the schema
    assert (rec.client_ip, rec.server_ip, rec.server_port, rec.client_port, rec.vlan) == ("10.0.0.1", "10.0.0.2", 80, 40000, 110)
    assert (rec.packets_c2s, rec.packets_s2c, rec.bytes_c2s, rec.bytes_s2c) == (1, 1, 100, 300)
    assert (rec.first_ts, rec.last_ts, rec.app, rec.syn_seen, rec.sensor) == (1.0, 2.0, "http", True, "s1")
    assert rec.community_id == community_id("10.0.0.1", "10.0.0.2", 6, 40000, 80)
    assert t.flush() == []  # nothing new in the period
    _touch(t, c, 15.0, True, 50)
    (again,) = t.flush()
    assert (again.packets_c2s, again.packets_s2c, again.bytes_c2s, again.first_ts, again.app) == (1, 0, 50, 15.0, "http")


# Community ID v1 known vectors from corelight/community-id-spec baseline/baseline_deflt.json (seed 0).
VECTORS = [
    (6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
    (6, "66.35.250.204", "128.232.110.120", 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
    (17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
    (6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="),
    (132, "192.168.170.8", "192.168.170.56", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="),
    (1, "192.168.0.89", "192.168.0.1", 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),
    (1, "192.168.0.1", "192.168.0.89", 0, 8, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),
    (1, "10.0.0.1", "10.0.0.2", 11, 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM="),
    (58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="),
    (58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 136, "1:zavyT/cezQr1fmImYCwYnMXbgck="),
    (58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0, "1:2ObVBgIn28oZvibYZhZMBgh7WdQ="),
    (58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 134, "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="),
    (46, "10.1.12.1", "10.1.12.2", None, None, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="),
    (46, "10.1.12.2", "10.1.12.1", None, None, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="),
]


@pytest.mark.parametrize("proto, saddr, daddr, sport, dport, expected", VECTORS)
def test_community_id_spec_vectors(proto: int, saddr: str, daddr: str, sport: int | None, dport: int | None,
                                   expected: str) -> None:
    assert community_id(saddr, daddr, proto, sport, dport) == expected


def test_text_cache_formats() -> None:
    text = TextCache()
    assert text.mac(M1) == "02:00:00:00:00:0a"
    assert text.ip(bytes.fromhex("20010db8000000000000000000000001")) == "2001:db8::1"
    assert text.ip(IP1) is text.ip(bytes(IP1))  # converted once
    assert text.mac(None) is None
