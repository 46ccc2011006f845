"""The yearly perimeter review campaign and the data of the reports (perimeter, suppliers, referents'
digests), over a SQLModel session.

A campaign is opened, each sheet is marked reviewed (who, when: audited, and the sheet's
`last_review` becomes that date through store.service.update_sheet, so review-overdue follows), and
closing it keeps a snapshot of the perimeter for the next review's "what changed".  The report
contents are computed by analyzer.perimeter and analyzer.suppliers from the stored records.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlmodel import Session, col, select

from analyzer.models import Device, Finding
from store import audit
from store.errors import ConflictError, InvalidError, NotFoundError
from store.models import PerimeterReviewRow, ReferentDigestRow, SheetReviewRow, SheetRow, utcnow


def _devices_and_findings(session: Session) -> tuple[list[Device], list[Finding]]:
    from store.records import stored_report

    report = stored_report(session)
    return report.devices, report.findings


def current_review(session: Session) -> PerimeterReviewRow | None:
    """The open campaign, if any."""
    return session.exec(select(PerimeterReviewRow).where(col(PerimeterReviewRow.closed_at).is_(None))
                        .order_by(col(PerimeterReviewRow.id).desc())).first()


def last_closed_review(session: Session) -> PerimeterReviewRow | None:
    return session.exec(select(PerimeterReviewRow).where(col(PerimeterReviewRow.closed_at).is_not(None))
                        .order_by(col(PerimeterReviewRow.id).desc())).first()


def open_review(session: Session, *, actor: str) -> PerimeterReviewRow:
    """Open a campaign (one at a time: a second one is a conflict)."""
    if current_review(session) is not None:
        raise ConflictError("a perimeter review is already open: close it first", "review")
    row = PerimeterReviewRow(opened_by=actor)
    session.add(row)
    session.flush()
    audit.record(session, who=actor, action="open", entity="review", entity_id=str(row.id))
    session.commit()
    session.refresh(row)
    return row


def marks(session: Session, review: PerimeterReviewRow | None) -> dict[str, dict[str, Any]]:
    """Sheet id -> {by, at, note} for the sheets marked reviewed in `review`."""
    if review is None:
        return {}
    rows = session.exec(select(SheetReviewRow).where(SheetReviewRow.review_id == review.id)).all()
    return {r.sheet_id: {"by": r.reviewed_by, "at": r.reviewed_at.isoformat(timespec="minutes"),
                         "note": r.note} for r in rows}


def mark_reviewed(session: Session, sheet_id: str, *, actor: str, note: str | None = None,
                  today: dt.date | None = None, notify: Any = None) -> SheetReviewRow:
    """Mark a sheet reviewed in the open campaign; its `last_review` becomes today (audited)."""
    from analyzer.sheets import Sheet
    from store.service import update_sheet

    review = current_review(session)
    if review is None:
        raise InvalidError("no perimeter review is open: open one first", "review")
    sheet_row = session.get(SheetRow, sheet_id)
    if sheet_row is None:
        raise NotFoundError(f"no sheet {sheet_id!r}", "sheet_id")
    done = session.exec(select(SheetReviewRow).where(SheetReviewRow.review_id == review.id,
                                                     SheetReviewRow.sheet_id == sheet_id)).first()
    if done is not None:
        raise ConflictError(f"sheet {sheet_id} was already reviewed by {done.reviewed_by}", "sheet_id")
    row = SheetReviewRow(review_id=review.id or 0, sheet_id=sheet_id, reviewed_by=actor,
                         note=(note or "").strip() or None)
    session.add(row)
    audit.record(session, who=actor, action="review", entity="sheet", entity_id=sheet_id,
                 field="reviewed", new={"review": review.id, "note": row.note})
    sheet = Sheet.model_validate_json(sheet_row.data)
    when = today or dt.date.today()
    if sheet.last_review != when:  # commits the mark with the sheet's new review date
        update_sheet(session, sheet_id, sheet.model_copy(update={"last_review": when}),
                     version=sheet_row.version, actor=actor, notify=notify)
    else:
        session.commit()
    session.refresh(row)
    return row


def close_review(session: Session, *, actor: str) -> PerimeterReviewRow:
    """Close the open campaign, keeping the perimeter's snapshot for the next review."""
    from analyzer.perimeter import snapshot
    from store.service import all_sheets

    review = current_review(session)
    if review is None:
        raise InvalidError("no perimeter review is open", "review")
    devices, _ = _devices_and_findings(session)
    review.snapshot = json.dumps(snapshot(all_sheets(session), devices), sort_keys=True)
    review.closed_at, review.closed_by = utcnow(), actor
    session.add(review)
    audit.record(session, who=actor, action="close", entity="review", entity_id=str(review.id))
    session.commit()
    session.refresh(review)
    return review


def progress(session: Session) -> dict[str, Any]:
    """The open campaign (or none), the sheets marked and those left, per service."""
    from store.service import all_sheets

    review = current_review(session)
    done = marks(session, review)
    sheets = all_sheets(session)
    left = [s for s in sheets if s.id not in done]
    opened = None if review is None else {"id": review.id, "opened_by": review.opened_by,
                                          "opened_at": review.opened_at.isoformat(timespec="minutes")}
    return {"review": opened,
            "reviewed": done, "total": len(sheets), "left": [s.id for s in left],
            "sheets": sheets}


