"""Alerts (aefi.signals.alerts) and the plain words of a signal (aefi.signals.plain)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from aefi import i18n
from aefi.signals import alerts, plain


@pytest.fixture(autouse=True)
def _chinese_after():
    yield
    i18n.set_locale("zh_CN")


@dataclass
class Sig:
    id: int
    scope: str = "lot"
    target_id: int = 1
    level: str = "signal"
    status: str = "new"
    strength: float = 1.0
    p_value: float | None = 0.01
    observed: int = 3


def test_a_lots_signals_are_one_alert_strongest_first():
    sigs = [
        Sig(1, strength=1.2),
        Sig(2, level="halt_recommended", strength=0.9),
        Sig(3, strength=5.0),
        Sig(4, target_id=2, strength=9.0),
    ]
    got = alerts.group(sigs)
    assert [a.key for a in got] == [("lot", 1), ("lot", 2)]
    one = got[0]
    # The halt recommendation leads, then the strongest of the rest.
    assert [s.id for s in one.items] == [2, 3, 1]
    assert one.lead.id == 2 and [s.id for s in one.others] == [3, 1]
    assert one.halt_recommended and one.awaits_decision
    assert not got[1].halt_recommended


def test_ranking_open_before_settled_then_strength_then_p():
    a = Sig(1, strength=2.0, p_value=0.001)
    b = Sig(2, strength=2.0, p_value=0.0001)
    c = Sig(3, strength=9.0, status="dismissed")
    d = Sig(4, strength=2.0, p_value=None)
    assert [s.id for s in alerts.ranked([a, b, c, d])] == [2, 1, 4, 3]


def test_a_vaccine_or_site_signal_of_the_same_reports_joins_the_lots_alert():
    lot = Sig(1, level="halt_recommended")
    vac = Sig(2, scope="vaccine", target_id=7, level="halt_recommended", strength=3.0)
    site = Sig(3, scope="site", target_id=9)
    lone = Sig(4, scope="site", target_id=8)
    got = alerts.group([lot, vac, site, lone], joins={2: ("lot", 1), 3: ("lot", 1)})
    assert len(got) == 2
    assert got[0].key == ("lot", 1) and set(got[0].signal_ids) == {1, 2, 3}
    # Strongest evidence first, whatever its scope.
    assert got[0].lead.id == 2
    # A join to an alert that is not in the list keeps the signal's own alert.
    alone = alerts.group([vac], joins={2: ("lot", 1)})
    assert alone[0].key == ("vaccine", 7)


def test_settled_alert_awaits_nothing():
    a = alerts.group([Sig(1, level="halt_recommended", status="escalated"), Sig(2)])[0]
    assert a.halt_recommended and a.open and not a.awaits_decision


@pytest.mark.parametrize(
    ("p", "en", "zh"),
    [
        (9.07e-09, "less than 1 in 1,000,000", "不到百万分之一"),
        (3e-05, "less than 1 in 10,000", "不到万分之一"),
        (0.0004, "less than 1 in 1,000", "不到千分之一"),
        (0.02, "about 1 in 50", "约 1/50"),
        (0.3, "about 3 in 10", "约 3/10"),
        (0.99, "more than 9 in 10", "超过十分之九"),
        (None, "not computed", "未计算"),
    ],
)
def test_chance_in_words(p, en, zh):
    i18n.set_locale("en")
    assert plain.chance(p) == en
    i18n.set_locale("zh_CN")
    assert plain.chance(p) == zh


def test_numbers_for_people_have_no_exponent():
    assert plain.count(1240) == "1,240"
    assert plain.amount(0.8) == "0.8" and plain.amount(0.00312) == "0.0031"
    assert plain.amount(1473.2) == "1,473" and plain.amount(0.0004) == "< 0.001"
    assert plain.times(6.2) == "6" and plain.times(1.47) == "1.5"
    assert plain.decimal(9.07e-09) == "< 0.000001" and plain.decimal(0.000123) == "0.000123"
    i18n.set_locale("en")
    assert plain.per_million(1.31e-06) == "1.31 per million doses"
    for x in (1e-9, 2.6e-6, 1.47e3, 0.05):
        assert "e" not in plain.decimal(x) and "e" not in plain.amount(x)


def test_the_sentences_read_in_both_languages():
    i18n.set_locale("en")
    assert plain.unusual(5, 0.8, 6.25, 3e-5) == (
        "about 6 times the expected 0.8; a count this high by chance: less than 1 in 10,000."
    )
    assert plain.window(0, 2) == "within 2 days" and plain.window(0, 1 / 24) == "within 1 hour"
    assert plain.window(6, 12) == "6–12 days after"
    assert plain.reports(1) == "1 report" and plain.sites(3) == "3 sites"
    i18n.set_locale("zh_CN")
    assert plain.unusual(5, 0.8, 6.25, 3e-5) == (
        "约为预期数 0.8 的 6 倍；偶然出现这么多的可能：不到万分之一。"
    )
    assert plain.window(0, 2) == "2 天内" and plain.sites(3) == "3 个接种单位"
