"""Cross-check of the DHCP, LLDP, CDP, TLS (SNI, JA3, JA3S) and SSH decoders with Wireshark's dissectors.

Real public captures (../shared/pcaps/real) and the fixture captures go through `tshark -T fields`
and through the collector pipeline with only the detector under test; the fields must agree frame by frame
(L2/UDP protocols) or as sets per capture (TCP protocols, where tshark reports the reassembled
frame).  tshark is a test tool: in CI (env CI set) its absence is a failure, elsewhere a skip.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import UDP
from scapy.utils import rdpcap, wrpcap

from collector.pipeline import Pipeline
from collector.protocols import cdp, dhcp, lldp, ssh, tls
from collector.schema import Observation
from pcaps.fixtures.gen_infra import CAPTURES
from tests import needs
from tests.collector.replay_helpers import observations, run
from tests.conftest import real_pcap
from tests.keys import TEST_KEY

pytestmark = pytest.mark.tshark
FRAMES = 3000
FLUSH = Pipeline(key=TEST_KEY).flush_interval
DHCP_TYPES = {str(k): v for k, v in dhcp.MSG_TYPES.items()}


@pytest.fixture(scope="module", autouse=True)
def _tshark() -> None:
    needs.tool("tshark")


def _capture(name: str, tmp_path: Path) -> Path:
    if name in CAPTURES:
        path = tmp_path / f"{name}.pcap"
        wrpcap(str(path), CAPTURES[name]())
        return path
    return real_pcap(name)


def tshark(path: Path, display_filter: str, fields: list[str]) -> dict[int, list[str]]:
    """frame number -> field values (multiple occurrences comma-joined, as tshark prints them)."""
    cmd = [
        "tshark",
        "-r",
        str(path),
        "-c",
        str(FRAMES),
        "-Y",
        display_filter,
        "-T",
        "fields",
        "-E",
        "separator=\t",
        "-e",
        "frame.number",
    ] + [x for f in fields for x in ("-e", f)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout
    rows = {}
    for line in out.splitlines():
        cols = line.split("\t")
        rows[int(cols[0])] = cols[1:]
    return rows


def ours(path: Path, det, kind: str) -> list[Observation]:  # type: ignore[no-untyped-def]
    return observations(path, [det], kind=kind, limit=FRAMES)


DHCP_CAPTURES = [
    "zeek-dhcp.pcap",
    "pcpp-Dhcp1.pcap",
    "arkime-wireshark-dhcp.pcap",
    "suricata-dhcp-eve-extended-option-60-input.pcap",
    "tcpdump-dhcp-option-33.pcap",
    "tcpdump-dhcp-rfc4388.pcap",
    "tcpdump-dhcp-rfc5859.pcap",
    "dhcp-dora",
]


@pytest.mark.parametrize("name", DHCP_CAPTURES)
def test_dhcp_matches_wireshark(name: str, tmp_path: Path) -> None:
    path = _capture(name, tmp_path)
    theirs = tshark(
        path,
        "dhcp.option.dhcp",
        [
            "dhcp.option.dhcp",
            "dhcp.hw.mac_addr",
            "dhcp.option.hostname",
            "dhcp.option.request_list_item",
            "dhcp.option.vendor_class_id",
        ],
    )
    result = run(path, [dhcp.DETECTOR], limit=FRAMES)
    mine = {o.frame_no: o for o in result.of_kind("dhcp")}
    assert theirs and set(mine) <= set(theirs)
    # the pipeline records a datagram repeated byte for byte within a flush period once and counts the
    # repeat in CaptureStats.deep_repeats (tcpdump-dhcp-rfc4388.pcap: frame 21 repeats frame 19)
    repeats = set(theirs) - set(mine)
    assert len(repeats) == result.stats.deep_repeats
    pkts = rdpcap(str(path))
    for f in repeats:
        again = bytes(pkts[f - 1][UDP].payload)
        assert any(bytes(pkts[g - 1][UDP].payload) == again and pkts[f - 1].time - pkts[g - 1].time < FLUSH
                   for g in mine if g < f), f
    for frame, o in mine.items():
        mtype, mac, hostname, prl, vendor = theirs[frame]
        # the second hw.mac_addr, when present, is the one inside option 61 (client identifier)
        assert o.message_type == DHCP_TYPES[mtype] and o.client_mac == mac.split(",")[0]
        assert (o.hostname or "") == hostname
        assert (o.fingerprint or "") == prl
        if vendor.isprintable():
            assert (o.vendor_class or "") == vendor


LLDP_CAPTURES = ["zeek-lldp.pcap", "tcpdump-LLDP_and_CDP.pcap", "tcpdump-lldp_mudurl.pcap", "lldp-med"]


@pytest.mark.parametrize("name", LLDP_CAPTURES)
def test_lldp_matches_wireshark(name: str, tmp_path: Path) -> None:
    path = _capture(name, tmp_path)
    theirs = tshark(
        path,
        "lldp",
        [
            "lldp.chassis.id.mac",
            "lldp.port.id",
            "lldp.port.id.mac",
            "lldp.tlv.system.name",
            "lldp.ieee.802_1.port_vlan.id",
            "lldp.mgn.addr.ip4",
            "lldp.media.manufacturer",
            "lldp.media.model",
        ],
    )
    mine = {o.frame_no: o for o in ours(path, lldp.DETECTOR, "lldp")}
    assert theirs and set(mine) == set(theirs)
    for frame, (chassis, port_text, port_mac, name_, vlan, mgmt, manuf, model) in theirs.items():
        o = mine[frame]
        assert o.chassis_id == chassis
        assert o.port_id == (port_mac or port_text)
        assert (o.system_name or "", str(o.port_vlan or ""), o.mgmt_ip or "") == (name_, vlan, mgmt)
        assert (o.med_manufacturer or "", o.med_model or "") == (manuf, model)


@pytest.mark.parametrize("name", ["zeek-cdp-v1.pcap", "tcpdump-LLDP_and_CDP.pcap", "cdp-switch"])
def test_cdp_matches_wireshark(name: str, tmp_path: Path) -> None:
    path = _capture(name, tmp_path)
    theirs = tshark(path, "cdp", ["cdp.deviceid", "cdp.platform", "cdp.portid", "cdp.native_vlan"])
    mine = {o.frame_no: o for o in ours(path, cdp.DETECTOR, "cdp")}
    assert theirs and set(mine) == set(theirs)
    for frame, (device, platform, port, vlan) in theirs.items():
        o = mine[frame]
        assert (o.device_id, o.platform, o.port_id, str(o.native_vlan or "")) == (
            device,
            platform,
            port,
            vlan,
        )


TLS_CAPTURES = ["pcpp-tls2.pcap", "zeek-tls13-ech.pcap", "ndpi-tls_esni_sni_both.pcap", "tls-hello"]


@pytest.mark.parametrize("name", TLS_CAPTURES)
def test_tls_sni_ja3_ja3s_match_wireshark(name: str, tmp_path: Path) -> None:
    path = _capture(name, tmp_path)
    clients = tshark(
        path, "tls.handshake.type == 1", ["tls.handshake.extensions_server_name", "tls.handshake.ja3"]
    )
    servers = tshark(path, "tls.handshake.type == 2", ["tls.handshake.ja3s"])
    mine = ours(path, tls.DETECTOR, "tls")
    assert clients
    assert {(o.sni or "", o.ja3) for o in mine if o.hello == "client"} == {tuple(v) for v in clients.values()}
    assert {o.ja3 for o in mine if o.hello == "server"} == {v[0] for v in servers.values()}


@pytest.mark.parametrize("name", ["arkime-ssh2.pcap", "zeek-ssh.pcap", "ndpi-ssh.pcap", "ssh-banner"])
def test_ssh_banners_match_wireshark(name: str, tmp_path: Path) -> None:
    path = _capture(name, tmp_path)
    theirs = {v[0] for v in tshark(path, "ssh.protocol", ["ssh.protocol"]).values()}
    found = ours(path, ssh.DETECTOR, "ssh")
    assert theirs and theirs <= {o.banner for o in found}
    # We identify by content, Wireshark by port: our extra banners must be on non-standard ports.
    extra = [o for o in found if o.banner not in theirs]
    assert all(22 not in (o.src_port, o.dst_port) for o in extra)
