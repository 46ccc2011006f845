"""No patient data anywhere: plant recognisable patient names and identifiers in every carrier
(HL7 PID/NK1/OBX, DICOM P-DATA with PatientName, HTTP POST bodies, FTP file names, ASTM P records,
POCT1 OBS, an HL7 ADT from an undeclared sender and a DICOM N-SET with its data set, both of which raise
findings whose evidence is checked too) and search every output medtap produces for them: the database file, the report,
the JSON-lines observations, the terminal output, the logs and the SOC exports."""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import pytest
from scapy.layers.inet import IP
from scapy.layers.l2 import Dot1Q, Ether
from scapy.utils import wrpcap
from typer.testing import CliRunner

from api.cli import app
from pcaps.fixtures._streams import tcp_stream

SECRETS = ["ZORGLUB^MARCELINE", "PAT-998877", "NIR2850575123456", "BIRTH19550317", "ZORGLUB-MARCELINE.dcm", "GLUCOSE-7.7-ZORG"]
T0 = 1767258000.0


def _stream(client: str, server: str, sport: int, dport: int, chunks: list[tuple[bool, bytes]], t: float) -> list:
    """A TCP conversation with handshake, then the payload chunks (True = client to server)."""
    cm, sm = "00:09:fb:00:00:01", "00:50:56:00:00:02"
    c2s = Ether(src=cm, dst=sm) / Dot1Q(vlan=120) / IP(src=client, dst=server)
    s2c = Ether(src=sm, dst=cm) / Dot1Q(vlan=120) / IP(src=server, dst=client)
    pkts = tcp_stream(c2s, s2c, sport, dport, chunks, close="none")
    for i, p in enumerate(pkts):
        p.time = t + i * 0.001
    return pkts


def _dicom_pdata() -> bytes:
    # P-DATA-TF with one PDV holding a data set element (0010,0010) PatientName, explicit VR little endian.
    name = SECRETS[0].encode()
    element = struct.pack("<HH2sH", 0x0010, 0x0010, b"PN", len(name)) + name
    pid = SECRETS[1].encode()
    element += struct.pack("<HH2sH", 0x0010, 0x0020, b"LO", len(pid)) + pid
    pdv = struct.pack(">IBB", len(element) + 2, 1, 0x02) + element
    return struct.pack(">BBI", 0x04, 0, len(pdv)) + pdv


CT_IMAGE_STORAGE = b"1.2.840.10008.5.1.4.1.1.2"
MPPS = b"1.2.840.10008.3.1.2.3.3"


def _associate_rq(sop_class: bytes = CT_IMAGE_STORAGE, called: bytes = b"PACS_ARCHIVE",
                  calling: bytes = b"CT_SCANNER1") -> bytes:
    def item(t: int, body: bytes) -> bytes:
        return struct.pack(">BBH", t, 0, len(body)) + body

    ctx = item(0x10, b"1.2.840.10008.3.1.1.1")
    pres = item(0x20, bytes([1, 0, 0, 0]) + item(0x30, sop_class) + item(0x40, b"1.2.840.10008.1.2.1"))
    user = item(0x50, item(0x51, struct.pack(">I", 16384)) + item(0x52, b"1.2.3.4.5"))
    body = struct.pack(">HH", 1, 0) + called.ljust(16) + calling.ljust(16) + b"\x00" * 32 + ctx + pres + user
    return struct.pack(">BBI", 0x01, 0, len(body)) + body


