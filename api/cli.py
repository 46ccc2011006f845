"""The `medtap` command line: the only place that prints, prompts or exits.

Exit status (documented in the README):
  0  success
  1  invalid configuration or input file (site policy, sheets, rules): the message names file, line, field;
     or a database that cannot be opened (one line)
  2  usage error (unknown option, missing argument)
  3  a capture was damaged (truncated, corrupt block): everything before the damage was kept and stored
  4  no capture could be read at all (missing file, not a capture)
  5  --forward: the central refused some batches for good (kept in the spool as *.rejected)
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from api.render import safe_text
from collector.ring import RING_MIB_ENV
from store.errors import NoInputError, ServiceError

EXIT_CONFIG = 1
EXIT_DAMAGED = 3
EXIT_NO_INPUT = 4
EXIT_REJECTED = 5

# Each kind of error the store raises, first match wins; any other ServiceError is a configuration or
# input error (EXIT_CONFIG).  Its message (`detail`) is printed as worded, on one line.
EXIT_BY_KIND: tuple[tuple[type[ServiceError], int], ...] = (
    (NoInputError, EXIT_NO_INPUT),
)

DEFAULT_DB = "sqlite:///medtap.db"

app = typer.Typer(
    help="medtap: passive discovery and segmentation audit of hospital medical devices.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
sheets_app = typer.Typer(help="Identification sheets: import and export (CSV, JSON, YAML).",
                         no_args_is_help=True)
token_app = typer.Typer(help="API tokens (stored hashed; shown once).", no_args_is_help=True)
policy_app = typer.Typer(help="Site policy: validate or propose zones.", no_args_is_help=True)
baseline_app = typer.Typer(help="Baseline of known devices and conversations.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
rules_app = typer.Typer(help="Rule catalogue.", no_args_is_help=True)
report_app = typer.Typer(help="Printable reports: the yearly perimeter review, supplier scorecards.",
                         no_args_is_help=True)
app.add_typer(sheets_app, name="sheets")
app.add_typer(token_app, name="token")
app.add_typer(policy_app, name="policy")
app.add_typer(baseline_app, name="baseline")
app.add_typer(db_app, name="db")
app.add_typer(rules_app, name="rules")
app.add_typer(report_app, name="report")

DbOpt = Annotated[
    str,
    typer.Option("--db", envvar="MEDTAP_DB_URL",
                 help="Database URL (sqlite:///file.db or postgresql+psycopg://...)."),
]
SiteOpt = Annotated[
    Path | None,
    typer.Option("--site", envvar="MEDTAP_SITE", help="Site policy YAML (zones, conduits, gateways).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON instead of a table.")]

def _console(stderr: bool = False) -> Console:
    """Rich console; when piped (CI logs, `make run` in a pipe) use a wide layout instead of 80 columns."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else int(os.environ.get("COLUMNS", "200"))
    return Console(stderr=stderr, width=width)


out = _console()
err = _console(stderr=True)


def _report_rejected(rejected: list[str]) -> None:
    """Batches the central refused for good are data it does not have: say so, and exit non-zero."""
    if rejected:
        err.print(f"[red]error:[/] the central refused {len(rejected)} batch(es) for good; they are kept in "
                  f"the spool for a person to look at: {safe_text(', '.join(rejected[:5]))}"
                  + (" ..." if len(rejected) > 5 else ""),
                  soft_wrap=True)
        raise typer.Exit(EXIT_REJECTED)


def _require_data() -> None:
    """Every data table there before any work (a missing or invalid one: one error line naming the file)."""
    from collector.datafiles import DataFileError, require_data_files

    try:
        require_data_files()
    except DataFileError as exc:
        _fail(str(exc))


def _fail(message: str, code: int = EXIT_CONFIG) -> NoReturn:
    """Print one error line (its text printed literally, whatever it quotes) and exit with `code`."""
    shown = "\n".join(safe_text(line) for line in message.splitlines())  # one problem a line, as worded
    err.print(f"[bold red]error:[/] {shown}", soft_wrap=True)  # never wrapped: one line stays one line
    raise typer.Exit(code)


