"""Generate the committed sample captures, byte for byte: `python pcaps/make_samples.py [--check]`.

Writes pcaps/demo/<name>.pcap for every entry of `pcaps.demo.gen_demo.CAPTURES`, pcaps/demo2/<name>.pcap
for every entry of `pcaps.demo2.gen_demo2.CAPTURES` (the second demo hospital), and
pcaps/fixtures/<name>.pcap for every entry of each `pcaps/fixtures/gen_*.py` module's `CAPTURES`
(modules found with pkgutil, so a new generator needs no registration).  Output is deterministic:
packets carry explicit times, generators seed their own `random.Random`, and the classic pcap
global header scapy writes (magic, version 2.4, thiszone 0, sigfigs 0, snaplen, linktype) holds
nothing time-dependent; `write_pcap` checks that header after every write.

`--check` regenerates into a temporary directory and exits 1 listing every file that differs
from the committed one, is missing, or is committed without a generator.
"""

from __future__ import annotations

import argparse
import filecmp
import importlib
import pkgutil
import struct
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

PCAPS = REPO / "pcaps"
PCAP_MAGIC_US = 0xA1B2C3D4
Builder = Callable[[], list]
DEMOS = (
    ("demo", "pcaps.demo.gen_demo"),
    ("demo2", "pcaps.demo2.gen_demo2"),
    ("demo3", "pcaps.demo3.gen_demo3"),
)


def generators() -> Iterator[tuple[str, str, Builder]]:
    """(sub-directory, capture name, builder) for the demo hospitals and every fixture generator module."""
    for sub, module in DEMOS:
        for name, build in importlib.import_module(module).CAPTURES.items():
            yield sub, name, build
    fixtures = importlib.import_module("pcaps.fixtures")
    for info in sorted(pkgutil.iter_modules(fixtures.__path__), key=lambda m: m.name):
        if not info.name.startswith("gen_"):
            continue
        module = importlib.import_module(f"pcaps.fixtures.{info.name}")
        for name, build in getattr(module, "CAPTURES", {}).items():
            yield "fixtures", name, build


def write_pcap(path: Path, packets: list) -> None:
    """wrpcap with a check that the file header is the fixed classic-pcap header (no clock, no host data)."""
    from scapy.utils import wrpcap

    if not packets:
        raise ValueError(f"{path.name}: the generator returned no packet")
    for i, pkt in enumerate(packets):
        if getattr(pkt, "time", None) is None:
            raise ValueError(f"{path.name}: packet {i} has no explicit time")
    path.parent.mkdir(parents=True, exist_ok=True)
    wrpcap(str(path), packets)
    magic, major, minor, zone, sigfigs, _snap, _link = struct.unpack("<IHHiIII", path.read_bytes()[:24])
    if (magic, major, minor, zone, sigfigs) != (PCAP_MAGIC_US, 2, 4, 0, 0):
        raise ValueError(f"{path.name}: unexpected pcap header {(magic, major, minor, zone, sigfigs)}")


def generate(root: Path) -> list[Path]:
    """Write every capture under root/<sub-directory>/ and return the written paths (relative to root)."""
    written: list[Path] = []
    seen: dict[Path, str] = {}
    for sub, name, build in generators():
        rel = Path(sub) / f"{name}.pcap"
        if rel in seen:
            raise ValueError(f"capture name {name!r} produced twice")
        seen[rel] = name
        write_pcap(root / rel, build())
        written.append(rel)
    return written


def check(committed_root: Path | None = None) -> list[str]:
    """What differs between a fresh generation and the captures committed under root (default pcaps/)."""
    committed_root = PCAPS if committed_root is None else committed_root
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="medtap-samples-") as tmp:
        fresh = Path(tmp)
        generated = set(generate(fresh))
        for rel in sorted(generated):
            committed = committed_root / rel
            if not committed.exists():
                problems.append(f"missing: pcaps/{rel}")
            elif not filecmp.cmp(committed, fresh / rel, shallow=False):
                problems.append(f"differs: pcaps/{rel}")
        for sub in (*(d for d, _ in DEMOS), "fixtures"):
            for path in sorted((committed_root / sub).glob("*.pcap")):
                rel = path.relative_to(committed_root)
                if rel not in generated:
                    problems.append(f"extra (no generator): pcaps/{rel}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare a fresh generation with the committed files")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for line in problems:
            print(line)
        verdict = f"samples: {len(problems)} problem(s); run python pcaps/make_samples.py"
        print(verdict if problems else "samples: OK")
        return 1 if problems else 0
    written = generate(PCAPS)
    print(f"wrote {len(written)} captures under {PCAPS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
