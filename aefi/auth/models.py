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
    """Failed logins per user name; kept in the database so several app processes agree."""

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, max_length=128)
    failures: int = Field(default=0)
    blocked_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
