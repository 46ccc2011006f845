"""Web UI building blocks without a database: language negotiation, signed sessions, CSRF, forms, map."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from analyzer.models import Device, Finding
from analyzer.sheets import Sheet
from api.auth import PERMISSIONS
from api.web.compare import compare_rows
from api.web.forms import FIELD_NAMES, parse_acceptance, parse_sheet_form, sheet_to_form
from api.web.i18n import Translator, negotiate, parse_accept_language
from api.web.mapsvg import Edge, policy_edges, render_map
from api.web.session import csrf_ok, dump_session, load_session, new_session

WEB = Path(__file__).resolve().parents[2] / "api" / "web"
SECRET = b"k" * 32


def test_accept_language_order_and_q_values() -> None:
    assert parse_accept_language("en-GB;q=0.5, fr-FR, de;q=0") == ["fr", "en"]
    assert negotiate(None, "de-DE, fr;q=0.8, en;q=0.9") == "en"
    assert negotiate(None, "fr-CA,en;q=0.5") == "fr"
    assert negotiate("en", "fr") == "en"  # the header switch wins
    assert negotiate("xx", None) == "en"
    assert negotiate(None, ";;q=abc,,") == "en"


def test_both_catalogues_have_the_same_keys_and_every_template_key_exists() -> None:
    t = Translator.load()
    en, fr = set(t.catalogues["en"]), set(t.catalogues["fr"])
    assert en == fr, en ^ fr
    used: set[str] = set()
    for path in (WEB / "templates").glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_.\-]+)["']""", path.read_text(encoding="utf-8")))
    for path in WEB.glob("*.py"):
        used |= {k for k in re.findall(r"""["']((?:[a-z_]+\.)+[a-z_\-]+)["']""", path.read_text(encoding="utf-8"))
                 if k.split(".")[0] in {"login", "error", "sheets", "finding", "form", "dashboard", "map"}}
    used -= set(PERMISSIONS)  # permission names (api.auth) passed to needs()/can(), not catalogue keys
    missing = sorted(k for k in used if not k.endswith((".", ".html")) and k not in en
                     and f"{k}.other" not in en)  # a plural text is its .one/.other keys
    assert not missing, missing
    assert t.gettext("fr", "nav.findings") == "Constats" and t.gettext("en", "nav.findings") == "Findings"


def test_session_cookie_round_trip_and_tampering() -> None:
    s = new_session(token="tok", role="viewer", name="ana")
    value = dump_session(s, SECRET)
    assert "tok" not in value
    assert load_session(value, SECRET) == s
    assert load_session(value, b"other secret") is None
    payload, sig = value.split(".")
    forged = payload.replace(payload[5], "A" if payload[5] != "A" else "B", 1) + "." + sig
    assert load_session(forged, SECRET) is None
    assert load_session(value, SECRET, now=s.exp + 1) is None
    for junk in ("", "a.b", "....", "é.é", "x" * 5000):
        assert load_session(junk, SECRET) is None


def test_csrf_check() -> None:
    s = new_session(token="t", role="admin", name="a")
    assert csrf_ok(s, s.csrf)
    assert not csrf_ok(s, s.csrf[:-1] + "x")
    assert not csrf_ok(s, "")
    assert not csrf_ok(None, s.csrf)
    assert new_session(token="t", role="admin", name="a").csrf != s.csrf


def _t(key: str, **kw: object) -> str:
    return key


def test_sheet_form_round_trip_and_field_errors() -> None:
    sheet = Sheet(id="SH-1", software_name="Syngo", mac="00-11-22-33-44-55", vlan=110,
                  interfaces=[{"peer": "PACS", "protocol": "dicom", "port": 104}], servers=[{"name": "10.50.0.40", "role": "backup"}],
                  remote_maintenance={"method": "rdp", "gateway": "bastion"}, last_review=dt.date(2026, 1, 5))
    form = sheet_to_form(sheet)
    assert set(form) <= set(FIELD_NAMES)
    again, errors, _ = parse_sheet_form(form, _t)
    assert errors == {} and again == sheet
    bad, errors, values = parse_sheet_form({**form, "mac": "zz", "vlan": "5000", "software_name": "", "interfaces": "a:b:c:d"}, _t)
    assert bad is None
    assert set(errors) == {"mac", "vlan", "software_name", "interfaces"}
    assert values["mac"] == "zz"  # shown again as typed


def test_risk_acceptance_needs_justification_and_future_expiry() -> None:
    today = dt.date(2026, 6, 1)
    assert parse_acceptance({"justification": "isolated VLAN", "expires": "2026-12-31"}, _t, today) == (
        "isolated VLAN", dt.date(2026, 12, 31), {})
    _, _, errors = parse_acceptance({"justification": " ", "expires": ""}, _t, today)
    assert set(errors) == {"justification", "expires"}
    assert set(parse_acceptance({"justification": "x", "expires": "2026-05-01"}, _t, today)[2]) == {"expires"}
    assert set(parse_acceptance({"justification": "x", "expires": "31/12/2026"}, _t, today)[2]) == {"expires"}


