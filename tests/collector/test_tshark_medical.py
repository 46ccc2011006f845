"""Cross-check of the DICOM and HL7 decoders with Wireshark's dissectors (tshark through pyshark).

The same fixture captures go through tshark and through our detectors; AE titles, SOP classes,
implementation identity, reject reasons and the MSH fields must agree.  tshark is a test tool: in CI
(env CI set) its absence is a failure, elsewhere the test is skipped.
"""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from scapy.utils import wrpcap

from collector.protocols import dicom
from pcaps.fixtures.gen_medical import CAPTURES
from tests import needs
from tests.collector.replay_helpers import observations

pytestmark = pytest.mark.tshark
DECODE_AS = {"tcp.port==4006": "dicom", "tcp.port==6661": "hl7"}  # non-standard ports in the fixtures
UID_IN_PARENS = re.compile(r"\(([0-9.]+)\)\s*$")


@pytest.fixture(scope="module")
def pyshark_mod() -> Any:
    needs.tool("tshark")
    return pytest.importorskip("pyshark")


def _write(name: str, folder: Path) -> tuple[Path, list[Any]]:
    pkts = CAPTURES[name]()
    path = folder / f"{name}.pcap"
    wrpcap(str(path), pkts)
    return path, pkts


def _layers(pyshark: Any, path: Path, proto: str) -> list[Any]:
    """Dissect in a thread with its own event loop: pyshark runs asyncio, and another test
    (Playwright, the ASGI test clients) may have left a loop running in the main thread."""
    out: list[Any] = []
    errors: list[BaseException] = []

    def work() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        cap = pyshark.FileCapture(str(path), keep_packets=False, decode_as=DECODE_AS, eventloop=loop)
        try:
            out.extend((int(p.number), layer) for p in cap for layer in p.get_multiple_layers(proto))
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)
        finally:
            try:
                cap.close()
            except Exception:  # noqa: BLE001 - tshark already exited once the file was read; nothing to clean
                pass
            cap.close = lambda: None  # pyshark's __del__ would close again on a finished loop

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=120)
    if errors:
        raise errors[0]
    return out


def _values(layer: Any, field: str) -> list[str]:
    f = layer.get_field(field)
    return [] if f is None else [x.show for x in f.all_fields]


def _uid(text: str) -> str:
    m = UID_IN_PARENS.search(text)
    return m.group(1) if m else text.strip()


@pytest.mark.parametrize("name", ["dicom-associate", "dicom-anyport"])
def test_dicom_agrees_with_wireshark(pyshark_mod: Any, tmp_path: Path, name: str) -> None:
    path, pkts = _write(name, tmp_path)
    ours = observations(path, kind="dicom")
    theirs = _layers(pyshark_mod, path, "dicom")
    assert theirs, "tshark did not dissect DICOM"
    compared = 0
    for frame, layer in theirs:
        ptype = int(layer.get_field("pdu_type").show, 16)
        pdu = dicom.PDU_NAMES[ptype]
        mine = [o for o in ours if o.pdu == pdu]
        assert mine, f"frame {frame}: tshark sees {pdu}, we do not"
        obs = mine[0]
        if ptype in (0x01, 0x02):
            assert obs.calling_ae == layer.get_field("assoc_ae_calling").show.strip()
            assert obs.called_ae == layer.get_field("assoc_ae_called").show.strip()
            assert obs.application_context == _uid(layer.get_field("actx").show)
            assert obs.implementation_class_uid == layer.get_field("userinfo_uid").show
            assert obs.implementation_version == layer.get_field("userinfo_version").show.strip()
            assert list(obs.abstract_syntaxes) == [_uid(v) for v in _values(layer, "pctx_abss_syntax")]
            assert obs.user_identity == bool(_values(layer, "userinfo_user_identify_type"))
            compared += 1
        elif ptype == 0x03:
            source = int(layer.get_field("assoc_reject_source").show)
            reason = int(layer.get_field("assoc_reject_reason").show)
            result = int(layer.get_field("assoc_reject_result").show)
            want = (dicom.RJ_RESULT[result], dicom.RJ_SOURCE[source], dicom.RJ_REASON[source][reason])
            assert obs.result == "; ".join(want)
            compared += 1
    assert compared >= 1
    # Every PDU type Wireshark saw is one we report, and nothing more.
    seen = {dicom.PDU_NAMES[int(lay.get_field("pdu_type").show, 16)] for _, lay in theirs}
    assert seen == {o.pdu for o in ours}


def _msh_fields(layer: Any) -> dict[int, str]:
    """Wireshark's numbered fields of the MSH segment of one HL7 layer (`field N: value`)."""
    fields: dict[int, str] = {}
    for showname in (x.showname for x in layer.get_field("field").all_fields):
        m = re.match(r"field (\d+): (.*)$", showname)
        if not m:
            continue
        n, value = int(m.group(1)), m.group(2).strip()
        if n == 1 and fields:
            break  # the next segment starts
        fields[n] = value
    assert fields.get(1) == "MSH"
    return fields


def test_hl7_agrees_with_wireshark(pyshark_mod: Any, tmp_path: Path) -> None:
    path, pkts = _write("hl7-oru", tmp_path)
    ours = observations(path, kind="hl7")
    theirs = [_msh_fields(layer) for _, layer in _layers(pyshark_mod, path, "hl7")]
    assert len(theirs) == len(ours) == 5

    def key(fields: dict[int, str | None]) -> tuple[str | None, ...]:
        return tuple(fields.get(n) for n in (3, 4, 5, 6, 9, 11, 12))

    mine = sorted(
        key({3: o.sending_application, 4: o.sending_facility, 5: o.receiving_application,
             6: o.receiving_facility, 9: o.message_type, 11: o.processing_id, 12: o.version})
        for o in ours
    )
    assert mine == sorted(key(f) for f in theirs)
