"""Triage of filed reports on SQLite and PostgreSQL: the stored decision, clusters,
escalation, re-triage after a follow-up, rule-set versions."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from aefi import clock, flow
from aefi.audit import AuditEvent
from aefi.events import ClusterFormed, ReportTriaged
from aefi.intake.follow_up import service as intake_follow_up
from aefi.intake.models import Report
from aefi.intake.schemas import FollowUpIn
from aefi.notifications.models import Notification
from aefi.triage.escalation import service as escalation
from aefi.triage.models import (
    Cluster,
    ClusterMember,
    Escalation,
    RulesetVersion,
    Urgency,
)
from aefi.triage.rules_in_force import service as rules_in_force
from tests.factories import T0, file, lots, new_dose


@pytest.fixture
def frozen():
    clock.freeze(T0 + timedelta(hours=6))


def test_report_carries_the_triage_object(session, county, frozen):
    lot = lots(session)[0]
    dose = new_dose(session, county, site_index=0, lot=lot)
    report = file(session, county, "reporter", dose, symptoms=["URTIC"])
    t = report.triage
    assert set(t) >= {
        "serious",
        "escalated",
        "investigation_required",
        "referral_required",
        "cluster_id",
        "reasons",
        "deadlines",
        "ruleset_version",
    }
    assert t["serious"] is False and t["escalated"] is False and t["cluster_id"] is None
    assert t["investigation_required"] is True
    for reason in t["reasons"]:
        assert reason["rule"] and reason["text"] and reason["text_en"] and reason["text_zh"]
    assert datetime.fromisoformat(t["deadlines"]["report_due"]) == dose.administered_at + timedelta(
        minutes=20, hours=48
    )
    assert t["ruleset_version"] == rules_in_force.current_ruleset().version
    assert (
        session.get(RulesetVersion, t["ruleset_version"]).text
        == rules_in_force.current_ruleset().text
    )
    audit = session.exec(
        select(AuditEvent).where(AuditEvent.action == "triage", AuditEvent.entity_id == report.id)
    ).one()
    assert audit.changes["rules"][0] == t["reasons"][0]["rule"]
    # Not escalated: nothing in the queue.
    assert session.exec(select(Escalation)).first() is None


def listen(monkeypatch, event_type: type) -> list:
    """The events of ``event_type`` published from now on (a subscriber added last)."""
    seen: list = []
    subscribers = (*flow.SUBSCRIBERS[event_type], flow.safety(lambda s, a, e: seen.append(e)))
    monkeypatch.setitem(flow.SUBSCRIBERS, event_type, subscribers)
    return seen


def test_three_anaphylaxis_reports_of_one_lot_at_two_sites_form_one_cluster(
    session, county, frozen, monkeypatch
):
    lot = lots(session)[0]
    formed: list[ClusterFormed] = listen(monkeypatch, ClusterFormed)
    d1 = new_dose(session, county, site_index=0, lot=lot, minutes=0)
    d2 = new_dose(session, county, site_index=0, lot=lot, minutes=40)
    d3 = new_dose(session, county, site_index=1, lot=lot, minutes=180)
    r1 = file(session, county, "reporter", d1)
    assert r1.triage["cluster_id"] is None
    r2 = file(session, county, "reporter", d2)
    r3 = file(session, county, "reporter2", d3)

    clusters = session.exec(select(Cluster)).all()
    assert len(clusters) == 1
    (cluster,) = clusters
    assert cluster.event_group == "anaphylaxis" and cluster.status == "open"
    assert cluster.member_count == 3
    members = session.exec(
        select(ClusterMember.report_id).where(ClusterMember.cluster_id == cluster.id)
    ).all()
    assert sorted(members) == sorted([r1.id, r2.id, r3.id])
    assert set(cluster.kinds) == {"site_serious", "lot_serious"}
    assert cluster.lot_id == lot.id
    # It asks signals to evaluate the lot, and was escalated.
    assert cluster.evaluation_lot_ids[0] == lot.id and cluster.evaluation_requested_at
    assert cluster.escalated_at is not None
    # Formed by r2, grown by r3; the event carries what triage stored.
    assert [(e.cluster_id, e.created) for e in formed] == [(cluster.id, True), (cluster.id, False)]
    assert sorted(formed[-1].report_ids) == sorted([r1.id, r2.id, r3.id])
    assert formed[-1].lot_ids == tuple(cluster.evaluation_lot_ids)
    assert formed[-1].site_id == cluster.site_id and formed[-1].county_id == cluster.county_id
    esc = session.exec(select(Escalation).where(Escalation.cluster_id == cluster.id)).one()
    assert esc.urgency == Urgency.cluster
    # Every member knows its cluster, including the one filed before the cluster existed.
    for r in (r1, r2, r3):
        session.refresh(r)
        assert r.triage["cluster_id"] == cluster.id
        assert r.triage["escalated"] is True
        assert "escalate.cluster" in [x["rule"] for x in r.triage["reasons"]]
    assert r1.triage["reasons"][0]["rule"] == "retriage.cluster"
    assert "fast_report_due" in r1.triage["deadlines"]
    # Lot and site read as names, not ids.
    assert lot.lot_number in cluster.reason_en and lot.lot_number in cluster.reason_zh
    # The county is told.
    titles = [
        n.title for n in session.exec(select(Notification).where(Notification.kind == "cluster"))
    ]
    assert titles


def test_three_unrelated_reports_form_no_cluster(session, county, frozen):
    a, b, c = lots(session, 3)
    r1 = file(session, county, "reporter", new_dose(session, county, site_index=0, lot=a))
    r2 = file(
        session,
        county,
        "reporter2",
        new_dose(session, county, site_index=1, lot=b, minutes=30),
        symptoms=["SEIZ"],
    )
    r3 = file(
        session,
        county,
        "reporter",
        new_dose(session, county, site_index=0, lot=c, minutes=60),
        symptoms=["FEVER"],
        max_temperature_c=38.2,
    )
    assert session.exec(select(Cluster)).first() is None
    for r in (r1, r2, r3):
        assert r.triage["cluster_id"] is None


def test_follow_up_with_death_re_triages_and_escalates(session, county, frozen, monkeypatch):
    lot = lots(session)[0]
    dose = new_dose(session, county, site_index=0, lot=lot)
    rep = county.actor(session, "reporter")
    report = file(session, county, "reporter", dose, symptoms=["URTIC"])
    assert report.triage["escalated"] is False
    triaged: list[ReportTriaged] = listen(monkeypatch, ReportTriaged)
    clock.advance(timedelta(hours=3))
    intake_follow_up.add_follow_up(session, rep, report.id, FollowUpIn(outcome="died", note="死亡"))
    session.refresh(report)
    t = report.triage
    assert t["serious"] is True and t["escalated"] is True
    assert t["reasons"][0]["rule"] == "retriage.follow_up"
    assert datetime.fromisoformat(t["deadlines"]["fast_report_due"]) == clock.now() + timedelta(
        hours=2
    )
    rid, decision, previous = triaged[-1].report_id, triaged[-1].decision, triaged[-1].previous
    assert rid == report.id and decision.serious and previous is not None and not previous.serious
    esc = session.exec(select(Escalation).where(Escalation.report_id == report.id)).one()
    assert esc.urgency == Urgency.death
    # A note alone does not re-triage.
    before = report.triage["triaged_at"]
    intake_follow_up.add_follow_up(session, rep, report.id, FollowUpIn(note="家属已通知"))
    session.refresh(report)
    assert report.triage["triaged_at"] == before


def test_hospitalised_on_follow_up_raises_urgency_of_a_queued_report(session, county, frozen):
    lot = lots(session)[0]
    dose = new_dose(session, county, site_index=0, lot=lot)
    rep = county.actor(session, "reporter")
    bureau = county.actor(session, "bureau")
    report = file(session, county, "reporter", dose, symptoms=["SEIZ"])
    esc = session.exec(select(Escalation).where(Escalation.report_id == report.id)).one()
    assert esc.urgency == Urgency.life_threatening
    escalation.acknowledge(session, bureau, esc.id)
    assert not escalation.escalation_queue(session, bureau)
    clock.advance(timedelta(hours=1))
    intake_follow_up.add_follow_up(session, rep, report.id, FollowUpIn(outcome="died", note="死亡"))
    # More urgent: back in the queue until acknowledged again.
    (item,) = escalation.escalation_queue(session, bureau)
    assert item.report.id == report.id and item.escalation.urgency == Urgency.death


def test_changed_rules_file_bumps_the_version_and_old_decisions_keep_theirs(
    session, county, frozen, tmp_path, monkeypatch
):
    from aefi.settings import get_settings
    from aefi.triage.ruleset import DEFAULT_PATH

    lot = lots(session)[0]
    first = file(session, county, "reporter", new_dose(session, county, site_index=0, lot=lot))
    rules = tmp_path / "rules.toml"
    rules.write_text(
        DEFAULT_PATH.read_text(encoding="utf-8").replace(
            "fast_report_hours = 2 ", "fast_report_hours = 1 "
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("AEFI_TRIAGE_RULES", str(rules))
    get_settings.cache_clear()
    second = file(
        session,
        county,
        "reporter",
        new_dose(session, county, site_index=0, lot=lots(session, 2)[1], minutes=5),
        symptoms=["URTIC"],
        serious={"hospitalization": True},
    )
    v1, v2 = first.triage["ruleset_version"], second.triage["ruleset_version"]
    assert v1 != v2 and v1.split("+")[0] == v2.split("+")[0]
    assert datetime.fromisoformat(second.triage["deadlines"]["fast_report_due"]) == (
        second.discovered_at + timedelta(hours=1)
    )
    session.refresh(first)
    assert first.triage["ruleset_version"] == v1
    stored = {v.version: v.text for v in session.exec(select(RulesetVersion))}
    assert "fast_report_hours = 1 " in stored[v2] and "fast_report_hours = 2 " in stored[v1]
    admin = county.actor(session, "admin")
    view = rules_in_force.effective_rules(session, admin)
    assert view.ruleset.version == v2 and view.path == rules and view.error is None
    assert rules_in_force.get_ruleset_version(session, admin, v1).text == stored[v1]
    # A broken edit keeps the last good rules in force and says why.
    rules.write_text("version = \n", encoding="utf-8")
    third = file(
        session,
        county,
        "reporter",
        new_dose(session, county, site_index=0, lot=lots(session, 3)[2], minutes=9),
        symptoms=["URTIC"],
    )
    assert third.triage["ruleset_version"] == v2
    assert rules_in_force.effective_rules(session, admin).error


def fever(session, county, lot, *, minutes: int, site_index: int = 0) -> Report:
    dose = new_dose(session, county, site_index=site_index, lot=lot, minutes=minutes)
    clock.freeze(max(clock.now(), dose.administered_at + timedelta(hours=1)))
    return file(session, county, "reporter", dose, symptoms=["FEVER"], max_temperature_c=38.2)


def test_marked_increase_of_non_serious_reports_forms_a_cluster(session, county):
    clock.freeze(T0)
    lot = lots(session)[0]
    reports = [fever(session, county, lot, minutes=m) for m in (0, 60, 120)]
    (cluster,) = session.exec(select(Cluster)).all()
    assert cluster.kind == "site_increase" and cluster.event_group == "fever"
    assert cluster.vaccine_id == lot.vaccine_id and cluster.site_id == county.site_ids[0]
    assert cluster.observed == 3 and cluster.p_value < 0.01
    assert "Poisson" in cluster.reason_en and "泊松" in cluster.reason_zh
    for r in reports:
        session.refresh(r)
        assert r.triage["cluster_id"] == cluster.id and r.triage["escalated"]
    # The cluster stands in the queue for its members (not one item per member).
    items = escalation.escalation_queue(session, county.actor(session, "bureau"))
    assert [(i.kind, i.cluster.id) for i in items] == [("cluster", cluster.id)]


def test_increase_is_judged_against_the_sites_own_rate(session, county):
    lot = lots(session)[0]
    # A site that usually sees fever after this vaccine: 12 reports over the 28-day
    # lookback, every other day (never 3 within 72 h, so no cluster among them).
    for day in range(26, 3, -2):
        clock.freeze(T0 - timedelta(days=day))
        fever(session, county, lot, minutes=-day * 24 * 60)
    clock.freeze(T0)
    assert session.exec(select(Cluster)).first() is None
    for m in (0, 60, 120):
        fever(session, county, lot, minutes=m)
    # Expected 12 × 72 h / 28 days = 1.3 in the window: 3 is no marked increase.
    assert session.exec(select(Cluster)).first() is None