def _dev(mac: str, ip: str, zone: str, **kw: object) -> Device:
    return Device(mac=mac, ips=[ip], zone=zone, **kw)


def _finding(rule: str, ips: list[str], fid: str = "MT-1") -> Finding:
    return Finding(id=fid, rule=rule, severity="high", title=f"{rule} <b>", service="it", ips=ips)


def test_map_marks_policy_edges_red_links_nodes_and_escapes() -> None:
    devices = [
        _dev("00:00:00:00:00:01", "10.10.110.5", "imaging", is_dm=True, hostname="<script>alert(1)</script>"),
        _dev("00:00:00:00:00:02", "10.50.0.20", "servers"),
        _dev("00:00:00:00:00:03", "10.30.0.9", "wifi", is_dm=True, connection="wifi"),
    ]
    edges = [Edge("10.10.110.5", "10.50.0.20", 104, "tcp", "dicom"), Edge("10.10.110.5", "203.0.113.7", 443, "tcp"),
             Edge("10.30.0.9", "10.50.0.20", 2575, "tcp"), Edge("0.0.0.0", "255.255.255.255", 67, "udp"),
             Edge("10.30.0.9", "10.30.0.255", 137, "udp"), Edge("10.30.0.9", "224.0.0.251", 5353, "udp"),
             Edge("10.30.0.9", "10.99.0.4", 22, "tcp")]
    findings = [_finding("dm-internet", ["10.10.110.5", "203.0.113.7"], "MT-aaa"),
                _finding("cleartext-medical", ["10.10.110.5"], "MT-bbb"),  # one end only: not red
                _finding("undeclared-device", ["10.30.0.9", "10.50.0.20"], "MT-ccc")]  # not a policy rule
    svg = render_map(devices, edges, findings)
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count('class="edge edge-bad"') == 1
    assert 'href="/findings/MT-aaa"' in svg and "MT-bbb" not in svg and "MT-ccc" not in svg
    for mac in ("00:00:00:00:00:01", "00:00:00:00:00:02", "00:00:00:00:00:03"):
        assert f'href="/devices/{mac.replace(":", "%3A")}"' in svg
    assert svg.count("node-wifi") == 1 and 'data-zone="external"' in svg
    assert "0.0.0.0" not in svg and ".255" not in svg and "224.0.0.251" not in svg  # not peers
    assert re.search(r'data-key="10\.99\.0\.4"', svg) and 'node-external' not in svg.split('data-key="10.99.0.4"')[1][:80]
    assert [e.finding_id for e in policy_edges(devices, edges, findings)] == ["MT-aaa"]
    assert render_map(list(reversed(devices)), list(reversed(edges)), findings) == svg  # deterministic


def test_compare_flags_only_real_differences() -> None:
    dev = Device(mac="00:00:00:00:00:01", ips=["10.10.110.5"], vlans=[110], hostname="MOD-CT1", names=["mod-ct1.lan"],
                 connection="wired", os="Windows 7", protocols=["rdp/server", "dicom/client"])
    same = Sheet(id="S", software_name="x", mac="00:00:00:00:00:01", ip="10.10.110.5", vlan=110, workstation="MOD-CT1.example",
                 connection="wired", os_name="Windows", os_version="7", remote_maintenance={"method": "rdp"})
    assert not any(r.differs for r in compare_rows(dev, same))
    other = same.model_copy(update={"vlan": 120, "ip": "10.10.110.6", "connection": "wifi", "os_name": "Linux",
                                    "remote_maintenance": same.remote_maintenance.model_copy(update={"method": "none"})})
    flagged = {r.label for r in compare_rows(dev, other) if r.differs}
    assert flagged == {"compare.vlan", "compare.ip", "compare.connection", "compare.os", "compare.remote"}
    assert not any(r.differs for r in compare_rows(dev, None))


@pytest.mark.parametrize("name", sorted(p.name for p in (WEB / "templates").glob("*.html")))
def test_every_input_has_a_label_and_tables_have_scoped_headers(name: str) -> None:
    text = (WEB / "templates" / name).read_text(encoding="utf-8")
    for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", text):
        if 'type="hidden"' in tag:
            continue
        ident = re.search(r'id="([^"]+)"', tag)
        assert ident, f"{name}: control without id: {tag}"
        assert f'for="{ident.group(1)}"' in text, f"{name}: no <label for> for {ident.group(1)}"
    for th in re.findall(r"<th\b[^>]*>", text):
        assert "scope=" in th, f"{name}: {th}"


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_text_colours_meet_wcag_aa_contrast() -> None:
    css = (WEB / "static" / "medtap.css").read_text(encoding="utf-8")
    checked = 0
    for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", re.sub(r"/\*.*?\*/", "", css, flags=re.S)):
        fg = re.search(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{6})", body)
        bg = re.search(r"background(?:-color)?:\s*(#[0-9a-fA-F]{6})", body)
        if fg:
            back = bg.group(1) if bg else "#ffffff"
            ratio = _contrast(fg.group(1), back)
            assert ratio >= 4.5, f"{selector.strip()}: {fg.group(1)} on {back} = {ratio:.2f}"
            checked += 1
    assert checked >= 30
