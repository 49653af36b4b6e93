"""The rule set in force: the effective rules file, re-read when it changes, and every
version decisions were made with (read-only for admins, CDC and bureau).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from aefi import clock
from aefi.auth.permissions import Actor, require_role
from aefi.errors import NotFound
from aefi.settings import Settings, get_settings
from aefi.triage.access import RULE_READERS
from aefi.triage.models import (
    RulesetVersion,
)
from aefi.triage.ruleset import DEFAULT_PATH, Ruleset, RulesetError, load_ruleset

log = logging.getLogger("aefi.triage")

# --- the rule set in force -----------------------------------------------------------------

_loaded: dict[Path, tuple[tuple[int, int], Ruleset]] = {}
_errors: dict[Path, str] = {}


def rules_path(settings: Settings | None = None) -> Path:
    """The effective rules file: ``AEFI_TRIAGE_RULES`` or the shipped rules.toml."""
    settings = settings or get_settings()
    return Path(settings.triage_rules) if settings.triage_rules else DEFAULT_PATH


def current_ruleset(settings: Settings | None = None) -> Ruleset:
    """The rule set of the effective file, re-read when the file changes.

    A file that cannot be used does not stop triage (a report must never fail to file
    because of an edit): the last good rule set of that file stays in force, or the shipped
    one, and the admin page shows the error."""
    path = rules_path(settings)
    cached = _loaded.get(path)
    try:
        st = path.stat()
        key = (st.st_mtime_ns, st.st_size)
    except OSError as exc:
        return _fallback(path, cached, f"cannot read {path}: {exc}")
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        ruleset = load_ruleset(path)
    except RulesetError as exc:
        return _fallback(path, cached, str(exc))
    _errors.pop(path, None)
    _loaded[path] = (key, ruleset)
    return ruleset


def emergency_groups() -> tuple[str, ...]:
    """The designated emergency conditions, configured once (rules.toml [referral]
    event_groups): triage refers them to the green channel as emergencies, and the report
    form asks for adrenaline, vital signs, weight and treatment times when one is chosen."""
    return tuple(current_ruleset().referral.event_groups)


def _fallback(path: Path, cached: tuple | None, error: str) -> Ruleset:
    if _errors.get(path) != error:
        log.error("triage rules file %s is unusable, keeping the last good rules: %s", path, error)
    _errors[path] = error
    if cached is not None:
        return cached[1]
    return load_ruleset(DEFAULT_PATH)


def ruleset_error(settings: Settings | None = None) -> str | None:
    """Why the effective file is not in force, if it is not."""
    current_ruleset(settings)
    return _errors.get(rules_path(settings))


def remember_ruleset(session: Session, ruleset: Ruleset, source: Path) -> None:
    """Keep the text of every rule set a decision is made with (first use wins)."""
    if session.get(RulesetVersion, ruleset.version) is not None:
        return
    try:
        with session.begin_nested():
            session.add(
                RulesetVersion(
                    version=ruleset.version,
                    declared_version=ruleset.declared_version,
                    text=ruleset.text,
                    source=str(source)[:500],
                    first_used_at=clock.now(),
                )
            )
    except IntegrityError:  # another process stored the same version first
        pass


@dataclass(frozen=True)
class RulesView:
    ruleset: Ruleset
    path: Path
    error: str | None
    versions: list[RulesetVersion]


def effective_rules(session: Session, actor: Actor) -> RulesView:
    """The rules file in force, read-only, with every version decisions were made with."""
    require_role(actor, *RULE_READERS)
    settings = get_settings()
    ruleset = current_ruleset(settings)
    versions = list(
        session.exec(select(RulesetVersion).order_by(col(RulesetVersion.first_used_at).desc()))
    )
    return RulesView(ruleset, rules_path(settings), _errors.get(rules_path(settings)), versions)


def get_ruleset_version(session: Session, actor: Actor, version: str) -> RulesetVersion:
    """The rules an old decision was made with."""
    require_role(actor, *RULE_READERS)
    stored = session.get(RulesetVersion, version)
    if stored is None:
        raise NotFound("Not found.")
    return stored
