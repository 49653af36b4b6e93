"""Alerts for the bureau: the signals a few reports raise on one lot are one alert, the
banner asks the lot's state now, halts and lifts need their confirmation."""

from __future__ import annotations

import pytest
from sqlmodel import select

from aefi import i18n
from aefi.auth.models import User
from aefi.errors import Invalid
from aefi.intake.schemas import SeriousIn
from aefi.signals.halts import banners
from aefi.signals.halts import service as halts
from aefi.signals.models import Signal, SignalStatus
from aefi.signals.review import alerts as review_alerts
from aefi.signals.review.service import SignalFilter
from tests.factories import a_dose, file_report


@pytest.fixture(autouse=True)
def _english():
    i18n.set_locale("en")
    yield
    i18n.set_locale("zh_CN")


def three_anaphylaxis(session, county):
    """Three life-threatening anaphylaxis reports on new doses of one lot at two sites."""
    lot = county.lot(session, "DTAP")
    inv = county.actor(session, "investigator")
    reports = [
        file_report(
            session,
            inv,
            a_dose(session, county, lot=lot, site=i % 2),
            symptoms=["ANAPH", "URTIC"],
            serious=SeriousIn(life_threatening=True),
        )
        for i in range(3)
    ]
    return lot, reports


def test_three_reports_make_one_alert_with_one_recommendation(session, county):
    lot, reports = three_anaphylaxis(session, county)
    bureau = county.actor(session, "bureau")
    signals = list(session.exec(select(Signal)))
    assert len(signals) > 1  # several event groups and scopes signal
    alerts, total = review_alerts.list_alerts(session, bureau, SignalFilter(open_only=True))
    lot_alerts = [a for a in alerts if a.key == ("lot", lot.id)]
    assert len(lot_alerts) == 1
    alert = lot_alerts[0]
    assert alert.halt_recommended and alert.lead.signal.level == "halt_recommended"
    # The vaccine's and the sites' signals of the same reports are under the lot's alert.
    assert total == len(alerts) and total < len(signals)
    assert all(a.key[0] == "lot" or not a.awaits_decision for a in alerts)
    # One banner for it, naming the lot and its product.
    texts = [b.text for b in banners.recommendation_banners(session, bureau)]
    assert len(texts) == 1 and lot.lot_number in texts[0]
    # The page's words: what was seen and how unusual.
    reach = review_alerts.reach(session, bureau, "lot", lot.id)
    assert reach.sites == 2 and reach.doses_given == 3
    assert reach.doses_remaining == lot.doses_received - 3
    anaph = next(r for r in alert.items if r.signal.event_group == "anaphylaxis")
    seen = review_alerts.seen(anaph, reach.sites)
    assert seen.startswith("3 reports of anaphylaxis within 1 day of 3 doses of lot ")
    assert seen.endswith(" at 2 sites.") and lot.lot_number in seen
    assert "less than 1 in 1,000,000" in review_alerts.how_unusual(anaph)
    lines, n = review_alerts.report_lines(session, bureau, alert)
    assert n == 3 and [x.number for x in lines] == [r.number for r in reports]
    assert all("Anaphylaxis" in x.event for x in lines)


def test_the_banner_goes_when_the_lot_is_halted_and_stays_gone_after_the_lift(session, county):
    lot, _ = three_anaphylaxis(session, county)
    bureau = county.actor(session, "bureau")
    assert banners.recommendation_banners(session, bureau)
    # Without the confirmation the service refuses, naming the lot and the sites.
    with pytest.raises(Invalid) as refused:
        halts.issue_halt(session, bureau, scope="lot", target=lot.lot_number, reason="3 例")
    assert set(refused.value.fields) == {"confirm"}
    assert refused.value.params["target"].startswith(f"lot {lot.lot_number} (")
    assert refused.value.params["sites"] == "2 sites"
    session.rollback()
    assert banners.recommendation_banners(session, bureau)
    halt = halts.issue_halt(
        session, bureau, scope="lot", target=lot.lot_number, reason="3 例", confirmed=True
    )
    assert banners.recommendation_banners(session, bureau) == []
    # Every signal of the alert is settled by the decision, the vaccine's and sites' too.
    alert = review_alerts.alert_signal_ids(session, bureau, "lot", lot.id)
    assert {session.get(Signal, i).status for i in alert} == {SignalStatus.escalated}
    with pytest.raises(Invalid) as refused:
        halts.lift_halt(session, bureau, halt.id, "复检合格")
    assert set(refused.value.fields) == {"confirm"}
    session.rollback()
    assert session.get(type(halt), halt.id).lifted_at is None
    halts.lift_halt(session, bureau, halt.id, "复检合格", confirmed=True)
    assert banners.recommendation_banners(session, bureau) == []
    user = session.exec(select(User).where(User.username == "bureau")).one()
    assert [b for b in banners.banners_for(session, user) if lot.lot_number in b.text] == []


def test_dismissing_the_alert_clears_the_banner(session, county):
    lot, _ = three_anaphylaxis(session, county)
    bureau = county.actor(session, "bureau")
    alert = next(
        a
        for a in review_alerts.list_alerts(session, bureau, SignalFilter(open_only=True))[0]
        if a.key == ("lot", lot.id)
    )
    review_alerts.review_alert(
        session, bureau, alert.lead.signal.id, "dismissed", "批签发合格", release_hold=True
    )
    assert {session.get(Signal, i).status for i in alert.signal_ids} == {SignalStatus.dismissed}
    assert banners.recommendation_banners(session, bureau) == []
