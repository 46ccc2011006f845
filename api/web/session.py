"""Web UI sessions: sign in with an API token, then a signed cookie and a CSRF token.

The token typed on the sign-in page is checked by `api.auth` (the same hashed
tokens as the API); the browser then holds only a session cookie carrying a
random session id, the token's SHA-256 (never the token), its role and name, a
per-session CSRF token and an expiry, signed with HMAC-SHA256 under the settings
secret (RFC 2104).  The signature alone cannot end a session, so every session
also has a server-side record (store.models.WebSessionRow, keyed by the SHA-256 of
the session id, api.web.data): sign-out revokes it, it ends after
`session_idle_timeout` seconds without a request and `session_max_age` seconds
after sign-in (OWASP session management), and revoking or expiring the API
token used to sign in ends it too.
The cookie is HttpOnly, SameSite=Strict, and Secure when the request came over
https.  Every POST carries the CSRF token in a hidden field, compared in constant
time (OWASP synchroniser-token pattern); SameSite=Strict is the second layer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any

SESSION_COOKIE = "medtap_session"
CSRF_FIELD = "csrf_token"
SESSION_MAX_AGE = 12 * 3600  # default absolute lifetime (settings.session_max_age)
SESSION_IDLE_TIMEOUT = 30 * 60  # default idle timeout (settings.session_idle_timeout)


@dataclass(frozen=True)
class WebSession:
    """What the signed cookie says about the signed-in person."""

    sub: str  # SHA-256 hex of the API token
    role: str
    name: str
    csrf: str
    exp: int
    sid: str  # random session id; the server keeps only its SHA-256

    @property
    def record_id(self) -> str:
        """Key of the server-side record (store.models.WebSessionRow)."""
        return hashlib.sha256(self.sid.encode("ascii", "replace")).hexdigest()

    @property
    def actor(self) -> str:
        return f"{self.name} ({self.role})" if self.name else self.role


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, b"medtap-web-session\x00" + payload.encode("ascii"),
                         hashlib.sha256).digest())


def new_session(*, token: str, role: str, name: str, now: float | None = None,
                max_age: int = SESSION_MAX_AGE) -> WebSession:
    """A fresh session (new id, new CSRF token) for a verified API token."""
    issued = int(time.time() if now is None else now)
    return WebSession(sub=token_hash(token), role=role, name=name, csrf=secrets.token_urlsafe(32),
                      exp=issued + max_age,
                      sid=secrets.token_urlsafe(32))


def dump_session(session: WebSession, secret: bytes) -> str:
    """Cookie value: base64url(JSON) '.' base64url(HMAC)."""
    payload = _b64(json.dumps(asdict(session), separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{payload}.{_mac(secret, payload)}"


def load_session(value: str | None, secret: bytes, *, now: float | None = None) -> WebSession | None:
    """The session in a cookie, or None when absent, forged, malformed or expired."""
    if not value or value.count(".") != 1 or len(value) > 4096:
        return None
    payload, signature = value.split(".")
    try:
        expected = _mac(secret, payload)
    except UnicodeEncodeError:
        return None
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace")):
        return None
    try:
        data: Any = json.loads(_unb64(payload))
        session = WebSession(
            sub=str(data["sub"]), role=str(data["role"]), name=str(data["name"]), csrf=str(data["csrf"]),
            exp=int(data["exp"]),
            sid=str(data["sid"]),
        )
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None
    if session.exp < (time.time() if now is None else now):
        return None
    return session


def csrf_ok(session: WebSession | None, submitted: str | None) -> bool:
    """The form's CSRF token matches the session's (constant-time)."""
    if session is None or not submitted:
        return False
    return hmac.compare_digest(session.csrf.encode("utf-8"), submitted.encode("utf-8", "replace"))


def cookie_kwargs(*, secure: bool, max_age: int | None = SESSION_MAX_AGE) -> dict[str, Any]:
    """Attributes of every cookie the UI sets."""
    return {"httponly": True, "samesite": "strict", "secure": secure, "path": "/", "max_age": max_age}
