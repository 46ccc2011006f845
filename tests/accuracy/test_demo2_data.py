"""The second demo hospital's data is coherent: captures, site policy, sheets and truth agree with its plan.

Byte-for-byte reproducibility of pcaps/demo2/*.pcap is checked with every other capture by
tests/test_samples_reproducible.py (pcaps/make_samples.py generates them).
"""

from __future__ import annotations

import datetime as dt
import struct
from pathlib import Path

import pytest
import yaml

from tests.accuracy.truth import assert_truth_coherent

ROOT = Path(__file__).resolve().parents[2]
DEMO2 = ROOT / "pcaps" / "demo2"
START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC).timestamp()
END = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC).timestamp()
EXPECTED = yaml.safe_load((DEMO2 / "expected.yaml").read_text(encoding="utf-8"))


def test_captures_are_listed_generated_and_small() -> None:
    from pcaps.demo2.gen_demo2 import CAPTURES

    assert sorted(EXPECTED["captures"]) == sorted(CAPTURES)
    sizes = [(DEMO2 / f"{name}.pcap").stat().st_size for name in CAPTURES]
    assert sum(sizes) < 3_000_000  # small enough for the repository and CI


@pytest.mark.parametrize("name", EXPECTED["captures"])
def test_capture_header_times_and_tags(name: str) -> None:
    from scapy.layers.inet import IP
    from scapy.layers.l2 import Dot1Q
    from scapy.utils import rdpcap

    path = DEMO2 / f"{name}.pcap"
    assert struct.unpack("<IHHiIII", path.read_bytes()[:24]) == (0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    pkts = rdpcap(str(path))
    times = [float(p.time) for p in pkts]
    assert times == sorted(times) and START <= times[0] and times[-1] <= END
    assert [i for i, p in enumerate(pkts) if IP in p and Dot1Q not in p] == []  # a SPAN of the trunk


def test_dhcp_goes_through_relays_with_port_67_on_both_sides() -> None:
    from scapy.layers.inet import UDP
    from scapy.utils import rdpcap

    relayed = [
        p
        for p in rdpcap(str(DEMO2 / "demo2-core.pcap"))
        if UDP in p and p[UDP].sport == 67 and p[UDP].dport == 67
    ]
    giaddrs = {bytes(p[UDP].payload)[24:28] for p in relayed}
    assert (
        len(relayed) > 500 and len(giaddrs) == 6
    )  # every client VLAN (110, 120, 130, 201-203) has its relay


def test_plan_is_a_few_hundred_devices_and_the_truth_lists_them_all() -> None:
    from pcaps.demo.netkit import ROUTER_MAC
    from pcaps.demo2 import plan as P

    macs = [d.mac for d in P.ALL] + [s[0] for s in P.SWITCHES] + [P.CORE_SW, ROUTER_MAC]
    assert len(macs) == len(set(macs)) >= 200
    assert set(EXPECTED["devices"]) == set(macs)
    roles = {d.mac: d.role for d in P.ALL}
    for mac, spec in EXPECTED["devices"].items():
        assert spec["role"] == roles.get(mac, spec["role"])


def test_expected_subjects_name_devices_sheets_and_rules_that_exist() -> None:
    assert_truth_coherent(DEMO2, EXPECTED, sheet_prefix="PARC-", min_sheets=30)


def test_site_policy_is_valid_and_declares_the_relayed_servers() -> None:
    from analyzer.site import load_site

    site = load_site(DEMO2 / "site.yaml")
    assert site.dhcp_servers == ["172.20.10.5", "172.20.10.6"]
    assert not any("dhcp" in c.services for c in site.conduits)  # relayed DHCP needs no conduit
    assert {v for z in site.zones for v in z.vlans} == {10, 11, 20, 60, 110, 120, 130, 201, 202, 203}
