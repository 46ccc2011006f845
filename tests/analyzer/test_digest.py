"""The streaming digest: same report whatever the arrival order or chunking, size that follows entities.

analyze() folds observations one at a time into analyzer.digest.Digest; these tests pin what that
must preserve: the report of the time-sorted observations (the golden demo report pins the values),
independence from how observations are interleaved across kinds or chunked, a digest that does not
grow when the same hosts and conversations come back in later flush periods, and the raw
observations read again only for rules that need them.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from analyzer.digest import CONV_EVIDENCE, Digest, bucket
from analyzer.engine import analyze
from analyzer.rules import load_rule_file, load_rules
from analyzer.sheet_io import read_sheets
from analyzer.site import load_site
from collector.schema import Conversation, DnsObs, HostSighting, Observation

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "pcaps" / "demo"
SITE = load_site(DEMO / "site.yaml")
SHEETS = sorted(read_sheets((DEMO / "sheets.csv").read_bytes(), fmt="csv").sheets, key=lambda s: s.id)


@pytest.fixture(scope="module")
def demo_obs() -> list[Observation]:
    from collector.pipeline import replay
    from collector.sinks import ListSink

    sink = ListSink()
    replay(sorted(DEMO.glob("*.pcap")), sink, key=b"digest-test-key-0123456789abcdef")
    return list(sink.observations)


def _report(observations: Any) -> str:
    return analyze(observations, site=SITE, sheets=SHEETS).model_dump_json()


def test_interleaving_and_chunking_do_not_change_the_report(demo_obs: list[Observation]) -> None:
    want = _report(demo_obs)
    kinds = list(bucket(demo_obs).values())  # each kind in analysis order
    assert _report([o for items in kinds for o in items]) == want  # kinds one after the other
    assert _report([o for items in reversed(kinds) for o in items]) == want
    assert _report(iter(demo_obs)) == want  # a one-pass iterable, folded as it is read
    digest = Digest(site=SITE)
    for start in range(0, len(demo_obs), 7):
        digest.add_many(demo_obs[start:start + 7])
    assert _report(digest) == want
    assert _report(digest) == want  # a digest can be analyzed again


def test_arrival_order_does_not_matter_when_keys_differ() -> None:
    """Observations with distinct (ts, source, frame_no) give one report in any order."""
    mac, other = "00:09:fb:20:00:50", "00:50:56:50:00:20"
    obs: list[Observation] = []
    for i in range(40):
        ts = 1767225600.0 + i
        obs.append(HostSighting(ts=ts, frame_no=i + 1, mac=mac, ip="10.10.120.50", vlan=120 + i % 3, first_ts=ts,
                                last_ts=ts + 1, frames=i))
        obs.append(Conversation(ts=ts, frame_no=i + 1, client_ip="10.10.120.50", server_ip="10.50.0.20",
                                server_port=104, client_mac=mac, server_mac=other, vlan=120 + i % 2, first_ts=ts,
                                last_ts=ts + 2, transport="tcp", app="dicom" if i % 5 == 3 else None,
                                packets_c2s=i))
    want = analyze(obs).model_dump_json()
    rnd = random.Random(7)
    for _ in range(5):
        shuffled = obs[:]
        rnd.shuffle(shuffled)
        assert analyze(shuffled).model_dump_json() == want


def _later(obs: list[Observation], period: int) -> list[Observation]:
    """The same records as if seen again `period` hours later (same hosts, conversations, identities)."""
    shift = 3600.0 * period
    out = []
    for o in obs:
        update: dict[str, Any] = {"ts": o.ts + shift, "frame_no": o.frame_no + 100_000 * period}
        for name in ("first_ts", "last_ts"):
            if getattr(o, name, None) is not None:
                update[name] = getattr(o, name) + shift
        out.append(o.model_copy(update=update))
    return out


def _sizes(digest: Digest) -> dict[str, int]:
    inv = digest.inventory
    return {
        "devices": len(inv.acc), "ip_names": len(inv.ip_names), "bindings": len(inv.bindings),
        "conversations": len(digest.conversations), "app_hints": len(digest.app_hints),
        "os_hints": len(digest.os_hints), "wifi": len(digest.wifi), "admin": len(digest.admin),
        "remote_best": len(digest.remote_best), "remote_first": len(digest.remote_first),
        "sessions": len(digest.sessions), "smb1": len(digest.smb1), "dhcp_servers": len(digest.dhcp_servers),
        "values": sum(len(v) for v in digest.values.values()), "dicom": len(digest.dicom_assoc),
        "hl7": len(digest.hl7_pairs),
        "facts": sum(len(a.facts) for a in inv.acc.values()), "src_ips": sum(len(a.src_ips) for a in inv.acc.values()),
    }


def test_the_digest_grows_with_entities_not_with_records(demo_obs: list[Observation]) -> None:
    once = Digest(site=SITE)
    once.add_many(demo_obs)
    five = Digest(site=SITE)
    for period in range(5):
        five.add_many(_later(demo_obs, period))
    assert five.count == 5 * once.count
    assert _sizes(five) == _sizes(once)
    assert all(len(g.top.items) <= CONV_EVIDENCE for g in five.conversations.values())  # evidence pointers capped
    a, b = analyze(once, site=SITE), analyze(five, site=SITE)
    assert [d.mac for d in a.devices] == [d.mac for d in b.devices]
    assert {(f.rule, f.subject) for f in a.findings} == {(f.rule, f.subject) for f in b.findings}


def _dns_rule(tmp_path: Path) -> Any:
    path = tmp_path / "dns-seen.yaml"
    path.write_text(
        "id: dns-seen\nuid: 0b9b1c4e-1d2a-4c55-9e55-6d4f3c2b1a00\ntitle: DNS query seen\nseverity: info\nservice: it\n"
        "match:\n  subject: observation\n  where: {kind: dns}\n", encoding="utf-8")
    return load_rule_file(path)


def test_a_rule_on_raw_observations_reads_them_again(tmp_path: Path) -> None:
    rules = [*load_rules(REPO / "rules"), _dns_rule(tmp_path)]
    obs: list[Observation] = [
        DnsObs(ts=1767225600.0 + i, frame_no=i, src_ip="10.10.120.50", dst_ip="10.50.0.3", dst_port=53, protocol="dns",
               response=False,
               queries=("pacs.demo.example",)) for i in range(3)]
    from_list = analyze(obs, rules=rules)
    from_stream = analyze(iter(obs), rules=rules)  # kept while digested, since a rule needs the records
    assert from_list.model_dump_json() == from_stream.model_dump_json()
    [f] = [f for f in from_list.findings if f.rule == "dns-seen"]
    assert [e.frame_no for e in f.evidence] == [None, 1, 2]  # frame 0 is "no frame"
    blind = Digest()
    blind.add_many(obs)
    with pytest.raises(RuntimeError, match="raw observations"):
        analyze(blind, rules=rules)


def test_a_digest_is_bound_to_its_site() -> None:
    digest = Digest(site=SITE)
    with pytest.raises(ValueError, match="another site"):
        analyze(digest, site=None)
