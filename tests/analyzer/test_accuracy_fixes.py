"""Issue 20 items 1, 2, 3 and 12 on Python-built observations: roles from a device's own evidence,
the biomedical perimeter of undeclared-device, DHCP relays, and the policy line of each verdict."""

from __future__ import annotations

from pathlib import Path

from analyzer.classify import load_endpoints, office_evidence
from analyzer.engine import analyze
from analyzer.models import Device
from analyzer.os_eol import load_fingerprints
from analyzer.reconcile import perimeter_reason
from analyzer.site import load_site
from collector.schema import Conversation, DhcpObs, HostSighting, HttpObs

REPO = Path(__file__).resolve().parents[2]
SITE = load_site(REPO / "pcaps" / "fixtures" / "site-rules.yaml")
ENDPOINTS = load_endpoints(REPO / "rules" / "endpoints.yaml")
FINGERPRINTS = load_fingerprints(REPO / "rules" / "os_fingerprints.yaml")
ROUTER = "00:00:0c:9f:f0:01"
MON = "00:09:fb:20:00:50"  # Philips monitor, monitoring VLAN 120
PC = "d4:ae:52:20:01:23"  # Dell
T0 = 1767225600.0
PRL_WIN = "1,3,6,15,31,33,43,44,46,47,119,121,249,252"


def host(mac: str, ip: str, vlan: int) -> HostSighting:
    return HostSighting(ts=T0, mac=mac, ip=ip, vlan=vlan, first_ts=T0, last_ts=T0 + 1, frames=1)


def conv(c: str, s: str, port: int, cmac: str | None, smac: str | None, vlan: int, app: str | None = None,
         transport: str = "tcp") -> Conversation:
    return Conversation(ts=T0, client_ip=c, server_ip=s, server_port=port, client_mac=cmac, server_mac=smac,
                        vlan=vlan, first_ts=T0, last_ts=T0 + 5, transport=transport, app=app, packets_c2s=3)


def windows_dhcp(mac: str, vlan: int, name: str = "SECRETARIAT-2") -> DhcpObs:
    return DhcpObs(ts=T0, src_mac=mac, vlan=vlan, message_type="discover", client_mac=mac, hostname=name,
                   vendor_class="MSFT 5.0", fingerprint=PRL_WIN)


def office_pc_in_icu() -> list:
    return [host(MON, "10.10.120.50", 120), host(PC, "10.10.120.123", 120), windows_dhcp(PC, 120),
            HttpObs(ts=T0, src_mac=PC, src_ip="10.10.120.123", dst_ip="203.0.113.80", method="GET",
                    user_agent="Microsoft-CryptoAPI/10.0"),
            conv("10.10.120.123", "10.50.0.50", 445, PC, ROUTER, 120, "smb")]


# ------------------------------------------------------------------ item 1


def test_office_evidence_counts_kinds_not_lines() -> None:
    d = Device(mac=PC, oui_vendor="Dell Inc.", protocols=["smb/client", "netbios-ns/client"])
    assert office_evidence(d, ENDPOINTS, FINGERPRINTS) == [
        "PC/laptop maker OUI (Dell Inc.)", "name service client (netbios-ns)", "file-sharing client (smb)"]
    assert office_evidence(Device(mac=PC, oui_vendor="Dell Inc."), ENDPOINTS) == [
        "PC/laptop maker OUI (Dell Inc.)"]  # one kind only: a DM workstation is a Dell PC too
    assert office_evidence(Device(mac=MON, oui_vendor="Philips Patient Monitoring"), ENDPOINTS) == []


def test_office_pc_in_a_dm_vlan_is_an_office_endpoint_and_flat_network_says_why() -> None:
    report = analyze(office_pc_in_icu(), site=SITE)
    pc = next(d for d in report.devices if d.mac == PC)
    assert pc.role == "office-workstation" and not pc.is_dm and pc.zone == "monitoring"
    assert pc.os == "Windows" and not pc.os_eol  # Windows 10 and 11 share the DHCP list: no version
    [flat] = [f for f in report.findings if f.rule == "flat-network"]
    assert flat.subject == PC  # the office PC is out of place, not every monitor of the VLAN
    texts = [e.text for e in flat.evidence]
    assert any("MSFT 5.0" in t for t in texts) and any("Microsoft-CryptoAPI" in t for t in texts)
    assert any(t.startswith("policy: site-rules.yaml:") and "zone monitoring (dm)" in t for t in texts)
    assert MON in flat.recommendation


def test_a_windows_pc_that_speaks_dicom_stays_a_dm_workstation() -> None:
    obs = [*office_pc_in_icu(), conv("10.10.120.123", "10.50.0.20", 104, PC, ROUTER, 120, "dicom")]
    report = analyze(obs, site=SITE)
    pc = next(d for d in report.devices if d.mac == PC)
    assert pc.role != "office-workstation" and pc.is_dm
    assert not [f for f in report.findings if f.rule == "flat-network"]


# ------------------------------------------------------------------ item 2


def test_perimeter_covers_servers_speaking_medical_protocols_and_every_dm_zone_host() -> None:
    pacs = Device(mac="00:50:56:50:00:20", role="pacs", zone_kind="servers", protocols=["dicom/server"])
    files = Device(mac="00:50:56:50:00:50", role="server", zone_kind="servers", protocols=["smb/server"])
    printer = Device(mac="00:1c:c4:20:00:60", role="printer", zone="imaging", zone_kind="dm")
    switch = Device(mac="00:3a:7d:aa:01:10", role="switch", zone_kind="dm")
    assert perimeter_reason(pacs) == "speaks dicom"
    assert perimeter_reason(printer) == "in DM zone imaging"
    assert perimeter_reason(files) is None and perimeter_reason(switch) is None


