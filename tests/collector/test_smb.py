"""SMB detector: SMB1/SMB2 negotiate, NTLMSSP version/host/domain (never the user), NTLM OS hints."""

from __future__ import annotations

import pytest
from scapy.layers.inet import TCP

from collector.protocols import smb
from collector.protocols.base import Packet, SimpleContext
from pcaps.fixtures import gen_infra as g
from tests.collector.replay_helpers import observations
from tests.conftest import real_pcap


def _pkt(payload: bytes, from_client: bool = True) -> Packet:
    return Packet(
        ts=1.0,
        frame_no=1,
        src_ip="10.20.0.11",
        transport="tcp",
        payload=payload,
        from_client=from_client,
        server_port=445,
    )


def _direction(pkts: list, to_server: bool) -> bytes:
    return b"".join(bytes(p[TCP].payload) for p in pkts if (p[TCP].dport == 445) == to_server)


def test_ntlm_messages_parsed_directly() -> None:
    auth = smb.parse_ntlmssp(g.ntlm_authenticate("dr.house", "WS1", "DOM", (6, 3, 9600)))
    assert auth == {"version": (6, 3, 9600), "domain": "DOM", "host": "WS1"}
    chal = smb.parse_ntlmssp(g.ntlm_challenge("SRV", "DOM", (10, 0, 20348)))
    assert chal == {"version": (10, 0, 20348), "host": "SRV", "domain": "DOM"}


def test_client_direction_of_the_fixture() -> None:
    out = smb.decode(_pkt(_direction(g.smb_negotiate(), True)), SimpleContext())
    record, hint = out
    assert record.dialects_offered == ("2.0.2", "2.1", "3.0", "3.0.2", "3.1.1") and not record.smb1
    assert (record.ntlm_host, record.ntlm_domain, record.ntlm_os_version) == (
        "RADIO-WS01",
        "DEMOHOSP",
        "6.1.7601",
    )
    assert (hint.method, hint.family, hint.version) == ("smb-ntlm", "Windows", "7")
    assert "dr.house" not in record.model_dump_json()


def test_netbios_session_request_is_skipped_and_probe() -> None:
    names = g.nb_encode("PACS01", 0x20)[:-1] + b"\x00" + g.nb_encode("CT-XP-01", 0x00)[:-1] + b"\x00"
    session_req = b"\x81\x00\x00" + bytes([len(names)]) + names
    payload = session_req + _direction(g.smb_v1(), True)
    assert smb.probe(payload) and smb.probe(_direction(g.smb_v1(), True))
    assert not smb.probe(b"\x81\x00\x00\x04ABCD")
    (record, hint) = smb.decode(_pkt(payload), SimpleContext())
    assert record.smb1 and "NT LM 0.12" in record.dialects_offered and hint.version == "XP"
    assert (
        not smb.probe(b"\x00\x00\x00\x10GARBAGE!")
        and smb.decode(_pkt(b"\x00\x00\x00\x04\xfdSMB"), SimpleContext()) == []
    )


def test_smb2_only_offer_via_smb1_negotiate_is_not_smb1() -> None:
    dialects = b"\x02SMB 2.002\x00\x02SMB 2.???\x00"
    (record,) = smb.decode(_pkt(g.smb1(0x72, b"", dialects)), SimpleContext())
    assert record.dialects_offered == ("SMB 2.002", "SMB 2.???") and not record.smb1


def _smb(name: str) -> list:
    return [o for o in observations(real_pcap(name), [smb.DETECTOR]) if o.kind in ("smb", "os_hint")]


def test_real_smb3_ntlm() -> None:
    out = _smb("zeek-smb3.pcap")
    server = next(o for o in out if o.kind == "smb" and o.dialect_chosen)
    assert (server.dialect_chosen, server.ntlm_host, server.ntlm_os_version) == (
        "3.0",
        "WS2016",
        "10.0.14393",
    )
    assert any(o.kind == "os_hint" and o.version == "10/11/2016+ (build 14393)" for o in out)  # 1607 or 2016


