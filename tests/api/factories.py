"""Hand-built devices, findings, sheets and observations for the API tests."""

from __future__ import annotations

import hashlib

from analyzer.models import Device, Evidence, Finding
from analyzer.sheets import Sheet
from collector.schema import Conversation, HostSighting, RemoteAccessObs

CT = "00:11:22:33:44:55"
MONITOR = "00:11:22:33:44:66"
PACS = "00:50:56:00:00:20"


def devices() -> list[Device]:
    return [
        Device(mac=CT, ips=["10.10.110.5"], vlans=[110], hostname="ct01", role="imaging-modality", is_dm=True,
               connection="wired", zone="imaging", zone_kind="dm", os="Windows 7", service="biomedical",
               vendor="=HYPERLINK(\"http://x\")", first_seen=1700000000.0, last_seen=1700000100.0),
        Device(mac=MONITOR, ips=["10.10.120.7"], vlans=[120], hostname="mon07", role="patient-monitor", is_dm=True,
               connection="wifi", zone="monitoring", zone_kind="dm", service="biomedical"),
        Device(mac=PACS, ips=["10.50.0.20"], vlans=[50], hostname="pacs", role="pacs", zone="servers", zone_kind="servers"),
    ]


def finding(rule: str, subject: str, severity: str = "high", mac: str = CT, ip: str = "10.10.110.5") -> Finding:
    fid = "MT-" + hashlib.sha1((rule + subject).encode()).hexdigest()[:12]
    return Finding(id=fid, rule=rule, severity=severity, title=f"Title of {rule}", subject=subject, devices=[mac],
                   ips=[ip, "203.0.113.9"], service="biomedical", zone="imaging", recommendation="Block it",
                   evidence=[Evidence(source="demo.pcap", frame_no=3, ts=1700000001.0, text='GET "/" ]')],
                   first_seen=1700000001.0, last_seen=1700000050.0)


def findings() -> list[Finding]:
    return [finding("dm-internet", "10.10.110.5-203.0.113.9"), finding("cleartext-medical", "10.10.110.5", "medium"),
            finding("os-eol", CT, "low")]


def sheet(sheet_id: str = "SH-0001", **kw: object) -> Sheet:
    base: dict[str, object] = dict(
        id=sheet_id, software_name="Syngo CT", software_version="VB20", supplier="Siemens Healthineers",
        workstation="ct01.demo-hospital.example", mac=CT, ip="10.10.110.5", connection="wired", vlan=110,
        interfaces=[{"peer": "pacs", "protocol": "dicom", "port": 104}], servers=[{"name": "10.50.0.20", "role": "pacs"}],
        os_name="Windows", os_version="7", remote_maintenance={"method": "none"}, last_review="2026-01-10")
    base.update(kw)
    return Sheet.model_validate(base)


def conversation(client: str, server: str, port: int, *, client_mac: str | None = None, app: str | None = None,
                 ts: float = 1700000010.0) -> Conversation:
    return Conversation(ts=ts, source="demo.pcap", frame_no=7, client_ip=client, server_ip=server, server_port=port,
                        client_mac=client_mac, transport="tcp", first_ts=ts, last_ts=ts + 5, app=app)


def host(mac: str, ip: str, ts: float = 1700000000.0) -> HostSighting:
    return HostSighting(ts=ts, mac=mac, ip=ip, first_ts=ts, last_ts=ts + 1, frames=3, bytes=300)


def remote(client: str, server: str, method: str = "teamviewer") -> RemoteAccessObs:
    return RemoteAccessObs(ts=1700000020.0, source="demo.pcap", frame_no=9, method=method, signature=method,
                           evidence="content", confidence=1.0, client_ip=client, server_ip=server, server_port=5938)
