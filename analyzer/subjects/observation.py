"""Subject `observation`: every raw observation as a row of its envelope and typed fields.

For one-off rules on a single record (e.g. `kind: snmp, community_default: true`).  Fields are the
union of every record's fields in collector.schema; the key is kind, addresses and frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analyzer.context import AnalysisContext, evidence_of
from collector.schema import kinds

SUBJECT = "observation"
FIELDS: dict[str, str] = {name: str(f.description or name) for cls in kinds().values()
                          for name, f in cls.model_fields.items()}


def rows(ctx: AnalysisContext) -> Iterator[dict[str, Any]]:
    for kind in sorted(ctx.observations):
        if kind in ("host", "conversation", "stats"):
            continue
        for o in ctx.observations[kind]:
            row: dict[str, Any] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in o
                                   if not isinstance(v, dict)}
            src = o.src_ip or o.src_mac
            dst = o.dst_ip or o.dst_mac
            devs = sorted({d.mac for d in (ctx.device_by_ip(o.src_ip),
                                           ctx.device_by_ip(o.dst_ip)) if d is not None})
            row.update({
                "_key": f"{kind}:{src}->{dst}:{o.dst_port or ''}", "_devices": devs,
                "_ips": sorted({ip for ip in (o.src_ip, o.dst_ip) if ip}),
                "_evidence": [evidence_of(o, f"{kind} {src} -> {dst}")], "_zone": None,
                "_first_seen": o.ts, "_last_seen": o.ts,
            })
            yield row
