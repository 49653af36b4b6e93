"""Errors the service layer raises; the web and API layers turn them into responses.

Messages are English msgids with ``{name}`` placeholders, translated where they are shown,
so a service function never needs to know the user's language.
"""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message.format(**params) if params else message)
        self.message = message
        self.params = params


class NotFound(DomainError):
    """The record does not exist, or lies outside the caller's scope (API.md: 404)."""

    status_code = 404


class Forbidden(DomainError):
    """The caller's role may not do this at all (API.md: 403)."""

    status_code = 403


class Conflict(DomainError):
    status_code = 409


class Invalid(DomainError):
    """Input that fails a rule; ``fields`` maps each field name to its message."""

    status_code = 422

    def __init__(self, message: str, fields: dict[str, str] | None = None, **params: object):
        super().__init__(message, **params)
        self.fields = fields or {}
