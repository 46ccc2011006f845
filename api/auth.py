"""API tokens and roles: bearer tokens stored as SHA-256 hashes, checked on every route but /health.

`create_token(session, role=..., name=...)` returns the clear token once; only
its SHA-256 hash is stored, so a database leak does not leak tokens.

Role matrix (PERMISSIONS, the tests iterate it):

| permission      | viewer | biomedical | it | admin | sensor |
|-----------------|--------|------------|----|-------|--------|
| read            |   x    |     x      | x  |   x   |        |
| export          |   x    |     x      | x  |   x   |        |
| finding.status  |        |     x      | x  |   x   |        |
| sheet.write     |        |     x      | x  |   x   |        |
| audit.read      |        |     x      | x  |   x   |        |
| analyze         |        |     x      | x  |   x   |        |
| intervention.write |     |     x      | x  |   x   |        |
| ingest          |        |            |    |       |   x    |
| token.manage    |        |            |    |   x   |        |

| permission      | what                                                    |
|-----------------|---------------------------------------------------------|
| read            | devices, findings, sheets, reconciliation, runs/stats   |
| export          | findings syslog/ECS, inventory CSV, sheets export       |
| finding.status  | change a finding's status (acknowledge, accept risk...) |
| sheet.write     | create, update, delete, import identification sheets    |
| audit.read      | read the audit log                                      |
| analyze         | re-run the analysis on stored observations              |
| intervention.write | record an intervention on a device (update, maintenance, interface) |
| ingest          | POST observation batches (remote sensors)               |
| token.manage    | list and revoke API tokens (API and web UI)             |

A sensor token can only ingest, and only as the sensor id it was created for
(`--sensor`, default its name): it reads nothing.  A token may expire
(`expires`); a revoked or expired token is refused at once, and the web UI
sessions opened with it end (api.web.session).  `last_used` is written at most
once a minute (TOKEN_TOUCH_SECONDS) so that a busy sensor does not cost a write
per request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session, col, select, update

from api.errors import AuthError, ForbiddenError, InvalidError, NotFoundError
from store import audit
from store.models import TokenRow, WebSessionRow, utcnow

ROLES = ("viewer", "biomedical", "it", "admin", "sensor")
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset({"viewer", "biomedical", "it", "admin"}),
    "export": frozenset({"viewer", "biomedical", "it", "admin"}),
    "finding.status": frozenset({"biomedical", "it", "admin"}),
    "sheet.write": frozenset({"biomedical", "it", "admin"}),
    "audit.read": frozenset({"biomedical", "it", "admin"}),
    "analyze": frozenset({"biomedical", "it", "admin"}),
    "intervention.write": frozenset({"biomedical", "it", "admin"}),
    "ingest": frozenset({"sensor"}),
    "token.manage": frozenset({"admin"}),
}
TOKEN_PREFIX = "mt_"
TOKEN_TOUCH_SECONDS = 60
SENSOR_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")  # the IngestIn.sensor pattern
_DURATION = re.compile(r"^(\d{1,5})([hdw])$")
_UNITS = {"h": dt.timedelta(hours=1), "d": dt.timedelta(days=1), "w": dt.timedelta(weeks=1)}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name and role."""

    name: str
    role: str
    token_id: int
    sensor: str | None = None

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.name}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def parse_expiry(*, expires_in: str | None = None, expires: str | None = None,
                 now: dt.datetime | None = None) -> dt.datetime | None:
    """`--expires-in 90d|12h|2w` or `--expires YYYY-MM-DD` (00:00 UTC that day) as an aware datetime."""
    if expires_in and expires:
        raise InvalidError("give --expires-in or --expires, not both", "expires")
    now = now or utcnow()
    if expires_in:
        found = _DURATION.match(expires_in.strip())
        if found is None:
            raise InvalidError(f"--expires-in {expires_in!r}: expected a number and h, d or w (e.g. 90d)",
                               "expires_in")
        return now + int(found[1]) * _UNITS[found[2]]
    if expires:
        try:
            day = dt.date.fromisoformat(expires.strip())
        except ValueError:
            raise InvalidError(f"--expires {expires!r}: expected YYYY-MM-DD", "expires") from None
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return None


def _sensor_binding(role: str, name: str, sensor: str | None) -> str | None:
    if role != "sensor":
        if sensor:
            raise InvalidError("only a sensor token is bound to a sensor id", "sensor")
        return None
    bound = sensor or name
    if not SENSOR_ID.match(bound):
        raise InvalidError(f"sensor id {bound!r}: 1..128 of A-Z a-z 0-9 . _ : - (give --sensor)", "sensor")
    return bound


