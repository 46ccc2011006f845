"""Real public captures: frame counts, conversations and host addresses equal what tshark reports.

For each capture in ../shared/pcaps/real, tshark lists every frame's outer IP addresses, L4
protocol and ports (`-T fields`, IP reassembly off so fragments stay frames).  Every tshark IP
frame must fall in one of our conversations (client->server:port or the reverse), every one of
our conversations must be hit, the per-conversation packet totals (by unordered address pair and
protocol) must agree, and the source IPs of our host sightings must equal tshark's source IPs on
link types that carry a MAC.  tshark is a test tool: missing in CI fails, elsewhere skips.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from collector.pipeline import replay
from collector.sinks import ListSink
from tests import needs
from tests.conftest import real_pcap
from tests.keys import TEST_KEY

pytestmark = [pytest.mark.tshark, pytest.mark.shared]

CAPTURES = [
    # name, link type carries source MACs
    ("zeek-pcapng-multi-interface.pcapng", True),
    ("pcpp-sll.pcap", True),
    ("zeek-linux_dlt_sll2.pcap", True),
    ("tcpdump-LINKTYPE_RAW_ipv4.pcap", False),
    ("zeek-radiotap.pcap", True),
    ("pcpp-VlanPackets.pcap", True),
    ("zeek-q-in-q.pcap", True),
    ("pcpp-nanosecs_big_endian.pcap", True),
    ("zeek-http-vlan-0.pcap", True),
    ("ndpi-rdp.pcap", False),  # BSD NULL link type
    ("zeek-trunc-hdr.pcap", True),
    ("zeek-truncated-header.pcap", True),
    ("tcpdump-empty.pcapng", True),
    ("arkime-v6.pcap", True),
    ("zeek-vlan-qinqinq.pcap", True),
    ("zeek-pppoe-over-qinq.pcap", True),
    ("tcpdump-802.1ad_QinQ.pcap", True),
    ("aircrack-test1.pcap", True),
    ("ndpi-netbios.pcap", True),
    ("zeek-icmp_dot1q.pcap", True),
    ("ndpi-dlt_ppp.pcap", False),
]
L4 = ("tcp", "udp", "icmp", "icmpv6", "sctp")
FIELDS = ["frame.number", "frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport",
          "tcp.dstport", "udp.srcport", "udp.dstport", "ip.frag_offset"]


@pytest.fixture(scope="module")
def tshark() -> str:
    return needs.tool("tshark")


def tshark_frames(tshark: str, path: Path) -> list[tuple[str | None, str | None, str | None, int | None, int | None, bool]]:
    """(src, dst, transport, sport, dport, later_fragment) of each frame, outer IP header only."""
    cmd = [tshark, "-n", "-r", str(path), "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE", "-T", "fields",
           "-E", "separator=\t", "-E", "occurrence=f"] + [a for f in FIELDS for a in ("-e", f)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout
    frames = []
    for line in out.splitlines():
        f = line.split("\t")
        chain = f[1].split(":")
        src, dst = f[2] or f[4] or None, f[3] or f[5] or None
        proto = None
        if src:
            start = next(i for i, p in enumerate(chain) if p in ("ip", "ipv6"))
            proto = "other"
            for p in chain[start + 1:]:
                if p in L4:
                    proto = p
                    break
                if p in ("ip", "ipv6"):
                    break
        ports = {"tcp": (f[6], f[7]), "udp": (f[8], f[9])}.get(proto or "", ("", ""))
        frames.append((src, dst, proto, int(ports[0]) if ports[0] else None, int(ports[1]) if ports[1] else None,
                       f[10] not in ("", "0")))
    return frames


@pytest.mark.parametrize("name, has_mac", CAPTURES, ids=[c[0] for c in CAPTURES])
def test_capture_matches_tshark(tshark: str, name: str, has_mac: bool) -> None:
    path = real_pcap(name)
    frames = tshark_frames(tshark, path)
    sink = ListSink()
    stats = replay([path], sink, key=TEST_KEY)
    assert stats.packets == len(frames), f"{name}: {stats.packets} frames, tshark {len(frames)}"

    ours: dict[tuple[str, str, str, int | None], int] = {}
    for o in sink.observations:
        if o.kind == "conversation":
            key = (o.client_ip, o.server_ip, o.transport, o.server_port)
            ours[key] = ours.get(key, 0) + o.packets_c2s + o.packets_s2c
    hit: set[tuple[str, str, str, int | None]] = set()
    pair_theirs: dict[tuple[frozenset[str], str], int] = {}
    for src, dst, proto, sport, dport, later_fragment in frames:
        if src is None or dst is None or later_fragment or (proto in ("tcp", "udp") and sport is None):
            continue
        ported = proto in ("tcp", "udp", "sctp")
        fwd, rev = (src, dst, proto, dport if ported else None), (dst, src, proto, sport if ported else None)
        key = fwd if fwd in ours else rev if rev in ours else None
        assert key is not None, f"{name}: tshark frame {src}->{dst} {proto} {sport}->{dport} not in our conversations"
        hit.add(key)
        pair = (frozenset((src, dst)), proto)
        pair_theirs[pair] = pair_theirs.get(pair, 0) + 1
    assert set(ours) == hit, f"{name}: conversations tshark never saw: {set(ours) - hit}"
    pair_ours: dict[tuple[frozenset[str], str], int] = {}
    for (c, s, proto, _), n in ours.items():
        pair = (frozenset((c, s)), proto)
        pair_ours[pair] = pair_ours.get(pair, 0) + n
    assert pair_ours == pair_theirs

    if has_mac:
        hosts = {o.ip for o in sink.observations if o.kind == "host" and o.ip}
        assert hosts == {f[0] for f in frames if f[0]}
