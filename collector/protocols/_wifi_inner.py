"""Helpers shared by the Wi-Fi tunnel detectors (CAPWAP, LWAPP, Aruba GRE).

They read just the addresses of an encapsulated IEEE 802.11 MAC header (IEEE Std
802.11-2020 section 9.2.4: Frame Control, Duration, Address 1..3) or of an 802.3
header, to name the wireless station and the BSSID; the full frame is re-injected
into the pipeline through `ctx.inner_frame` and decoded there.
"""

from __future__ import annotations

from typing import Any

LINKTYPE_ETHERNET = 1
LINKTYPE_IEEE802_11 = 105

_ZERO = "00:00:00:00:00:00"


def mac_str(raw: bytes) -> str:
    """Six bytes as a lower-case colon MAC."""
    if len(raw) != 6:
        raise ValueError("MAC must be 6 bytes")
    return ":".join(f"{b:02x}" for b in raw)


def is_unicast_station(mac: str | None) -> bool:
    """True for an individual, non-zero MAC (group bit clear)."""
    if not mac or mac == _ZERO:
        return False
    return int(mac[:2], 16) & 0x01 == 0


def normalise_frame_control(frame: bytes, *, swapped_by_default: bool) -> bytes:
    """The 802.11 frame with its two Frame Control bytes in standard order.

    Cisco APs send the Frame Control field byte-swapped inside CAPWAP/LWAPP (Wireshark's
    `capwap.swap_fc` preference, TRUE by default).  The protocol-version bits (two low bits
    of the type byte) are always 0, which settles most cases: a first byte with them set is
    swapped, a second byte with them set is not; otherwise `swapped_by_default` decides.
    """
    if len(frame) < 2:
        raise IndexError("802.11 frame control truncated")
    if frame[0] & 0x03:
        swapped = True
    elif frame[1] & 0x03:
        swapped = False
    else:
        swapped = swapped_by_default
    return bytes([frame[1], frame[0]]) + frame[2:] if swapped else frame


def dot11_station_and_bssid(frame: bytes) -> tuple[str | None, str | None]:
    """(station MAC, BSSID) from an 802.11 header; None where the header does not tell.

    ToDS=1/FromDS=0: A1=BSSID, A2=station.  ToDS=0/FromDS=1: A1=station, A2=BSSID.
    Neither (management/IBSS): A2 is the transmitter, A3 the BSSID; the station is A2
    unless A2 is the BSSID (the AP talking), then A1.  Both (WDS): no single station.
    """
    if len(frame) < 10:
        raise IndexError("802.11 header truncated")
    fc1 = frame[1]
    ftype = (frame[0] >> 2) & 0x3
    to_ds, from_ds = bool(fc1 & 0x01), bool(fc1 & 0x02)
    a1 = mac_str(frame[4:10])
    if ftype == 1:  # control frames: A1 only (and A2 for some); not a reliable station
        return None, None
    if len(frame) < 24:
        raise IndexError("802.11 header truncated")
    a2 = mac_str(frame[10:16])
    a3 = mac_str(frame[16:22])
    bssid: str | None
    if to_ds and not from_ds:
        station, bssid = a2, a1
    elif from_ds and not to_ds:
        station, bssid = a1, a2
    elif not to_ds and not from_ds:
        bssid = a3
        station = a1 if a2 == a3 else a2
    else:
        return None, None
    bssid = bssid if is_unicast_station(bssid) else None
    if not is_unicast_station(station) or station == bssid:
        return None, bssid  # group address, zero, or the AP talking for itself
    return station, bssid


def ether_src_dst(frame: bytes) -> tuple[str, str]:
    """(source, destination) MACs of an Ethernet II / 802.3 frame."""
    if len(frame) < 14:
        raise IndexError("802.3 header truncated")
    return mac_str(frame[6:12]), mac_str(frame[0:6])


def reinject_dot11(pkt: Any, ctx: Any, frame: bytes, tunnel: str) -> list[Any]:
    """Hand an encapsulated 802.11 frame back to the pipeline and name its wireless station.

    Shared by the tunnels that carry raw 802.11 (LWAPP, Aruba GRE); `pkt` is the outer
    collector.protocols.base.Packet, `ctx` its DecodeContext.
    """
    from collector.schema import WifiObs

    station, bssid = dot11_station_and_bssid(frame)
    ctx.inner_frame(frame, LINKTYPE_IEEE802_11, tunnel, pkt.ts, pkt.frame_no)
    if station is None:
        return []
    return [WifiObs(**pkt.envelope(), evidence=tunnel, client_mac=station, ap_mac=bssid, confidence=1.0)]
