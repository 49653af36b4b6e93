"""Users, their one role each, and the throttle on failed logins."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from aefi import clock
from aefi.db import UTCDateTime


class Role(enum.StrEnum):
    reporter = "reporter"  # observation physician at one vaccination site
    investigator = "investigator"  # county CDC
    bureau = "bureau"  # county health bureau
    hospital = "hospital"  # designated green-channel hospital
    admin = "admin"  # programme administrator
    api_client = "api_client"  # the immunization information system, by token
    province = "province"  # provincial CDC / health commission: reads every county below it
    # aefi itself (timers, the reactions to a filed report): only ``Actor.system`` has it,
    # never a user (``USER_ROLES``; ``Actor.of`` refuses an account that claims it).
    system = "system"


# The roles an account may have.
USER_ROLES = tuple(r for r in Role if r != Role.system)


class User(SQLModel, table=True):
    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    full_name: str = Field(default="", max_length=100)
    email: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=40)
    role: str = Field(max_length=16)
    county_id: int = Field(foreign_key="region.id", index=True)
    site_id: int | None = Field(default=None, foreign_key="site.id", index=True)
    hospital_id: int | None = Field(default=None, foreign_key="hospital.id", index=True)
    password_hash: str = Field(max_length=200)
    # Bumped on password change: old sessions and tokens stop working.
    credential_version: int = Field(default=1)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))


class LoginThrottle(SQLModel, table=True):
    """Failed logins per key (``user:<name>``, ``ip:<address>``, ``global``); kept in the
    database so several app processes agree."""

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, max_length=128)
    failures: int = Field(default=0)
    blocked_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # The last failure: a count older than the window starts again from nothing.
    last_failure_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class LoginSession(SQLModel, table=True):
    """One web login. The browser's cookie holds a random id whose SHA-256 is stored here;
    every request reads this row, so ending it (logout, password change, deactivation)
    takes effect at once on every process."""

    __tablename__ = "login_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    last_seen_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # logout, password_changed, password_reset, deactivated, idle, expired
    end_reason: str = Field(default="", max_length=32)
    user_agent: str = Field(default="", max_length=200)
    ip: str = Field(default="", max_length=64)


class LoginFailure(SQLModel, table=True):
    """A failed login, kept for the administrator (unknown user names included)."""

    __tablename__ = "login_failure"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime(), index=True))
    username: str = Field(default="", max_length=64)
    user_id: int | None = Field(default=None, index=True)
    county_id: int | None = Field(default=None, index=True)
    ip: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=200)
    # wrong_password, unknown_user, inactive, throttled
    reason: str = Field(default="", max_length=32)
