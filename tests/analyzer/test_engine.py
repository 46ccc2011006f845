"""Engine: findings per rule from Python-built observations, exceptions, baseline, ids, stats, ordering."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from analyzer.baseline import Baseline, baseline_from_report, load_baseline, pair, save_baseline
from analyzer.engine import analyze
from analyzer.rules import load_rules
from analyzer.site import load_site, parse_site
from collector.schema import CaptureStats, Conversation, DhcpObs, HostSighting, RemoteAccessObs, SmbObs

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "pcaps" / "fixtures" / "site-rules.yaml"
SITE = load_site(POLICY)
ROUTER = "00:00:0c:9f:f0:01"
MON = "00:09:fb:20:00:50"
T0 = 1767225600.0


def host(mac: str, ip: str, vlan: int, ts: float = T0) -> HostSighting:
    return HostSighting(ts=ts, mac=mac, ip=ip, vlan=vlan, first_ts=ts, last_ts=ts + 1, frames=1)


def conv(c: str, s: str, port: int, cmac: str | None, smac: str | None, vlan: int, app: str | None = None) -> Conversation:
    return Conversation(ts=T0, client_ip=c, server_ip=s, server_port=port, client_mac=cmac, server_mac=smac, vlan=vlan,
                        first_ts=T0, last_ts=T0 + 5, transport="tcp", app=app, packets_c2s=3)


def internet_obs() -> list:
    return [host(MON, "10.10.120.50", 120), host(ROUTER, "203.0.113.80", 120),
            conv("10.10.120.50", "203.0.113.80", 443, MON, ROUTER, 120),
            conv("10.10.120.50", "203.0.113.80", 80, MON, ROUTER, 120)]


def test_dm_internet_groups_by_subject_key_and_fills_remediation() -> None:
    report = analyze(internet_obs(), site=SITE)
    [f] = [f for f in report.findings if f.rule == "dm-internet"]
    assert f.subject == "10.10.120.50-203.0.113.80"
    uid = next(r.uid for r in load_rules() if r.id == "dm-internet")
    assert f.id == "MT-" + hashlib.sha1(f"{uid}|10.10.120.50-203.0.113.80".encode()).hexdigest()[:12]
    assert f.devices == [MON] and f.ips == ["10.10.120.50", "203.0.113.80"]
    assert "10.10.120.50" in f.recommendation and "{" not in f.recommendation
    assert f.service == "biomedical" and f.zone == "monitoring" and f.evidence
    severities = [f.severity for f in report.findings]
    order = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
    assert [order[s] for s in severities] == sorted((order[s] for s in severities), reverse=True)


def test_same_rule_same_subject_same_id_across_runs() -> None:
    a = {(f.rule, f.id) for f in analyze(internet_obs(), site=SITE).findings}
    b = {(f.rule, f.id) for f in analyze(internet_obs()[:3], site=SITE).findings}
    assert ("dm-internet", next(i for r, i in a if r == "dm-internet")) in b


def _with_exception(expires: str) -> object:
    text = POLICY.read_text().replace("exceptions: []", f"exceptions:\n  - {{rule: dm-internet, subject: "
                                      f"'10.10.120.50-203.0.113.80', reason: test, who: biomed, expires: {expires}}}")
    return parse_site(text)


def test_exception_unexpired_suppresses_expired_fires_again() -> None:
    now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    rules = lambda site: {f.rule for f in analyze(internet_obs(), site=site, now=now).findings}  # noqa: E731
    assert "dm-internet" not in rules(_with_exception("2026-06-30"))
    assert "dm-internet" in rules(_with_exception("2026-01-31"))
    # default `now` is the capture's date (2026-01-01): an exception expiring later still holds
    assert "dm-internet" not in {f.rule for f in analyze(internet_obs(), site=_with_exception("2026-01-31")).findings}


def test_baseline_new_device_and_random_mac_alias(tmp_path: Path) -> None:
    rnd = "da:00:00:00:00:01"
    obs = [host(MON, "10.10.120.50", 120), host(rnd, "10.10.120.77", 120),
           DhcpObs(ts=T0, message_type="request", client_mac=rnd, hostname="TABLET-3", fingerprint="1,3,6,15")]
    report = analyze(obs, site=SITE)
    base = baseline_from_report(report)
    save_baseline(base, tmp_path / "b.json")
    base = load_baseline(tmp_path / "b.json")
    assert base.devices == {MON, rnd} and base.aliases == {"1,3,6,15|tablet-3": rnd}
    assert "new-device" not in {f.rule for f in analyze(obs, site=SITE, baseline=base).findings}
    # the tablet comes back with another random MAC, same fingerprint and hostname: not new
    rnd2 = "de:00:00:00:00:02"
    obs2 = [host(MON, "10.10.120.50", 120), host(rnd2, "10.10.120.78", 120),
            DhcpObs(ts=T0, message_type="request", client_mac=rnd2, hostname="TABLET-3", fingerprint="1,3,6,15")]
    assert "new-device" not in {f.rule for f in analyze(obs2, site=SITE, baseline=base).findings}
    # a different hostname is a new device
    obs3 = obs2[:2] + [DhcpObs(ts=T0, message_type="request", client_mac=rnd2, hostname="OTHER", fingerprint="1,3,6,15")]
    new = [f for f in analyze(obs3, site=SITE, baseline=base).findings if f.rule == "new-device"]
    assert [f.subject for f in new] == [rnd2]
    # no baseline: the baseline rules stay silent
    assert "new-device" not in {f.rule for f in analyze(obs3, site=SITE).findings}


def test_new_conversation_by_address_pair() -> None:
    obs = internet_obs()
    base = Baseline(devices={MON, ROUTER}, conversations={pair("203.0.113.80", "10.10.120.50")})
    assert "new-conversation" not in {f.rule for f in analyze(obs, site=SITE, baseline=base).findings}
    base = Baseline(devices={MON, ROUTER})
    assert "new-conversation" in {f.rule for f in analyze(obs, site=SITE, baseline=base).findings}


def _remote(client: str, ts: float) -> list:
    return [host("00:21:b7:10:00:30", "10.10.110.30", 110), host("00:50:56:60:00:10", "10.60.0.10", 60),
            RemoteAccessObs(ts=ts, method="rdp", signature="rdp-x224", evidence="content", confidence=0.95,
                            client_ip=client, server_ip="10.10.110.30", server_port=3389)]


def test_remote_access_gateway_method_and_window() -> None:
    windowed = POLICY.read_text().replace(
        "      suppliers: [Siemens Healthineers]\n",
        "      suppliers: [Siemens Healthineers]\n      window: {days: [mon, tue, wed, thu, fri], start: '07:00', "
        "end: '19:00', tz: Europe/Paris}\n")
    site = parse_site(windowed)
    thursday_10 = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC).timestamp()  # 2026-01-01 is a Thursday
    thursday_22 = dt.datetime(2026, 1, 1, 21, 0, tzinfo=dt.UTC).timestamp()
    fired = lambda obs: "remote-access-unapproved" in {f.rule for f in analyze(obs, site=site).findings}  # noqa: E731
    assert not fired(_remote("10.60.0.10", thursday_10))
    assert fired(_remote("10.60.0.10", thursday_22))  # outside the window
    assert fired(_remote("10.20.0.11", thursday_10))  # not through the gateway


def test_smb1_and_table_overflow_and_stats() -> None:
    obs = [host("00:21:b7:10:00:23", "10.10.110.23", 110),
           SmbObs(ts=T0, src_ip="10.10.110.23", dst_ip="10.50.0.20", smb1=True, dialects_offered=("NT LM 0.12",)),
           CaptureStats(ts=T0, packets=10, bytes=1000, first_ts=T0, last_ts=T0 + 5, table_overflow={"conversations": 3},
                        weirds={"x": 1}, malformed=1),
           CaptureStats(ts=T0, packets=5, bytes=500, first_ts=T0 - 5, last_ts=T0 + 1, weirds={"x": 2}, malformed=2)]
    report = analyze(obs, site=SITE)
    rules = {f.rule: f for f in report.findings}
    assert rules["legacy-smb1"].subject == "00:21:b7:10:00:23"
    assert "conversations" in rules["table-overflow"].recommendation
    s = report.stats
    assert (s.packets, s.bytes, s.malformed, s.first_ts, s.last_ts) == (15, 1500, 3, T0 - 5, T0 + 5)
    assert s.weirds == {"x": 3} and s.table_overflow == {"conversations": 3}
    assert "table-overflow" not in {f.rule for f in analyze(obs[:2] + obs[3:], site=SITE).findings}


def test_untagged_frames_do_not_make_a_mac_multi_vlan() -> None:
    """Untagged (VLAN 0: native VLAN, tunnel inner frame) beside one tagged VLAN is not two VLANs."""
    from analyzer.engine import analyze
    from collector.schema import HostSighting

    def seen(vlan: int | None, ts: float) -> HostSighting:
        return HostSighting(ts=ts, vlan=vlan, src_mac="00:12:21:30:00:09", src_ip="10.30.0.19",
                            mac="00:12:21:30:00:09", ip="10.30.0.19", first_ts=ts, last_ts=ts, frames=1)

    one = analyze([seen(None, 1.0), seen(300, 2.0)])
    assert not [f for f in one.findings if f.rule == "mac-multi-vlan"]
    two = analyze([seen(120, 1.0), seen(300, 2.0)])
    assert [f for f in two.findings if f.rule == "mac-multi-vlan"]
