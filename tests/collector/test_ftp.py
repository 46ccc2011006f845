"""FTP greeting and USER presence (RFC 959): never passwords or file names."""

from __future__ import annotations

from collector.protocols import ftp
from collector.protocols.base import Packet, SimpleContext


def _pkt(payload: bytes, *, from_client: bool, port: int = 21) -> Packet:
    client, server = "10.10.130.51", "10.60.0.10"
    return Packet(ts=1.0, frame_no=4, src_ip=client if from_client else server, dst_ip=server if from_client else client,
                  transport="tcp", src_port=50400 if from_client else port, dst_port=port if from_client else 50400,
                  payload=payload, from_client=from_client, client_ip=client, server_ip=server, server_port=port)


def test_greeting_names_the_server_software() -> None:
    (rec,) = ftp.decode(_pkt(b"220-Welcome\r\n220 vsFTPd 3.0.3\r\n", from_client=False), SimpleContext())
    assert rec.detail == "Welcome" and rec.signature == "ftp-banner" and rec.server_ip == "10.60.0.10"
    assert ftp.probe(b"220 FileZilla Server FTP ready\r\n") and not ftp.probe(b"220 mail ESMTP\r\n")


def test_smtp_greeting_off_port_is_not_ftp() -> None:
    assert list(ftp.decode(_pkt(b"220 mx ESMTP Postfix\r\n", from_client=False, port=25), SimpleContext())) == []
    (rec,) = ftp.decode(_pkt(b"220 Lab FTP ready\r\n", from_client=False, port=2121), SimpleContext())
    assert rec.server_port == 2121


def test_user_hashed_password_and_files_dropped() -> None:
    ctx = SimpleContext()
    payload = b"USER xrayuser\r\nPASS S3cret!\r\nRETR PAT12345.txt\r\n"
    (rec,) = ftp.decode(_pkt(payload, from_client=True), ctx)
    assert rec.user_present and rec.user_hash == ctx.pseudonymise("xrayuser")
    blob = rec.model_dump_json()
    assert "xrayuser" not in blob and "S3cret" not in blob and "PAT12345" not in blob


def test_auth_tls_and_pop3_user() -> None:
    (rec,) = ftp.decode(_pkt(b"AUTH TLS\r\n", from_client=True), SimpleContext())
    assert rec.detail == "auth-tls" and not rec.user_present
    assert list(ftp.decode(_pkt(b"USER bob\r\n", from_client=True, port=110), SimpleContext())) == []
