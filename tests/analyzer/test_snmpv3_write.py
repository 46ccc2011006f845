"""config-write and SNMPv3 (issue 17 gap 4): a v3 request whose PDU is encrypted (msgFlags privFlag and
reportableFlag, RFC 3412 section 6.4) from a host that is neither a gateway nor a declared peer is a
management session into the device, never a SetRequest (nothing in the clear tells a Set from a Get);
the same from the bastion, a plaintext v3 GetRequest and an encrypted response (not reportable) are not
write paths.  Replays pcaps/fixtures/rule-config-write-{positive,negative}.pcap (gen_alteration.py)."""

from __future__ import annotations

from pathlib import Path

from analyzer.engine import analyze
from analyzer.sheets import Sheet
from analyzer.site import load_site
from pcaps.fixtures.gen_alteration import SHEETS
from tests.keys import TEST_KEY

REPO = Path(__file__).resolve().parents[2]


def _config_writes(name: str) -> dict[str, str]:
    from collector.pipeline import replay
    from collector.sinks import ListSink

    sink = ListSink()
    replay([REPO / "pcaps/fixtures" / name], sink, key=TEST_KEY)
    report = analyze(sink.observations, site=load_site(REPO / "pcaps/fixtures/site-rules.yaml"),
                     sheets=[Sheet.model_validate(s) for s in SHEETS], rules_dir=REPO / "rules")
    return {f.subject: " ".join(e.text or "" for e in f.evidence) for f in report.findings
            if f.rule == "config-write"}


def test_an_encrypted_v3_request_from_an_unapproved_host_is_a_management_session() -> None:
    found = _config_writes("rule-config-write-positive.pcap")
    assert "10.20.0.12->10.10.120.50 snmp session" in found
    assert "SNMPv3 encrypted request (authPriv: Get or Set" in found["10.20.0.12->10.10.120.50 snmp session"]
    assert "10.20.0.12->10.10.120.50 snmp SetRequest" not in found  # never called a write it cannot see
    assert "10.20.0.11->10.10.120.50 snmp SetRequest" in found  # the v1 SetRequest stays what it was


def test_v3_from_the_bastion_a_plaintext_get_and_an_encrypted_response_are_not_write_paths() -> None:
    assert not [s for s in _config_writes("rule-config-write-negative.pcap") if " snmp " in s]
