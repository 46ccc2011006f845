"""API tokens and roles: bearer tokens stored as SHA-256 hashes, checked on every route but /health.

`create_token(session, role=..., name=...)` returns the clear token once; only
its SHA-256 hash is stored, so a database leak does not leak tokens.

Role matrix (PERMISSIONS, the tests iterate it):

| permission      | what                                                        | viewer | biomedical | it | admin | sensor |
|-----------------|-------------------------------------------------------------|--------|------------|----|-------|--------|
| read            | devices, findings, sheets, reconciliation, runs/stats       |   x    |     x      | x  |   x   |        |
| export          | findings syslog/ECS, inventory CSV, sheets export           |   x    |     x      | x  |   x   |        |
| finding.status  | change a finding's status (acknowledge, accept risk...)     |        |     x      | x  |   x   |        |
| sheet.write     | create, update, delete, import identification sheets        |        |     x      | x  |   x   |        |
| audit.read      | read the audit log                                          |        |     x      | x  |   x   |        |
| analyze         | re-run the analysis on stored observations                  |        |     x      | x  |   x   |        |
| ingest          | POST observation batches (remote sensors)                   |        |            |    |       |   x    |

A sensor token can only ingest: it reads nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session, select

from api.errors import AuthError, ForbiddenError, InvalidError
from api.models import TokenRow

ROLES = ("viewer", "biomedical", "it", "admin", "sensor")
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset({"viewer", "biomedical", "it", "admin"}),
    "export": frozenset({"viewer", "biomedical", "it", "admin"}),
    "finding.status": frozenset({"biomedical", "it", "admin"}),
    "sheet.write": frozenset({"biomedical", "it", "admin"}),
    "audit.read": frozenset({"biomedical", "it", "admin"}),
    "analyze": frozenset({"biomedical", "it", "admin"}),
    "ingest": frozenset({"sensor"}),
}
TOKEN_PREFIX = "mt_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name and role."""

    name: str
    role: str
    token_id: int

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.name}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(session: Session, *, role: str, name: str) -> str:
    """Create a token for `role`; the clear token is returned once and never stored."""
    if role not in ROLES:
        raise InvalidError(f"unknown role {role!r} (expected one of {', '.join(ROLES)})", "role")
    if not name or len(name) > 255:
        raise InvalidError("name must be 1..255 characters", "name")
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(TokenRow(hash=hash_token(clear), role=role, name=name))
    session.commit()
    return clear


def verify_token(session: Session, token: str) -> Principal | None:
    """The principal of an active token, or None."""
    if not token or len(token) > 512:
        return None
    row = session.exec(select(TokenRow).where(TokenRow.hash == hash_token(token))).first()
    if row is None or row.revoked:
        return None
    return Principal(name=row.name, role=row.role, token_id=int(row.id or 0))


def revoke_token(session: Session, *, token_id: int) -> bool:
    row = session.get(TokenRow, token_id)
    if row is None:
        return False
    row.revoked = True
    session.add(row)
    session.commit()
    return True


def allowed(role: str, permission: str) -> bool:
    return role in PERMISSIONS[permission]


_bearer = HTTPBearer(auto_error=False, description="API token created with `medtap token create --role ...`.")


def get_session(request: Request):  # type: ignore[no-untyped-def]
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
