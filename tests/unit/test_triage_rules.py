"""Triage rules, deadlines and the rule set: table-driven, nothing started."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from aefi.intake.symptoms import EVENT_GROUPS, group_label
from aefi.triage.deadlines import Deadline, case_deadlines, is_overdue
from aefi.triage.rules import Outcome, ReportFacts, decision_changes, triage
from aefi.triage.ruleset import DEFAULT_PATH, RulesetError, load_ruleset, parse_ruleset

CST = timezone(timedelta(hours=8))
VACCINATED = datetime(2025, 3, 3, 9, 0, tzinfo=CST)
ONSET = VACCINATED + timedelta(minutes=20)
DISCOVERED = VACCINATED + timedelta(minutes=25)
RECEIVED = DISCOVERED + timedelta(hours=1)

RULESET = load_ruleset()
SHIPPED_TEXT = DEFAULT_PATH.read_text(encoding="utf-8")


def facts(**changes: object) -> ReportFacts:
    """A clearly diagnosed mild fever unless told otherwise."""
    values: dict[str, object] = {
        "event_groups": frozenset({"fever"}),
        "onset_at": ONSET,
        "discovered_at": DISCOVERED,
        "received_at": RECEIVED,
        "vaccinated_at": VACCINATED,
        "max_temperature_c": 38.0,
        "diagnosis_clear": True,
    }
    values.update(changes)
    return ReportFacts(**values)  # type: ignore[arg-type]


# (facts, expected decision fields, rules that must fire, rules that must not fire)
DECISIONS = [
    # Seriousness: WHO / ICH E2A criteria.
    pytest.param(
        facts(event_groups={"syncope"}, death=True),
        {"serious": True, "escalated": True, "fast_report_required": True,
         "preliminary_report_required": True, "investigation_required": True},
        {"serious.death", "escalate.serious", "investigation.serious", "deadline.fast_report"},
        {"not_serious.no_criteria"},
        id="serious-death",
    ),
    pytest.param(
        facts(event_groups={"allergic_rash"}, life_threatening=True),
        {"serious": True, "escalated": True, "referral_required": True},
        {"serious.life_threatening", "referral.life_threatening"},
        set(),
        id="serious-life-threatening",
    ),
    pytest.param(
        facts(event_groups={"syncope"}, hospitalization=True),
        {"serious": True, "escalated": True, "referral_required": True},
        {"serious.hospitalization", "referral.hospitalization"},
        set(),
        id="serious-hospitalization",
    ),
    pytest.param(
        facts(event_groups={"syncope"}, disability=True),
        {"serious": True, "escalated": True, "referral_required": False},
        {"serious.disability"},
        set(),
        id="serious-disability",
    ),
    pytest.param(
        facts(event_groups={"syncope"}, congenital_anomaly=True),
        {"serious": True, "escalated": True},
        {"serious.congenital_anomaly"},
        set(),
        id="serious-congenital-anomaly",
    ),
    pytest.param(
        facts(outcome="died"),
        {"serious": True, "escalated": True, "investigation_required": True,
         "fast_report_required": True},
        {"facts.outcome_died", "serious.death"},
        {"not_serious.common_reaction"},
        id="serious-outcome-died",
    ),
    pytest.param(
        facts(event_groups={"allergic_rash"}),
        {"serious": False, "escalated": False, "fast_report_required": False,
         "preliminary_report_required": False, "investigation_required": True},
        {"not_serious.no_criteria", "investigation.not_common_reaction"},
        {"escalate.serious"},
        id="not-serious-allergic-rash",
    ),
    # Common reactions: clearly diagnosed ones need no investigation.
    pytest.param(
        facts(),
        {"serious": False, "escalated": False, "investigation_required": False,
         "referral_required": False},
        {"not_serious.no_criteria", "not_serious.common_reaction"},
        {"deadline.investigation_start", "deadline.fast_report"},
        id="common-fever-clear",
    ),
    pytest.param(
        facts(event_groups={"local_reaction"}, max_temperature_c=None, local_reaction_cm=3.0),
        {"investigation_required": False, "escalated": False},
        {"not_serious.common_reaction"},
        {"common.large_local_reaction"},
        id="common-local-reaction-clear",
    ),
    pytest.param(
        facts(event_groups={"fever", "local_reaction"}, local_reaction_cm=2.0),
        {"investigation_required": False},
        {"not_serious.common_reaction"},
        set(),
        id="common-fever-and-local-clear",
    ),
    pytest.param(
        facts(max_temperature_c=39.0),
        {"investigation_required": False, "serious": False},
        {"common.high_fever", "not_serious.common_reaction"},
        set(),
        id="common-strong-fever-graded-not-investigated",
    ),
    pytest.param(
        facts(event_groups={"local_reaction"}, local_reaction_cm=6.0),
        {"investigation_required": False},
        {"common.large_local_reaction", "not_serious.common_reaction"},
        set(),
        id="common-strong-local-reaction-graded-not-investigated",
    ),
    pytest.param(
        facts(max_temperature_c=40.5),
        {"investigation_required": True, "serious": False, "escalated": False},
        {"investigation.hyperpyrexia"},
        {"not_serious.common_reaction"},
        id="common-hyperpyrexia-investigated",
    ),
    pytest.param(
        facts(diagnosis_clear=False),
        {"investigation_required": True, "escalated": False},
        {"investigation.diagnosis_unclear", "deadline.investigation_start"},
        {"not_serious.common_reaction"},
        id="common-fever-diagnosis-unclear",
    ),
    pytest.param(
        facts(event_groups={"syncope"}),
        {"investigation_required": True},
        {"investigation.not_common_reaction"},
        {"not_serious.common_reaction", "investigation.diagnosis_unclear"},
        id="syncope-not-a-common-reaction",
    ),
    pytest.param(
        facts(event_groups=set()),
        {"investigation_required": True},
        {"investigation.no_event"},
        set(),
        id="no-event-group",
    ),
    pytest.param(
        facts(great_public_concern=True),
        {"serious": False, "escalated": True, "fast_report_required": True,
         "preliminary_report_required": False, "investigation_required": True},
        {"escalate.public_concern", "investigation.public_concern", "deadline.fast_report"},
        set(),
        id="public-concern",
    ),
    pytest.param(
        facts(in_cluster=True),
        {"serious": False, "escalated": True, "fast_report_required": True,
         "preliminary_report_required": True, "investigation_required": True},
        {"escalate.cluster", "investigation.cluster"},
        set(),
        id="in-cluster",
    ),
    # Green-channel referral.
    pytest.param(
        facts(event_groups={"anaphylaxis"}),
        {"referral_required": True},
        {"referral.anaphylaxis"},
        set(),
        id="referral-anaphylaxis",
    ),
    pytest.param(
        facts(event_groups={"seizure", "fever"}),
        {"referral_required": True},
        {"referral.seizure"},
        set(),
        id="referral-seizure",
    ),
    pytest.param(
        facts(event_groups={"allergic_rash"}, needs_hospital_care=True),
        {"referral_required": True, "serious": False},
        {"referral.needs_hospital_care"},
        set(),
        id="referral-needs-hospital-care",
    ),
    pytest.param(
        facts(event_groups={"anaphylaxis"}, life_threatening=True, already_in_hospital=True),
        {"referral_required": False, "serious": True},
        {"referral.already_in_hospital"},
        {"referral.anaphylaxis", "referral.life_threatening"},
        id="no-referral-already-in-hospital",
    ),
    pytest.param(
        facts(event_groups={"anaphylaxis"}, life_threatening=True, death=True),
        {"referral_required": False, "serious": True},
        {"referral.not_for_death"},
        {"referral.anaphylaxis"},
        id="no-referral-after-death",
    ),
    pytest.param(
        facts(event_groups={"allergic_rash"}),
        {"referral_required": False},
        set(),
        {"referral.already_in_hospital", "referral.not_for_death"},
        id="no-referral-mild-rash",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("report", "expected", "fired", "not_fired"), DECISIONS)
def test_decision(
    report: ReportFacts, expected: dict[str, bool], fired: set[str], not_fired: set[str]
) -> None:
    decision = triage(report, RULESET)
    assert {name: getattr(decision, name) for name in expected} == expected
    assert fired <= set(decision.rules), decision.rules
    assert not (not_fired & set(decision.rules)), decision.rules
    assert decision.ruleset_version == RULESET.version
    for reason in decision.reasons:
        assert reason.text_en and reason.text_zh


@pytest.mark.parametrize(
    "group",
    ["anaphylaxis", "seizure", "hhe", "encephalitis", "gbs", "thrombocytopenia",
     "myocarditis", "death"],
)  # fmt: skip
def test_designated_condition_is_always_escalated(group: str) -> None:
    decision = triage(facts(event_groups={group}), RULESET)
    assert decision.escalated
    assert decision.investigation_required
    assert decision.designated == (group,)
    assert f"designated.{group}" in decision.rules
    assert "investigation.designated" in decision.rules
    # A designated condition escalates; only death also makes the report serious.
    assert decision.serious is (group == "death")


# Deadlines ---------------------------------------------------------------------------


def test_report_card_due_48_hours_after_discovery() -> None:
    decision = triage(facts(), RULESET)
    assert decision.deadlines == {"report_due": DISCOVERED + timedelta(hours=48)}


@pytest.mark.parametrize(
    "report",
    [
        pytest.param(facts(death=True), id="death"),
        pytest.param(facts(hospitalization=True), id="serious"),
        pytest.param(facts(in_cluster=True), id="group"),
        pytest.param(facts(great_public_concern=True), id="public-concern"),
    ],
)
def test_fast_report_due_2_hours_after_discovery(report: ReportFacts) -> None:
    decision = triage(report, RULESET)
    assert decision.fast_report_required
    assert decision.deadlines[Deadline.FAST_REPORT] == DISCOVERED + timedelta(hours=2)


@pytest.mark.parametrize(
    "report",
    [
        pytest.param(facts(), id="mild-common-reaction"),
        pytest.param(facts(event_groups={"allergic_rash"}), id="mild-not-common"),
        pytest.param(facts(event_groups={"myocarditis"}), id="designated-not-serious"),
    ],
)
def test_no_fast_report_when_not_serious(report: ReportFacts) -> None:
    decision = triage(report, RULESET)
    assert not decision.fast_report_required
    assert Deadline.FAST_REPORT not in decision.deadlines


def test_investigation_start_due_48_hours_after_receipt() -> None:
    decision = triage(facts(event_groups={"syncope"}), RULESET)
    assert decision.deadlines[Deadline.INVESTIGATION_START] == RECEIVED + timedelta(hours=48)
    assert Deadline.INVESTIGATION_START not in triage(facts(), RULESET).deadlines


STARTED = RECEIVED + timedelta(hours=20)


@pytest.mark.parametrize(
    ("started_at", "serious_or_group", "expected"),
    [
        pytest.param(
            None, True, {"investigation_start_due": RECEIVED + timedelta(hours=48)},
            id="not-started",
        ),
        pytest.param(
            STARTED, False,
            {"investigation_start_due": RECEIVED + timedelta(hours=48),
             "investigation_form_due": STARTED + timedelta(days=3)},
            id="started-not-serious-form-3-days",
        ),
        pytest.param(
            STARTED, True,
            {"investigation_start_due": RECEIVED + timedelta(hours=48),
             "investigation_form_due": STARTED + timedelta(days=3),
             "preliminary_report_due": STARTED + timedelta(days=7)},
            id="started-serious-preliminary-7-days",
        ),
    ],
)  # fmt: skip
def test_case_deadlines(
    started_at: datetime | None, serious_or_group: bool, expected: dict[str, datetime]
) -> None:
    assert case_deadlines(started_at, RECEIVED, serious_or_group, RULESET) == expected


def test_preliminary_report_only_for_death_serious_or_group() -> None:
    for report, required in [
        (facts(death=True), True),
        (facts(hospitalization=True), True),
        (facts(in_cluster=True), True),
        (facts(great_public_concern=True), False),
        (facts(event_groups={"myocarditis"}), False),
        (facts(), False),
    ]:
        assert triage(report, RULESET).preliminary_report_required is required, report


DUE = datetime(2025, 3, 5, 9, 25, tzinfo=CST)


@pytest.mark.parametrize(
    ("done_at", "now", "overdue"),
    [
        pytest.param(DUE, DUE + timedelta(days=1), False, id="done-at-due-time"),
        pytest.param(DUE + timedelta(minutes=1), DUE, True, id="done-late"),
        pytest.param(None, DUE, False, id="open-at-due-time"),
        pytest.param(None, DUE + timedelta(minutes=1), True, id="open-after-due-time"),
    ],
)
def test_is_overdue(done_at: datetime | None, now: datetime, overdue: bool) -> None:
    assert is_overdue(DUE, done_at, now) is overdue


# Re-triage ---------------------------------------------------------------------------

FOLLOW_UP = RECEIVED + timedelta(days=2)


def test_same_facts_give_the_same_decision() -> None:
    first = triage(facts(event_groups={"allergic_rash"}), RULESET)
    assert triage(facts(event_groups={"allergic_rash"}), RULESET) == first
    again = triage(facts(event_groups={"allergic_rash"}, follow_up_at=FOLLOW_UP), RULESET,
                   previous=first)  # fmt: skip
    assert decision_changes(first, again) == ()
    assert again.rules[0] == "retriage.follow_up"
    assert again.deadlines == first.deadlines


@pytest.mark.parametrize(
    ("change", "serious_rule"),
    [
        pytest.param({"outcome": Outcome.DIED}, "serious.death", id="outcome-becomes-died"),
        pytest.param({"hospitalization": True}, "serious.hospitalization", id="hospitalised"),
    ],
)
def test_follow_up_that_changes_facts_changes_the_decision(
    change: dict[str, object], serious_rule: str
) -> None:
    first = triage(facts(event_groups={"allergic_rash"}), RULESET)
    assert not first.serious and not first.escalated

    second = triage(
        facts(event_groups={"allergic_rash"}, follow_up_at=FOLLOW_UP, **change),
        RULESET,
        previous=first,
    )
    assert second.serious and second.escalated and second.fast_report_required
    assert serious_rule in second.rules
    assert {"serious", "escalated", "fast_report_required"} <= set(decision_changes(first, second))
    assert second.rules[0] == "retriage.follow_up"
    # Clocks already running keep their times; the new 2 h clock runs from the follow-up.
    assert second.deadlines[Deadline.REPORT] == first.deadlines[Deadline.REPORT]
    assert (
        second.deadlines[Deadline.INVESTIGATION_START]
        == first.deadlines[Deadline.INVESTIGATION_START]
    )
    assert second.deadlines[Deadline.FAST_REPORT] == FOLLOW_UP + timedelta(hours=2)


def test_death_on_follow_up_cancels_referral() -> None:
    first = triage(facts(event_groups={"anaphylaxis"}), RULESET)
    assert first.referral_required
    second = triage(
        facts(event_groups={"anaphylaxis"}, outcome="died", follow_up_at=FOLLOW_UP),
        RULESET,
        previous=first,
    )
    assert not second.referral_required
    assert "referral_required" in decision_changes(first, second)


# Facts and output --------------------------------------------------------------------


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="onset_at"):
        facts(onset_at=datetime(2025, 3, 3, 9, 20))


def test_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="outcome"):
        facts(outcome="dead")


def test_onset_before_vaccination_is_flagged() -> None:
    decision = triage(facts(onset_at=VACCINATED - timedelta(hours=1)), RULESET)
    assert "check.onset_before_vaccination" in decision.rules


def test_decision_as_json() -> None:
    decision = triage(facts(event_groups={"anaphylaxis"}, life_threatening=True), RULESET)
    body = json.loads(json.dumps(decision.to_dict("zh")))
    assert body["serious"] is True
    assert body["reasons"][0]["rule"] == "serious.life_threatening"
    assert body["reasons"][0]["text"] == body["reasons"][0]["text_zh"]
    assert datetime.fromisoformat(body["deadlines"]["fast_report_due"]) == DISCOVERED + timedelta(
        hours=2
    )
    assert body["ruleset_version"] == RULESET.version


# Rule set ----------------------------------------------------------------------------


def test_shipped_ruleset_defaults() -> None:
    assert re.fullmatch(r"2025\.1\+[0-9a-f]{8}", RULESET.version)
    assert RULESET.declared_version == "2025.1"
    assert RULESET.designated_conditions == (
        "anaphylaxis", "seizure", "hhe", "encephalitis", "gbs", "thrombocytopenia",
        "myocarditis", "death",
    )  # fmt: skip
    assert RULESET.common_reaction_groups == ("fever", "local_reaction")
    assert RULESET.referral.event_groups == ("anaphylaxis", "seizure", "hhe")
    assert RULESET.thresholds.high_fever_c == 38.6
    assert RULESET.thresholds.large_local_reaction_cm == 5.0
    assert RULESET.clusters.site_window_hours == 72
    assert RULESET.clusters.min_serious == 2
    d = RULESET.deadlines
    assert (d.report_card_hours, d.fast_report_hours, d.investigation_start_hours) == (48, 2, 48)
    assert (d.investigation_form_hours, d.preliminary_report_hours) == (72, 168)
    assert RULESET.text == SHIPPED_TEXT


def test_any_edit_changes_the_version() -> None:
    assert parse_ruleset(SHIPPED_TEXT).version == RULESET.version
    comment_only = parse_ruleset(SHIPPED_TEXT + "\n# reviewed by the county CDC\n")
    assert comment_only.version != RULESET.version
    assert comment_only.declared_version == RULESET.declared_version


def test_decision_keeps_the_version_it_was_made_with() -> None:
    text = SHIPPED_TEXT.replace('    "myocarditis",\n', "")
    narrower = parse_ruleset(text)
    old = triage(facts(event_groups={"myocarditis"}), RULESET)
    new = triage(facts(event_groups={"myocarditis"}), narrower)
    assert old.escalated and not new.escalated
    assert old.ruleset_version == RULESET.version != new.ruleset_version


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        pytest.param("report_card_hours = 48", "", "deadlines.report_card_hours",
                     id="missing-key"),
        pytest.param("fast_report_hours = 2", "fast_report_hours = -2",
                     "deadlines.fast_report_hours", id="negative-hours"),
        pytest.param("min_serious = 2", 'min_serious = "two"', "clusters.min_serious",
                     id="wrong-type"),
        pytest.param("min_serious = 2", "min_serious = 1", "clusters.min_serious",
                     id="cluster-of-one"),
        pytest.param("increase_alpha = 0.01", "increase_alpha = 1.5", "clusters.increase_alpha",
                     id="alpha-out-of-range"),
        pytest.param("site_window_hours = 72", "site_window_hour = 72",
                     "clusters.site_window_hours", id="misspelt-key"),
        pytest.param("[deadlines]", "[deadlines]\nreport_hours = 48",
                     "deadlines.report_hours", id="unknown-key"),
        pytest.param('"gbs",', '"Guillain Barre",', "escalation.designated_conditions",
                     id="bad-group-name"),
        pytest.param("hyperpyrexia_c = 40.5", "hyperpyrexia_c = 38.0",
                     "thresholds.hyperpyrexia_c", id="hyperpyrexia-below-high-fever"),
        pytest.param("life_threatening = true", "life_threatening = 1",
                     "referral.life_threatening", id="not-a-boolean"),
        pytest.param('version = "2025.1"', "", "version", id="missing-version"),
    ],
)  # fmt: skip
def test_bad_ruleset_names_the_key(old: str, new: str, key: str) -> None:
    assert old in SHIPPED_TEXT
    with pytest.raises(RulesetError, match=re.escape(key)) as error:
        parse_ruleset(SHIPPED_TEXT.replace(old, new, 1))
    assert error.value.key == key


def test_misspelt_key_is_named_in_the_message() -> None:
    text = SHIPPED_TEXT.replace("site_window_hours = 72", "site_window_hour = 72")
    with pytest.raises(RulesetError, match="'site_window_hour' a misspelling"):
        parse_ruleset(text)


def test_invalid_toml_is_a_ruleset_error() -> None:
    with pytest.raises(RulesetError, match="not valid TOML"):
        parse_ruleset(SHIPPED_TEXT + "\n[deadlines\n")


def test_load_ruleset_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(SHIPPED_TEXT.replace("report_card_hours = 48", "report_card_hours = 24"),
                    encoding="utf-8")  # fmt: skip
    county = load_ruleset(path)
    assert county.deadlines.report_card_hours == 24
    decision = triage(facts(), county)
    assert decision.deadlines["report_due"] == DISCOVERED + timedelta(hours=24)
    with pytest.raises(RulesetError, match="cannot read"):
        load_ruleset(tmp_path / "missing.toml")


# --- one seriousness decision, one event-group vocabulary ----------------------------------

SERIOUS_BOXES = ("death", "life_threatening", "hospitalization", "disability", "congenital_anomaly")


@pytest.mark.parametrize(
    ("boxes", "outcome", "groups"),
    [
        ((), Outcome.RECOVERED, {"fever"}),
        ((), Outcome.DIED, {"fever"}),
        ((), Outcome.UNKNOWN, {"death"}),
        *(((box,), Outcome.RECOVERING, {"syncope"}) for box in SERIOUS_BOXES),
        (("disability", "hospitalization"), Outcome.SEQUELAE, {"gbs"}),
        ((), Outcome.RECOVERED, {"anaphylaxis", "seizure"}),  # designated: escalated only
    ],
)
def test_serious_exactly_when_a_who_criterion_is_met(
    boxes: tuple[str, ...], outcome: Outcome, groups: set[str]
) -> None:
    """One seriousness decision: the criteria met (death counting the outcome and a death
    event), each fired as its own reason."""
    flags = {box: box in boxes for box in SERIOUS_BOXES}
    report = facts(event_groups=groups, outcome=outcome, **flags)
    decision = triage(report, RULESET)
    died = bool("death" in boxes or outcome is Outcome.DIED or "death" in groups)
    expected = (("death",) if died else ()) + tuple(b for b in SERIOUS_BOXES[1:] if b in boxes)
    assert report.serious_criteria == expected
    assert decision.serious == bool(expected)
    assert [r for r in decision.rules if r.startswith("serious.")] == [
        f"serious.{c}" for c in expected
    ]


def test_triage_names_groups_from_the_one_vocabulary() -> None:
    """Triage's reasons use the vocabulary's names (DOMAIN.md: 血小板减少性紫癜)."""
    decision = triage(facts(event_groups={"thrombocytopenia"}), RULESET)
    zh = " ".join(r.text_zh for r in decision.reasons)
    en = " ".join(r.text_en for r in decision.reasons)
    assert EVENT_GROUPS["thrombocytopenia"] == ("血小板减少性紫癜", "Thrombocytopenic purpura")
    assert "血小板减少性紫癜" in zh and "血小板减少症" not in zh
    assert "thrombocytopenic purpura" in en.lower()


def test_every_group_named_by_triage_is_in_the_vocabulary() -> None:
    named = {*RULESET.designated_conditions, *RULESET.common_reaction_groups}
    named |= set(RULESET.referral.event_groups)
    assert named <= set(EVENT_GROUPS)
    assert group_label("fever", in_sentence=True) == "fever"
    assert group_label("unknown_code", "zh") == "unknown_code"
