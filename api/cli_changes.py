"""`medtap diff` and `medtap intervention add|list`: the commands of issue 17 item 1 (registered on the
`medtap` app by api.cli).

`diff` compares two captures (or, with `--db`, two time windows of the facts store) device by
device with analyzer.diff; `intervention` records an intervention through store.interventions and
lists them with their verdict.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli import DEFAULT_DB, DbOpt, JsonOpt, SiteOpt, _fail, _load_site, _opens_db, _require_data, app, out
from api.render import safe_text

intervention_app = typer.Typer(help="Interventions on devices (update, maintenance, interface change) and "
                                    "their check.", no_args_is_help=True)
app.add_typer(intervention_app, name="intervention")


def _decode(path: Path) -> list[Any]:
    from collector.pipeline import replay
    from collector.sinks import ListSink
    from store.loop import pseudonym_key

    if not path.is_file():
        _fail(f"{path}: no such capture file", 4)
    sink = ListSink()
    try:
        replay([path], sink, key=pseudonym_key())
    except (OSError, ValueError) as exc:
        _fail(f"{path}: {exc}", 4)
    return sink.observations


def _window(text: str, option: str) -> tuple[float, float]:
    """'A..B' with A and B ISO 8601 times (UTC unless an offset is given) -> epoch seconds."""
    try:
        start, end = (_time(part) for part in text.split("..", 1))
    except ValueError:
        _fail(f"{option} {text!r}: expected START..END as ISO 8601 times, "
              "e.g. 2026-03-01T00:00..2026-03-02T00:00")
    if end <= start:
        _fail(f"{option} {text!r}: the end must be after the start")
    return start.timestamp(), end.timestamp()


def _time(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.strip())
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@app.command("diff")
@_opens_db
def diff_command(
    before: Annotated[Path | None, typer.Argument(help="Capture before (pcap or pcapng).")] = None,
    after: Annotated[Path | None, typer.Argument(help="Capture after.")] = None,
    device: Annotated[str | None, typer.Option("--device", help="Only this device: MAC, IP or name.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    before_window: Annotated[str | None,
                             typer.Option(help="With --db: START..END of the before window.")] = None,
    after_window: Annotated[str | None,
                            typer.Option(help="With --db: START..END of the after window.")] = None,
    db: DbOpt = DEFAULT_DB,
    site: SiteOpt = None,
) -> None:
    """Compare device behaviour between two captures (or two time windows of the store): peers, services,
    protocols, identity, OS and volume per peer gained or lost."""
    from analyzer.diff import diff, in_window

    if fmt not in ("text", "json"):
        _fail(f"--format {fmt!r}: expected text or json", 2)
    _require_data()
    policy = _load_site(site)
    if before is not None and after is not None:
        if before_window or after_window:
            _fail("give two captures or --before-window/--after-window, not both", 2)
        records_before, records_after = _decode(before), _decode(after)
    elif before is None and after is None and before_window and after_window:
        from store.db import session_for
        from store.records import iter_observations

        wb, wa = _window(before_window, "--before-window"), _window(after_window, "--after-window")
        with session_for(db) as session:
            facts = list(iter_observations(session))
        records_before, records_after = in_window(facts, *wb), in_window(facts, *wa)
    else:
        _fail("give BEFORE and AFTER captures, or --before-window and --after-window with --db", 2)
    result = diff(records_before, records_after, site=policy, select=device)
    if device is not None and not result:
        _fail(f"no device {device!r} in either capture")
    if fmt == "json":
        out.print_json(json.dumps({"devices": [d.as_dict() for d in result]}), ensure_ascii=True)
        return
    changed = [d for d in result if d.changed]
    for d in changed:
        out.print(f"{d.mac} ({', '.join(d.ips) or 'no IP'}): {d.verdict}", highlight=False)
        for line in d.lines():
            out.print(f"  {safe_text(line)}", highlight=False)
    out.print(f"{len(changed)} device(s) changed, {len(result) - len(changed)} unchanged", highlight=False)


@intervention_app.command("add")
@_opens_db
def intervention_add(
    device: Annotated[str, typer.Argument(help="Device: MAC, IP or name in the inventory.")],
    kind: Annotated[str, typer.Option("--kind", help="update, maintenance or interface.")],
    at: Annotated[str, typer.Option("--at", help="When, ISO 8601 (UTC unless an offset is given).")],
    by: Annotated[str, typer.Option("--by", help="Who performed it (technician, supplier).")],
    note: Annotated[str, typer.Option("--note", help="What was done.")] = "",
    db: DbOpt = DEFAULT_DB,
    as_json: JsonOpt = False,
) -> None:
    """Record an intervention (audited); its check runs once enough traffic after it was observed."""
    import getpass

    from store.db import session_for
    from store.interventions import add_intervention, intervention_dict

    try:
        when = _time(at)
    except ValueError:
        _fail(f"--at {at!r}: not an ISO 8601 time (e.g. 2026-03-02T14:30)")
    with session_for(db) as session:
        row = add_intervention(session, device=device, kind=kind, at=when, by=by, note=note,
                               actor=f"cli:{getpass.getuser()}")
        shown = intervention_dict(row)
    if as_json:
        out.print_json(json.dumps(shown), ensure_ascii=True)
        return
    out.print(f"intervention {shown['id']} recorded on {shown['mac']} ({shown['kind']} at {shown['at']})",
              highlight=False)


@intervention_app.command("list")
@_opens_db
def intervention_list(
    device: Annotated[str | None, typer.Option("--device", help="Only this device: MAC, IP or name.")] = None,
    db: DbOpt = DEFAULT_DB,
    as_json: JsonOpt = False,
) -> None:
    """Recorded interventions with their verdict (pending until the window after them was observed)."""
    from store.db import session_for
    from store.facts import stored_policy
    from store.interventions import check_interventions, intervention_dict, list_interventions, resolve_device

    with session_for(db) as session:
        mac = resolve_device(session, device) if device else None
        policy = stored_policy(session)
        rows = list_interventions(session, mac=mac)
        items = [dict(intervention_dict(r), check=c.as_dict())
                 for r, c in zip(rows, check_interventions(session, rows, site=policy), strict=True)]
    if as_json:
        out.print_json(json.dumps(items), ensure_ascii=True)
        return
    for item in items:
        check = item["check"]
        out.print(f"{item['id']} {item['at']} {item['mac']} {item['kind']} by {safe_text(item['by'])}: "
                  f"{check['verdict']}", highlight=False)
        for line in check["changes"]:
            out.print(f"  {safe_text(line)}", highlight=False)
    if not items:
        out.print("no intervention recorded", highlight=False)
