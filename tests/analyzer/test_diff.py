"""analyzer.diff: profiles per device, windows over facts, and the comparison's verdicts."""

from __future__ import annotations

from analyzer.diff import VOLUME_FACTOR, compare, diff, in_window, profiles
from collector.schema import Conversation, DicomObs, Hl7Obs, HostSighting, Observation

CT, PACS = "00:21:b7:10:00:21", "00:50:56:50:00:20"
T = 1_767_225_600.0


def _host(mac: str, ip: str, ts: float) -> HostSighting:
    return HostSighting(ts=ts, src_mac=mac, src_ip=ip, mac=mac, ip=ip, first_ts=ts, last_ts=ts + 1, frames=2,
                        bytes=200)


def _conv(client: str, server: str, port: int, ts: float, *, app: str | None = None, volume: int = 1000,
          last: float | None = None) -> Conversation:
    return Conversation(ts=ts, client_ip=client, server_ip=server, server_port=port, transport="tcp",
                        first_ts=ts, last_ts=last if last is not None else ts + 5, app=app,
                        bytes_c2s=volume // 2, bytes_s2c=volume - volume // 2)


def _assoc(ts: float, version: str) -> DicomObs:
    return DicomObs(ts=ts, src_mac=CT, src_ip="10.10.110.21", dst_ip="10.50.0.20", pdu="associate-rq",
                    calling_ae="CT_SCANNER1", called_ae="PACS", implementation_class_uid="1.2.3",
                    implementation_version=version)


def _day(ts: float, version: str = "V1", *, hl7: bool = True, volume: int = 1000) -> list[Observation]:
    out: list[Observation] = [_host(CT, "10.10.110.21", ts), _host(PACS, "10.50.0.20", ts),
                              _conv("10.10.110.21", "10.50.0.20", 104, ts, app="dicom", volume=volume),
                              _assoc(ts, version)]
    if hl7:
        out.append(Hl7Obs(ts=ts, src_mac=CT, src_ip="10.10.110.21", sending_application="CTRIS",
                          sending_facility="RAD"))
    return out


def test_identity_change_is_listed_with_both_values() -> None:
    [ct] = diff(_day(T, "V1"), _day(T + 86400, "V2"), select=CT)
    assert ct.verdict == "changed"
    assert ct.identity_changed == [{"attribute": "dicom_implementation", "before": ["1.2.3 V1"],
                                    "after": ["1.2.3 V2"]}]
    assert not ct.peers_added and not ct.peers_removed


def test_same_behaviour_is_unchanged_and_a_missing_identity_is_no_change() -> None:
    [ct] = diff(_day(T), _day(T + 86400, hl7=False), select="10.10.110.21")
    assert ct.verdict == "unchanged", ct.lines()  # no HL7 message after: no evidence its identity changed


def test_silent_after() -> None:
    before = profiles(_day(T)).get(CT)
    result = compare(CT, before, None)
    assert result.verdict == "silent-after" and result.lines() == ["silent after"]


def test_volume_change_needs_the_factor() -> None:
    small = diff(_day(T, volume=1000), _day(T + 86400, volume=int(1000 * (VOLUME_FACTOR - 1))), select=CT)[0]
    big = diff(_day(T, volume=1000), _day(T + 86400, volume=int(1000 * VOLUME_FACTOR)), select=CT)[0]
    assert small.volume_changed == [] and small.verdict == "unchanged"
    assert big.volume_changed == [{"peer": "10.50.0.20", "before_bytes": 1000, "after_bytes": 10000}]


def test_in_window_keeps_facts_seen_inside() -> None:
    early = _conv("10.0.0.1", "10.0.0.2", 80, T)
    spanning = _conv("10.0.0.1", "10.0.0.3", 80, T, last=T + 500)
    late = _conv("10.0.0.1", "10.0.0.4", 80, T + 400)
    assert in_window([early, spanning, late], T + 100, T + 200) == [spanning]
    assert in_window([early, spanning, late], None, T + 100) == [early, spanning]
    assert in_window([early, spanning, late], T + 300, None) == [spanning, late]
