"""Inventory: merge per MAC, router detection, names, switch port pairing, connection, OS, roles."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from analyzer.engine import analyze
from analyzer.site import load_site
from collector.schema import (
    ArpObs,
    CdpObs,
    Conversation,
    DhcpObs,
    DicomObs,
    DnsAnswer,
    DnsObs,
    HostSighting,
    HttpObs,
    LldpObs,
    NetbiosObs,
    OsHint,
    SmbObs,
    TlsObs,
    WifiObs,
)

REPO = Path(__file__).resolve().parents[2]
SITE = load_site(REPO / "pcaps" / "fixtures" / "site-rules.yaml")
ROUTER = "00:00:0c:9f:f0:01"
MON = "00:09:fb:20:00:50"


def host(mac: str, ip: str | None, vlan: int | None, ts: float = 1.0, **kw: object) -> HostSighting:
    return HostSighting(ts=ts, mac=mac, ip=ip, vlan=vlan, first_ts=ts, last_ts=ts + 1, frames=2, **kw)


def conv(c: str, s: str, port: int, cmac: str | None = None, smac: str | None = None, vlan: int = 0,
         ts: float = 1.0, transport: str = "tcp", app: str | None = None) -> Conversation:
    return Conversation(ts=ts, client_ip=c, server_ip=s, server_port=port, client_mac=cmac, server_mac=smac,
                        vlan=vlan, first_ts=ts, last_ts=ts + 1, transport=transport, app=app, packets_c2s=1)


def test_merge_ips_names_vendor_over_time() -> None:
    obs = [
        host(MON, "10.10.120.50", 120, ts=1.0),
        host(MON, "10.10.120.51", 120, ts=50.0),
        DhcpObs(ts=2.0, message_type="request", client_mac=MON, hostname="MX800-BED12", fingerprint="1,3,6"),
        DnsObs(ts=3.0, protocol="dns", response=True,
               answers=(DnsAnswer(name="mon12.demo.example", rtype="A", value="10.10.120.51"),)),
        NetbiosObs(ts=4.0, op="registration", name="MONBOX", suffix=0, src_ip="10.10.120.50"),
    ]
    [d] = analyze(obs, rules=[]).devices
    assert d.ips == ["10.10.120.50", "10.10.120.51"] and d.vlans == [120]
    assert d.hostname == "MX800-BED12"  # DHCP beats DNS and NetBIOS
    assert set(d.names) == {"MX800-BED12", "mon12.demo.example", "MONBOX"}
    assert d.vendor == "Philips" and d.oui_vendor == "Philips Patient Monitoring"
    assert (d.first_seen, d.last_seen) == (1.0, 51.0)
    assert any(f.attribute == "dhcp_fingerprint" and f.value == "1,3,6" for f in d.facts)


def test_router_not_mistaken_for_a_device_with_many_ips() -> None:
    obs = [host(ROUTER, f"10.20.0.{i}", 120) for i in range(2, 13)]  # routed sources on VLAN 120
    obs += [host(MON, "10.10.120.50", 120), ArpObs(ts=1.0, op="reply", sender_mac=ROUTER, sender_ip="10.10.120.1",
                                                    target_mac=MON, target_ip="10.10.120.50", vlan=120)]
    obs += [conv("10.20.0.5", "10.10.120.50", 80, cmac=ROUTER, smac=MON, vlan=120)]
    report = analyze(obs, rules=[])
    router = next(d for d in report.devices if d.mac == ROUTER)
    assert router.is_router and router.role == "router"
    assert router.ips == ["10.10.120.1"]  # only its ARP-bound address
    mon = next(d for d in report.devices if d.mac == MON)
    assert mon.peers == ["10.20.0.5"] and mon.protocols == ["tcp/80/server"]


def test_few_ips_is_not_a_router() -> None:
    obs = [host(MON, f"10.10.120.{i}", 120) for i in range(50, 53)]
    [d] = analyze(obs, rules=[]).devices
    assert not d.is_router and len(d.ips) == 3


def test_public_source_ip_makes_a_router_and_arp_wins_ip_lookup() -> None:
    gw = "00:00:0c:00:00:01"
    obs = [host(gw, "203.0.113.80", 200), host(gw, "10.20.0.11", 200, ts=2.0),
           ArpObs(ts=3.0, op="reply", sender_mac="3c:52:82:20:00:11", sender_ip="10.20.0.11", target_mac=gw,
                  target_ip="10.20.0.1", vlan=200)]
    report = analyze(obs, rules=[])
    by = {d.mac: d for d in report.devices}
    assert by[gw].is_router and "10.20.0.11" not in by[gw].ips
    assert by["3c:52:82:20:00:11"].ips == ["10.20.0.11"]


def test_public_peers_are_peers_and_the_host_talking_to_them_keeps_its_address() -> None:
    """Issue 20 item 6: a host on a public address (captured on its own link) opens conversations
    to two Internet servers through its gateway: the host keeps its address and protocols, the
    servers stay external peers (no device), the gateway is a router without their addresses."""
    pc, gw = "c8:bc:c8:96:d2:a0", "00:10:db:88:d2:ef"
    obs = [host(pc, "141.142.228.5", None), host(gw, "192.150.187.43", None), host(gw, "198.51.100.80", None),
           conv("141.142.228.5", "192.150.187.43", 80, pc, gw, app="http"),
           conv("141.142.228.5", "198.51.100.80", 443, pc, gw, app="tls")]
    by = {d.mac: d for d in analyze(obs, rules=[]).devices}
    assert set(by) == {pc, gw}
    assert not by[pc].is_router and by[pc].ips == ["141.142.228.5"]
    assert by[pc].protocols == ["http/client", "tls/client"]
    assert by[pc].peers == ["192.150.187.43", "198.51.100.80"]
    assert by[gw].is_router and by[gw].ips == [] and by[gw].protocols == []


def test_public_address_outside_every_zone_is_a_peer_even_as_client() -> None:
    """With a site policy, a public address is a device's own only inside a zone or bound by ARP/DHCP:
    an Internet client reaching a server through the gateway stays a peer."""
    srv, gw = "3c:52:82:20:00:11", "00:00:0c:00:00:01"
    obs = [host(srv, "10.20.0.11", 200), host(gw, "203.0.113.80", 200),
           conv("203.0.113.80", "10.20.0.11", 443, gw, srv, vlan=200, app="tls")]
    by = {d.mac: d for d in analyze(obs, site=SITE, rules=[]).devices}
    assert by[gw].is_router and by[gw].ips == []
    assert by[srv].ips == ["10.20.0.11"] and by[srv].protocols == ["tls/server"]


def test_dhcp_client_without_an_address_speaks_dhcp() -> None:
    """A DHCP discover comes from 0.0.0.0: the conversation belongs to the device of its MAC."""
    obs = [host(MON, None, 120), conv("0.0.0.0", "255.255.255.255", 67, MON, "ff:ff:ff:ff:ff:ff", vlan=120,
                                      transport="udp", app="dhcp")]
    [d] = analyze(obs, rules=[]).devices
    assert d.protocols == ["dhcp/client"] and d.ips == []


def test_smb_family_names_the_conversation() -> None:
    """smb1/smb2/smb3 from the records replace the generic smb; SMB1 without `versions` (a datagram
    over NetBIOS) names smb1; smb3 is more precise than smb2 on one conversation."""
    ws, srv = "3c:52:82:20:00:11", "00:50:56:00:00:20"
    obs = [host(ws, "10.20.0.11", 200), host(srv, "10.50.0.20", 50),
           conv("10.20.0.11", "10.50.0.20", 445, ws, srv, app="smb"),
           SmbObs(ts=1.0, src_ip="10.20.0.11", dst_ip="10.50.0.20", dst_port=445, versions=("smb2",)),
           SmbObs(ts=1.1, src_ip="10.50.0.20", dst_ip="10.20.0.11", src_port=445, versions=("smb3",)),
           conv("10.20.0.11", "10.20.0.255", 138, ws, "ff:ff:ff:ff:ff:ff", transport="udp"),
           SmbObs(ts=2.0, src_ip="10.20.0.11", dst_ip="10.20.0.255", dst_port=138, smb1=True)]
    by = {d.mac: d for d in analyze(obs, rules=[]).devices}
    assert by[ws].protocols == ["smb1/client", "smb3/client"]
    assert by[srv].protocols == ["smb3/server"]


def test_tls_sni_and_http_host_are_facts_of_the_client() -> None:
    """Issue 20 items 7 and 10: the names a client asks for (SNI, Host) appear in its identity."""
    pc, srv = "3c:52:82:20:00:11", "00:50:56:00:00:20"
    obs = [host(pc, "10.20.0.11", 200), host(srv, "10.50.0.20", 50),
           TlsObs(ts=1.0, src_mac=pc, src_ip="10.20.0.11", dst_ip="10.50.0.20", hello="client",
                  sni="pacs.demo.example"),
           TlsObs(ts=1.1, src_mac=srv, src_ip="10.50.0.20", dst_ip="10.20.0.11", hello="server"),
           HttpObs(ts=2.0, src_mac=pc, src_ip="10.20.0.11", dst_ip="10.50.0.20", method="GET",
                   host="portal.demo.example"),
           HttpObs(ts=2.1, src_mac=srv, src_ip="10.50.0.20", dst_ip="10.20.0.11", status=200, server="nginx")]
    by = {d.mac: d for d in analyze(obs, rules=[]).devices}
    facts = {(f.attribute, f.value, f.source) for f in by[pc].facts}
    assert {("tls_sni", "pacs.demo.example", "tls.sni"), ("http_host", "portal.demo.example", "http.host")} <= facts
    assert not {f.attribute for f in by[srv].facts} & {"tls_sni", "http_host"}


def test_switch_port_from_nearest_switch_lldp_in_same_vlan() -> None:
    switch = "00:00:0c:aa:01:05"
    obs = [
        LldpObs(ts=10.0, src_mac=switch, vlan=110, chassis_id=switch, port_id="Gi1/0/5", system_name="SW-IMG-01",
                capabilities=("bridge",)),
        LldpObs(ts=10.01, src_mac=MON, vlan=110, chassis_id=MON, port_id=MON, system_name="CT-01",
                med_device_class="endpoint-class-3"),
        LldpObs(ts=50.0, src_mac=switch, vlan=110, chassis_id=switch, port_id="Gi1/0/9", system_name="SW-IMG-01",
                capabilities=("bridge",)),
    ]
    report = analyze(obs, rules=[])
    by = {d.mac: d for d in report.devices}
    assert by[MON].switch_port == "SW-IMG-01 Gi1/0/5"
    assert by[switch].role == "switch"
    assert by[MON].connection == "wired" and "SW-IMG-01 Gi1/0/5" in by[MON].connection_evidence[0]


def test_switch_port_from_cdp_and_from_lldp_and_cdp_mixed() -> None:
    # before issue 20 item 5 only LLDP paired: a CDP switch and a CDP phone gave no switch port
    switch, phone, pump = "00:00:0c:aa:01:05", "00:1b:d4:00:00:10", "00:1c:4e:20:00:70"
    obs = [
        CdpObs(ts=10.0, src_mac=switch, vlan=120, device_id="sw-icu-2", port_id="GigabitEthernet1/0/13",
               capabilities=("router", "switch", "igmp")),
        CdpObs(ts=10.02, src_mac=phone, vlan=120, device_id="SEP001BD4000010", port_id="Port 1",
               capabilities=("host", "phone")),
        LldpObs(ts=20.0, src_mac=switch, vlan=130, chassis_id=switch, port_id="Gi1/0/7", system_name="sw-lab-1",
                capabilities=("bridge",)),
        CdpObs(ts=20.01, src_mac=pump, vlan=130, device_id="PUMP-07", port_id="eth0", capabilities=("host",)),
    ]
    by = {d.mac: d for d in analyze(obs, rules=[]).devices}
    assert by[phone].switch_port == "sw-icu-2 GigabitEthernet1/0/13"
    assert by[pump].switch_port == "sw-lab-1 Gi1/0/7"
    facts = {(f.attribute, f.value, f.source) for f in by[phone].facts}
    assert {("switch", "sw-icu-2", "cdp"), ("port", "GigabitEthernet1/0/13", "cdp")} <= facts
    assert ("port", "Gi1/0/7", "lldp") in {(f.attribute, f.value, f.source) for f in by[pump].facts}
    assert by[switch].switch_port is None  # a switch's own frames are port announcements, not a device's


def test_connection_wifi_strong_and_weak_hints() -> None:
    strong = "00:09:fb:00:00:01"
    weak = "00:80:92:00:00:01"  # Silex radio module OUI
    obs = [host(strong, "10.10.120.60", 120), host(weak, "10.10.120.61", 120),
           WifiObs(ts=1.0, evidence="capwap", client_mac=strong, confidence=1.0),
           WifiObs(ts=1.0, evidence="dhcp-fingerprint", client_mac=weak, confidence=0.5)]
    by = {d.mac: d for d in analyze(obs, site=SITE, rules=[]).devices}
    assert by[strong].connection == "wifi"
    assert by[weak].radio_module and by[weak].connection == "wired"  # zone decides, weak hints only recorded
    assert any("weak" in e for e in by[weak].connection_evidence)
    assert analyze([host(weak, "10.99.0.1", None)], rules=[]).devices[0].connection == "unknown"


def test_os_highest_confidence_and_eol() -> None:
    obs = [host(MON, "10.10.110.30", 110),
           OsHint(ts=1.0, ip="10.10.110.30", method="ttl", family="Windows", confidence=0.3),
           OsHint(ts=1.0, mac=MON, method="smb-ntlm", family="Windows", version="7", confidence=0.9)]
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    [d] = analyze(obs, rules=[], now=now).devices
    assert d.os == "Windows 7" and d.os_confidence == 0.9 and d.os_eol
    # the end-of-life date is compared with the analysis date (default: the capture's last packet)
    assert not analyze(obs, rules=[], now=dt.datetime(2019, 1, 1, tzinfo=dt.UTC)).devices[0].os_eol
    obs[-1] = OsHint(ts=1.0, mac=MON, method="smb-ntlm", family="Windows", version="11", confidence=0.9)
    assert not analyze(obs, rules=[], now=now).devices[0].os_eol


def test_roles_modality_pacs_and_dm_service() -> None:
    ct, mr, pacs = "00:21:b7:10:00:21", "00:21:b7:10:00:22", "00:50:56:50:00:20"
    obs = [host(ct, "10.10.110.21", 110), host(mr, "10.10.110.22", 110), host(pacs, "10.50.0.20", 50)]
    for ip in ("10.10.110.21", "10.10.110.22"):
        obs.append(DicomObs(ts=2.0, pdu="associate-rq", src_ip=ip, dst_ip="10.50.0.20", dst_port=104,
                            modality_hints=("CT",)))
        obs.append(conv(ip, "10.50.0.20", 104, app="dicom"))
    by = {d.mac: d for d in analyze(obs, site=SITE, rules=[]).devices}
    assert by[ct].role == "imaging-modality" and by[ct].is_dm and by[ct].service == "biomedical"
    assert by[pacs].role == "pacs" and not by[pacs].is_dm and by[pacs].service == "it"
    assert "2 clients" in by[pacs].role_evidence[0]


def test_a_storage_server_that_passes_images_on_is_a_pacs_not_a_modality() -> None:
    """A PACS storing on to another archive is a pacs; a modality that receives priors from the archive it
    stores to (C-MOVE: the archive stores to it) stays an imaging modality."""
    ct, pacs, vna = "00:21:b7:10:00:21", "00:50:56:50:00:20", "00:50:56:50:00:21"
    obs = [host(ct, "10.10.110.21", 110), host(pacs, "10.50.0.20", 50), host(vna, "10.50.0.21", 50)]
    for src, dst in (("10.10.110.21", "10.50.0.20"), ("10.50.0.20", "10.50.0.21"), ("10.50.0.20", "10.10.110.21")):
        obs.append(DicomObs(ts=2.0, pdu="associate-rq", src_ip=src, dst_ip=dst, dst_port=104, modality_hints=("CT",)))
        obs.append(conv(src, dst, 104, app="dicom"))
    by = {d.mac: d for d in analyze(obs, site=SITE, rules=[]).devices}
    assert by[pacs].role == "pacs" and "other peers" in by[pacs].role_evidence[0]
    assert by[ct].role == "imaging-modality" and by[ct].is_dm  # priors from its own archive


def test_report_is_deterministic() -> None:
    obs = [host(MON, "10.10.120.50", 120), host(ROUTER, "203.0.113.5", 120),
           conv("10.10.120.50", "203.0.113.5", 443, cmac=MON, smac=ROUTER, vlan=120)]
    a = analyze(obs, site=SITE).model_dump_json()
    b = analyze(list(reversed(obs)), site=SITE).model_dump_json()
    assert a == b
