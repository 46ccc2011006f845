"""Interventions on devices (update, maintenance, interface change) and the check that follows each one.

`add_intervention` records one (audited like a sheet change: one audit row per field, in the same
transaction); `check_intervention` compares the device's behaviour before and after it from the
facts store (analyzer.diff on the facts seen in each window): once `window` seconds of traffic
after it have been observed (the newest stored packet is that far past it), the verdict is
unchanged, changed (with the list) or silent-after; before that it is pending.  The after side is
everything observed since the intervention, the before side as long a time up to it.  A fact
seen on both sides (a conversation that went on) counts on both: the store keeps first and last
seen, not each time in between.  `intervention_refs` hands the interventions to
the analysis (the `intervention` subject of analyzer/subjects, which raises
post-intervention-change).

A verdict depends only on the stored facts, the policy and the intervention, so it is cached per
database and facts generation (`store.facts.facts_generation`, bumped by every write of facts):
a device page, the API and the referents' digest read the facts once per new batch, not once per
intervention per view.  `check_interventions` reads them at most once for many interventions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from analyzer.diff import DeviceDiff, compare, in_window, profiles
from analyzer.interventions import KINDS, InterventionRef
from store import audit
from store.envsetting import number_setting
from store.errors import InvalidError, NotFoundError
from store.facts import bump_generation, facts_generation, newest_packet_ts
from store.models import DeviceRow, InterventionRow
from store.records import get_device, iter_observations, like_pattern

WINDOW_ENV = "MEDTAP_INTERVENTION_WINDOW_HOURS"
DEFAULT_WINDOW_HOURS = 24.0


def window_seconds() -> float:
    """Observed traffic needed after an intervention before its verdict (MEDTAP_INTERVENTION_WINDOW_HOURS,
    default 24 h)."""
    return number_setting(WINDOW_ENV, DEFAULT_WINDOW_HOURS, unit="hours", exclusive=True) * 3600.0


@dataclass
class Check:
    """The verdict of one intervention."""

    verdict: str
    """pending, unchanged, changed or silent-after."""
    before: tuple[float, float]
    after: tuple[float, float]
    observed_after: float
    """Seconds of traffic observed after the intervention so far."""
    diff: DeviceDiff | None = None
    changes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "before": list(self.before), "after": list(self.after),
                "observed_after": self.observed_after, "changes": self.changes,
                "diff": self.diff.as_dict() if self.diff is not None else None}


def resolve_device(session: Session, device: str) -> str:
    """The MAC of a stored device named by its MAC, one of its IPs or its hostname."""
    found = get_device(session, device)
    if found is not None:
        return found.mac
    text = device.strip().lower()
    if not text:
        raise InvalidError("a device (MAC, IP or name) is required", "device")
    query = select(DeviceRow).where(col(DeviceRow.ips).like(like_pattern(text), escape="\\"))
    rows = session.exec(query).all()
    exact = [r for r in rows if text in r.ips.split()]
    if not exact:
        exact = [r for r in session.exec(select(DeviceRow)).all()
                 if r.hostname and r.hostname.lower().split(".")[0] == text.split(".")[0]]
    if len(exact) > 1:
        macs = ", ".join(r.mac for r in exact)
        raise InvalidError(f"{device!r} names several devices: {macs}; give the MAC", "device")
    if not exact:
        raise NotFoundError(f"no device {device!r} in the inventory (MAC, IP or name)", "device")
    return exact[0].mac


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def add_intervention(session: Session, *, device: str, kind: str, at: dt.datetime, by: str, note: str = "",
                     actor: str) -> InterventionRow:
    if kind not in KINDS:
        raise InvalidError(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})", "kind")
    if not by.strip():
        raise InvalidError("who performed the intervention is required", "by")
    if "\x00" in by + note:
        raise InvalidError("NUL characters are not accepted", "note")
    mac = resolve_device(session, device)
    row = InterventionRow(mac=mac, kind=kind, at=_aware(at), by=by.strip()[:255], note=note.strip(),
                          recorded_by=actor)
    session.add(row)
    session.flush()
    audit.record_diff(session, who=actor, action="create", entity="intervention", entity_id=str(row.id),
                      old={}, new=intervention_dict(row))
    bump_generation(session)  # the analysis reads interventions (post-intervention-change)
    session.commit()
    session.refresh(row)
    return row


def intervention_dict(row: InterventionRow) -> dict[str, Any]:
    return {"id": row.id, "mac": row.mac, "kind": row.kind, "at": _aware(row.at).isoformat(), "by": row.by,
            "note": row.note, "recorded_by": row.recorded_by}


def list_interventions(session: Session, *, mac: str | None = None) -> list[InterventionRow]:
    query = select(InterventionRow)
    if mac is not None:
        query = query.where(InterventionRow.mac == mac)
    return list(session.exec(query.order_by(col(InterventionRow.at), col(InterventionRow.id))).all())


def get_intervention(session: Session, intervention_id: int) -> InterventionRow:
    row = session.get(InterventionRow, intervention_id)
    if row is None:
        raise NotFoundError(f"no intervention {intervention_id}", "id")
    return row


def intervention_refs(session: Session) -> tuple[InterventionRef, ...]:
    """Every intervention, as the analysis reads them."""
    window = window_seconds()
    return tuple(InterventionRef(id=int(r.id or 0), mac=r.mac, kind=r.kind, at=_aware(r.at).timestamp(),
                                 window=window) for r in list_interventions(session))


CACHE_SIZE = 4096
"""Verdicts kept per database (oldest dropped first)."""

_CacheKey = tuple[int, int, float, float, str]
_cache: weakref.WeakKeyDictionary[Any, OrderedDict[_CacheKey, Check]] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def _site_key(site: Any) -> str:
    return "" if site is None else hashlib.sha256(site.model_dump_json().encode()).hexdigest()


def check_intervention(session: Session, row: InterventionRow, *, window: float | None = None,
                       site: Any = None) -> Check:
    """Before/after comparison of the device of `row` from the stored facts (see the module docstring)."""
    return check_interventions(session, [row], window=window, site=site)[0]


def check_interventions(session: Session, rows: Sequence[InterventionRow], *, window: float | None = None,
                        site: Any = None) -> list[Check]:
    """The checks of `rows`, from the cache of this facts generation, the facts read at most once."""
    needed = window_seconds() if window is None else window
    bind = session.get_bind()
    generation, site_key = facts_generation(session), _site_key(site)
    keys = [(generation, int(r.id or 0), _aware(r.at).timestamp(), needed, site_key) for r in rows]
    with _cache_lock:
        cached = _cache.setdefault(bind, OrderedDict())
        out: list[Check | None] = [cached.get(k) for k in keys]
    missing = [i for i, c in enumerate(out) if c is None]
    if missing:
        newest = newest_packet_ts(session)
        facts: list[Any] | None = None
        for i in missing:
            check = _pending(_aware(rows[i].at).timestamp(), newest, needed)
            if check is None:
                if facts is None:
                    facts = list(iter_observations(session))
                check = _compare(rows[i], facts, newest, site)
            out[i] = check
        with _cache_lock:
            for i in missing:
                cached[keys[i]] = out[i]  # type: ignore[assignment]
            while len(cached) > CACHE_SIZE:
                cached.popitem(last=False)
    return [c for c in out if c is not None]


def _pending(at: float, newest: float | None, needed: float) -> Check | None:
    observed = max(0.0, (newest or at) - at)
    if observed < needed:
        return Check(verdict="pending", before=(at - needed, at), after=(at, at + needed),
                     observed_after=observed)
    return None


def _compare(row: InterventionRow, facts: list[Any], newest: float | None, site: Any) -> Check:
    at = _aware(row.at).timestamp()
    observed = max(0.0, (newest or at) - at)
    # everything observed after it, against as long a time before it
    before, after = (at - observed, at), (at, at + observed + 1.0)
    pb = profiles(in_window(facts, *before), site=site).get(row.mac)
    pa = profiles(in_window(facts, *after), site=site).get(row.mac)
    result = compare(row.mac, pb, pa, before_seconds=observed, after_seconds=observed)
    return Check(verdict=result.verdict, before=before, after=after, observed_after=observed, diff=result,
                 changes=result.lines())