def phi_capture(path: Path) -> None:
    hl7 = (
        b"\x0bMSH|^~\\&|MONGW|ICU|HL7ENG|HOSP|20260101090000||ORU^R01|123|P|2.5\r"
        b"PID|1||" + SECRETS[1].encode() + b"^^^HOSP||" + SECRETS[0].encode() + b"||" + SECRETS[3].encode() + b"|F\r"
        b"NK1|1|" + SECRETS[0].encode() + b"|SPO\r"
        b"OBX|1|NM|GLU||" + SECRETS[5].encode() + b"|mmol/L\r\x1c\r"
    )
    http = (
        b"POST /api/patients HTTP/1.1\r\nHost: 10.50.0.40\r\nUser-Agent: PumpAgent/1.0\r\n"
        b"Content-Type: application/json\r\nContent-Length: 60\r\n\r\n"
        b'{"name":"' + SECRETS[0].encode() + b'","nir":"' + SECRETS[2].encode() + b'"}'
    )
    ftp = [
        (False, b"220 FTP ready\r\n"),
        (True, b"USER modality\r\n"),
        (False, b"331 Password required\r\n"),
        (True, b"PASS s3cret\r\n"),
        (True, b"STOR " + SECRETS[4].encode() + b"\r\n"),
    ]
    astm = b"\x021H|\\^&|||ANALYZER^ACME^1.2|||||||P|1\r\x033C\r\n" + b"\x022P|1||" + SECRETS[1].encode() + b"||" + SECRETS[0].encode() + b"\r\x03AA\r\n"
    poct = b'<OBS.R01><PT><PT.patient_id V="' + SECRETS[1].encode() + b'"/><PT.name V="' + SECRETS[0].encode() + b'"/></PT></OBS.R01>'
    pkts = []
    pkts += _stream("10.10.120.10", "10.50.0.30", 40001, 2575, [(True, hl7)], T0)
    pkts += _stream("10.10.110.21", "10.50.0.20", 40002, 104, [(True, _associate_rq()), (True, _dicom_pdata())], T0 + 1)
    pkts += _stream("10.10.120.41", "10.50.0.40", 40003, 80, [(True, http)], T0 + 2)
    pkts += _stream("10.10.110.21", "10.50.0.50", 40004, 21, ftp, T0 + 3)
    pkts += _stream("10.10.130.51", "10.50.0.60", 40005, 5000, [(True, astm)], T0 + 4)
    pkts += _stream("10.10.130.52", "10.50.0.61", 40006, 6000, [(True, poct)], T0 + 5)
    # an ADT (patient update) from an office host no sheet declares, to the HL7 engine
    adt = hl7.replace(b"MONGW|ICU", b"ROGUE|OFFICE").replace(b"ORU^R01", b"ADT^A08")
    pkts += _stream("10.10.120.99", "10.50.0.30", 40007, 2575, [(True, adt)], T0 + 6)
    # a DICOM N-SET (MPPS) whose data set carries the patient
    command = _command_set(0x0120)
    nset = struct.pack(">BBI", 0x04, 0, len(command) + 6) + struct.pack(">IBB", len(command) + 2, 1, 0x03) + command
    # (its association proposes the MPPS SOP class, as an N-SET's does: the console is no storage server)
    mpps = _associate_rq(MPPS, called=b"CT_SCANNER1", calling=b"MPPS_WRITER")
    pkts += _stream("10.10.110.22", "10.10.110.21", 40008, 104, [(True, mpps), (True, nset + _dicom_pdata())], T0 + 7)
    wrpcap(str(path), pkts)


def _command_set(field: int) -> bytes:
    """A DIMSE command set (implicit VR little endian): affected SOP class, Command Field, message id."""
    def element(tag: int, value: bytes) -> bytes:
        return struct.pack("<HHI", 0, tag, len(value)) + value

    body = element(0x0002, b"1.2.840.10008.3.1.2.3.3\x00") + element(0x0100, struct.pack("<H", field))
    body += element(0x0110, struct.pack("<H", 1)) + element(0x0800, struct.pack("<H", 0))
    return element(0x0000, struct.pack("<I", len(body))) + body


SHEETS_YAML = """- {id: SH-HL7, software_name: Interface engine, ip: 10.50.0.30, interfaces: [{peer: 10.10.120.10}]}
- {id: SH-CT, software_name: CT console, ip: 10.10.110.21}
"""


def test_patient_data_never_leaves_the_decoder(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pcap = tmp_path / "phi.pcap"
    phi_capture(pcap)
    raw = pcap.read_bytes()
    assert all(s.encode() in raw for s in SECRETS)  # the carriers really hold them

    db = tmp_path / "m.db"
    report = tmp_path / "report.json"
    jsonl = tmp_path / "obs.jsonl"
    runner = CliRunner()
    sheets = tmp_path / "sheets.yaml"
    sheets.write_text(SHEETS_YAML, encoding="utf-8")
    with caplog.at_level(logging.DEBUG):
        result = runner.invoke(
            app,
            ["replay", str(pcap), "--db", f"sqlite:///{db}", "--report", str(report), "--observations", str(jsonl), "-q",
             "--sheets", str(sheets)],
        )
        assert result.exit_code == 0, result.output
        outputs = [result.output]
        for command in (["inventory", "--json"], ["findings", "--json"], ["inventory"], ["findings"]):
            r = runner.invoke(app, [*command, "--db", f"sqlite:///{db}"])
            assert r.exit_code == 0, r.output
            outputs.append(r.output)
        csv_out = tmp_path / "sheets.csv"
        runner.invoke(app, ["sheets", "export", str(csv_out), "--db", f"sqlite:///{db}"])

    from api.exports import findings_ecs, findings_syslog, inventory_csv
    from store.jobs import load_report

    stored = load_report(f"sqlite:///{db}")
    outputs.append(findings_syslog(stored.findings))
    outputs.append(findings_ecs(stored.findings))
    outputs.append(inventory_csv(stored.devices))

    blobs = {
        "database": db.read_bytes(),
        "report": report.read_bytes(),
        "observations": jsonl.read_bytes(),
        "terminal and exports": "\n".join(outputs).encode(),
        "logs": "\n".join(r.getMessage() for r in caplog.records).encode(),
    }
    for wal in tmp_path.glob("m.db-*"):
        blobs[wal.name] = wal.read_bytes()
    for where, blob in blobs.items():
        for secret in SECRETS:
            assert secret.encode() not in blob, f"{secret} found in {where}"
    # The identifying headers are kept: the decoders did run on those carriers.
    obs = jsonl.read_text()
    assert "CT_SCANNER1" in obs and "MONGW" in obs and "N-SET-RQ" in obs
    # ... and the alteration rules fired on these carriers, so their evidence was searched above
    fired = {f.rule for f in stored.findings}
    assert "hl7-unexpected-sender" in fired and "config-write" in fired, sorted(fired)
