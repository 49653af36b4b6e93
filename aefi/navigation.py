"""The header's navigation, per role. Each domain adds its pages here."""

from __future__ import annotations

from aefi.auth.models import Role

NAV: dict[Role, list[tuple[str, str]]] = {
    Role.reporter: [
        ("/", "Home"),
        ("/doses", "Doses"),
        ("/imports/doses", "Import doses"),
    ],
    Role.investigator: [
        ("/", "Home"),
        ("/doses", "Doses"),
        ("/registry/lots", "Lots"),
    ],
    Role.bureau: [
        ("/", "Home"),
        ("/registry/lots", "Lots"),
        ("/registry/sites", "Sites"),
    ],
    Role.hospital: [
        ("/", "Home"),
    ],
    Role.admin: [
        ("/", "Home"),
        ("/registry/regions", "Regions"),
        ("/registry/sites", "Sites"),
        ("/registry/hospitals", "Hospitals"),
        ("/registry/vaccines", "Vaccines"),
        ("/registry/lots", "Lots"),
        ("/doses", "Doses"),
        ("/imports/doses", "Import doses"),
        ("/admin/users", "Users"),
        ("/admin/audit", "Audit trail"),
    ],
    Role.api_client: [("/", "Home")],
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
