"""Password hashing (Argon2id) and the one rule a new password must meet."""

from __future__ import annotations

from argon2 import PasswordHasher

from aefi.errors import Invalid

_hasher = PasswordHasher()
# A real hash to verify against when the user name is unknown, so timing tells nothing.
_DUMMY_HASH = _hasher.hash("not-a-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; against a dummy hash when there is no user, so that
    an unknown name takes as long as a wrong password. Raises what argon2 raises."""
    return _hasher.verify(password_hash or _DUMMY_HASH, password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def check_password_rules(password: str) -> None:
    if len(password) < 8:
        raise Invalid(
            "A password needs at least 8 characters.",
            fields={"password": "A password needs at least 8 characters."},
        )