def exit_status(exc: ServiceError) -> int:
    """The exit status of each kind of error the store raises (the table at the top of this file)."""
    for kind, status in EXIT_BY_KIND:
        if isinstance(exc, kind):
            return status
    return EXIT_CONFIG


def _opens_db(command: Callable[..., None]) -> Callable[..., None]:
    """Decorate a command that opens `--db`: an unreachable or invalid database is one error line, exit 1.

    No traceback: the URL (password hidden) and the driver's first line of explanation.
    """

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError

        try:
            command(*args, **kwargs)
        except (OperationalError, InterfaceError, ArgumentError) as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["unknown error"]
            _fail(f"cannot open the database {_shown_url(kwargs.get('db', ''))}: {reason[0]}")
        except ServiceError as exc:
            _fail(exc.detail, exit_status(exc))

    return run


def _shown_url(url: str) -> str:
    """The database URL with its password hidden."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _load_site(site: Path | None):
    if site is None:
        return None
    from analyzer.site import SiteError, load_site

    try:
        return load_site(site)
    except SiteError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{site}: {exc.strerror or exc}")


# ----------------------------------------------------------------------------- capture and replay


WorkersOpt = Annotated[int | None, typer.Option(
    min=1, help="Worker processes decoding frames, sharded by a symmetric hash of the endpoints "
    "(default: the cores available to medtap; a replay of less than 32 MB of captures: one process).")]


@contextlib.contextmanager
def _progress(enabled: bool, console: Console, files: Sequence[Path]) -> Iterator[Any]:
    """A rich progress bar (frames, rate, ETA) for replays that last more than a second.

    Only when asked for (not --quiet) and stderr is a terminal; short replays print nothing.
    """
    if not enabled:
        yield None
        return
    total = sum(f.stat().st_size for f in files)
    bar = Progress(
        TextColumn("[bold]replay"),
        BarColumn(),
        TextColumn("{task.fields[frames]} frames"),
        TextColumn("{task.fields[rate]} frames/s"),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    started = time.monotonic()
    task: list[Any] = []

    def callback(frames: int, bytes_read: int, total_bytes: int) -> None:
        elapsed = time.monotonic() - started
        if elapsed < 1.0:
            return
        if not task:
            bar.start()
            task.append(bar.add_task("replay", total=total_bytes or total or None, frames=0, rate=0))
        bar.update(task[0], completed=bytes_read, frames=frames, rate=int(frames / elapsed))

    try:
        yield callback
    finally:
        if task:
            bar.stop()


@app.command()
@_opens_db
def replay(
    pcaps: Annotated[list[Path],
                     typer.Argument(help="Capture files (pcap, pcapng, .gz) or folders of rotated files.")],
    site: SiteOpt = None,
    sheets: Annotated[Path | None,
                      typer.Option(help="Identification sheets to import first (CSV/JSON/YAML).")] = None,
    db: DbOpt = DEFAULT_DB,
    report: Annotated[Path | None, typer.Option(help="Write the report JSON (schema 1) here.")] = None,
    observations: Annotated[Path | None,
                            typer.Option(help="Also write every observation as JSON lines.")] = None,
    sensor: Annotated[str, typer.Option(help="Sensor id recorded with every observation.")] = "local",
    baseline: Annotated[Path | None,
                        typer.Option(help="Baseline JSON: new devices/conversations are findings.")] = None,
    forward: Annotated[str | None,
                       typer.Option(help="Send observations to a central medtap at this URL.")] = None,
    token: Annotated[str | None,
                     typer.Option(envvar="MEDTAP_TOKEN", help="Sensor token for --forward.")] = None,
    spool: Annotated[Path, typer.Option(help="Spool folder for --forward when the central is down.")] = Path(
        ".medtap-spool"
    ),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    dissector: Annotated[
        str,
        typer.Option(help="medtap (default), or tshark: also label unidentified conversations with tshark.")
    ] = "medtap",
    workers: WorkersOpt = None,
) -> None:
    """Replay capture files: decode, store observations, analyze, print a summary."""
    from store.loop import ReplayOptions, run_replay

    _require_data()
    site_policy = _load_site(site)
    options = ReplayOptions(
        paths=pcaps, db_url=db, site=site_policy, sheets=sheets, sensor=sensor, report_path=report,
        observations_path=observations, baseline_path=baseline, forward_url=forward, token=token,
        spool_dir=spool, dissector=dissector, workers=workers,
    )
    with _progress(not quiet and sys.stderr.isatty(), err, pcaps) as bar:
        result = run_replay(options, progress=bar)
    from api.render import print_weirds, stats_line

    stats = result.report.stats
    err.print(f"[bold]replayed[/] {len(pcaps)} input(s): {safe_text(stats_line(stats))}")
    print_weirds(err, stats)
    for conflict in result.sheet_conflicts:
        err.print(f"[yellow]warning:[/] {safe_text(conflict)}")
    if result.already_stored:
        err.print(
            f"[yellow]note:[/] {result.already_stored} observations of these captures were already in "
            f"{safe_text(db)}: acknowledged, not stored twice"
        )
    err.print(
        f"{len(result.report.devices)} devices, {len(result.report.findings)} findings stored in "
        f"{safe_text(db)}"
        + (f"; report written to {safe_text(report)}" if report else "")
    )
    _report_rejected(result.rejected_batches)
    if stats.truncated or result.damaged:
        raise typer.Exit(EXIT_DAMAGED)


@app.command()
@_opens_db
def capture(
    interface: Annotated[str,
                         typer.Option("--interface", "-i", help="SPAN interface to sniff (promiscuous).")],
    bpf: Annotated[str | None, typer.Option(help="BPF filter expression.")] = None,
    duration: Annotated[float | None,
                        typer.Option(help="Stop after S seconds (default: until SIGINT/SIGTERM).")] = None,
    snaplen: Annotated[int, typer.Option(help="Bytes kept per frame.")] = 65535,
    flush: Annotated[float, typer.Option(help="Seconds between flushes of observations.")] = 10.0,
    site: SiteOpt = None,
    db: DbOpt = DEFAULT_DB,
    sensor: Annotated[str, typer.Option(help="Sensor id.")] = "local",
    observations: Annotated[Path | None, typer.Option(help="Also write observations as JSON lines.")] = None,
    forward: Annotated[str | None, typer.Option(help="Central medtap URL (sensor mode).")] = None,
    token: Annotated[str | None,
                     typer.Option(envvar="MEDTAP_TOKEN", help="Sensor token for --forward.")] = None,
    spool: Annotated[Path, typer.Option(help="Spool folder for --forward.")] = Path(".medtap-spool"),
    workers: WorkersOpt = None,
    ring_mib: Annotated[int | None, typer.Option(
        min=0, envvar=RING_MIB_ENV,
        help="Kernel ring memory of the capture in MiB, shared by its workers (default 512; 0: no ring, "
        "one recvmsg per frame). Locked in memory: it must fit the box and RLIMIT_MEMLOCK.")] = None,
) -> None:
    """Sniff a live interface (needs NET_RAW and NET_ADMIN), flushing observations periodically."""
    _require_data()
    from store.loop import run_capture

    site_policy = _load_site(site)
    try:
        result = run_capture(
            interface=interface,
            bpf=bpf,
            duration=duration,
            snaplen=snaplen,
            flush_interval=flush,
            db_url=db,
            site=site_policy,
            sensor=sensor,
            observations_path=observations,
            forward_url=forward,
            token=token,
            spool_dir=spool,
            workers=workers,
            ring_bytes=None if ring_mib is None else ring_mib << 20,
            on_ready=lambda: err.print(f"capturing on {safe_text(interface)}, a flush every {flush:g} s "
                                       f"into {safe_text(_shown_url(db))}"),
        )
    except PermissionError:
        _fail(f"cannot open {interface}: live capture needs root or CAP_NET_RAW + CAP_NET_ADMIN")
    except OSError as exc:
        _fail(f"cannot capture on {interface}: {exc}")
    from api.render import stats_line

    err.print(f"[bold]captured[/] on {safe_text(interface)}: {safe_text(stats_line(result.report.stats))}")
    err.print(f"{len(result.report.devices)} devices, {len(result.report.findings)} findings stored in "
              f"{safe_text(db)}")
    _report_rejected(result.rejected_batches)


# ----------------------------------------------------------------------------- reading results


@app.command()
@_opens_db
def inventory(db: DbOpt = DEFAULT_DB, as_json: JsonOpt = False) -> None:
    """The device inventory stored in the database."""
    from store.jobs import load_report

    report = load_report(db)
    if as_json:
        # ensure_ascii: C1 and bidi controls from the wire leave as \\u escapes, never raw
        out.print_json(json.dumps([d.model_dump(mode="json", exclude={"facts"}) for d in report.devices]),
                       ensure_ascii=True)
        return
    from api.render import devices_table

    out.print(devices_table(report.devices))


@app.command()
@_opens_db
def findings(
    db: DbOpt = DEFAULT_DB,
    as_json: JsonOpt = False,
    severity: Annotated[str | None, typer.Option(help="Only this severity.")] = None,
    rule: Annotated[str | None, typer.Option(help="Only this rule id.")] = None,
) -> None:
    """The findings stored in the database, most severe first."""
    from store.jobs import load_report

    items = [
        f
        for f in load_report(db).findings
        if (severity is None or f.severity == severity) and (rule is None or f.rule == rule)
    ]
    if as_json:
        out.print_json(json.dumps([f.model_dump(mode="json") for f in items]), ensure_ascii=True)
        return
    from api.render import findings_table

    out.print(findings_table(items))
    if sys.stdout.isatty() or os.environ.get("MEDTAP_HINT", "1") == "1":
        out.print("Review them in the web UI: [bold]medtap serve[/] then open http://127.0.0.1:8000")


# ----------------------------------------------------------------------------- server


@app.command()
@_opens_db
def serve(
    host: Annotated[str, typer.Option(help="Bind address (127.0.0.1 unless you mean it).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Serve the API (/api/v1) and the web UI."""
    _require_data()
    import uvicorn

    from api.main import create_app
    from api.settings import Settings

    settings = Settings(db_url=db, host=host, port=port)
    app = create_app(settings)  # opens the database first: an unreachable one is the only line printed
    if not settings.secret_key:
        err.print("[yellow]warning:[/] MEDTAP_SECRET_KEY is not set: a random key is made at each start, "
                  "so every restart signs everyone out of the web UI; set a fixed one, e.g. "
                  "export MEDTAP_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')",
                  soft_wrap=True)
    if host not in ("127.0.0.1", "::1", "localhost"):
        err.print(f"[yellow]warning:[/] listening on {safe_text(host)}: put TLS in front and keep "
                  "tokens secret")
    uvicorn.run(app, host=host, port=port, log_level="info")