def review_status(session: Session) -> dict[str, Any]:
    """What the API, the CLI (`medtap review status`) and scripts show of the campaign: the open review (or
    None), the sheets marked (by, at, note), how many sheets there are, the ids left, and the ids left per
    responsible service."""
    state = progress(session)
    left_by_service: dict[str, list[str]] = {}
    for sheet in state["sheets"]:
        if sheet.id not in state["reviewed"]:
            left_by_service.setdefault(sheet.responsibility, []).append(sheet.id)
    return {"review": state["review"], "reviewed": state["reviewed"], "total": state["total"],
            "left": state["left"], "left_by_service": left_by_service}


def closed_review_dict(row: PerimeterReviewRow) -> dict[str, Any]:
    return {"id": row.id, "closed_by": row.closed_by,
            "closed_at": row.closed_at.isoformat() if row.closed_at else None}


def perimeter_data(session: Session, *, today: dt.date | None = None) -> dict[str, Any]:
    """The perimeter review's content (analyzer.perimeter) from what is stored."""
    from analyzer.perimeter import perimeter
    from store.facts import stored_policy
    from store.service import all_sheets

    devices, findings = _devices_and_findings(session)
    review = current_review(session)
    previous = last_closed_review(session)
    site = stored_policy(session)
    return perimeter(sheets=all_sheets(session), devices=devices, findings=findings,
                     today=today or dt.date.today(), marks=marks(session, review),
                     previous=json.loads(previous.snapshot) if previous and previous.snapshot else None,
                     previous_at=previous.closed_at.date().isoformat() if previous and previous.closed_at
                     else None,
                     site_name=getattr(site, "site", None))


def supplier_data(session: Session) -> list[dict[str, Any]]:
    """The supplier scorecards (analyzer.suppliers) from what is stored."""
    from analyzer.suppliers import scorecards
    from store.facts import stored_policy
    from store.records import iter_observations
    from store.service import all_sheets

    devices, findings = _devices_and_findings(session)
    return scorecards(devices, findings, all_sheets(session),
                      remote=iter_observations(session, kinds=["remote_access"]), site=stored_policy(session))


def referent_state(session: Session, service: str) -> tuple[dict[str, Any] | None, dt.datetime | None]:
    """The perimeter state the last digest of `service` reflected, and when it was sent (None: never)."""
    row = session.get(ReferentDigestRow, service)
    if row is None:
        return None, None
    return json.loads(row.json_text), row.sent_at


def save_referent_state(session: Session, service: str, state: dict[str, Any]) -> None:
    row = session.get(ReferentDigestRow, service) or ReferentDigestRow(service=service, json_text="{}")
    row.json_text, row.sent_at = json.dumps(state, sort_keys=True), utcnow()
    session.add(row)
    session.commit()


def isolation_flows(session: Session, mac: str) -> list[dict[str, Any]] | None:
    """If isolated: the device's clinical flows (analyzer.isolation), or None when there is no such device."""
    from analyzer.isolation import clinical_flows
    from store.records import get_device, iter_observations, list_devices

    device = get_device(session, mac)
    if device is None:
        return None
    devices = list_devices(session, limit=10**9)[0]
    return clinical_flows(device, iter_observations(session, kinds=["conversation"]), devices)



def intervention_verdicts(session: Session) -> dict[str, dict[str, Any]]:
    """The decided verdicts (not pending) of every intervention, by id (text, as a digest state keys them):
    mac, kind, at, verdict, the change lines and the comparison (store.interventions, cached per facts
    generation)."""
    from store.facts import stored_policy
    from store.interventions import check_interventions, intervention_dict, list_interventions

    rows = list_interventions(session)
    out: dict[str, dict[str, Any]] = {}
    for row, check in zip(rows, check_interventions(session, rows, site=stored_policy(session)), strict=True):
        if check.verdict == "pending":
            continue
        item = intervention_dict(row)
        out[str(row.id)] = {"mac": row.mac, "kind": row.kind, "at": item["at"], "verdict": check.verdict,
                            "changes": check.changes,
                            "diff": check.diff.as_dict() if check.diff is not None else None}
    return out


def referent_digest(session: Session,
                    service: str) -> tuple[dict[str, list[dict[str, Any]]] | None, dict[str, Any]]:
    """What changed on `service`'s perimeter since its referents' last digest (analyzer.referents), and
    the state it reflects: save that state (`save_referent_state`) once the digest is delivered, so a
    change made meanwhile is in the next one.  The first time there is no digest (None): the current
    state becomes the reference at once."""
    from analyzer.referents import digest_items, state

    devices, findings = _devices_and_findings(session)
    verdicts = intervention_verdicts(session)
    now = state(devices, findings, service, verdicts)
    before, _ = referent_state(session, service)
    if before is None:
        save_referent_state(session, service, now)
        return None, now
    return digest_items(before, now, findings, service, verdicts), now
