"""The triage rule set: thresholds, designated conditions, cluster windows and deadlines.

They live in a TOML file (`rules.toml` beside this module by default) that the admin can
read in the UI. The version of a rule set is the version declared in the file plus the
first 8 hex digits of the SHA-256 of its text, so any edit changes it; each decision keeps
the version it was made with, and `Ruleset.text` lets the caller archive the exact text.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).with_name("rules.toml")

_GROUP_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class RulesetError(ValueError):
    """A rules file that cannot be used; `key` names the offending setting."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"rules file: {key}: {message}" if key else f"rules file: {message}")


@dataclass(frozen=True)
class Thresholds:
    high_fever_c: float
    large_local_reaction_cm: float
    hyperpyrexia_c: float


@dataclass(frozen=True)
class ReferralRules:
    event_groups: tuple[str, ...]
    life_threatening: bool
    hospitalization: bool
    needs_hospital_care: bool


@dataclass(frozen=True)
class ClusterRules:
    site_window_hours: float
    lot_window_hours: float
    min_serious: int
    designated_count_as_serious: bool
    increase_window_hours: float
    increase_lookback_days: float
    increase_alpha: float
    increase_min_count: int
    increase_baseline_floor: float


@dataclass(frozen=True)
class DeadlineRules:
    report_card_hours: float
    fast_report_hours: float
    investigation_start_hours: float
    investigation_form_hours: float
    preliminary_report_hours: float


@dataclass(frozen=True)
class Ruleset:
    declared_version: str
    version: str
    designated_conditions: tuple[str, ...]
    common_reaction_groups: tuple[str, ...]
    thresholds: Thresholds
    referral: ReferralRules
    clusters: ClusterRules
    deadlines: DeadlineRules
    text: str


def load_ruleset(path: str | Path | None = None) -> Ruleset:
    """Read and validate a rules file; the shipped `rules.toml` when no path is given."""
    source = Path(path) if path is not None else DEFAULT_PATH
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesetError("", f"cannot read {source}: {exc}") from exc
    return parse_ruleset(text)


