"""Subject `hl7_sender`: one row per HL7 v2 sender (address, MSH-3 sending application, MSH-4 sending
facility) and receiver, with the message types it sent (analyzer.writes; only MSH is ever read).

declared = a sheet declares the flow: the receiver's matched sheet lists the sender as an interface or
server (by address, host name or the sending application's name), or the sender's sheet lists the
receiver.  `any_sheet`: the receiver or the sender is matched to a sheet (when neither is, no sheet can
say whether the flow is expected: both are undeclared devices, which undeclared-device reports).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analyzer.digest import digest_of
from analyzer.writes import IDENTITY_OR_RESULTS, declared_ips, family, sheets_by_mac

SUBJECT = "hl7_sender"
FIELDS: dict[str, str] = {
    "sender_ip": "address of the sender", "receiver_ip": "address of the receiver", "receiver_port": "port",
    "sending_application": "MSH-3", "sending_facility": "MSH-4",
    "message_types": "MSH-9 values seen", "families": "MSH-9.1 values (ADT, ORU, ...)",
    "identity_or_results": "a message type creates or changes patient identity, orders or results",
    "declared": "a sheet declares this sender as an interface of the receiver (or the reverse)",
    "any_sheet": "the receiver or the sender is matched to a sheet", "receiver_is_dm": "the receiver is a DM",
    "sender_is_dm": "the sender is a DM", "receiver_hostname": "receiver name (else its address)",
    "receiver_sheet_id": "sheet matched to the receiver", "count": "messages",
}


def _names(sheet: Any) -> set[str]:
    return {n.strip().lower() for n in [i.peer for i in sheet.interfaces] + [s.name for s in sheet.servers]}


def rows(ctx: Any) -> Iterator[dict[str, Any]]:
    digest = digest_of(ctx)
    from analyzer.reconcile import _Resolver

    sheets = sheets_by_mac(ctx)
    resolver = _Resolver(ctx.devices)
    for _, f in sorted(digest.writes.hl7.items(), key=lambda kv: str(kv[0])):
        rdev, sdev = ctx.device_by_ip(f.receiver), ctx.device_by_ip(f.sender)
        rsheet = sheets.get(rdev.mac) if rdev is not None else None
        ssheet = sheets.get(sdev.mac) if sdev is not None else None
        declared = bool(
            (rsheet is not None and (f.sender in declared_ips(rsheet, resolver)
                                     or (f.application or "").strip().lower() in _names(rsheet) - {""}))
            or (ssheet is not None and f.receiver in declared_ips(ssheet, resolver)))
        families = sorted({family(t) for t in f.message_types})
        yield {
            "sender_ip": f.sender, "receiver_ip": f.receiver, "receiver_port": f.port,
            "sending_application": f.application, "sending_facility": f.facility,
            "message_types": sorted(f.message_types), "families": families,
            "identity_or_results": any(x in IDENTITY_OR_RESULTS for x in families),
            "declared": declared, "any_sheet": rsheet is not None or ssheet is not None,
            "receiver_is_dm": bool(rdev and rdev.is_dm), "sender_is_dm": bool(sdev and sdev.is_dm),
            "receiver_hostname": (rdev.hostname or rdev.mac) if rdev else f.receiver,
            "receiver_sheet_id": rsheet.id if rsheet is not None else None, "count": f.count,
            "_key": f"{f.sender}->{f.receiver}:{f.port} {f.application or ''}^{f.facility or ''}",
            "_devices": sorted({d.mac for d in (rdev, sdev) if d is not None and not d.is_router}),
            "_ips": sorted({f.sender, f.receiver}),
            "_evidence": f.top.evidence(),
            "_zone": rdev.zone if rdev else None, "_first_seen": f.first_ts, "_last_seen": f.last_ts,
        }