# ----------------------------------------------------------------------------- sheets


@sheets_app.command("import")
@_opens_db
def sheets_import(
    file: Annotated[Path, typer.Argument(help="CSV (; or , , UTF-8 with or without BOM), JSON or YAML.")],
    db: DbOpt = DEFAULT_DB,
    partial: Annotated[bool, typer.Option(help="Keep the good rows when some rows are invalid.")] = False,
    actor: Annotated[str, typer.Option(help="Who imports (recorded in the audit log).")] = "cli",
    overwrite: Annotated[bool,
                         typer.Option(help="Replace sheets edited in the UI or API since their "
                                           "last import.")] = False,
) -> None:
    """Import identification sheets; a bad row is refused with its line, field and reason.

    A sheet edited in the UI or the API since its last import is kept and reported, never overwritten
    silently (--overwrite replaces it).  The inventory is re-matched with the new sheets at once.
    """
    from store.jobs import import_sheets_file

    try:
        result = import_sheets_file(db, file, actor=actor, partial=partial, overwrite=overwrite)
    except FileNotFoundError:
        _fail(f"{file}: no such file")
    for line in result.errors:
        err.print(f"[red]{safe_text(f'{file}:{line}')}[/]")
    for conflict in result.conflicts:
        err.print(f"[yellow]warning:[/] {safe_text(conflict)}")
    out.print(f"imported {result.imported} sheet(s) from {safe_text(file)}"
              + (f", refused {len(result.errors)} row(s)" if result.errors else "")
              + (f", kept {len(result.conflicts)} edited since their last import" if result.conflicts
                 else ""))
    if result.errors and not partial:
        raise typer.Exit(EXIT_CONFIG)


