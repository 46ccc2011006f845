"""SNMP detector: versions, PDU types, default-community flag; the community is never stored."""

from __future__ import annotations

import pytest

from collector.protocols import snmp
from collector.protocols.base import Packet, SimpleContext
from pcaps.fixtures.gen_infra import SECRET_COMMUNITY, ber, snmp_message, snmp_v3_get


def _pkt(payload: bytes) -> Packet:
    return Packet(ts=1.0, frame_no=1, src_port=40000, dst_port=161, transport="udp", payload=payload)


@pytest.mark.parametrize(("version", "name"), [(0, "v1"), (1, "v2c")])
def test_versions_and_default_communities(version: int, name: str) -> None:
    for community, default in ((b"public", True), (b"private", True), (SECRET_COMMUNITY, False)):
        (obs,) = snmp.decode(_pkt(snmp_message(version, community, 0xA3)), SimpleContext())
        assert (obs.version, obs.pdu, obs.community_default) == (name, "set", default)
        assert SECRET_COMMUNITY.decode() not in obs.model_dump_json()


def test_v3_plain_and_encrypted() -> None:
    (obs,) = snmp.decode(_pkt(snmp_v3_get()), SimpleContext())
    assert (obs.version, obs.pdu) == ("v3", "get")
    glob = ber(0x30, ber(0x02, b"\x01") + ber(0x02, b"\x05\xdc") + ber(0x04, b"\x07") + ber(0x02, b"\x03"))
    enc = ber(0x30, ber(0x02, b"\x03") + glob + ber(0x04, b"") + ber(0x04, b"\x99" * 40))
    (obs,) = snmp.decode(_pkt(enc), SimpleContext())
    assert (obs.version, obs.pdu) == ("v3", None)
    assert (obs.encrypted, obs.reportable) == (True, True)


def _v3(flags: int, scoped: bytes) -> bytes:
    glob = ber(0x30, ber(0x02, b"\x01") + ber(0x02, b"\x05\xdc") + ber(0x04, bytes([flags]))
               + ber(0x02, b"\x03"))
    return ber(0x30, ber(0x02, b"\x03") + glob + ber(0x04, b"") + scoped)


def test_v3_flags_and_a_plaintext_set_names_its_oids() -> None:
    """RFC 3412 section 6.4: msgFlags auth 0x01, priv 0x02, reportable 0x04 (on Confirmed Class PDUs only)."""
    oid = b"\x2b\x06\x01\x02\x01\x01\x05\x00"  # 1.3.6.1.2.1.1.5.0 sysName
    varbinds = ber(0x30, ber(0x30, ber(0x06, oid) + ber(0x04, b"SECRET-VALUE")))
    set_pdu = ber(0xA3, ber(0x02, b"\x01") + ber(0x02, b"\x00") + ber(0x02, b"\x00") + varbinds)
    ctx = SimpleContext()
    [obs] = snmp.decode(_pkt(_v3(0x05, ber(0x30, ber(0x04, b"") + ber(0x04, b"") + set_pdu))), ctx)  # no priv
    assert (obs.pdu, obs.encrypted, obs.reportable) == ("set", False, True)
    assert obs.set_oids == ("1.3.6.1.2.1.1.5.0",)
    assert "SECRET-VALUE" not in obs.model_dump_json() and ctx.weirds == {}
    response = ber(0xA2, ber(0x02, b"\x01") + ber(0x02, b"\x00") + ber(0x02, b"\x00") + varbinds)
    [obs] = snmp.decode(_pkt(_v3(0x01, ber(0x30, ber(0x04, b"") + ber(0x04, b"") + response))),
                        SimpleContext())
    assert (obs.pdu, obs.reportable, obs.set_oids) == ("response", False, ())
    [obs] = snmp.decode(_pkt(_v3(0x03, ber(0x04, b"\x99" * 32))), SimpleContext())  # authPriv, not reportable
    assert (obs.pdu, obs.encrypted, obs.reportable) == (None, True, False)


def test_v3_inconsistent_flags_are_weirds() -> None:
    ctx = SimpleContext()
    snmp.decode(_pkt(_v3(0x06, ber(0x04, b"\x99" * 16))), ctx)  # privacy without authentication
    snmp.decode(_pkt(_v3(0x04, ber(0x04, b"\x99" * 16))), ctx)  # no privFlag, yet not a plaintext scopedPDU
    assert set(ctx.weirds) == {"snmp_v3_priv_without_auth", "snmp_v3_scoped_pdu_not_plaintext"}
    bad = ber(0x30, ber(0x02, b"\x03") + ber(0x30, ber(0x02, b"\x01") + ber(0x02, b"\x05\xdc")
                                             + ber(0x04, b"\x04\x00") + ber(0x02, b"\x03")) + ber(0x04, b""))
    with pytest.raises(ValueError):  # msgFlags must be one byte
        snmp.decode(_pkt(bad), SimpleContext())


def test_long_form_lengths_and_malformed() -> None:
    msg = snmp_message(1, b"public", 0xA5)
    long_form = b"\x30\x81" + bytes([len(msg) - 2]) + msg[2:]
    assert snmp.probe(long_form)
    assert snmp.decode(_pkt(long_form), SimpleContext())[0].pdu == "getbulk"
    for bad in (b"\x30\x03\x02\x01\x07", b"\x30\x85\x00", b"\x04\x00"):
        assert not snmp.probe(bad)
        with pytest.raises((ValueError, IndexError)):
            snmp.decode(_pkt(bad), SimpleContext())
    with pytest.raises(IndexError):  # the outer SEQUENCE claims more than the datagram holds
        snmp.decode(_pkt(msg[:-30]), SimpleContext())


def _set(varbinds: bytes) -> bytes:
    pdu = ber(0xA3, ber(0x02, b"\x01") + ber(0x02, b"\x00") + ber(0x02, b"\x00") + varbinds)
    return ber(0x30, ber(0x02, b"\x01") + ber(0x04, b"c0mm") + pdu)


def test_set_request_names_the_oids_never_the_values() -> None:
    enterprise = b"\x2b\x06\x01\x04\x01\x82\x37\x01"  # 1.3.6.1.4.1.311.1: multi-byte arc
    ctx = SimpleContext()
    [obs] = snmp.decode(_pkt(_set(ber(0x30, ber(0x30, ber(0x06, enterprise) + ber(0x02, b"\x2a"))))), ctx)
    assert obs.pdu == "set" and obs.set_oids == ("1.3.6.1.4.1.311.1",) and ctx.weirds == {}
    assert "42" not in obs.model_dump_json(include={"set_oids"})


def test_malformed_varbinds_are_weirds() -> None:
    ctx = SimpleContext()
    [obs] = snmp.decode(_pkt(_set(ber(0x04, b"not a list"))), ctx)
    assert obs.set_oids == () and ctx.weirds == {"snmp_bad_varbind_list": 1}
    ctx = SimpleContext()
    [obs] = snmp.decode(_pkt(_set(ber(0x30, ber(0x30, ber(0x04, b"no oid"))))), ctx)
    assert obs.set_oids == () and ctx.weirds == {"snmp_bad_varbind": 1}