def parse_ruleset(text: str) -> Ruleset:
    """Validate the text of a rules file and build the rule set it describes."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesetError("", f"not valid TOML: {exc}") from exc

    top = _Table(raw, "")
    declared = top.string("version")
    escalation = top.table("escalation")
    investigation = top.table("investigation")
    thresholds = top.table("thresholds")
    referral = top.table("referral")
    clusters = top.table("clusters")
    deadlines = top.table("deadlines")
    top.no_other_keys()

    ruleset = Ruleset(
        declared_version=declared,
        version=f"{declared}+{hashlib.sha256(text.encode('utf-8')).hexdigest()[:8]}",
        designated_conditions=escalation.groups("designated_conditions"),
        common_reaction_groups=investigation.groups("common_reaction_groups", allow_empty=True),
        thresholds=Thresholds(
            high_fever_c=thresholds.temperature("high_fever_c"),
            large_local_reaction_cm=thresholds.positive("large_local_reaction_cm"),
            hyperpyrexia_c=thresholds.temperature("hyperpyrexia_c"),
        ),
        referral=ReferralRules(
            event_groups=referral.groups("event_groups", allow_empty=True),
            life_threatening=referral.boolean("life_threatening"),
            hospitalization=referral.boolean("hospitalization"),
            needs_hospital_care=referral.boolean("needs_hospital_care"),
        ),
        clusters=ClusterRules(
            site_window_hours=clusters.positive("site_window_hours"),
            lot_window_hours=clusters.positive("lot_window_hours"),
            min_serious=clusters.integer("min_serious", minimum=2),
            designated_count_as_serious=clusters.boolean("designated_count_as_serious"),
            increase_window_hours=clusters.positive("increase_window_hours"),
            increase_lookback_days=clusters.positive("increase_lookback_days"),
            increase_alpha=clusters.probability("increase_alpha"),
            increase_min_count=clusters.integer("increase_min_count", minimum=1),
            increase_baseline_floor=clusters.positive("increase_baseline_floor"),
        ),
        deadlines=DeadlineRules(
            report_card_hours=deadlines.positive("report_card_hours"),
            fast_report_hours=deadlines.positive("fast_report_hours"),
            investigation_start_hours=deadlines.positive("investigation_start_hours"),
            investigation_form_hours=deadlines.positive("investigation_form_hours"),
            preliminary_report_hours=deadlines.positive("preliminary_report_hours"),
        ),
        text=text,
    )
    for table in (escalation, investigation, thresholds, referral, clusters, deadlines):
        table.no_other_keys()
    if ruleset.thresholds.hyperpyrexia_c < ruleset.thresholds.high_fever_c:
        raise RulesetError(
            "thresholds.hyperpyrexia_c",
            "must not be below thresholds.high_fever_c "
            f"({ruleset.thresholds.hyperpyrexia_c} < {ruleset.thresholds.high_fever_c})",
        )
    return ruleset


# Every setting name the file may hold, for spelling hints.
_KNOWN_KEYS = frozenset(
    {"version", "escalation", "investigation", "thresholds", "referral", "clusters", "deadlines"}
    | {"designated_conditions", "common_reaction_groups", "event_groups"}
    | {
        f.name
        for cls in (Thresholds, ReferralRules, ClusterRules, DeadlineRules)
        for f in fields(cls)
    }
)


class _Table:
    """One TOML table, read key by key so that every error names its full key."""

    def __init__(self, raw: dict[str, Any], prefix: str) -> None:
        self._raw = raw
        self._prefix = prefix
        self._read: set[str] = set()

    def _key(self, name: str) -> str:
        return f"{self._prefix}.{name}" if self._prefix else name

    def _get(self, name: str) -> Any:
        self._read.add(name)
        if name not in self._raw:
            unknown = [k for k in self._raw if k not in _KNOWN_KEYS]
            close = difflib.get_close_matches(name, unknown, n=1)
            hint = f" (is {close[0]!r} a misspelling of it?)" if close else ""
            raise RulesetError(self._key(name), f"missing{hint}")
        return self._raw[name]

    def no_other_keys(self) -> None:
        for name in sorted(set(self._raw) - self._read):
            raise RulesetError(self._key(name), "unknown setting (misspelt?)")

    def table(self, name: str) -> _Table:
        value = self._get(name)
        if not isinstance(value, dict):
            raise RulesetError(self._key(name), f"must be a table [{self._key(name)}]")
        return _Table(value, self._key(name))

    def string(self, name: str) -> str:
        value = self._get(name)
        if not isinstance(value, str) or not value.strip():
            raise RulesetError(self._key(name), f"must be a non-empty string, got {value!r}")
        return value.strip()

    def boolean(self, name: str) -> bool:
        value = self._get(name)
        if not isinstance(value, bool):
            raise RulesetError(self._key(name), f"must be true or false, got {value!r}")
        return value

    def _number(self, name: str) -> float:
        value = self._get(name)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise RulesetError(self._key(name), f"must be a number, got {value!r}")
        return float(value)

    def positive(self, name: str) -> float:
        value = self._number(name)
        if value <= 0:
            raise RulesetError(self._key(name), f"must be greater than 0, got {value:g}")
        return value

    def probability(self, name: str) -> float:
        value = self._number(name)
        if not 0 < value < 1:
            raise RulesetError(self._key(name), f"must be between 0 and 1, got {value:g}")
        return value

    def temperature(self, name: str) -> float:
        value = self._number(name)
        if not 35 <= value <= 100:
            raise RulesetError(
                self._key(name), f"must be a temperature in °C (35 to 100), got {value:g}"
            )
        return value

    def integer(self, name: str, *, minimum: int) -> int:
        value = self._get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise RulesetError(self._key(name), f"must be a whole number, got {value!r}")
        if value < minimum:
            raise RulesetError(self._key(name), f"must be at least {minimum}, got {value}")
        return value

    def groups(self, name: str, *, allow_empty: bool = False) -> tuple[str, ...]:
        value = self._get(name)
        if not isinstance(value, list):
            raise RulesetError(self._key(name), "must be a list of event group names")
        if not value and not allow_empty:
            raise RulesetError(self._key(name), "must name at least one event group")
        for item in value:
            if not isinstance(item, str) or not _GROUP_NAME.match(item):
                raise RulesetError(
                    self._key(name),
                    f"{item!r} is not an event group name (lower case, digits, underscores)",
                )
        if len(set(value)) != len(value):
            raise RulesetError(self._key(name), "lists an event group twice")
        return tuple(value)
