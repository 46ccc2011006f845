"""HTML pages of the web UI: sign-in, dashboard, findings, inventory, map, audit (sheets in ui_sheets).

Server-rendered with Jinja2 (autoescape on).  Every page needs a signed session
backed by a server-side record (api.web.session); every page and every POST
declares the permission it needs with `needs(...)`, checked against the same
table as the API (api.auth.PERMISSIONS, through `allowed`): one source of truth,
so a role never reaches in the UI what the API refuses it.  Every POST checks
the CSRF token; links and forms a role may not use are not shown (`can`).  Data comes from the service layer
through
api.web.data, so the UI and the API read and write the same way and every change
lands in the audit log.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from analyzer.models import REVIEW_STATUSES, SEVERITY_ORDER, STATUSES, Device
from api.auth import PERMISSIONS, allowed
from api.web import data, triage
from api.web.compiled import COMPILED
from api.web.forms import parse_acceptance
from api.web.i18n import LANG_COOKIE, LANGS, Bound, Translator, negotiate
from api.web.session import (
    CSRF_FIELD,
    SESSION_COOKIE,
    WebSession,
    cookie_kwargs,
    csrf_ok,
    dump_session,
    load_session,
    new_session,
)
from store.service import MAX_BULK_REVIEW

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"
LOGIN_COOKIE = "medtap_login"
TZ_COOKIE = "medtap_tz"  # the reader's IANA time zone, set by static/tz.js from the browser
SERVICES = ("biomedical", "it")
CONNECTIONS = ("wired", "wifi", "unknown")
PAGE = 50
# Flash messages travel as a catalogue key in the redirect URL; only these keys are shown.
FLASH_KEYS = frozenset({"finding.status_changed", "findings.bulk_changed", "sheets.saved", "sheets.deleted",
                        "sheets.imported",
                        "login.signed_out", "intervention.recorded",
                        "tokens.revoked"})

# Pages are never cached (shared ward workstations: Back after sign-out shows nothing), never framed, and
# run only the scripts and styles shipped in /static (no inline code, so a strict CSP costs nothing).
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

router = APIRouter(include_in_schema=False)


class LoginRequired(Exception):
    """No valid session: the handler redirects to the sign-in page."""


class Forbidden(Exception):
    """Bad CSRF token or a role that may not change things: the handler answers 403 with a page."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def qs(params: dict[str, Any] | None = None, **changes: Any) -> str:
    merged = {**(params or {}), **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")})


def _instant(value: float | dt.datetime) -> dt.datetime:
    """A packet time (epoch seconds) or a stored datetime (naive = UTC) as an aware UTC datetime."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(float(value), dt.UTC)


def _isotime(value: float | dt.datetime | None, short: bool = False) -> str:
    if value is None:
        return ""
    when = _instant(value)
    return when.strftime("%Y-%m-%d %H:%M") if short else when.strftime("%Y-%m-%dT%H:%M:%SZ")


BABEL_LOCALES = {"fr": "fr_FR", "en": "en_GB"}


def zone_of(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    """An IANA time zone by name (the reader's browser, or the settings), UTC when unknown."""
    for candidate in (name, fallback):
        if candidate and len(candidate) < 64:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


@jinja2.pass_context
def _localtime(context: Any, value: float | dt.datetime | None, fmt: str = "short") -> str:
    """A time in the reader's language and time zone (Babel, CLDR formats): 29/12/2025 10:20 in French."""
    from babel.dates import format_datetime

    if value is None:
        return ""
    locale = BABEL_LOCALES.get(context.get("lang") or "en", "en_GB")
    return str(format_datetime(_instant(value), format=fmt, tzinfo=context.get("tz") or ZoneInfo("UTC"),
                               locale=locale))


@jinja2.pass_context
def _localnum(context: Any, value: int | float) -> str:
    """A number in the reader's language (1 203 in French, 1,203 in English)."""
    from babel.numbers import format_decimal

    return str(format_decimal(value, locale=BABEL_LOCALES.get(context.get("lang") or "en", "en_GB")))


@dataclass
class WebState:
    """Per-app UI state (kept on app.state.web): translations, templates and the session key."""

    translator: Translator
    templates: Jinja2Templates
    secret: bytes
    settings: Any

    @classmethod
    def create(cls, settings: Any) -> WebState:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                                 bytecode_cache=COMPILED)
        env.filters["qs"] = qs
        env.filters["isotime"] = _isotime
        env.filters["localtime"] = _localtime
        env.filters["num"] = _localnum
        env.globals["static_url"] = lambda name: f"/static/{name}"
        raw = data.settings_secret(settings)
        # A key of its own for the session cookie, derived from the settings secret (RFC 2104 HMAC as a KDF).
        secret = hmac.new(raw, b"medtap web session key", "sha256").digest()
        return cls(Translator.load(), Jinja2Templates(env=env), secret, settings)


@dataclass
class Ctx:
    request: Request
    lang: str
    t: Bound
    user: WebSession | None

    def render(self, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        state: WebState = self.request.app.state.web
        here = self.request.url.path + (f"?{self.request.url.query}" if self.request.url.query else "")
        msg = self.request.query_params.get("msg")
        shown: dict[str, Any] = {k: v for k, v in self.request.query_params.items()
                                 if k in ("id", "n", "status")}
        if str(shown.get("n", "")).isdigit() and len(shown["n"]) < 9:
            shown["n"] = int(shown["n"])  # a count: the plural form follows it
        flash = self.t(msg, **shown) if msg in FLASH_KEYS else None
        state_settings = state.settings
        tz = zone_of(unquote(self.request.cookies.get(TZ_COOKIE) or ""),
                     getattr(state_settings, "ui_timezone", "UTC"))
        base = {"lang": self.lang, "t": self.t, "user": self.user, "tz": tz, "tz_name": str(tz.key),
                "csrf": self.user.csrf if self.user else "",
                "here": here, "active": None, "flash": flash, "flash_kind": "ok", "can": self.can}
        resp = state.templates.TemplateResponse(self.request, name, {**base, **context},
                                                status_code=status_code)
        resp.headers.update(PAGE_HEADERS)
        return resp

    def can(self, permission: str) -> bool:
        """The signed-in role has `permission` in api.auth.PERMISSIONS (templates hide what it may not
        use)."""
        return self.user is not None and allowed(self.user.role, permission)


def _state(request: Request) -> WebState:
    return request.app.state.web


def context(request: Request, db: Session | None = None) -> Ctx:
    state = _state(request)
    lang = negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    user = load_session(request.cookies.get(SESSION_COOKIE), state.secret)
    if user is not None and db is not None and not data.session_alive(
            db, user, idle_timeout=state.settings.session_idle_timeout,
            max_age=state.settings.session_max_age):
        user = None
    return Ctx(request, lang, state.translator.for_lang(lang), user)


def page(request: Request, db: Session = Depends(data.db_session)) -> Ctx:
    """Dependency of every page: a live session or a redirect to the sign-in page (see `needs`)."""
    ctx = context(request, db)
    if ctx.user is None:
        raise LoginRequired()
    return ctx


def needs(permission: str) -> Callable[..., Ctx]:
    """Dependency: a live session whose role has `permission` (api.auth.PERMISSIONS), else a 403 page."""
    if permission not in PERMISSIONS:
        raise ValueError(permission)

    def dependency(ctx: Ctx = Depends(page)) -> Ctx:
        if not ctx.can(permission):
            raise Forbidden("error.forbidden")
        return ctx

    dependency.__name__ = f"needs_{permission.replace('.', '_')}"
    return dependency


async def posted(request: Request, ctx: Ctx) -> dict[str, Any]:
    """The form of a POST, after the CSRF check (the route's `needs` already checked the role)."""
    form = await request.form()
    values: dict[str, Any] = {k: v for k, v in form.multi_items()}
    if not csrf_ok(ctx.user, str(values.get(CSRF_FIELD) or "")):
        raise Forbidden("error.csrf")
    return values


def safe_next(value: str | None) -> str:
    """Only local paths: never an open redirect."""
    if (not value or not value.startswith("/") or value.startswith("//") or "\\" in value or "\n" in value
            or "\r" in value):
        return "/"
    return value


def as_offset(value: str) -> int:
    """A page offset from the query string (anything else is the first page, never a 422)."""
    return int(value) if value.isdigit() and len(value) < 10 else 0


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def install_handlers(app: Any) -> None:
    """Exception handlers of the UI (LoginRequired -> 303 to /login, Forbidden -> 403 page)."""

    async def login_required(request: Request, exc: Exception) -> Response:
        query = f"?{request.url.query}" if request.url.query and len(request.url.query) < 2000 else ""
        return redirect("/login?" + qs(next=request.url.path + query))  # back to the same filtered view

    async def forbidden(request: Request, exc: Exception) -> Response:
        ctx = context(request)
        key = exc.key if isinstance(exc, Forbidden) else "error.forbidden"
        return ctx.render("error.html", 403, message=ctx.t(key))

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(Forbidden, forbidden)


# ----------------------------------------------------------------------------- sign in / out, language


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    ctx = context(request)
    nonce = secrets.token_urlsafe(24)
    resp = ctx.render("login.html", csrf=nonce, next=safe_next(next), error=None)
    resp.set_cookie(LOGIN_COOKIE, nonce, **cookie_kwargs(secure=request.url.scheme == "https", max_age=1800))
    return resp


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, db: Session = Depends(data.db_session)) -> Response:
    ctx = context(request)
    form = await request.form()
    nonce, sent = request.cookies.get(LOGIN_COOKIE, ""), str(form.get(CSRF_FIELD) or "")
    target = safe_next(str(form.get("next") or "/"))
    if not nonce or not hmac.compare_digest(nonce.encode(), sent.encode("utf-8", "replace")):
        return ctx.render("login.html", 403, csrf=nonce, next=target, error=ctx.t("error.csrf"))
    token = str(form.get("token") or "").strip()
    found = data.verify_token(db, token) if token and len(token) < 512 else None
    if found is None or not allowed(found[0], "read"):
        key = "login.invalid" if token else "login.required"
        return ctx.render("login.html", 401, csrf=nonce, next=target, error=ctx.t(key))
    session = new_session(token=token, role=found[0], name=found[1],
                          max_age=_state(request).settings.session_max_age)
    data.open_session(db, session)
    resp = redirect(target)
    resp.set_cookie(SESSION_COOKIE, dump_session(session, _state(request).secret),
                    **cookie_kwargs(secure=request.url.scheme == "https",
                                    max_age=_state(request).settings.session_max_age))
    resp.delete_cookie(LOGIN_COOKIE, path="/", httponly=True, samesite="strict")
    return resp


@router.post("/logout")
async def logout(request: Request, ctx: Ctx = Depends(page),
                 db: Session = Depends(data.db_session)) -> Response:
    await posted(request, ctx)
    assert ctx.user is not None
    data.end_session(db, ctx.user)
    resp = redirect("/login?msg=login.signed_out")
    resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return resp


@router.get("/lang/{lang}")
def set_lang(request: Request, lang: str, next: str = "/") -> Response:
    resp = redirect(safe_next(next))
    if lang in LANGS:
        resp.set_cookie(LANG_COOKIE, lang,
                        **cookie_kwargs(secure=request.url.scheme == "https", max_age=365 * 86400))
    return resp


# ----------------------------------------------------------------------------- findings

FINDING_SORTS: dict[str, Any] = {
    "severity": lambda f: SEVERITY_ORDER.get(f.severity, 0),
    "rule": lambda f: f.rule,
    "zone": lambda f: f.zone or "",
    "service": lambda f: f.service,
    "status": lambda f: STATUSES.index(f.status) if f.status in STATUSES else 9,
    "last_seen": lambda f: f.last_seen or 0.0,
}


def _clean(value: str | None, allowed: tuple[str, ...] | None = None) -> str:
    value = (value or "").strip()[:200]
    return value if allowed is None or value in allowed else ""


FINDING_PAGE = 100


def _findings_view(ctx: Ctx, db: Session, raw: Mapping[str, str], *, status_code: int = 200,
                   errors: dict[str, str] | None = None, form: Mapping[str, Any] | None = None,
                   ticked: Iterable[str] = (), ticked_keys: Iterable[str] = ()) -> Response:
    params = triage.clean_params(raw)
    params |= {"group": _clean(raw.get("group"), triage.GROUPINGS),
               "sort": _clean(raw.get("sort"), tuple(FINDING_SORTS)), "desc": "1" if raw.get("desc") else ""}
    everything = data.all_findings(db)
    names = data.device_names(db)
    chosen = triage.select(everything, params, names)
    if params["sort"]:
        chosen.sort(key=FINDING_SORTS[params["sort"]], reverse=bool(params["desc"]))
    else:
        chosen.sort(key=lambda f: (-SEVERITY_ORDER.get(f.severity, 0), -(f.last_seen or 0.0), f.id))
    groups = triage.group(chosen, params["group"], lang=ctx.lang, names=names) if params["group"] else []
    rows: list[Any] = groups if params["group"] else chosen
    start = min(as_offset(str(raw.get("offset") or "0")), len(rows))
    options = {
        "rule": sorted({f.rule for f in everything}),
        "severity": sorted(SEVERITY_ORDER, key=lambda s: -SEVERITY_ORDER[s]),
        "status": ["unresolved", *STATUSES], "zone": sorted({f.zone for f in everything if f.zone}),
        "service": list(SERVICES), "group": list(triage.GROUPINGS),
        "review": list(REVIEW_STATUSES),
    }
    today = dt.date.today()
    shown = chosen[start:start + FINDING_PAGE] if not params["group"] else []
    return ctx.render("findings.html", status_code, active="findings", findings=shown,
                      groups=groups[start:start + FINDING_PAGE],
                      total=len(rows), matched=len(chosen), offset=start, limit=FINDING_PAGE, params=params,
                      sort=params["sort"], desc=bool(params["desc"]), options=options, names=names,
                      errors=errors or {}, form=form or {}, ticked=set(ticked),
                      ticked_keys=set(ticked_keys),
                      accept_min=(today + dt.timedelta(days=1)).isoformat(),
                      accept_max=data.acceptance_limit(db, today).isoformat())


@router.get("/findings", response_class=HTMLResponse)
def findings_page(request: Request, ctx: Ctx = Depends(needs("read")),
                  db: Session = Depends(data.db_session)) -> Response:
    return _findings_view(ctx, db, request.query_params)


def check_review(form: Mapping[str, Any], t: Bound, today: dt.date,
                 latest: dt.date) -> tuple[str, str, dt.date | None, dict[str, str]]:
    """(status, justification, expiry, errors by field) of a review form, with the messages in the page
    language (the service checks the same again)."""
    status = str(form.get("status") or "")
    justification = str(form.get("justification") or "").strip()[:2000]
    if status not in REVIEW_STATUSES:
        return status, justification, None, {"status": t("finding.need_status")}
    if status == "risk-accepted":
        justification, expires, errors = parse_acceptance(form, t, today, latest=latest)
        return status, justification, expires, errors
    if status == "false-positive" and not justification:
        return status, justification, None, {"justification": t("finding.need_justification_fp")}
    return status, justification, None, {}


@router.post("/findings/bulk", response_class=HTMLResponse)
async def findings_bulk(request: Request, ctx: Ctx = Depends(needs("finding.status")),
                        db: Session = Depends(data.db_session)) -> Response:
    """One status and one comment for the ticked findings, the ticked groups or every finding of the
    filter (each finding gets its own audited change)."""
    form = await request.form()
    if not csrf_ok(ctx.user, str(form.get(CSRF_FIELD) or "")):
        raise Forbidden("error.csrf")
    # the page's query travels as filter_<key> (the form's own `status` is the new status)
    raw = {k: str(form.get(f"filter_{k}") or "") for k in (*triage.FILTER_KEYS, "group", "sort", "desc")}
    params = triage.clean_params(raw)
    by = _clean(raw.get("group"), triage.GROUPINGS)
    chosen = triage.select(data.all_findings(db), params, data.device_names(db))
    ticked = [str(v) for v in form.getlist("id")][:MAX_BULK_REVIEW]
    keys = [str(v) for v in form.getlist("key")][:MAX_BULK_REVIEW]
    ids = triage.expand(chosen, ids=ticked, groups=keys, by=by,
                        everything=form.get("all") == "1")
    today = dt.date.today()
    latest = data.acceptance_limit(db, today)
    status, justification, expires, errors = check_review(form, ctx.t, today, latest)
    if not ids:
        errors["ids"] = ctx.t("findings.bulk_none")
    if not errors:
        assert ctx.user is not None
        n, refused = data.set_many_status(db, ids, status=status, justification=justification or None,
                                          expires=expires, actor=ctx.user.actor,
                                          notify=data.notifier(request))
        if not refused:
            back = {k: v for k, v in raw.items() if v and k in (*triage.FILTER_KEYS, "group", "sort", "desc")}
            return redirect("/findings?" + qs(back, msg="findings.bulk_changed", n=n,
                                              status=ctx.t("status." + status)))
        errors = refused
    return _findings_view(ctx, db, raw, status_code=422, errors=errors, form=form, ticked=ticked,
                          ticked_keys=keys)


def _finding_page(ctx: Ctx, db: Session, finding_id: str, *, status_code: int = 200,
                  errors: dict[str, str] | None = None, form: dict[str, Any] | None = None) -> Response:
    found = data.get_finding(db, finding_id)
    if found is None:
        return ctx.render("error.html", 404, message=ctx.t("error.not_found"))
    finding, extra = found
    names = data.device_names(db)
    macs = set(finding.devices)
    related = [f for f in data.all_findings(db) if f.id != finding.id and macs & set(f.devices)]
    related.sort(key=lambda f: (-SEVERITY_ORDER.get(f.severity, 0), f.rule, f.id))
    today = dt.date.today()
    return ctx.render("finding.html", status_code, active="findings", finding=finding, extra=extra,
                      device_names=names, errors=errors or {}, form=form or {},
                      rule=data.rule_texts(_state(ctx.request).settings, finding.rule, ctx.lang),
                      history=data.finding_history(db, finding.id), related=related[:50],
                      related_total=len(related), accept_min=(today + dt.timedelta(days=1)).isoformat(),
                      accept_max=data.acceptance_limit(db, today).isoformat())


@router.get("/findings/{finding_id}", response_class=HTMLResponse)
def finding_page(finding_id: str, ctx: Ctx = Depends(needs("read")),
                 db: Session = Depends(data.db_session)) -> Response:
    return _finding_page(ctx, db, finding_id)


@router.post("/findings/{finding_id}/status", response_class=HTMLResponse)
async def finding_status(finding_id: str, request: Request, ctx: Ctx = Depends(needs("finding.status")),
                         db: Session = Depends(data.db_session)) -> Response:
    form = await posted(request, ctx)
    if data.get_finding(db, finding_id) is None:
        return ctx.render("error.html", 404, message=ctx.t("error.not_found"))
    today = dt.date.today()
    latest = data.acceptance_limit(db, today)
    status, justification, expires, errors = check_review(form, ctx.t, today, latest)
    if errors:
        return _finding_page(ctx, db, finding_id, status_code=422, errors=errors, form=form)
    assert ctx.user is not None
    refused = data.set_status(db, finding_id, status=status, justification=justification or None,
                              expires=expires,
                              actor=ctx.user.actor, notify=data.notifier(request))
    if refused:
        return _finding_page(ctx, db, finding_id, status_code=422, errors=refused, form=form)
    return redirect(f"/findings/{finding_id}?" + qs(msg="finding.status_changed",
                                                    status=ctx.t("status." + status)))


# ----------------------------------------------------------------------------- inventory

DEVICE_SORTS: dict[str, Any] = {
    "mac": lambda d: d.mac, "vlan": lambda d: d.vlans[0] if d.vlans else -1,
    "vendor": lambda d: (d.vendor or "").lower(),
    "hostname": lambda d: (d.hostname or "").lower(), "role": lambda d: d.role,
    "zone": lambda d: d.zone or "",
    "connection": lambda d: d.connection, "os": lambda d: d.os or "",
}


def _matches_q(device: Device, q: str) -> bool:
    q = q.lower()
    hay = [device.mac, device.hostname or "", device.vendor or "", *device.ips, *device.names]
    if any(q in h.lower() for h in hay):
        return True
    digits = triage.mac_key(q)  # a MAC typed without separators, or with dashes or Cisco dots
    return triage.is_mac_like(q) and len(digits) >= 4 and digits in triage.mac_key(device.mac)


DEVICE_COLUMNS = ("ips", "vlan", "vendor", "hostname", "role", "zone", "switch_port", "connection", "os",
                  "sheet")
"""Inventory columns a reader may show or hide (the MAC always shows: it is the link)."""
DEFAULT_COLUMNS = ("ips", "vlan", "vendor", "hostname", "role", "zone", "os", "sheet")
"""What fits a 1366-pixel laptop screen."""
COLS_COOKIE = "medtap_cols"


def chosen_columns(request: Request) -> tuple[tuple[str, ...], bool]:
    """(columns to show, whether the reader just chose them): the form's ticks, else the cookie, else the
    defaults."""
    if request.query_params.get("cols_set"):
        picked = set(request.query_params.getlist("cols"))
        return tuple(c for c in DEVICE_COLUMNS if c in picked), True
    saved = set((request.cookies.get(COLS_COOKIE) or "").split(","))
    kept = tuple(c for c in DEVICE_COLUMNS if c in saved)
    return (kept or DEFAULT_COLUMNS), False


@router.get("/devices", response_class=HTMLResponse)
def devices_page(
    request: Request,
    ctx: Ctx = Depends(needs("read")), db: Session = Depends(data.db_session),
    zone: str = "", role: str = "", connection: str = "", q: str = "", sort: str = "", desc: str = "",
    offset: str = "0", sheet: str = "", dm: str = "",
) -> Response:
    params = {"zone": _clean(zone), "role": _clean(role), "connection": _clean(connection, CONNECTIONS),
              "q": _clean(q),
              "sort": _clean(sort, tuple(DEVICE_SORTS)), "desc": "1" if desc else "",
              "sheet": _clean(sheet, ("none",)), "dm": "1" if dm == "1" else ""}
    everything = data.all_devices(db)
    chosen = [d for d in everything if (not params["zone"] or d.zone == params["zone"])
              and (not params["role"] or d.role == params["role"])
              and (not params["connection"] or d.connection == params["connection"])
              and (not params["q"] or _matches_q(d, params["q"]))
              and (not params["sheet"] or not d.sheet_id) and (not params["dm"] or d.is_dm)]
    chosen.sort(key=DEVICE_SORTS[params["sort"] or "mac"], reverse=bool(params["desc"]))
    start = min(as_offset(offset), len(chosen))
    options = {"zone": sorted({d.zone for d in everything if d.zone}),
               "role": sorted({d.role for d in everything}),
               "connection": list(CONNECTIONS)}
    cols, just_chosen = chosen_columns(request)
    resp = ctx.render("devices.html", active="devices", devices=chosen[start:start + PAGE], total=len(chosen),
                      offset=start,
                      limit=PAGE, params=params, sort=params["sort"], desc=bool(params["desc"]),
                      options=options, cols=cols, all_cols=DEVICE_COLUMNS)
    if just_chosen:  # the choice sticks for this browser
        resp.set_cookie(COLS_COOKIE, ",".join(cols) or "mac",
                        **cookie_kwargs(secure=request.url.scheme == "https", max_age=365 * 86400))
    return resp


@router.get("/devices/{mac}", response_class=HTMLResponse)
def device_page(mac: str, ctx: Ctx = Depends(needs("read")),
                db: Session = Depends(data.db_session)) -> Response:
    return render_device(ctx, db, mac)


def render_device(ctx: Ctx, db: Session, mac: str, *, status_code: int = 200,
                  intervention_errors: dict[str, str] | None = None,
                  intervention_form: dict[str, Any] | None = None) -> Response:
    """The device page (with the intervention form's errors when a post was refused)."""
    from api.web.compare import compare_rows
    from api.web.ui_interventions import device_interventions

    device = data.get_device(db, mac)
    if device is None:
        return ctx.render("error.html", 404, message=ctx.t("error.not_found"))
    found = data.get_sheet(db, device.sheet_id) if device.sheet_id else None
    sheet = found[0] if found else None
    findings = [f for f in data.all_findings(db) if device.mac in f.devices]
    findings.sort(key=lambda f: -SEVERITY_ORDER.get(f.severity, 0))
    from store.reviews import isolation_flows

    return ctx.render("device.html", status_code, active="devices", device=device, sheet=sheet,
                      compare=compare_rows(device, sheet), findings=findings,
                      isolation=isolation_flows(db, device.mac) or [],
                      interventions=device_interventions(db, device.mac),
                      intervention_errors=intervention_errors or {},
                      intervention_form=intervention_form or {})


# ----------------------------------------------------------------------------- audit (the map: ui_map)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, ctx: Ctx = Depends(needs("audit.read")),
               db: Session = Depends(data.db_session), offset: str = "0") -> Response:
    start = as_offset(offset)
    params = {k: _clean(request.query_params.get(k)) for k in data.AUDIT_FILTERS}
    entries, total = data.audit_entries(db, offset=start, limit=PAGE, filters=params)
    return ctx.render("audit.html", active="audit", entries=entries, total=total, offset=start, limit=PAGE,
                      params=params, options=data.audit_choices(db))


# ----------------------------------------------------------------------------- API tokens (admin)


@router.get("/tokens", response_class=HTMLResponse)
def tokens_page(ctx: Ctx = Depends(needs("token.manage")),
                db: Session = Depends(data.db_session)) -> Response:
    return ctx.render("tokens.html", active="tokens", tokens=data.token_entries(db))


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(token_id: str, request: Request, ctx: Ctx = Depends(needs("token.manage")),
                       db: Session = Depends(data.db_session)) -> Response:
    await posted(request, ctx)
    assert ctx.user is not None
    if not token_id.isdigit() or len(token_id) > 9 or not data.revoke_token(db, int(token_id),
                                                                            actor=ctx.user.actor):
        return ctx.render("error.html", 404, message=ctx.t("error.not_found"))
    return redirect("/tokens?" + qs(msg="tokens.revoked", id=token_id))