def create_token(session: Session, *, role: str, name: str, expires: dt.datetime | None = None,
                 sensor: str | None = None, actor: str = "cli") -> str:
    """Create a token for `role` (audited); the clear token is returned once and never stored.

    A sensor token is bound to `sensor` (default: its name): it may ingest only batches of that sensor.
    """
    if role not in ROLES:
        raise InvalidError(f"unknown role {role!r} (expected one of {', '.join(ROLES)})", "role")
    if not name or len(name) > 255:
        raise InvalidError("name must be 1..255 characters", "name")
    if expires is not None and expires <= utcnow():
        raise InvalidError("the expiry must be in the future", "expires")
    bound = _sensor_binding(role, name, sensor)
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = TokenRow(hash=hash_token(clear), role=role, name=name, expires=expires, sensor=bound)
    session.add(row)
    session.flush()
    audit.record(session, who=actor, action="create", entity="token", entity_id=str(row.id),
                 new={"name": name, "role": role, "expires": expires, "sensor": bound})
    session.commit()
    return clear


def token_usable(row: TokenRow | None, now: dt.datetime | None = None) -> bool:
    """Neither revoked nor expired."""
    if row is None or row.revoked:
        return False
    return row.expires is None or row.expires > (now or utcnow())


def _touch(session: Session, row: TokenRow, now: dt.datetime) -> None:
    """Record the use, at most once per TOKEN_TOUCH_SECONDS (no write per request)."""
    if row.last_used is not None and now - row.last_used < dt.timedelta(seconds=TOKEN_TOUCH_SECONDS):
        return
    session.exec(update(TokenRow).where(col(TokenRow.id) == row.id).values(last_used=now))
    session.commit()


def verify_token(session: Session, token: str) -> Principal | None:
    """The principal of a usable (unrevoked, unexpired) token, or None; records its last use."""
    if not token or len(token) > 512:
        return None
    row = session.exec(select(TokenRow).where(TokenRow.hash == hash_token(token))).first()
    now = utcnow()
    if row is None or not token_usable(row, now):
        return None
    principal = Principal(name=row.name, role=row.role, token_id=int(row.id or 0), sensor=row.sensor)
    _touch(session, row, now)
    return principal


def list_tokens(session: Session) -> list[TokenRow]:
    """Every token (hashes included: callers show the other fields only), oldest first."""
    return list(session.exec(select(TokenRow).order_by(col(TokenRow.id))).all())


def find_token(session: Session, id_or_name: str) -> TokenRow:
    """The token with this id, or the one unrevoked token with this name (ambiguous names need the id)."""
    if id_or_name.isdigit():
        row = session.get(TokenRow, int(id_or_name))
        if row is None:
            raise NotFoundError(f"no token with id {id_or_name}", "token")
        return row
    rows = session.exec(select(TokenRow).where(TokenRow.name == id_or_name,
                                               col(TokenRow.revoked).is_(False))).all()
    if not rows:
        raise NotFoundError(f"no active token named {id_or_name!r}", "token")
    if len(rows) > 1:
        ids = ", ".join(str(r.id) for r in rows)
        raise InvalidError(f"{len(rows)} active tokens are named {id_or_name!r} (ids {ids}): give the id",
                           "token")
    return rows[0]


def revoke_token(session: Session, *, token_id: int, actor: str = "cli") -> bool:
    """Revoke a token and end the web sessions opened with it (audited); False when there is no such token."""
    row = session.get(TokenRow, token_id)
    if row is None:
        return False
    if not row.revoked:
        row.revoked = True
        session.add(row)
        session.exec(update(WebSessionRow).where(col(WebSessionRow.token_hash) == row.hash)
                     .values(revoked=True))
        audit.record(session, who=actor, action="revoke", entity="token", entity_id=str(row.id),
                     field="revoked",
                     old=False, new=True)
    session.commit()
    return True


def allowed(role: str, permission: str) -> bool:
    return role in PERMISSIONS[permission]


_bearer = HTTPBearer(auto_error=False, description="API token created with `medtap token create --role ...`.")


def get_session(request: Request):
    """One database session per request, on the app's engine."""
    with Session(request.app.state.engine) as session:
        yield session


def current_principal(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    session: Session = Depends(get_session),
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthError("missing bearer token", "Authorization")
    principal = verify_token(session, credentials.credentials)
    if principal is None:
        raise AuthError("invalid or revoked token", "Authorization")
    return principal


def require(permission: str) -> Callable[..., Principal]:
    """Dependency: the caller's principal, 403 unless its role has `permission`."""
    if permission not in PERMISSIONS:
        raise ValueError(permission)

    def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        if not allowed(principal.role, permission):
            raise ForbiddenError(f"role {principal.role!r} may not {permission}", "Authorization")
        return principal

    dependency.__name__ = f"require_{permission.replace('.', '_')}"
    return dependency
