"""Errors of the store's functions, by kind: what went wrong and which field is to blame.

The API maps each kind to its HTTP status (`status`), the CLI to its message and exit status;
the web UI shows `detail` next to `field`.  Kept free of FastAPI so the CLI and a sensor never
import the web stack.
"""

from __future__ import annotations


class ServiceError(Exception):
    status = 400

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class NotFoundError(ServiceError):
    status = 404


class ConflictError(ServiceError):
    status = 409


class InvalidError(ServiceError):
    status = 422


class AuthError(ServiceError):
    status = 401


class ForbiddenError(ServiceError):
    status = 403


class TooLargeError(ServiceError):
    status = 413


class SettingError(ServiceError):
    """An environment setting (MEDTAP_*) that cannot be read: the message names it and its value."""


class MissingToolError(ServiceError):
    """An external program the command needs (tshark) is not installed."""


class NoInputError(ServiceError):
    """None of the inputs could be read as a capture."""

    status = 422
