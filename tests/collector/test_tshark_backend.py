"""The optional tshark backend labels medtap's unidentified conversations with what tshark dissects.

Expected labels are derived here from tshark's own `frame.protocols` (an independent, simpler reading:
plain single-IP frames only), never hard-coded from medtap's output.  tshark missing: CI fails, else skip.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from collector import tshark_backend
from collector.pipeline import replay
from collector.schema import Conversation, Observation
from collector.sinks import ListSink
from collector.tshark_backend import available, enrich_with_tshark, frame_candidates
from tests import needs
from tests.conftest import real_pcap
from tests.keys import TEST_KEY

pytestmark = [pytest.mark.tshark, pytest.mark.shared]

TSHARK = Path("/usr/bin/tshark")
SKIP_TOP = {"data", "tcp", "udp"}


@pytest.fixture(scope="module")
def tshark() -> str:
    if not TSHARK.is_file():
        needs.missing(str(TSHARK), "apt-get install tshark")
    return str(TSHARK)


def observe(path: Path) -> list[Observation]:
    sink = ListSink()
    replay([path], sink, key=TEST_KEY)
    return sink.observations


def conversations(obs: list[Observation]) -> list[Conversation]:
    return [o for o in obs if isinstance(o, Conversation)]


def tshark_top_by_pair(
    tshark: str, path: Path, count: int | None = None
) -> dict[tuple[str, str, str], Counter[str]]:
    """Unordered (ip, ip, transport) -> Counter of top protocols, from plain eth/ip/tcp|udp frames only."""
    cmd = [tshark, "-n", "-r", str(path), "-T", "fields", "-E", "separator=/t", "-e", "frame.protocols",
           "-e", "ip.src", "-e", "ip.dst"] + (["-c", str(count)] if count else [])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    result: dict[tuple[str, str, str], Counter[str]] = {}
    for line in out.splitlines():
        protocols, src, dst = line.split("\t")
        chain = protocols.split(":")
        if chain.count("ip") != 1 or "ipv6" in chain or not src:
            continue
        l4 = chain[chain.index("ip") + 1]
        if l4 not in ("tcp", "udp"):
            continue
        a, b = sorted((src, dst))
        counter = result.setdefault((a, b, l4), Counter())
        top = [p for p in chain[chain.index(l4) + 1:] if p not in SKIP_TOP]
        if top:
            counter[top[-1]] += 1
    return result


def pair(c: Conversation) -> tuple[str, str, str]:
    a, b = sorted((c.client_ip, c.server_ip))
    return a, b, str(c.transport)


@pytest.mark.parametrize("name,proto", [("ndpi-modbus.pcap", "modbus"), ("ndpi-mssql_tds.pcap", "tds")])
def test_unidentified_conversations_get_tshark_protocol(tshark: str, name: str, proto: str) -> None:
    path = real_pcap(name)
    before = observe(path)
    assert conversations(before) and all(c.app is None for c in conversations(before))
    expected = tshark_top_by_pair(tshark, path)
    after = enrich_with_tshark([path], before)
    assert len(after) == len(before)
    for c in conversations(after):
        top = expected[pair(c)].most_common(1)[0][0]
        assert top == proto  # what tshark itself shows for this capture
        assert c.app == f"tshark:{top}"


def test_syslog_labels_match_tshark_per_conversation(tshark: str) -> None:
    path = real_pcap("ndpi-syslog.pcap")
    before = observe(path)
    expected = tshark_top_by_pair(tshark, path)
    after = enrich_with_tshark([path], before)
    labelled = unlabelled = 0
    for c in conversations(after):
        counter = expected.get(pair(c))
        if counter is None:  # e.g. 6in4: the simple reading above only covers single-IP frames
            continue
        if counter:
            assert c.app == f"tshark:{counter.most_common(1)[0][0]}"
            labelled += 1
        else:  # tshark only saw bare TCP / data: nothing to claim
            assert c.app is None
            unlabelled += 1
    assert labelled > 10 and unlabelled > 0
    # the 6in4 outer conversations (IP protocol 41) carry no application of their own
    assert all(c.app is None for c in conversations(after) if c.transport == "other")


def test_only_app_changes_and_nothing_but_the_protocol_name(tshark: str) -> None:
    path = real_pcap("ndpi-syslog.pcap")
    before = observe(path)
    after = enrich_with_tshark([path], before)
    changed = 0
    for old, new in zip(before, after, strict=True):
        if old == new:
            continue
        changed += 1
        assert isinstance(new, Conversation) and old.app is None  # type: ignore[attr-defined]
        assert new.model_dump(exclude={"app"}) == old.model_dump(exclude={"app"})
        assert re.fullmatch(r"tshark:[a-z0-9_.-]+", new.app or "")
    assert changed > 0


def test_conversations_medtap_labelled_are_unchanged(tshark: str) -> None:
    path = real_pcap("ndpi-capwap.pcap")
    before = observe(path)
    ours = [c for c in conversations(before) if c.app is not None and not c.app.startswith("tshark:")]
    assert ours  # medtap identifies CAPWAP data, DHCP and DNS itself
    # relabel a modbus conversation by hand: the backend must keep it too
    modbus_path = real_pcap("ndpi-modbus.pcap")
    modbus = observe(modbus_path)
    first = next(i for i, o in enumerate(modbus) if isinstance(o, Conversation))
    modbus[first] = modbus[first].model_copy(update={"app": "mine"})
    after = enrich_with_tshark([path, modbus_path], before + modbus)
    for old, new in zip(before + modbus, after, strict=True):
        if isinstance(old, Conversation) and old.app is not None:
            assert new == old
        elif not isinstance(old, Conversation):
            assert new is old
    assert after[len(before) + first].app == "mine"
    # a key medtap labelled in some flush period is never given a tshark label in another one
    ours_keys = {(c.client_ip, c.server_ip, c.server_port) for c in ours}
    for c in conversations(after):
        if (c.client_ip, c.server_ip, c.server_port) in ours_keys:
            assert c.app is None or not c.app.startswith("tshark:")
    # the CAPWAP control channel (DTLS on UDP 5246) that medtap never labelled goes to tshark
    dtls = [c for c in conversations(after) if c.app == "tshark:dtls"]
    assert dtls and all(5246 in (c.server_port, c.client_port) for c in dtls)


def test_max_frames_limits_what_tshark_reads(tshark: str) -> None:
    path = real_pcap("ndpi-syslog.pcap")
    before = observe(path)
    expected_pairs = {p for p, counter in tshark_top_by_pair(tshark, path, count=5).items() if counter}
    after = enrich_with_tshark([path], before, max_frames=5)
    labelled = {pair(c) for c in conversations(after) if c.app}
    assert labelled == expected_pairs and labelled
    assert enrich_with_tshark([path], before, max_frames=0) == before


def test_truncated_capture_uses_frames_before_the_cut(tshark: str, tmp_path: Path) -> None:
    data = real_pcap("ndpi-modbus.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) // 2 + 7])
    before = observe(cut)
    after = enrich_with_tshark([cut], before)
    assert {c.app for c in conversations(after)} == {"tshark:modbus"}


def test_frame_candidates_walks_tunnels_and_stops_at_icmp() -> None:
    six_in_four = {"frame.protocols": ["eth:ethertype:ip:ipv6:udp:syslog"], "ip.src": ["192.0.2.1"],
                   "ip.dst": ["192.0.2.2"], "ipv6.src": ["2001:db8:0::1"], "ipv6.dst": ["2001:db8::2"],
                   "udp.srcport": ["38159"], "udp.dstport": ["514"]}
    inner = ("2001:db8::1", "2001:db8::2", 38159, 514, "udp", "syslog")  # the outer IP carries no app
    assert list(frame_candidates(six_in_four)) == [inner]
    capwap = {"frame.protocols": ["eth:ethertype:ip:udp:capwap.data:wlan:llc:ip:udp:dhcp"],
              "ip.src": ["192.0.2.1", "0.0.0.0"], "ip.dst": ["192.0.2.2", "255.255.255.255"],
              "udp.srcport": ["5247", "68"], "udp.dstport": ["5247", "67"]}
    assert list(frame_candidates(capwap)) == [("192.0.2.1", "192.0.2.2", 5247, 5247, "udp", "capwap.data"),
                                              ("0.0.0.0", "255.255.255.255", 68, 67, "udp", "dhcp")]
    icmp_error = {"frame.protocols": ["eth:ethertype:ip:icmp:ip:udp:dns"],
                  "ip.src": ["192.0.2.1", "192.0.2.2"], "ip.dst": ["192.0.2.2", "192.0.2.3"],
                  "udp.srcport": ["5353"], "udp.dstport": ["53"]}
    assert list(frame_candidates(icmp_error)) == []
    cert = {"frame.protocols": ["eth:ethertype:ip:tcp:tls:x509sat:x509ce:pkix1implicit"],
            "ip.src": ["192.0.2.1"], "ip.dst": ["192.0.2.2"],
            "tcp.srcport": ["443"], "tcp.dstport": ["50000"]}
    assert [c[-1] for c in frame_candidates(cert)] == ["tls"]
    malformed = {"frame.protocols": ["eth:ethertype:ip:tcp:_ws.malformed"], "ip.src": ["192.0.2.1"],
                 "ip.dst": ["192.0.2.2"], "tcp.srcport": ["1"], "tcp.dstport": ["2"]}
    assert list(frame_candidates(malformed)) == []


def test_missing_tshark_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = real_pcap("ndpi-modbus.pcap")
    obs = observe(path)
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no tshark on PATH
    assert not available()
    with pytest.raises(RuntimeError, match="tshark not found: install the Debian package tshark"):
        enrich_with_tshark([path], obs)
    monkeypatch.setattr(tshark_backend.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="or drop --dissector tshark"):
        enrich_with_tshark([path], [])


def test_available_follows_path(tshark: str) -> None:
    assert available() is (shutil.which("tshark") is not None)
    assert available()
