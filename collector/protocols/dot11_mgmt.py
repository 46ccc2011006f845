"""802.11 management frames (IEEE 802.11-2020 9.3.3): beacons, probes and (re)associations.

A capture of the radio that holds only management frames (no data, or only protected data)
still says which access points serve which SSID and which stations look for or join them.
Kept per frame: the BSSID (address 3), the SSID element (element id 0, 9.4.2.2; at most 32
bytes; an empty or all-zero SSID is a hidden network and gives none) and the station:
- beacon (subtype 8) and probe response (5): the access point announces `ssid` on `bssid`;
  a probe response also names the station it answers (address 1);
- probe request (4): a station (address 2) looks for `ssid` (none: any network);
- association and reassociation request (0, 2): a station (address 2) joins `ssid` on `bssid`;
  their responses (1, 3) carry no SSID, only the pair (address 1 is the station).
Each becomes a `WifiObs` (evidence `dot11-mgmt`, confidence 1.0 for a station that associates,
0.9 for one that probes or is answered, which proves a radio but not a network it is on).
The frame arrives here through the pseudo ethertype `collector.dot11.MGMT`, only from a radio
link (`pkt.wifi`); a frame that is not one of these subtypes is malformed.
"""

from __future__ import annotations

from collector.dot11 import MGMT, MGMT_SUBTYPES
from collector.protocols.base import DecodeContext, Detector, Packet
from collector.schema import WifiObs

FIXED = {0: 4, 1: 6, 2: 10, 3: 6, 4: 0, 5: 12, 8: 12}  # fixed fields before the elements, per subtype
HEADER = 24


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _group(raw: bytes) -> bool:
    return bool(raw[0] & 1)


def ssid_of(body: bytes) -> str | None:
    """The SSID element of a management frame body (None when absent, hidden or malformed)."""
    pos = 0
    while pos + 2 <= len(body):
        eid, length = body[pos], body[pos + 1]
        if pos + 2 + length > len(body):
            return None
        if eid == 0:
            raw = body[pos + 2 : pos + 2 + length]
            if not raw.strip(b"\x00") or length > 32:
                return None
            return raw.decode("utf-8", "replace")
        pos += 2 + length
    return None


def decode(pkt: Packet, ctx: DecodeContext) -> list[WifiObs]:
    frame = pkt.payload
    if not pkt.wifi:
        return []  # the pseudo ethertype only comes from a radio link
    if len(frame) < HEADER:
        raise IndexError("dot11_mgmt: truncated header")
    fc0 = frame[0]
    subtype = fc0 >> 4
    if (fc0 >> 2) & 3 != 0 or subtype not in MGMT_SUBTYPES:
        raise ValueError("dot11_mgmt: not a beacon, probe or association frame")
    a1, a2, a3 = frame[4:10], frame[10:16], frame[16:22]
    body = frame[HEADER + FIXED[subtype]:]
    ssid = ssid_of(body) if subtype not in (1, 3) else None
    bssid = None if _group(a3) else _mac(a3)
    if subtype in (8, 5):
        station = None if subtype == 8 or _group(a1) else a1
        confidence = 0.9
    elif subtype in (1, 3):
        station, confidence = (None if _group(a1) else a1), 1.0
    else:
        station = a2
        confidence = 1.0 if subtype in (0, 2) else 0.9
    if _group(a2) or (station is None and bssid is None):
        return []
    client = _mac(station) if station is not None and not _group(station) else None
    if client is not None and client == bssid:
        client = None
    return [WifiObs(**pkt.envelope(), evidence="dot11-mgmt", client_mac=client, ap_mac=bssid, ssid=ssid,
                    confidence=confidence)]


DETECTOR = Detector(
    name="dot11-mgmt",
    layer="ether",
    decode=decode,
    ethertypes=frozenset({MGMT}),
    description="802.11 beacons, probes and associations: access points, stations, SSID and BSSID.",
)
