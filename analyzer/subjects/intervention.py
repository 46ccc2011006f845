"""Subject `intervention`: one row per recorded intervention on a device (store.interventions), with the
declared interfaces and servers of its sheet that were used before it and are no longer used after.

The interventions come on the digest (`Digest.interventions`, set by the store before each analysis);
an analysis of a capture alone has none, so this subject then yields no row.  `window_elapsed`: at
least the intervention's window of traffic was observed after it (the newest packet is that far past
it), so a silence after it means something.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analyzer.digest import digest_of
from analyzer.interventions import declared_usage
from analyzer.models import Evidence

SUBJECT = "intervention"
FIELDS: dict[str, str] = {
    "intervention_id": "id of the recorded intervention", "kind": "update, maintenance or interface",
    "mac": "device MAC",
    "hostname": "device name (its MAC when it has none)",
    "sheet_id": "sheet matched to the device (None: none)",
    "observed_after": "seconds of traffic observed after the intervention",
    "window_elapsed": "at least the configured window was observed after it",
    "seen_after": "the device had traffic after the intervention",
    "declared_lost": "declared interfaces/servers used before and not after",
    "declared_lost_count": "how many", "declared_kept": "declared peers still used after",
}


def rows(ctx: Any) -> Iterator[dict[str, Any]]:
    digest = digest_of(ctx)
    refs = getattr(digest, "interventions", ())
    if not refs:
        return
    from analyzer.reconcile import _Resolver

    sheets = {s.id: s for s in getattr(ctx, "sheets", None) or []}
    sheet_of = {mac: sid for sid, (mac, _) in (getattr(ctx, "matches", None) or {}).items()}
    groups = digest.conversation_groups()
    resolver = _Resolver(ctx.devices)
    newest = digest.max_ts
    for ref in refs:
        device = ctx.devices.get(ref.mac)
        if device is None:
            continue
        own = set(device.ips)
        seen_after = any(g.last_ts >= ref.at for g in groups
                         if g.client_ip in own or g.server_ip in own
                         or device.mac in (g.client_mac, g.server_mac))
        sheet = sheets.get(sheet_of.get(ref.mac, ""))
        usage = declared_usage(sheet, device, groups, ref.at, resolver) if sheet is not None else []
        lost = [u for u in usage if u.used_before and not u.used_after]
        observed = max(0.0, (newest or ref.at) - ref.at)
        yield {
            "intervention_id": ref.id, "kind": ref.kind, "mac": ref.mac,
            "hostname": device.hostname or device.mac,
            "sheet_id": sheet.id if sheet is not None else None,
            "observed_after": observed, "window_elapsed": observed >= ref.window, "seen_after": seen_after,
            "declared_lost": [f"{u.name} ({u.declared_as})" for u in lost], "declared_lost_count": len(lost),
            "declared_kept": [u.name for u in usage if u.used_after],
            "_key": f"{ref.mac}@{ref.id}", "_devices": [ref.mac],
            "_ips": sorted(own | {ip for u in lost for ip in u.ips}),
            "_evidence": [Evidence(source=u.pointer[0], frame_no=u.pointer[1], ts=u.last_seen,
                                   text=f"{u.declared_as} {u.name} last used "
                                   f"{ref.at - (u.last_seen or ref.at):.0f} s before the {ref.kind} "
                                   "and not since") for u in lost],
            "_zone": device.zone, "_first_seen": ref.at, "_last_seen": newest,
        }