OSX_PROBE_CONNECTION = (
    "pipeline bug: the macOS client opens an empty connection, half-closes it, then opens the SMB one to "
    "the same server port before the server's FIN; the conversation's only stream slot stays on the empty "
    "connection (collector/deep.py DeepPath._tcp) and the SMB connection's prefix is never read"
)


@pytest.mark.parametrize("name", [
    "ndpi-smbv1.pcap",
    "arkime-smb-smbclient.pcap",
    "suricata-smb1_osx.pcap",
])
def test_real_smb1_captures(name: str) -> None:
    out = [o for o in _smb(name) if o.kind == "smb"]
    assert any(o.smb1 and "NT LM 0.12" in o.dialects_offered for o in out), name
    assert any(o.dialect_chosen == "NT LM 0.12" for o in out), name


def test_real_smb1_osx_ntlm_host() -> None:
    osx = [o for o in _smb("suricata-smb1_osx.pcap") if o.kind == "smb" and o.ntlm_host]
    assert {o.ntlm_host for o in osx} == {"TS412"}


@pytest.mark.parametrize("name", ["zeek-smb1.pcap", "ndpi-smb_deletefile.pcap"])
def test_real_midstream_smb2_names_the_family(name: str) -> None:
    """Issue 20 item 10: a capture that starts after the negotiate still says SMB2 (0xFE 'SMB' headers),
    with no dialect (not seen) and no SMB1."""
    out = [o for o in _smb(name) if o.kind == "smb"]
    assert out and all(o.versions == ("smb2",) and o.dialect_chosen is None and not o.smb1 for o in out)


def test_real_smb3_dialect_or_transform_says_smb3() -> None:
    out = [o for o in _smb("zeek-smb3.pcap") if o.kind == "smb"]
    assert any(o.versions == ("smb3",) for o in out)


def _session(body: bytes) -> bytes:
    return b"\x00" + len(body).to_bytes(3, "big") + body


def test_prefix_starting_inside_a_message_resyncs_on_the_next_smb_header() -> None:
    # the tail of a READ response whose start was before the capture, then an SMB2 WRITE request header
    smb2_write = b"\xfeSMB" + (64).to_bytes(2, "little") + bytes(6) + (9).to_bytes(2, "little") + bytes(52)
    tail = bytes(range(256)) * 2
    payload = tail + _session(smb2_write + bytes(48))
    assert smb.probe(payload)
    [record] = smb.decode(_pkt(payload), SimpleContext())
    assert record.versions == ("smb2",) and record.dialects_offered == () and not record.smb1


def test_transform_header_is_smb3_and_bytes_without_a_session_header_are_not_smb() -> None:
    transform = b"\xfdSMB" + bytes(16) + bytes(16) + (64).to_bytes(4, "little") + bytes(2) + b"\x01\x00" + bytes(8)
    [record] = smb.decode(_pkt(_session(transform + bytes(64))), SimpleContext())
    assert record.versions == ("smb3",)
    stray = b"GET / HTTP/1.1\r\nX: \x07\xfeSMB\r\n\r\n"  # the magic without a session message header before it
    assert not smb.probe(stray) and smb.decode(_pkt(stray), SimpleContext()) == []


# --------------------------------------------------------------------------- SMB1 without TCP (issue 20 item 8)


@pytest.mark.parametrize(("name", "senders"), [
    ("arkime-nbns.pcap", {"192.168.239.129"}),
    ("tcpdump-eapon1.pcap", {"192.168.1.249", "169.254.67.194"}),
    ("ndpi-netbios.pcap", {"10.0.5.9", "10.0.5.93"}),
])
def test_real_smb1_over_netbios_datagrams(name: str, senders: set[str]) -> None:
    # Wireshark counts 15, 17 and 2 SMB browser datagrams (nbdgm + smb) in these captures
    expected = {"arkime-nbns.pcap": 15, "tcpdump-eapon1.pcap": 17, "ndpi-netbios.pcap": 2}[name]
    out = [o for o in observations(real_pcap(name), smb.DETECTORS) if o.kind == "smb"]
    assert len(out) == expected
    assert all(o.smb1 and o.transport == "udp" and o.dst_port == 138 for o in out)
    assert {o.src_ip for o in out} == senders