def test_undeclared_device_fires_for_an_archive_without_a_sheet() -> None:
    obs = [host("00:50:56:50:00:21", "10.50.0.21", 50), host(MON, "10.10.120.50", 120),
           conv("10.10.120.50", "10.50.0.21", 104, MON, ROUTER, 120, "dicom")]
    from analyzer.sheets import Sheet

    sheet = Sheet(id="SH-1", software_name="monitor", mac=MON)
    report = analyze(obs, site=SITE, sheets=[sheet])
    undeclared = {f.subject for f in report.findings if f.rule == "undeclared-device"}
    assert undeclared == {"00:50:56:50:00:21"}


# ------------------------------------------------------------------ item 3


def relay_obs(server_ip: str, server_mac: str, server_vlan: int) -> list:
    relay = "10.10.110.1"
    common = {"client_mac": "00:21:b7:10:00:23", "relay_ip": relay, "src_port": 67, "dst_port": 67,
              "transport": "udp", "vlan": server_vlan}
    return [
        host(server_mac, server_ip, server_vlan),
        DhcpObs(ts=T0, src_mac=ROUTER, src_ip=relay, dst_ip=server_ip, message_type="discover", **common),
        DhcpObs(ts=T0 + 0.1, src_mac=server_mac, src_ip=server_ip, dst_ip=relay, message_type="offer",
                server_id=server_ip, assigned_ip="10.10.110.77", **common),
        # the relay forwards the answer to the client: the router is not a DHCP server
        DhcpObs(ts=T0 + 0.2, src_mac=ROUTER, src_ip=relay, dst_ip="255.255.255.255", message_type="offer",
                server_id=server_ip, assigned_ip="10.10.110.77", vlan=110, src_port=67, dst_port=68,
                client_mac="00:21:b7:10:00:23", relay_ip=relay, transport="udp"),
        Conversation(ts=T0, client_ip=relay, server_ip=server_ip, server_port=67, client_mac=ROUTER,
                     server_mac=server_mac, vlan=server_vlan, first_ts=T0, last_ts=T0 + 1, transport="udp",
                     app="dhcp", packets_c2s=1, packets_s2c=1),
    ]


def test_relayed_dhcp_is_service_not_a_cross_zone_flow_and_rogue_dhcp_still_fires() -> None:
    # 10.60.0.2 sits in the maintenance zone: no conduit allows DHCP there, and it is not declared
    report = analyze(relay_obs("10.60.0.2", "00:50:56:60:00:02", 60), site=SITE)
    assert not [f for f in report.findings if f.rule == "cross-zone-flow"]
    [rogue] = [f for f in report.findings if f.rule == "rogue-dhcp"]
    assert rogue.subject == "10.60.0.2"
    assert any(e.text.startswith("policy: site-rules.yaml:") and "does not list 10.60.0.2" in e.text
               for e in rogue.evidence)
    router = next(d for d in report.devices if d.mac == ROUTER)
    assert not [f for f in router.facts if f.attribute == "dhcp_server"]


def test_a_declared_server_behind_a_relay_is_credited_by_its_server_identifier() -> None:
    report = analyze(relay_obs("10.50.0.2", "00:50:56:50:00:02", 50), site=SITE)
    assert not [f for f in report.findings if f.rule in ("rogue-dhcp", "cross-zone-flow")]
    server = next(d for d in report.devices if d.mac == "00:50:56:50:00:02")
    assert [f.value for f in server.facts if f.attribute == "dhcp_server"] == ["10.50.0.2"]


def test_without_the_relay_leg_the_same_flow_is_a_cross_zone_flow() -> None:
    obs = [o for o in relay_obs("10.60.0.2", "00:50:56:60:00:02", 60) if not isinstance(o, DhcpObs)]
    report = analyze(obs, site=SITE)
    crossing = [f.subject for f in report.findings if f.rule == "cross-zone-flow"]
    assert crossing == ["10.10.110.1->10.60.0.2:67/udp"]


# ------------------------------------------------------------------ item 12


def test_cross_zone_flow_names_both_zones_and_the_missing_conduit_with_lines() -> None:
    obs = [host("3c:52:82:20:00:11", "10.20.0.11", 200), host(MON, "10.10.120.50", 120),
           conv("10.20.0.11", "10.10.120.50", 80, "3c:52:82:20:00:11", ROUTER, 200, "http")]
    report = analyze(obs, site=SITE)
    [f] = [f for f in report.findings if f.rule == "cross-zone-flow"]
    policy = [e.text for e in f.evidence if e.text.startswith("policy: ")]
    lines = (REPO / "pcaps" / "fixtures" / "site-rules.yaml").read_text().splitlines()
    office = next(i for i, line in enumerate(lines, 1) if "name: office" in line)
    monitoring = next(i for i, line in enumerate(lines, 1) if "name: monitoring" in line)
    assert policy[:2] == [f"policy: site-rules.yaml:{office} zone office (office)",
                          f"policy: site-rules.yaml:{monitoring} zone monitoring (dm)"]
    assert "no conduit from office to monitoring allows tcp/80 http" in policy[2]
    assert f.evidence[0].text.startswith("10.20.0.11 -> 10.10.120.50:80")  # what was seen comes first


def test_os_family_and_version_from_the_dhcp_vendor_class_when_nothing_stronger() -> None:
    phone = "02:00:00:00:00:01"
    obs = [host(phone, "10.20.0.31", 200),
           DhcpObs(ts=T0, src_mac=phone, vlan=200, message_type="discover", client_mac=phone,
                   vendor_class="android-dhcp-13")]
    d = next(d for d in analyze(obs, site=SITE).devices if d.mac == phone)
    assert d.os == "Android 13" and d.os_confidence == 0.3
