"""`medtap review open|mark|status|close`: the yearly perimeter review campaign from the command line
(registered on the `medtap` app by api.cli).

The same service functions as the web UI's **Perimeter review** page and `/api/v1/reviews` (store.reviews):
opening and closing are audited, marking a sheet records who and when, and its review date becomes that
day (audited through store.service.update_sheet, so review-overdue follows); `status` lists what is left
per service.  The actor is `cli:<login>` unless `--by` names the reviewer.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer

from api.cli import DEFAULT_DB, DbOpt, JsonOpt, _fail, _opens_db, app, out
from api.render import safe_text

review_app = typer.Typer(help="The yearly perimeter review campaign: open, mark sheets reviewed, see what is "
                              "left, close.", no_args_is_help=True)
app.add_typer(review_app, name="review")

ByOpt = Annotated[str | None, typer.Option("--by", help="Who reviews (default: cli:<login>).")]


def _actor(by: str | None) -> str:
    import getpass

    if by is not None:
        if not by.strip() or "\x00" in by:
            _fail("--by: a name is required")
        return by.strip()[:255]
    return f"cli:{getpass.getuser()}"


def _print_status(status: dict[str, object], as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(status), ensure_ascii=True)
        return
    review = status["review"]
    reviewed = status["reviewed"]
    assert isinstance(reviewed, dict)
    if not isinstance(review, dict):
        out.print("no perimeter review is open", highlight=False)
    else:
        out.print(f"review {review['id']} opened by {safe_text(str(review['opened_by']))} on "
                  f"{review['opened_at']}: {len(reviewed)}/{status['total']} sheet(s) reviewed",
                  highlight=False)
        for sheet_id, mark in sorted(reviewed.items()):
            note = f" ({safe_text(mark['note'])})" if mark.get("note") else ""
            out.print(f"  reviewed {safe_text(sheet_id)} by {safe_text(mark['by'])} at {mark['at']}{note}",
                      highlight=False)
    left = status["left_by_service"]
    assert isinstance(left, dict)
    for service, ids in sorted(left.items()):
        out.print(f"  left for {service} ({len(ids)}): {safe_text(', '.join(ids))}", highlight=False)


@review_app.command("status")
@_opens_db
def review_status_command(db: DbOpt = DEFAULT_DB, as_json: JsonOpt = False) -> None:
    """The open campaign: sheets reviewed (who, when) and those left, per service."""
    from store.db import session_for
    from store.reviews import review_status

    with session_for(db) as session:
        status = review_status(session)
    _print_status(status, as_json)


@review_app.command("open")
@_opens_db
def review_open(by: ByOpt = None, db: DbOpt = DEFAULT_DB, as_json: JsonOpt = False) -> None:
    """Open a campaign (one at a time; audited)."""
    from store.db import session_for
    from store.reviews import open_review, review_status

    with session_for(db) as session:
        open_review(session, actor=_actor(by))
        status = review_status(session)
    _print_status(status, as_json)


@review_app.command("mark")
@_opens_db
def review_mark(
    sheet_ids: Annotated[list[str], typer.Argument(help="Sheet id(s) to mark reviewed.")],
    by: ByOpt = None,
    on: Annotated[str | None, typer.Option("--on", help="Review date, YYYY-MM-DD (default: today): the "
                                                        "sheet's last review date.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="What was checked or decided.")] = None,
    db: DbOpt = DEFAULT_DB,
    as_json: JsonOpt = False,
) -> None:
    """Mark sheets reviewed in the open campaign (who, when, a note; audited): each sheet's review date
    becomes that day."""
    from store.db import session_for
    from store.reviews import mark_reviewed, review_status

    day = None
    if on is not None:
        try:
            day = dt.date.fromisoformat(on.strip())
        except ValueError:
            _fail(f"--on {on!r}: not a date (YYYY-MM-DD)")
        if day > dt.date.today():
            _fail(f"--on {on}: a review cannot be dated in the future")
    actor = _actor(by)
    with session_for(db) as session:
        for sheet_id in sheet_ids:
            mark_reviewed(session, sheet_id, actor=actor, note=note, today=day)
        status = review_status(session)
    _print_status(status, as_json)


@review_app.command("close")
@_opens_db
def review_close(by: ByOpt = None, db: DbOpt = DEFAULT_DB, as_json: JsonOpt = False) -> None:
    """Close the open campaign, keeping the perimeter's snapshot for next year's "what changed" (audited)."""
    from store.db import session_for
    from store.reviews import close_review, closed_review_dict

    with session_for(db) as session:
        shown = closed_review_dict(close_review(session, actor=_actor(by)))
    if as_json:
        out.print_json(json.dumps(shown), ensure_ascii=True)
        return
    out.print(f"review {shown['id']} closed by {safe_text(str(shown['closed_by']))} at {shown['closed_at']}",
              highlight=False)
