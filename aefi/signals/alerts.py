"""Alerts: what the bureau acts on. A target (a lot, a vaccine product, a site) with several
signals (one per event group and method) is ONE alert, its strongest evidence first and the
others under it. Pure: no database, no web; the review service feeds it rows.

A signal of another scope that counts only reports the lot's alert counts too (the vaccine
or the site of those same reports) joins that lot's alert instead of making one of its own:
``group(..., joins={signal_id: (scope, target_id)})``, worked out by the service."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Key = tuple[str, int]

OPEN_STATUSES = ("new", "under_review")
_LEVEL_RANK = {"halt_recommended": 0, "signal": 1}


def _sig(item: Any) -> Any:
    return getattr(item, "signal", item)


def rank_key(item: Any) -> tuple:
    """Strongest first: a halt recommendation before a signal for review, then open before
    settled, then by strength (LLR / critical value; χ² / 4), then the smaller p, the
    larger count, the older signal. Takes a Signal or anything with ``.signal``."""
    s = _sig(item)
    p = s.p_value if s.p_value is not None else 2.0
    return (
        _LEVEL_RANK.get(s.level, 2),
        0 if s.status in OPEN_STATUSES else 1,
        -(s.strength or 0.0),
        p,
        -(s.observed or 0),
        s.id or 0,
    )


def ranked(items: Iterable[T]) -> list[T]:
    """The items strongest first (:func:`rank_key`)."""
    return sorted(items, key=rank_key)


@dataclass
class Alert(Generic[T]):
    """One target's signals, strongest first."""

    key: Key
    items: list[T] = field(default_factory=list)

    @property
    def lead(self) -> T:
        return self.items[0]

    @property
    def others(self) -> list[T]:
        return self.items[1:]

    @property
    def signal_ids(self) -> list[int]:
        return [int(_sig(x).id) for x in self.items]

    @property
    def halt_recommended(self) -> bool:
        return any(_sig(x).level == "halt_recommended" for x in self.items)

    @property
    def open(self) -> bool:
        return any(_sig(x).status in OPEN_STATUSES for x in self.items)

    @property
    def awaits_decision(self) -> bool:
        """An open halt recommendation: the bureau has a decision to take."""
        return any(
            _sig(x).level == "halt_recommended" and _sig(x).status in OPEN_STATUSES
            for x in self.items
        )


def target_key(item: Any) -> Key:
    s = _sig(item)
    return (str(s.scope), int(s.target_id))


def group(
    items: Iterable[T],
    *,
    joins: Mapping[int, Key] | None = None,
    key: Callable[[Any], Key] = target_key,
) -> list[Alert[T]]:
    """The alerts of these signals, strongest alert first (by its lead); a signal listed
    in ``joins`` goes to that target's alert when that alert exists."""
    joins = joins or {}
    by_key: dict[Key, Alert[T]] = {}
    joining: list[tuple[T, Key]] = []
    for it in items:
        if int(_sig(it).id or 0) in joins:
            joining.append((it, key(it)))
        else:
            k = key(it)
            by_key.setdefault(k, Alert(k)).items.append(it)
    for it, own in joining:
        wanted = joins[int(_sig(it).id)]
        k = wanted if wanted in by_key else own
        by_key.setdefault(k, Alert(k)).items.append(it)
    alerts = list(by_key.values())
    for a in alerts:
        a.items.sort(key=rank_key)
    alerts.sort(key=lambda a: rank_key(a.lead))
    return alerts
