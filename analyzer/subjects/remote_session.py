"""Subject `remote_session`: remote-access sessions (RemoteAccessObs) aggregated per client, server,
port and method, with the approval check against the site's maintenance gateways.

approved = an endpoint is a declared gateway whose methods include the method, within its window.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analyzer.context import AnalysisContext
from analyzer.digest import digest_of
from analyzer.subjects._common import zone_kind, zone_name

SUBJECT = "remote_session"
FIELDS: dict[str, str] = {
    "method": "teamviewer, anydesk, vnc, rdp, telnet, ssh, ftp, ...", "signature": "signature id",
    "evidence": "content, port or sni", "confidence": "0..1 (best of the session)", "client_ip": "initiator",
    "server_ip": "acceptor", "server_port": "port", "client_zone": "zone", "client_zone_kind": "zone kind",
    "server_zone": "zone", "server_zone_kind": "zone kind", "client_is_dm": "initiator is a DM",
    "server_is_dm": "acceptor is a DM", "any_dm": "an endpoint is a DM",
    "via_gateway": "an endpoint is a declared gateway",
    "gateway": "gateway name", "method_allowed": "the gateway allows the method",
    "in_window": "inside the gateway window",
    "approved": "through an approved gateway, method and window", "has_site": "a site policy is loaded",
    "user_present": "a user name was present", "client_is_public": "initiator is public",
    "server_is_public": "acceptor is public",
}


def rows(ctx: AnalysisContext) -> Iterator[dict[str, Any]]:
    digest = digest_of(ctx)
    sessions = {f"{client}->{server}:{port}/{method}": s
                for (client, server, port, method), s in digest.sessions.items()}
    site = ctx.site
    if site is not digest.site:
        raise ValueError("the observations were digested for another site policy")
    from analyzer.site import is_public

    for key, s in sorted(sessions.items()):
        client, server, port = s.client, s.server, s.port
        assert s.best is not None
        confidence, method, signature, evidence = s.best
        first, last = s.first_ts, s.last_ts
        cdev, sdev = ctx.device_by_ip(client), ctx.device_by_ip(server)
        cz, sz = ctx.zone_of_ip(client), ctx.zone_of_ip(server)
        if cdev is not None and cdev.zone is not None and site is not None:
            cz = site.zone(cdev.zone)
        if sdev is not None and sdev.zone is not None and site is not None:
            sz = site.zone(sdev.zone)
        gw = (site.gateway_for(client) or site.gateway_for(server)) if site else None
        method_ok = gw is not None and method in gw.methods
        window = gw is not None and s.in_window
        cdm, sdm = bool(cdev and cdev.is_dm), bool(sdev and sdev.is_dm)
        devices = sorted({d.mac for d in (cdev, sdev) if d is not None and not d.is_router})
        policy: list[str] = []
        if site is not None:
            if gw is None:
                policy.append(f"{site.ref('maintenance')} maintenance gateways "
                              f"[{', '.join(g.name for g in site.maintenance.gateways)}]: neither end is one")
            else:
                i = site.maintenance.gateways.index(gw)
                policy.append(f"{site.ref('maintenance', 'gateways', i)} gateway {gw.name} methods "
                              f"{', '.join(gw.methods)}" + ("" if window else ", outside its window"))
        yield {
            "method": method, "signature": signature, "evidence": evidence,
            "confidence": confidence, "client_ip": client, "server_ip": server, "server_port": port,
            "client_zone": zone_name(cz), "client_zone_kind": zone_kind(cz), "server_zone": zone_name(sz),
            "server_zone_kind": zone_kind(sz), "client_is_dm": cdm, "server_is_dm": sdm, "any_dm": cdm or sdm,
            "via_gateway": gw is not None, "gateway": gw.name if gw else None, "method_allowed": method_ok,
            "in_window": window, "approved": gw is not None and method_ok and window,
            "has_site": site is not None,
            "user_present": s.user_present,
            "client_is_public": is_public(client), "server_is_public": is_public(server),
            "_key": key, "_devices": devices, "_ips": sorted({x for x in (client, server) if x}),
            "_evidence": s.top.evidence(),
            "_zone": (sdev.zone if sdm and sdev else cdev.zone if cdev else None),
            "_first_seen": first, "_last_seen": last, "_policy": policy,
        }
