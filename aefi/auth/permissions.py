"""Who may do what, to which records. Service functions call these before they act,
so scope is enforced below the views and the API alike."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import object_session
from sqlmodel import Session, col, select

from aefi.auth.models import Role, User
from aefi.errors import Forbidden, NotFound

COUNTY_ROLES = frozenset({Role.investigator, Role.bureau, Role.admin})
# Roles that read across every county of their scope (all sites of it), not one site.
WIDE_READERS = COUNTY_ROLES | {Role.province}
# Roles that need a person's full ID number and contact details for their work.
IDENTITY_ROLES = frozenset({Role.investigator, Role.bureau, Role.admin, Role.reporter})


@dataclass(frozen=True)
class Actor:
    """The acting user, as the service layer sees them; or aefi itself (``Actor.system``)."""

    user_id: int | None
    username: str
    name: str
    role: Role
    county_id: int
    site_id: int | None = None
    hospital_id: int | None = None
    # The counties this actor acts in: its own county; for ``province`` (whose county_id is
    # a province region) every county below it. Filled by ``of``; see ``in_scope``.
    county_ids: frozenset[int] = field(default=frozenset())
    # Why aefi acts (the system actor only): shown in the audit trail.
    reason: str = ""

    def __post_init__(self) -> None:
        if (self.role == Role.system) != (self.user_id is None):
            # A user cannot pass as aefi, nor aefi as a user.
            raise ValueError("only Actor.system has the system role, and it has no user")
        if self.role == Role.system and not self.reason.strip():
            raise ValueError("the system actor names why it acts")
        if not self.county_ids and self.role not in (Role.province, Role.system):
            object.__setattr__(self, "county_ids", frozenset({self.county_id}))

    @classmethod
    def system(cls, county_id: int | Iterable[int], *, reason: str) -> Actor:
        """aefi itself doing a system duty (triage on filing, an automatic hold, a timer,
        the command line) for exactly the county given, or for each of several counties
        (a job over a province: pass their ids). Its scope is those counties and nothing
        else; it may do only what the services list ``Role.system`` for."""
        counties = frozenset({county_id}) if isinstance(county_id, int) else frozenset(county_id)
        home = next(iter(counties)) if len(counties) == 1 else 0
        return cls(
            user_id=None,
            username="system",
            name=f"system ({reason.strip()})"[:100],
            role=Role.system,
            county_id=home,
            county_ids=counties,
            reason=reason.strip(),
        )

    @property
    def is_system(self) -> bool:
        return self.role == Role.system

    @classmethod
    def of(cls, user: User, session: Session | None = None) -> Actor:
        role = Role(user.role)
        if role == Role.system:
            raise Forbidden("Your role ({role}) may not do this.", role=role.value)
        counties: frozenset[int] = frozenset()
        if role == Role.province:
            session = session or object_session(user)
            # A detached user (no session) gets no county at all: it sees nothing.
            counties = counties_below(session, user.county_id) if session else frozenset()
        return cls(
            user_id=user.id,
            username=user.username,
            name=user.full_name or user.username,
            role=role,
            county_id=user.county_id,
            site_id=user.site_id,
            hospital_id=user.hospital_id,
            county_ids=counties,
        )

    @property
    def is_county_wide(self) -> bool:
        return self.role in COUNTY_ROLES


def require_role(actor: Actor, *roles: Role) -> None:
    """The actor has one of these roles (``Role.system`` among them for a system duty)."""
    if actor.role not in roles:
        raise Forbidden("Your role ({role}) may not do this.", role=actor.role.value)


def require_system(actor: Actor, county_id: int | None = None) -> None:
    """A system duty (a timer, an automatic hold): only aefi itself does it, and only for
    a record of its counties (another county's record does not exist for it)."""
    require_role(actor, Role.system)
    if county_id is not None:
        require_county(actor, county_id)


def counties_below(session: Session, province_id: int) -> frozenset[int]:
    """The county regions whose parent is this province."""
    from aefi.registry.models import Region, RegionLevel

    return frozenset(
        int(i)
        for i in session.exec(
            select(Region.id).where(
                Region.parent_id == province_id, Region.level == RegionLevel.county
            )
        )
    )


def every_county(session: Session) -> frozenset[int]:
    """Every county region: the scope of a system job over shared data (lots, signals)."""
    from aefi.registry.models import Region, RegionLevel

    return frozenset(
        int(i) for i in session.exec(select(Region.id).where(Region.level == RegionLevel.county))
    )


def in_scope(actor: Actor, county_id: int | None) -> bool:
    """Whether a record of this county is inside the actor's counties."""
    return county_id is not None and county_id in actor.county_ids


def scope_clause(column: Any, actor: Actor) -> Any:
    """``column IN (the actor's counties)`` for a query (nothing matches an empty scope)."""
    return col(column).in_(sorted(actor.county_ids))


def require_county(actor: Actor, county_id: int | None) -> None:
    """A record of another county does not exist for this actor."""
    if not in_scope(actor, county_id):
        raise NotFound("Not found.")


def require_own_county(actor: Actor, county_id: int | None) -> None:
    """Writes: only inside the actor's own county (a province writes nothing by this rule)."""
    if actor.role == Role.province or county_id != actor.county_id:
        raise NotFound("Not found.")


def require_site(actor: Actor, site_id: int | None, county_id: int | None) -> None:
    """Reporters see their own site; county roles the whole county; others nothing."""
    require_county(actor, county_id)
    if actor.role == Role.reporter and actor.site_id != site_id:
        raise NotFound("Not found.")
    if actor.role in (Role.hospital, Role.api_client):
        raise NotFound("Not found.")


def site_filter(actor: Actor) -> int | None:
    """The one site a list is limited to for this actor, or None for county-wide roles
    (and the system actor, which reads its counties whole)."""
    if actor.role == Role.reporter:
        return actor.site_id if actor.site_id is not None else -1
    if sees_all_sites(actor):
        return None
    raise Forbidden("Your role ({role}) may not do this.", role=actor.role.value)


def sees_all_sites(actor: Actor) -> bool:
    """The actor's lists and forms cover every site of its counties (a reporter's, one
    site): the pages offer "All sites" and a site picker then."""
    return actor.role in WIDE_READERS or actor.is_system


def sees_identity(actor: Actor) -> bool:
    return actor.role in IDENTITY_ROLES


def mask_id_number(id_number: str) -> str:
    """110101********1234: enough to tell two people apart, not enough to misuse."""
    if len(id_number) <= 8:
        return id_number[:2] + "*" * max(len(id_number) - 2, 0)
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def mask_name(name: str) -> str:
    """张*明 / J*** Smith: the board shows names like a paper queue list does."""
    if not name:
        return name
    if " " in name:
        first, _, rest = name.partition(" ")
        return first[0] + "*" * (len(first) - 1) + " " + rest
    if len(name) <= 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
