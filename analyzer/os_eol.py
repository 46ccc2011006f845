"""Operating-system end of support: rules/os_eol.yaml (vendor lifecycle dates with a reference).

An entry is a family, a version (a prefix of the hint's version: "2.6" covers "2.6.32"), and for
Windows the release (21H2, 1809...) and the edition it covers, since one Windows version has several
dates: Windows 10 Home and Pro ended in October 2025, Windows 10 Enterprise LTSC 2021 ends in
January 2027 and Windows 10 IoT Enterprise LTSC 2021 in January 2032.  The Windows entries are
generated from endoflife.date's data by analyzer.os_eol_refresh; the others are written by hand.

The lookup (`eol_verdict`) takes the entries of the longest matching version, keeps those whose
release the evidence names (the release, the build number, or the LTSC year), then those of the
edition it names (Home/Pro, Enterprise/Education, LTSC, IoT LTSC, Embedded...).  What the evidence
does not name is assumed: the most common edition (Home/Pro; Standard among the Embedded ones) and
its latest release, and the verdict says so where another edition or release would change it.
DHCP option 55 fingerprints (rules/os_fingerprints.yaml) give a weak OS guess when no other hint
exists.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from analyzer.paths import DataFileError
from analyzer.yamlload import load_file

EDITIONS: dict[str, str] = {
    "w": "Home/Pro",
    "e": "Enterprise/Education",
    "e-lts": "Enterprise LTSC",
    "iot-lts": "IoT Enterprise LTSC",
    "iot": "IoT",
    "embedded-standard": "Embedded Standard",
    "embedded-posready": "Embedded POSReady",
    "embedded-compact": "Embedded Compact",
    "embedded-industry": "Embedded Industry",
    "embedded-pro": "Embedded Pro",
}
"""Edition keys of the table and how a verdict names them."""

_ASSUMED_ORDER = (None, "w", "e", "embedded-standard", "e-lts", "iot-lts", "iot", "embedded-posready",
                  "embedded-compact", "embedded-industry", "embedded-pro")
"""When the evidence names no edition: the most common first (an entry without edition covers all)."""

_FALLBACK = {"iot-lts": "e-lts", "iot": "e"}
"""An edition the table has no entry for at that release: the one whose lifecycle covers it
(Microsoft's Enterprise LTSC dates cover IoT Enterprise LTSC unless the IoT one is listed apart)."""

_GENERAL = frozenset({"w", "e", "iot"})
"""Editions of the general-availability channel: an entry without edition (a release's date for all its
editions) covers them too; the LTSC and Embedded editions have their own channels and dates."""

_EDITION_WORDS = re.compile(
    r"^(?:microsoft|windows|embedded|standard|posready|compact|iot|enterprise|education|pro|professional|"
    r"home|ltsc|ltsb|industry|for|workstations|n|kn|sp\d)\s+")


@dataclass(frozen=True)
class EolEntry:
    family: str
    version: str
    eol: dt.date
    reference: str
    release: str | None = None
    edition: str | None = None
    names: tuple[str, ...] = ()
    build: str | None = None
    released: dt.date | None = None
    label: str = ""

    @property
    def title(self) -> str:
        return self.label or f"{self.family} {self.version}"


@dataclass(frozen=True)
class EolVerdict:
    """The entry that applies to an OS hint, whether its date has passed, and why it was chosen."""

    entry: EolEntry
    obsolete: bool
    assumed: tuple[str, ...]

    @property
    def basis(self) -> str:
        e = self.entry
        state = "ended" if self.obsolete else "ends"
        text = f"{e.title}: support {state} {e.eol.isoformat()} ({e.reference})"
        if self.assumed:
            text += f"; the evidence names no {' and no '.join(self.assumed)}"
        return text


@dataclass(frozen=True)
class DhcpFingerprint:
    fingerprint: str
    family: str
    version: str | None
    confidence: float


def _date(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


@lru_cache(maxsize=8)
def load_eol(path: Path) -> tuple[EolEntry, ...]:
    if not path.is_file():
        raise DataFileError(f"{path}: data table missing (a rules folder must have it; "
                            "see collector.datafiles)")
    data = load_file(path) or {}
    out = []
    for e in data.get("os_eol", []):
        edition = None if e.get("edition") is None else str(e["edition"])
        if edition is not None and edition not in EDITIONS:
            raise DataFileError(f"{path}: unknown edition {edition!r} (one of {', '.join(EDITIONS)})")
        out.append(EolEntry(
            str(e["family"]), str(e["version"]), _date(e["eol"]), str(e.get("reference", "")),
            None if e.get("release") is None else str(e["release"]), edition,
            tuple(str(n) for n in e.get("names", ())), None if e.get("build") is None else str(e["build"]),
            None if e.get("released") is None else _date(e["released"]), str(e.get("label", ""))))
    return tuple(out)


@lru_cache(maxsize=8)
def load_fingerprints(path: Path) -> tuple[DhcpFingerprint, ...]:
    if not path.is_file():
        raise DataFileError(f"{path}: data table missing (a rules folder must have it; "
                            "see collector.datafiles)")
    data = load_file(path) or {}
    return tuple(
        DhcpFingerprint(str(e["fingerprint"]), str(e["family"]), None if e.get("version") is None
                        else str(e["version"]), float(e.get("confidence", 0.4)))
        for e in data.get("fingerprints", [])
    )


def edition_named(text: str) -> str | None:
    """The edition key an OS text names ("Windows 10 IoT Enterprise LTSC 2021" -> iot-lts), else None."""
    t = f" {text.lower()} "
    lts = re.search(r"\blts[bc]\b|long.term servicing", t) is not None
    if re.search(r"\bembedded\b|\bposready\b|\bwes7?\b|\bwindows ce\b", t):
        for word, key in (("posready", "embedded-posready"), ("compact", "embedded-compact"),
                          (" ce ", "embedded-compact"), ("industry", "embedded-industry"),
                          ("standard", "embedded-standard"), ("wes", "embedded-standard"),
                          (" pro", "embedded-pro")):
            if word in t:
                return key
        return "embedded"
    if re.search(r"\biot\b", t):
        return "iot-lts" if lts else "e" if "enterprise" in t else "iot"
    if lts:
        return "e-lts"
    if re.search(r"\bpro(fessional)? education\b|\bhome\b|\bpro(fessional)?\b|\bworkstations?\b", t):
        return "w"
    if re.search(r"\benterprise\b|\beducation\b", t):
        return "e"
    return None


def _version_text(family: str, version: str) -> str:
    v = version.strip().lower()
    if v.startswith(family.lower() + " "):
        v = v[len(family) + 1:]
    while True:  # "Embedded Standard 7", "Microsoft Windows 10 Pro" -> the version first
        stripped = _EDITION_WORDS.sub("", v, count=1)
        if stripped == v:
            return v
        v = stripped


def _version_matches(text: str, ev: str) -> bool:
    return (text == ev or text.startswith(ev + ".") or text.startswith(ev + " ")
            or (ev.endswith(".") and text.startswith(ev)))


def _release_named(entry: EolEntry, text: str) -> bool:
    words = [entry.release] if entry.release else []
    words += list(entry.names)
    if entry.build:
        words.append(entry.build.rsplit(".", 1)[-1])
    return any(re.search(rf"(?<!\w){re.escape(w.lower())}(?!\w)", text) for w in words)


def eol_verdict(family: str | None, version: str | None, table: tuple[EolEntry, ...],
                today: dt.date) -> EolVerdict | None:
    """The entry for an OS hint (see the module docstring), None when the table has none."""
    if not family or not version:
        return None
    full = f" {version.lower()} "
    text = _version_text(family, version)
    same_family = [e for e in table if e.family.lower() == family.lower()]
    versions = [e.version for e in same_family if _version_matches(text, e.version.lower())]
    if not versions:
        return None
    longest = max(versions, key=len)
    candidates = [e for e in same_family if e.version == longest]
    assumed: list[str] = []
    named = [e for e in candidates if _release_named(e, full)]
    release_named = bool(named)
    if named:
        candidates = named
    edition = edition_named(f"{family} {version}")
    chosen = _by_edition(candidates, edition)
    # an assumption is worth saying only where another edition or release would change the verdict
    split = len({e.eol <= today for e in chosen}) > 1
    edition_assumed = split and edition in (None, "embedded") and len({e.edition for e in chosen}) > 1
    release_assumed = split and not release_named and len({e.release for e in chosen}) > 1
    if edition not in (None, "embedded"):
        best = max(chosen, key=lambda e: (e.released or dt.date.min, e.edition == edition, e.eol))
    else:
        best = min(chosen, key=lambda e: (_rank(e.edition), -(e.released or dt.date.min).toordinal(),
                                          -e.eol.toordinal()))
    if edition_assumed:
        assumed.append("edition (assumed " + (f"{EDITIONS[best.edition]}, the most common"
                                               if best.edition else "a general-availability edition, "
                                               "not LTSC, IoT or Embedded") + ")")
    if release_assumed:
        assumed.append(f"release (assumed the latest, {best.release})")
    return EolVerdict(best, best.eol <= today, tuple(assumed))


def _rank(edition: str | None) -> int:
    return _ASSUMED_ORDER.index(edition) if edition in _ASSUMED_ORDER else len(_ASSUMED_ORDER)


def _by_edition(candidates: list[EolEntry], edition: str | None) -> list[EolEntry]:
    """The candidates of the named edition (or its fallback), else those covering every edition, else all."""
    if edition is None:
        return candidates
    want: str | None = edition
    while want is not None:
        exact = [e for e in candidates if e.edition == want
                 or (want == "embedded" and (e.edition or "").startswith("embedded"))
                 or (want in _GENERAL and e.edition is None)]
        if exact:
            return exact
        want = _FALLBACK.get(want)
    return [e for e in candidates if e.edition is None] or candidates


def refine_with_declared(family: str | None, version: str | None, declared: str, table: tuple[EolEntry, ...],
                         today: dt.date) -> EolVerdict | None:
    """The verdict for an identification sheet's OS text ("Windows 10 IoT Enterprise LTSC 2021") when it is
    about the version the evidence shows and names more of it (edition, release), else None: the sheet
    tells apart what the wire cannot, never contradicts it."""
    observed = eol_verdict(family, version, table, today)
    stated = eol_verdict(family, declared, table, today)
    if observed is None or stated is None or stated.entry.version != observed.entry.version:
        return None
    return stated if len(stated.assumed) < len(observed.assumed) else None


def eol_entry(family: str | None, version: str | None, table: tuple[EolEntry, ...],
              today: dt.date) -> EolEntry | None:
    """The entry of `eol_verdict` when its end-of-support date has passed, else None."""
    verdict = eol_verdict(family, version, table, today)
    return verdict.entry if verdict is not None and verdict.obsolete else None
