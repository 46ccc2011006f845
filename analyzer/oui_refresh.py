"""Regenerate rules/ieee_mac_blocks.tsv, the dated snapshot of the IEEE MAC address block registries.

    python -m analyzer.oui_refresh --date 2026-12-07 --source "IEEE RA CSVs downloaded 2026-12-07" \
        oui.csv mam.csv oui36.csv iab.csv
    python -m analyzer.oui_refresh --date 2026-10-24 --source "Wireshark manuf ..." --manuf manuf

Inputs are the IEEE Registration Authority's public CSVs (oui.csv = MA-L, mam.csv = MA-M,
oui36.csv = MA-S, iab.csv = IAB; columns Registry, Assignment, Organization Name, ...) or
Wireshark's `manuf` file, which merges the same four registries (`tshark -G manuf`; Debian's
libwireshark-data ships one in /usr/share/wireshark/manuf).  From `manuf` only the block and the
registry's organisation name are kept, never Wireshark's short names; well-known multicast
addresses, blocks of other sizes and the "IEEE Registration Authority" parent blocks of MA-M and
MA-S assignments are dropped.

The output has one line per block: the block as hex digits (6 = 24-bit MA-L, 7 = 28-bit MA-M,
9 = 36-bit MA-S or IAB), a tab, the organisation.  The header records the source and the date of
the data, which analyzer.macs reads to tell when the snapshot is stale.  No network: the files are
given.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from analyzer.macs import REGISTRY_FILE

SIZES = {24: 6, 28: 7, 36: 9}
"""Block width in bits -> hex digits of its prefix (MA-L, MA-M, MA-S/IAB)."""
_CSV_REGISTRIES = {"MA-L": 6, "MA-M": 7, "MA-S": 9, "IAB": 9}
_RA = "IEEE Registration Authority"
"""Holder of the MA-L blocks it divides into MA-M and MA-S blocks: says nothing about a device, dropped
(an address in an unassigned part of such a block is unknown, as the registry has no owner for it)."""
_SPACES = re.compile(r"\s+")
_MANUF_BLOCK = re.compile(r"^([0-9A-Fa-f]{2}(?:[:\-.][0-9A-Fa-f]{2}){2,5})(?:/(\d+))?$")


class RefreshError(ValueError):
    """An input file cannot be read as a registry; the message names it."""


def _org(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def read_ieee_csv(path: Path) -> Iterator[tuple[str, str]]:
    """(hex prefix, organisation) of each assignment of one IEEE RA CSV."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        columns = {"Registry", "Assignment", "Organization Name"}
        if not reader.fieldnames or not columns <= set(reader.fieldnames):
            raise RefreshError(f"{path}: not an IEEE registry CSV (Registry, Assignment, Organization Name)")
        for row in reader:
            width = _CSV_REGISTRIES.get((row["Registry"] or "").strip())
            block = (row["Assignment"] or "").strip().upper()
            org = _org(row["Organization Name"] or "")
            if width is None or len(block) != width or not re.fullmatch(r"[0-9A-F]+", block) or not org:
                continue  # CID (not a MAC block) or a malformed row
            yield block, org


def read_manuf(path: Path) -> Iterator[tuple[str, str]]:
    """(hex prefix, organisation) of each 24-, 28- or 36-bit unicast block of a Wireshark manuf file."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip() or line.startswith("#"):
                continue
            fields = [f.strip() for f in line.rstrip("\n").split("\t")]
            match = _MANUF_BLOCK.match(fields[0])
            if match is None:
                continue
            digits = re.sub(r"[:\-.]", "", match.group(1)).upper()
            bits = int(match.group(2)) if match.group(2) else 4 * len(digits)
            width = SIZES.get(bits)
            if width is None or len(digits) < width or int(digits[:2], 16) & 0x01:
                continue  # well-known multicast addresses, other sizes
            org = _org(fields[2] if len(fields) > 2 and fields[2] else fields[1] if len(fields) > 1 else "")
            if org:
                yield digits[:width], org


def render(blocks: Iterable[tuple[str, str]], date: dt.date, source: str) -> str:
    """The snapshot text: header (date, source, format) then one sorted line per block (first wins)."""
    table: dict[str, str] = {}
    for block, org in blocks:
        if org.casefold() != _RA.casefold():
            table.setdefault(block, org)
    counts = {bits: sum(1 for b in table if len(b) == w) for bits, w in SIZES.items()}
    header = [
        "# IEEE MAC address block registries (MA-L, MA-M, MA-S, IAB) for medtap's vendor lookup.",
        f"# snapshot-date: {date.isoformat()}",
        f"# source: {_org(source)}",
        "# generated-by: python -m analyzer.oui_refresh (see its docstring to refresh)",
        f"# blocks: {counts[24]} of 24 bits (MA-L), {counts[28]} of 28 bits (MA-M), "
        f"{counts[36]} of 36 bits (MA-S, IAB)",
        "# format: hex prefix (6, 7 or 9 digits = 24, 28 or 36 bits) TAB organisation; longest prefix wins",
    ]
    body = [f"{block}\t{table[block]}" for block in sorted(table)]
    return "\n".join(header + body) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="*", type=Path,
                        help="IEEE RA CSVs (oui.csv, mam.csv, oui36.csv, iab.csv)")
    parser.add_argument("--manuf", type=Path, action="append", default=[], help="a Wireshark manuf file")
    parser.add_argument("--date", type=dt.date.fromisoformat, default=dt.datetime.now(dt.UTC).date(),
                        help="date of the data (default: today, UTC)")
    parser.add_argument("--source", required=True, help="where the files came from (kept in the header)")
    parser.add_argument("--output", type=Path, default=None,
                        help="default: the table of the packaged rules folder")
    args = parser.parse_args(argv)
    if not args.csv and not args.manuf:
        parser.error("give the IEEE CSVs or --manuf")
    blocks: list[tuple[str, str]] = []
    try:
        for path in args.csv:  # the official registries first: they win over a merged file
            blocks += read_ieee_csv(path)
        for path in args.manuf:
            blocks += read_manuf(path)
    except (OSError, RefreshError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not blocks:
        print("error: no MAC block found in the inputs", file=sys.stderr)
        return 1
    from collector.datafiles import packaged_rules_dir

    output = args.output or packaged_rules_dir() / REGISTRY_FILE
    output.write_text(render(blocks, args.date, args.source), encoding="utf-8")
    print(f"{output}: {len(set(b for b, _ in blocks))} blocks, dated {args.date.isoformat()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
