"""Real public captures: what medtap finds beside tshark (devices) and nDPI (protocol names).

For each capture in ../shared/pcaps/real (MANIFEST.md lists their origin):

- devices: the devices of medtap's report beside tshark's distinct source MAC and source IP
  counts (`eth.src`/`wlan.sa`, `ip.src`/`ipv6.src`), printed, not judged (a router or a
  broadcast-only sender is not always a device);
- protocols: per in-scope protocol, the captures where medtap names it in `devices[].protocols`
  against those where nDPI's reader (`ndpiReader -v 2 -i FILE`, Debian `libndpi-bin`, nDPI 4.2)
  names it in a flow line.  nDPI prints `master.app`; the app counts when it is in scope
  (`NetBIOS.SMBv23` is SMB2/3, not NetBIOS), else the master (`TLS.Google` is TLS).  nDPI's
  names are counted twice: whatever its confidence, and by content only (`Confidence: DPI...`,
  not `Match by port` or `Match by IP`): medtap names by content, ports are hints, so a flow
  with no payload on port 80 is not HTTP to it.  A flow medtap recognised whose two addresses
  are no device's of the report (loopback addresses, which are never devices; two public
  addresses, which are external peers) counts too, marked `*` in the table: recognition is what
  is compared, and the report has no device to carry it;
- beyond nDPI: the captures where medtap records what nDPI does not name at all (LLDP and CDP
  facts, 802.11 stations, 802.1ad outer tags, HL7, LWAPP and Aruba tunnels, SMB1 beside SMB2).

Exit status 1 when medtap names an in-scope protocol in fewer captures than nDPI does by content,
0 otherwise (the table also shows nDPI's count at any confidence and the captures where only a port
or an address match names it); without ndpiReader (or tshark) their columns are empty and nothing
is judged against them.
Run: `python -m tests.accuracy.real_captures [capture names...]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from analyzer.engine import analyze
from collector.pipeline import replay
from collector.schema import Conversation, SmbObs
from collector.sinks import ListSink
from tests.conftest import REAL_PCAPS
from tests.keys import TEST_KEY

# The protocols in scope and, for each, the nDPI names that mean it (nDPI prints `master.app`,
# e.g. `TLS.Google`, `NetBIOS.SMBv23`: each part is looked up) and medtap's names in
# `devices[].protocols` (the part before `/client` or `/server`).  One place: change it here.
IN_SCOPE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # ours: (nDPI names, medtap names)
    "dhcp": (("DHCP",), ("dhcp",)),
    "dns": (("DNS",), ("dns",)),
    "mdns": (("MDNS",), ("mdns",)),
    "llmnr": (("LLMNR",), ("llmnr",)),
    "netbios": (("NetBIOS",), ("netbios-ns", "netbios-dgm", "netbios-ssn")),
    "ssdp": (("SSDP",), ("ssdp",)),
    "ntp": (("NTP",), ("ntp",)),
    "http": (("HTTP",), ("http",)),
    "tls": (("TLS",), ("tls",)),
    "ssh": (("SSH",), ("ssh",)),
    "telnet": (("Telnet",), ("telnet",)),
    "ftp": (("FTP_CONTROL", "FTP"), ("ftp",)),
    "smb1": (("SMBv1",), ("smb1",)),
    "smb2/3": (("SMBv23",), ("smb2", "smb3")),
    "rdp": (("RDP",), ("rdp",)),
    "vnc": (("VNC",), ("vnc",)),
    "capwap": (("CAPWAP",), ("capwap",)),
    "snmp": (("SNMP",), ("snmp",)),
    "radius": (("RADIUS",), ("radius",)),
}
# What nDPI 4.2 does not name and medtap must keep: observation kinds (or a predicate on them).
BEYOND_NDPI = ("lldp", "cdp", "802.11", "802.1ad", "hl7", "lwapp", "aruba-gre", "smb1+smb2")

_FLOW = re.compile(r"\[proto: [0-9.]+/([^\]]+)\](?:.*?\[Confidence: ([^\]]+)\])?")
_NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # a fixed analysis date: the table must not vary by day


@dataclass
class Row:
    name: str
    devices: int = 0
    tshark_macs: int | None = None
    tshark_ips: int | None = None
    ours: set[str] = field(default_factory=set)
    flow_only: set[str] = field(default_factory=set)  # recognised in flows with no device end (in `ours`)
    ndpi: set[str] | None = None
    ndpi_content: set[str] | None = None  # named by nDPI with a DPI confidence (not by port or IP)
    beyond: set[str] = field(default_factory=set)
    error: str | None = None


def ndpi_names(ndpi: str, path: Path) -> tuple[set[str], set[str]]:
    """In-scope protocols nDPI names in any flow line of `path`: (at any confidence, by content)."""
    out = subprocess.run([ndpi, "-v", "2", "-i", str(path)], capture_output=True, text=True, timeout=300,
                         check=False).stdout
    named: set[str] = set()
    content: set[str] = set()
    for m in _FLOW.finditer(out):
        # `master.app`: the app when in scope (NetBIOS.SMBv1 is SMB1), else the master (TLS.Google is TLS)
        parts = m.group(1).split(".")
        for part in reversed(parts):
            found = {ours for ours, (names, _) in IN_SCOPE.items() if part in names}
            if found:
                named |= found
                if (m.group(2) or "").startswith("DPI"):
                    content |= found
                break
    return named, content


def tshark_counts(tshark: str, path: Path) -> tuple[int, int]:
    fields = ["eth.src", "wlan.sa", "ip.src", "ipv6.src"]
    cmd = [tshark, "-n", "-r", str(path), "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    cmd += [a for f in fields for a in ("-e", f)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False).stdout
    macs, ips = set(), set()
    for line in out.splitlines():
        f = (line.split("\t") + ["", "", "", ""])[:4]
        macs.update(m for m in f[:2] if m)
        ips.update(i for i in f[2:] if i)
    return len(macs), len(ips)


def medtap_names(protocols: Iterable[str]) -> set[str]:
    apps = {p.rsplit("/", 1)[0] for p in protocols}
    return {ours for ours, (_, names) in IN_SCOPE.items() if apps & set(names)}


def run_medtap(path: Path) -> tuple[int, set[str], set[str], set[str]]:
    """(devices, in-scope protocols named in devices[].protocols or in flows with no device end, those
    of flows only, beyond-nDPI evidence) of one capture."""
    sink = ListSink()
    replay([path], sink, key=TEST_KEY)
    report = analyze(sink.observations, now=_NOW)
    names = medtap_names(p for d in report.devices for p in d.protocols)
    device_ips = {ip for d in report.devices for ip in d.ips}
    flow_apps = {o.app for o in sink.observations
                 if isinstance(o, Conversation) and o.app
                 and not {o.client_ip, o.server_ip} & device_ips}
    # the SMB family is on the SMB record, not the conversation (whose app is `smb`)
    flow_apps |= {family for o in sink.observations
                  if isinstance(o, SmbObs) and o.src_ip and not {o.src_ip, o.dst_ip} & device_ips
                  for family in o.versions or (("smb1",) if o.smb1 else ())}
    flow_only = medtap_names(flow_apps) - names
    names |= flow_only
    beyond: set[str] = set()
    for o in sink.observations:
        kind = o.kind
        if kind in ("lldp", "cdp", "hl7"):
            beyond.add(kind)
        elif kind == "wifi":
            beyond.add("802.11")
        if getattr(o, "outer_vlan", None) is not None:
            beyond.add("802.1ad")
    for d in report.devices:
        for t in ("lwapp", "aruba-gre"):
            if f"frames inside {t}" in d.connection_evidence:
                beyond.add(t)
    apps = {p.rsplit("/", 1)[0] for d in report.devices for p in d.protocols}
    if "smb1" in apps and apps & {"smb2", "smb3"}:
        beyond.add("smb1+smb2")
    return len(report.devices), names, flow_only, beyond


def collect(names: Sequence[str]) -> list[Row]:
    ndpi, tshark = shutil.which("ndpiReader"), shutil.which("tshark")
    rows = []
    for name in names:
        path = REAL_PCAPS / name
        row = Row(name)
        try:
            row.devices, row.ours, row.flow_only, row.beyond = run_medtap(path)
        except Exception as exc:  # noqa: BLE001 - a crash is a row of the table, not the end of it
            row.error = f"{type(exc).__name__}: {exc}"
        # a tool that hangs on one capture leaves its cell empty (n/a), not the table
        if tshark:
            try:
                row.tshark_macs, row.tshark_ips = tshark_counts(tshark, path)
            except subprocess.TimeoutExpired:
                print(f"{name}: tshark timed out", file=sys.stderr)
        if ndpi:
            try:
                row.ndpi, row.ndpi_content = ndpi_names(ndpi, path)
            except subprocess.TimeoutExpired:
                print(f"{name}: ndpiReader timed out", file=sys.stderr)
        rows.append(row)
    return rows


@dataclass
class Count:
    """One in-scope protocol over every capture."""

    ours: int
    flow_only: int
    ndpi: int | None
    ndpi_content: int | None
    missed: list[str]  # captures nDPI names it by content and medtap does not
    by_port: list[str]  # captures only nDPI's port or address match names it (and medtap does not)


def summary(rows: Sequence[Row]) -> dict[str, Count]:
    """Per in-scope protocol: what medtap and nDPI name, and where only nDPI does."""
    out: dict[str, Count] = {}
    have_ndpi = any(r.ndpi is not None for r in rows)
    for proto in IN_SCOPE:
        out[proto] = Count(
            ours=sum(proto in r.ours for r in rows), flow_only=sum(proto in r.flow_only for r in rows),
            ndpi=sum(proto in (r.ndpi or ()) for r in rows) if have_ndpi else None,
            ndpi_content=sum(proto in (r.ndpi_content or ()) for r in rows) if have_ndpi else None,
            missed=[r.name for r in rows if proto in (r.ndpi_content or ()) and proto not in r.ours],
            by_port=[r.name for r in rows if proto in (r.ndpi or ()) and proto not in (r.ndpi_content or ())
                     and proto not in r.ours])
    return out


def render(rows: Sequence[Row]) -> str:
    lines = ["| capture | devices | tshark MACs | tshark IPs | medtap names | nDPI names | medtap only |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        nd = "n/a" if r.ndpi is None else " ".join(
            p if p in (r.ndpi_content or ()) else f"({p})" for p in sorted(r.ndpi))
        only = sorted(r.beyond | (r.ours - (r.ndpi or set())))
        ours = " ".join(p + "*" if p in r.flow_only else p for p in sorted(r.ours))
        lines.append(f"| {r.name} | {r.error or r.devices} | {_n(r.tshark_macs)} | {_n(r.tshark_ips)} | "
                     f"{ours} | {nd} | {' '.join(only)} |")
    lines += ["", "`*` recognised in flows between addresses of no device (loopback, two public ones); "
              "`(x)` named by nDPI by port or address only.", "",
              "| protocol | medtap captures (* of them) | nDPI by content | nDPI any confidence | "
              "named by nDPI only, by content | by port or address only |", "|---|---|---|---|---|---|"]
    for proto, c in summary(rows).items():
        lines.append(f"| {proto} | {c.ours} ({c.flow_only}) | {_n(c.ndpi_content)} | {_n(c.ndpi)} | "
                     f"{' '.join(c.missed)} | {' '.join(c.by_port)} |")
    beyond: dict[str, int] = defaultdict(int)
    for r in rows:
        for b in r.beyond:
            beyond[b] += 1
    lines += ["", "| beyond nDPI | captures |", "|---|---|"]
    lines += [f"| {b} | {beyond.get(b, 0)} |" for b in BEYOND_NDPI]
    return "\n".join(lines)


def _n(v: int | None) -> str:
    return "n/a" if v is None else str(v)


def below_ndpi(rows: Sequence[Row]) -> list[str]:
    """Protocols medtap names in fewer captures than nDPI does by content."""
    return [f"{p}: medtap {c.ours}, nDPI by content {c.ndpi_content}" for p, c in summary(rows).items()
            if c.ndpi_content is not None and c.ours < c.ndpi_content]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("captures", nargs="*", help="capture names in the shared folder (default: all)")
    args = ap.parse_args(argv)
    if not REAL_PCAPS.is_dir():
        print(f"no shared captures at {REAL_PCAPS}", file=sys.stderr)
        return 2
    names = args.captures or sorted(p.name for p in REAL_PCAPS.iterdir()
                                    if p.suffix in (".pcap", ".pcapng", ".cap"))
    rows = collect(names)
    print(render(rows))
    if not shutil.which("ndpiReader"):
        print("\nndpiReader not installed (Debian libndpi-bin): nothing judged against nDPI", file=sys.stderr)
    bad = below_ndpi(rows)
    for line in bad:
        print(f"below nDPI: {line}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
