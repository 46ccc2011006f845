"""Regenerate the Windows entries of rules/os_eol.yaml from endoflife.date's data (MIT licence).

    python -m analyzer.os_eol_refresh --commit <sha> --date <commit date> \
        windows.md windows-embedded.md windows-server.md

The inputs are the product pages of the endoflife-date/endoflife.date repository (products/*.md: a
YAML front matter with one `releases` item per release cycle).  Each cycle becomes an entry with its
version, release, edition, last build, release date and end of security support (`eol`; paid
Extended Security Updates are not support).  Edition keys (analyzer.os_eol.EDITIONS) come from the
cycle names: `-w` Home/Pro, `-e` Enterprise/Education/IoT Enterprise, `-e-lts` Enterprise LTSC,
`-iot-lts` IoT Enterprise LTSC; a cycle without suffix covers every edition of its release.
Microsoft's names of the LTSC releases (LTSC 2021 = 21H2...) are written below from Microsoft's
lifecycle pages, as the data has the release only.  Entries without `from` (Linux, written by hand)
are kept as they are.  Server semi-annual channel releases are left out (Server Core only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from collector.yamlsafe import read_text, safe_load

LTSC_NAMES = {
    ("10", "1507"): "LTSB 2015", ("10", "1607"): "LTSB 2016", ("10", "1809"): "LTSC 2019",
    ("10", "21H2"): "LTSC 2021", ("11", "24H2"): "LTSC 2024",
}
"""Microsoft's names of the long-term servicing releases."""

_WINDOWS = re.compile(r"^(10|11)-(\d{4}|\d\dh\d)(?:-(w|e|e-lts|iot-lts|iot))?$")
_OLD_WINDOWS = {"8.1": "8.1", "8": "8", "7-sp1": "7", "6-sp2": "Vista", "5-sp3": "XP"}
_EMBEDDED = re.compile(r"^(standard|posready|compact|industry|pro)-(7|8\.1|2013)(?:-sp\d)?$|"
                       r"^(8\.1)-(industry|pro)$")
_SERVER = re.compile(r"^(2000|2003|2008|2012|2016|2019|2022|2025)(-r2)?(?:-sp\d)?$")


def releases(path: Path) -> list[dict[str, Any]]:
    """The `releases` of an endoflife.date product page (its YAML front matter)."""
    text = read_text(path)
    parts = text.split("\n---", 1)
    if not text.startswith("---") or len(parts) < 2:
        raise ValueError(f"{path}: no YAML front matter")
    data = safe_load(parts[0][3:])
    out = data.get("releases") if isinstance(data, dict) else None
    if not isinstance(out, list):
        raise ValueError(f"{path}: no releases")
    return out


def entry(product: str, item: dict[str, Any]) -> dict[str, Any] | None:
    """The table entry of one release cycle, None for the cycles medtap does not look up."""
    cycle = str(item["releaseCycle"])
    eol = item.get("eol")
    if not isinstance(eol, dt.date):
        return None  # no fixed date (true/false): not a dated end of support
    release: str | None = None
    edition: str | None = None
    label = str(item.get("releaseLabel") or cycle)
    if product == "windows":
        m = _WINDOWS.match(cycle)
        if m:
            version, release, edition = m.group(1), m.group(2).upper(), m.group(3)
        elif cycle in _OLD_WINDOWS:
            version = _OLD_WINDOWS[cycle]
        else:
            return None
        label = f"Windows {version}" + (f" {release}" if release else "")
        label += f" {_edition_label(edition)}" if edition else ""
    elif product == "windows-embedded":
        m = _EMBEDDED.match(cycle)
        if not m:
            return None
        kind, version = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        edition = f"embedded-{kind}"
        label = f"Windows Embedded {kind.capitalize() if kind != 'posready' else 'POSReady'} {version}"
    elif product == "windows-server":
        m = _SERVER.match(cycle)
        if not m:
            return None
        year, r2 = m.group(1), " R2" if m.group(2) else ""
        version = year if year == "2000" else f"Server {year}{r2}"
        label = f"Windows {version}"
    else:
        raise ValueError(f"unknown product {product!r}")
    out: dict[str, Any] = {"family": "Windows", "version": version}
    if release:
        out["release"] = release
    if edition:
        out["edition"] = edition
    name = LTSC_NAMES.get((version, release or "")) if edition in ("e-lts", "iot-lts") else None
    if name:
        out["names"] = [name]
    if item.get("latest"):
        out["build"] = str(item["latest"])
    if isinstance(item.get("releaseDate"), dt.date):
        out["released"] = item["releaseDate"]
    out["eol"] = eol
    out["label"] = label + (f" ({name})" if name else "")
    out["from"] = f"{product}/{cycle}"
    out["reference"] = f"endoflife.date {product} {cycle}" + (f": {item['link']}" if item.get("link") else "")
    return out


def _edition_label(edition: str) -> str:
    from analyzer.os_eol import EDITIONS

    return EDITIONS[edition]


def generate(pages: list[Path], hand: list[dict[str, Any]], commit: str, date: dt.date) -> str:
    """The whole table: a header naming the source, the hand-written entries, then the generated ones."""
    generated: dict[tuple[Any, ...], dict[str, Any]] = {}
    for page in pages:
        product = page.name.removesuffix(".md")
        for item in releases(page):
            e = entry(product, item)
            if e is None:
                continue
            key = (e["version"], e.get("release"), e.get("edition"))
            if key not in generated or e["eol"] > generated[key]["eol"]:  # service packs: the last one
                generated[key] = e
    header = (
        "# End-of-support table.  `family` and `version` are compared case-insensitively with the OS hint;\n"
        "# `version` is a prefix match on the dotted version (\"2.6\" covers \"2.6.32\").\n"
        "# `release`, `edition` (see analyzer.os_eol.EDITIONS), `names` and `build` tell apart the dates of\n"
        "# one version.\n"
        "# Entries with `from` are generated by `python -m analyzer.os_eol_refresh` from endoflife.date\n"
        "# (MIT licence, github.com/endoflife-date/endoflife.date, products/windows*.md)\n"
        f"# source-commit: {commit}\n"
        f"# source-date: {date.isoformat()}\n"
        "# Entries without `from` are written by hand and kept by the generator.\n"
    )
    body = yaml.safe_dump({"os_eol": hand + list(generated.values())}, sort_keys=False, allow_unicode=True,
                          default_flow_style=None, width=1000)
    return header + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", type=Path,
                        help="windows.md, windows-embedded.md, windows-server.md")
    parser.add_argument("--commit", required=True, help="endoflife.date commit the pages come from")
    parser.add_argument("--date", required=True, type=dt.date.fromisoformat, help="date of that commit")
    parser.add_argument("--table", type=Path, default=None,
                        help="the table to rewrite (default: the packaged rules/os_eol.yaml)")
    args = parser.parse_args(argv)
    from collector.datafiles import packaged_rules_dir

    table = args.table or packaged_rules_dir() / "os_eol.yaml"
    current = safe_load(read_text(table)) if table.is_file() else {}
    hand = [e for e in (current or {}).get("os_eol", []) if "from" not in e]
    try:
        text = generate(args.pages, hand, args.commit, args.date)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    table.write_text(text, encoding="utf-8")
    print(f"{table}: {text.count('from: ')} generated entries, {len(hand)} kept")
    return 0


if __name__ == "__main__":
    sys.exit(main())
