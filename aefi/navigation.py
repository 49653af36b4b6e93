"""The header's navigation, per role. Each domain adds its pages here."""

from __future__ import annotations

from aefi.auth.models import Role
from aefi.i18n import N_

NAV: dict[Role, list[tuple[str, str]]] = {
    Role.reporter: [
        ("/", N_("Home")),
        ("/doses", N_("Doses")),
        ("/imports/doses", N_("Import doses")),
    ],
    Role.investigator: [
        ("/", N_("Home")),
        ("/doses", N_("Doses")),
        ("/registry/lots", N_("Lots")),
    ],
    Role.bureau: [
        ("/", N_("Home")),
        ("/registry/lots", N_("Lots")),
        ("/registry/sites", N_("Sites")),
    ],
    Role.hospital: [
        ("/", N_("Home")),
    ],
    Role.admin: [
        ("/", N_("Home")),
        ("/registry/regions", N_("Regions")),
        ("/registry/sites", N_("Sites")),
        ("/registry/hospitals", N_("Hospitals")),
        ("/registry/vaccines", N_("Vaccines")),
        ("/registry/lots", N_("Lots")),
        ("/doses", N_("Doses")),
        ("/imports/doses", N_("Import doses")),
        ("/admin/users", N_("Users")),
        ("/admin/audit", N_("Audit trail")),
    ],
    Role.api_client: [("/", N_("Home"))],
    # Reads every county below the province; halts across them (signals adds its pages).
    Role.province: [
        ("/", N_("Home")),
        ("/reports", N_("Reports")),
        ("/cases", N_("Cases")),
        ("/registry/regions", N_("Regions")),
        ("/registry/sites", N_("Sites")),
        ("/registry/vaccines", N_("Vaccines")),
        ("/registry/lots", N_("Lots")),
    ],
}


def items_for(role: str) -> list[tuple[str, str]]:
    return NAV.get(Role(role), [])


def add(roles: tuple[Role, ...], path: str, label: str, *, position: int | None = None) -> None:
    for role in roles:
        items = NAV[role]
        if any(p == path for p, _l in items):
            continue
        if position is None:
            items.append((path, label))
        else:
            items.insert(position, (path, label))
