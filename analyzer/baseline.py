"""Baseline of known devices and conversations, so that `new-device`/`new-conversation` can fire.

Saved as JSON (`medtap baseline save`).  Conversations are unordered address pairs ("a<->b"),
which is what a report (devices with their peers) can reproduce.  A randomised (locally
administered) MAC that comes back with the same DHCP fingerprint AND hostname as a known device
is the same device (aliases: "fingerprint|hostname" -> MAC).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from analyzer.models import Device, Report

BASELINE_SCHEMA = 1


def pair(a: str, b: str) -> str:
    x, y = sorted((a, b))
    return f"{x}<->{y}"


def alias_key(device: Device) -> str | None:
    fps = sorted({f.value for f in device.facts if f.attribute == "dhcp_fingerprint"})
    names = sorted({f.value for f in device.facts if f.attribute == "hostname" and f.source == "dhcp.opt12"})
    if not fps or not names:
        return None
    return f"{fps[0]}|{names[0].lower()}"


@dataclass
class Baseline:
    devices: set[str] = field(default_factory=set)
    conversations: set[str] = field(default_factory=set)
    aliases: dict[str, str] = field(default_factory=dict)

    def knows_device(self, device: Device) -> bool:
        if device.mac in self.devices:
            return True
        if device.random_mac:
            key = alias_key(device)
            return key is not None and key in self.aliases
        return False

    def knows_pair(self, a: str, b: str) -> bool:
        return pair(a, b) in self.conversations

    def to_json(self) -> dict[str, object]:
        return {"schema": BASELINE_SCHEMA, "devices": sorted(self.devices),
                "conversations": sorted(self.conversations),
                "aliases": dict(sorted(self.aliases.items()))}


def baseline_from_devices(devices: list[Device]) -> Baseline:
    b = Baseline()
    for d in devices:
        b.devices.add(d.mac)
        for ip in d.ips:
            for peer in d.peers:
                b.conversations.add(pair(ip, peer))
        key = alias_key(d)
        if key is not None:
            b.aliases[key] = d.mac
    return b


def baseline_from_report(report: Report) -> Baseline:
    return baseline_from_devices(report.devices)


def save_baseline(baseline: Baseline, path: Path | str) -> None:
    Path(path).write_text(json.dumps(baseline.to_json(), indent=1) + "\n", encoding="utf-8")


def load_baseline(path: Path | str) -> Baseline:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("schema") != BASELINE_SCHEMA:
        raise ValueError(f"{path}: not a medtap baseline (schema {BASELINE_SCHEMA})")
    return Baseline(set(data.get("devices", [])), set(data.get("conversations", [])),
                    dict(data.get("aliases", {})))