def test_netbios_datagram_user_data_needs_a_first_fragment_and_sane_names() -> None:
    names = g.nb_encode("CT-XP-01", 0x00) + g.nb_encode("DEMOHOSP", 0x1D)
    dgm = g.nbds(g.OLD_MODALITY, 0x11, names, b"\xffSMB" + bytes(40))
    assert smb.datagram_user_data(dgm) == b"\xffSMB" + bytes(40)
    later = dgm[:1] + b"\x00" + dgm[2:]  # F bit clear: not the first fragment
    assert smb.datagram_user_data(later) is None
    assert smb.datagram_user_data(b"\x14" + dgm[1:]) is None  # datagram query: no user data
    with pytest.raises(ValueError):
        smb.datagram_user_data(dgm[:14] + b"\xc0\x0c" + dgm[16:])  # compression is not allowed here
    assert not smb.datagram_probe(dgm[:20])


def test_netbeui_frames() -> None:
    dgm = bytes(g.smb_netbios()[1])[14:]  # after the 802.3 header: LLC, NetBIOS header, SMB
    assert smb.netbeui_user_data(dgm)[:4] == b"\xffSMB"
    assert smb.netbeui_user_data(b"\xf0\xf0\x01\x02") is None  # S frame (RR): no information
    assert smb.netbeui_user_data(b"\x42\x42\x03" + bytes(40)) is None  # another SAP
    bad_length = dgm[:3] + b"\x0e\x00" + dgm[5:]
    with pytest.raises(ValueError):
        smb.netbeui_user_data(bad_length)


@pytest.mark.parametrize(("name", "hints"), [
    # what Wireshark's browser dissector shows of the host and local master announcements (os_major, os_minor,
    # server_type): 4.0 without SV_TYPE_NT says nothing a table knows, 5.1 is XP, 6.1 is 7
    ("arkime-nbns.pcap", {}),
    ("tcpdump-eapon1.pcap", {("169.254.67.194", "XP"): 2, ("192.168.1.249", "XP"): 1}),
    ("ndpi-netbios.pcap", {("10.0.5.9", "7"): 1, ("10.0.5.93", "7"): 1}),
])
def test_real_browser_announcements_give_os_hints(name: str, hints: dict[tuple[str, str], int]) -> None:
    from collections import Counter

    out = [o for o in observations(real_pcap(name), smb.DETECTORS) if o.kind == "os_hint"]
    assert all(o.method == "smb-browser" and o.family == "Windows" for o in out)
    assert Counter((o.ip, o.version) for o in out) == Counter(hints)


def test_a_samba_announcement_is_not_a_windows_version() -> None:
    """SV_TYPE_SERVER_UNIX: Samba announces a configured version (often 6.1), not its OS."""
    (xp,) = [o for o in observations(real_pcap("ndpi-netbios.pcap"), smb.DETECTORS) if o.kind == "smb"][:1]
    msg = smb.datagram_user_data(_first_browser_datagram())
    assert msg is not None and smb.browser_os(msg) == (6, 1, 0x00011007)
    at = msg.index(b"\x06\x01\x07\x10\x01\x00")  # os 6.1, then server type, little-endian
    samba = msg[:at + 2] + (0x00011007 | smb.SV_TYPE_SERVER_UNIX).to_bytes(4, "little") + msg[at + 6:]
    assert smb.browser_os(samba) == (6, 1, 0x00011807)
    assert xp.smb1


def _first_browser_datagram() -> bytes:
    from scapy.layers.inet import UDP
    from scapy.utils import rdpcap

    return next(bytes(p[UDP].payload) for p in rdpcap(str(real_pcap("ndpi-netbios.pcap")))
                if UDP in p and p[UDP].dport == 138)
