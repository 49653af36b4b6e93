"""The personal link of a vaccination certificate: a signed, expiring token bound to one
dose. Nothing else is readable through it; it cannot be turned into another dose's.

The token carries the dose id and the last day it is valid, signed with the app's secret
(``Settings.secret_key``; old keys still verify, never sign). Pure: no web, no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from itsdangerous import BadSignature, URLSafeSerializer

SALT = "aefi.checkin.v1"


class TokenRejected(Exception):
    """The link is not one aefi made (``invalid``) or its time is over (``expired``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CheckinToken:
    dose_id: int
    valid_until: date


def sign(dose_id: int, valid_until: date, key: str) -> str:
    if not key:
        raise ValueError("a check-in token needs the app's secret key")
    return URLSafeSerializer(key, salt=SALT).dumps([dose_id, valid_until.toordinal()])


def read(token: str, keys: list[str], today: date) -> CheckinToken:
    """The dose the token is bound to. Raises TokenRejected."""
    if not token or len(token) > 200:
        raise TokenRejected("invalid")
    serializer = URLSafeSerializer([k for k in keys if k], salt=SALT)
    try:
        payload = serializer.loads(token)
    except BadSignature:
        raise TokenRejected("invalid") from None
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in payload)
    ):
        raise TokenRejected("invalid")
    dose_id, until = payload
    try:
        valid_until = date.fromordinal(until)
    except (ValueError, OverflowError):
        raise TokenRejected("invalid") from None
    if today > valid_until:
        raise TokenRejected("expired")
    return CheckinToken(dose_id=dose_id, valid_until=valid_until)
