"""The VLAN of a station seen only inside a Wi-Fi controller tunnel, from its SSID (issue 20 item 7).

A frame carried in CAPWAP, LWAPP or Aruba GRE shows the tunnel's tag (access point to controller),
never the station's VLAN, so the inventory leaves such a station's `vlans` empty (unknown, never 0).
When the site policy maps the station's SSID to a VLAN (`ssids:` in site.yaml), that VLAN is the
one the controller bridges it to: the device gets it, with a `vlan` fact naming the policy line,
and its zone and `vlan-mismatch` follow from it.  A station whose SSID the policy does not map stays
unknown, and `vlan-mismatch` never fires on an unknown VLAN.  A VLAN seen on the wire always wins.
"""

from __future__ import annotations

from collections.abc import Iterable

from analyzer.models import Device, Fact
from analyzer.site import SitePolicy

SOURCE_PREFIX = "policy "
"""The source of a `vlan` fact a mapping gives: `policy site.yaml:41 ssid 'BIOMED'` (the line giving it)."""


def apply_ssid_vlans(devices: Iterable[Device], site: SitePolicy | None) -> None:
    """Give every device with no VLAN on the wire the VLANs its SSIDs map to (in place)."""
    if site is None or not site.ssids:
        return
    for d in devices:
        if d.vlans:
            continue
        mapped: set[int] = set()
        for f in [f for f in d.facts if f.attribute == "ssid"]:
            found = site.ssid_vlan(f.value)
            if found is None:
                continue
            vlan, ref = found
            mapped.add(vlan)
            d.facts.append(Fact(attribute="vlan", value=str(vlan),
                                source=f"{SOURCE_PREFIX}{ref} ssid {f.value!r}", count=f.count,
                                first_seen=f.first_seen, last_seen=f.last_seen))
        d.vlans = sorted(mapped)


def vlan_origin(device: Device) -> list[str]:
    """Where a device's VLANs came from when the policy gave them (empty when seen on the wire)."""
    return [f"VLAN {f.value} from {f.source.removeprefix(SOURCE_PREFIX)}" for f in device.facts
            if f.attribute == "vlan" and f.source.startswith(SOURCE_PREFIX)]