@sheets_app.command("export")
@_opens_db
def sheets_export(
    file: Annotated[Path,
                    typer.Argument(help="Output file; format from the extension (.csv, .json, .yaml).")],
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Export every identification sheet."""
    from store.jobs import export_sheets_file

    count = export_sheets_file(db, file)
    out.print(f"exported {count} sheet(s) to {safe_text(file)}")


# ----------------------------------------------------------------------------- tokens


def _create_token(db_url: str, *, role: str, name: str, expires_in: str | None = None,
                 expires: str | None = None,
                 sensor: str | None = None) -> str:
    """A new token (printed once by the CLI); the expiry is `--expires-in 90d` or `--expires YYYY-MM-DD`."""
    from api.auth import create_token as _create, parse_expiry
    from store.db import session_for

    with session_for(db_url) as session:
        when = parse_expiry(expires_in=expires_in, expires=expires)
        return _create(session, role=role, name=name, expires=when, sensor=sensor, actor="cli")


def _list_tokens(db_url: str) -> list[dict[str, Any]]:
    """Every token without its hash: id, name, role, sensor, created, expires, last_used, revoked."""
    from api.auth import list_tokens as _list
    from store.db import session_for

    with session_for(db_url) as session:
        return [row.model_dump(exclude={"hash"}) for row in _list(session)]


def _revoke_token(db_url: str, id_or_name: str) -> dict[str, Any]:
    """Revoke one token (by id, or by name when one active token has it); its web sessions end too."""
    from api.auth import find_token, revoke_token as _revoke
    from store.db import session_for

    with session_for(db_url) as session:
        row = find_token(session, id_or_name)
        _revoke(session, token_id=int(row.id or 0), actor="cli")
        return {"id": row.id, "name": row.name, "role": row.role}


@token_app.command("create")
@_opens_db
def token_create(
    role: Annotated[str, typer.Option(help="viewer, biomedical, it, admin or sensor.")],
    name: Annotated[str, typer.Option(help="Who or what holds it.")] = "cli",
    expires_in: Annotated[str | None,
                          typer.Option(help="Lifetime: a number and h, d or w (e.g. 90d).")] = None,
    expires: Annotated[str | None, typer.Option(help="Expiry date YYYY-MM-DD (00:00 UTC).")] = None,
    sensor: Annotated[str | None,
                      typer.Option(help="Sensor token: the only sensor id it may ingest as "
                                        "(default: --name).")] = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Create an API token; it is printed once and stored hashed (the creation is audited)."""
    clear = _create_token(db, role=role, name=name, expires_in=expires_in, expires=expires, sensor=sensor)
    out.print(clear, markup=False, highlight=False)


@token_app.command("list")
@_opens_db
def token_list(db: DbOpt = DEFAULT_DB, as_json: JsonOpt = False) -> None:
    """Every token: id, name, role, sensor, created, expires, last used, revoked (never the token itself)."""
    from rich.table import Table

    rows = _list_tokens(db)
    if as_json:
        out.print_json(json.dumps(rows, default=str))
        return
    columns = ("id", "name", "role", "sensor", "created", "expires", "last_used", "revoked")
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    out.print(table)


@token_app.command("revoke")
@_opens_db
def token_revoke(
    id_or_name: Annotated[str, typer.Argument(help="Token id (see `medtap token list`) or its name.")],
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Revoke a token: refused at once by the API, and its web UI sessions end (audited)."""
    row = _revoke_token(db, id_or_name)
    out.print(f"token {row['id']} ({row['name']}, {row['role']}) revoked")


# ----------------------------------------------------------------------------- policy, baseline, db, rules


@policy_app.command("check")
def policy_check(site: Annotated[Path, typer.Argument(help="Site policy YAML.")]) -> None:
    """Validate a site policy; errors name the line and the reason."""
    policy = _load_site(site)
    zones = getattr(policy, "zones", [])
    out.print(f"{safe_text(site)}: valid ({len(zones)} zones)")


@policy_app.command("suggest")
@_opens_db
def policy_suggest(db: DbOpt = DEFAULT_DB) -> None:
    """Propose zones (YAML) from the VLANs, subnets and roles seen."""
    from analyzer.suggest import suggest_zones
    from store.jobs import load_report

    out.print(suggest_zones(load_report(db).devices), markup=False, highlight=False)


@baseline_app.command("save")
@_opens_db
def baseline_save(
    file: Annotated[Path, typer.Argument(help="Baseline JSON to write.")] = Path("medtap-baseline.json"),
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Save what is known now (devices, conversations) as the baseline."""
    from store.jobs import save_baseline

    count = save_baseline(db, file)
    out.print(f"baseline saved to {safe_text(file)} ({count} entries)")


@baseline_app.command("reset")
def baseline_reset(
    file: Annotated[Path, typer.Argument(help="Baseline JSON to remove.")] = Path("medtap-baseline.json"),
) -> None:
    """Forget the baseline: nothing is 'new' until one is saved again."""
    file.unlink(missing_ok=True)
    out.print(f"baseline {safe_text(file)} removed")


@db_app.command("upgrade")
@_opens_db
def db_upgrade(db: DbOpt = DEFAULT_DB) -> None:
    """Apply the schema migrations (alembic) to the database."""
    from store.db import upgrade

    upgrade(db)
    out.print(f"database {safe_text(_shown_url(db))} is up to date")


@db_app.command("purge")
@_opens_db
def db_purge(
    db: DbOpt = DEFAULT_DB,
    days: Annotated[float | None, typer.Option(help="Keep raw observation rows of the last DAYS (default: "
                                                 "MEDTAP_RAW_RETENTION_DAYS, 0 keeps none).")] = None,
) -> None:
    """Drop raw observation rows past their retention (facts, devices and findings are kept)."""
    from store.db import session_for
    from store.facts import purge_raw

    with session_for(db) as session:
        dropped = purge_raw(session, days=days)
    out.print(f"{dropped} raw observation row(s) dropped from {safe_text(_shown_url(db))}")


@app.command()
@_opens_db
def analyze(site: SiteOpt = None, db: DbOpt = DEFAULT_DB) -> None:
    """Analyze every stored fact again (after a rule or policy change); the policy given becomes the store's.

    Replays, captures and a central analyze by themselves as data arrives: this full pass is for a
    changed rule set, policy or sheet.  Its cost follows the stored facts, not the frames ever seen.
    """
    _require_data()
    from store.db import session_for
    from store.service import reanalyze

    site_policy = _load_site(site)
    with session_for(db) as session:
        report = reanalyze(session, site=site_policy, sources=["analyze"])
    err.print(f"{len(report.devices)} devices, {len(report.findings)} findings stored in "
              f"{safe_text(_shown_url(db))}")


@app.command()
@_opens_db
def status(db: DbOpt = DEFAULT_DB, as_json: JsonOpt = False,
           silent_after: Annotated[float, typer.Option(help="Seconds without a batch after which a sensor is "
                                                        "silent.")] = 300.0) -> None:
    """Is the picture current? Last analysis, and each sensor's last batch (silent ones flagged)."""
    from store.db import session_for
    from store.facts import live_status

    with session_for(db) as session:
        state = live_status(session, silent_after=silent_after)
    if as_json:
        out.print_json(json.dumps(state, default=str), ensure_ascii=True)
        return
    last = state["last_analysis"]
    out.print(f"inventory last updated: {last.isoformat(timespec='seconds') if last else 'never'}"
              + ("" if state["up_to_date"] else " (newer data not analyzed yet)"))
    for s in state["sensors"]:
        flag = "[red]SILENT[/] " if s["silent"] else ""
        out.print(f"{flag}sensor {safe_text(s['sensor'])}: last batch "
                  f"{s['last_batch_at'].isoformat(timespec='seconds')}"
                  f" ({s['seconds_since_last_batch']:.0f} s ago), {s['batches']} batch(es)")
    if state["silent_sensors"]:
        err.print(f"[yellow]warning:[/] silent sensor(s): {safe_text(', '.join(state['silent_sensors']))}: "
                  "a dead SPAN port or sensor is not a quiet network", soft_wrap=True)


@rules_app.command("check")
def rules_check(
    rules_dir: Annotated[Path | None,
                         typer.Argument(help="Rules folder (default: the bundled rules/).")] = None,
) -> None:
    """Load and validate every rule; errors name the file and the reason."""
    from analyzer.rules import RuleError, load_rules

    try:
        rules = load_rules(rules_dir)
    except RuleError as exc:
        _fail(str(exc))
    out.print(f"{len(rules)} rules valid")
    _report_registry_age()


def _report_registry_age() -> None:
    """The IEEE MAC block snapshot's date and age; a warning (never a failure) when it is stale."""
    import datetime as dt

    from analyzer.macs import mac_registry
    from collector.datafiles import DataFileError

    try:
        registry = mac_registry()
    except DataFileError as exc:
        _fail(str(exc))
    today = dt.datetime.now(dt.UTC).date()
    out.print(f"IEEE MAC block snapshot {registry.date.isoformat()} ({registry.age_days(today)} days old)")
    stale = registry.staleness(today)
    if stale:
        err.print(f"[yellow]warning:[/] {safe_text(stale)}", soft_wrap=True)


LangOpt = Annotated[str, typer.Option(help="Language of the HTML and PDF reports: en or fr.")]


@report_app.command("perimeter")
@_opens_db
def report_perimeter(
    out_file: Annotated[Path, typer.Option("--out", help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", help="html, pdf or json.")] = "html",
    lang: LangOpt = "en",
    db: DbOpt = DEFAULT_DB,
) -> None:
    """The yearly perimeter review per service, with what changed since the last review and a sign-off."""
    from api.reports import perimeter_report
    from store.db import session_for
    from store.reviews import perimeter_data

    with session_for(db) as session:
        data = perimeter_data(session)
    body = perimeter_report(data, fmt=fmt, lang=lang)
    out_file.write_bytes(body)
    due = sum(s["due"] for s in data["services"])
    out.print(f"perimeter review written to {safe_text(str(out_file))} ({fmt}, {len(body)} bytes; "
              f"{due} sheet review(s) due)")


@report_app.command("suppliers")
@_opens_db
def report_suppliers(
    out_file: Annotated[Path, typer.Option("--out", help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", help="json, csv or html.")] = "json",
    lang: LangOpt = "en",
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Supplier scorecards for purchasing: exposure of each supplier's devices and a score."""
    from api.reports import supplier_report
    from store.db import session_for
    from store.reviews import supplier_data

    with session_for(db) as session:
        cards = supplier_data(session)
    out_file.write_bytes(supplier_report(cards, fmt=fmt, lang=lang))
    out.print(f"{len(cards)} supplier scorecard(s) written to {safe_text(str(out_file))} ({fmt})")


from api import cli_changes, cli_review  # noqa: E402,F401  (register `diff`, `intervention`, `review` on `app`)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
