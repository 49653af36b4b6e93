"""The pure parts of investigation: the case's steps and deadlines, the form's checks, the
evidence file checks."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from aefi.investigation import sections, workflow
from aefi.investigation.evidence import checks as evidence
from aefi.investigation.workflow import CaseStatus
from aefi.triage.ruleset import load_ruleset

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
RULES = load_ruleset()


@pytest.mark.parametrize(
    ("status", "actions"),
    [
        ("open", ["start", "classify", "close"]),
        ("investigating", ["to_panel", "classify", "close"]),
        ("awaiting_panel", ["back_to_investigation", "classify", "close"]),
        ("classified", ["classify", "close", "reopen"]),
        ("closed", ["reopen"]),
    ],
)
def test_steps_open_from_each_status(status, actions):
    assert workflow.actions(status) == actions


def test_due_times_follow_the_national_plan():
    start_due = T0 + timedelta(hours=48)
    assert workflow.due_times(start_due, None, True, RULES) == {
        "investigation_start_due": start_due
    }
    started = T0 + timedelta(hours=10)
    due = workflow.due_times(start_due, started, True, RULES)
    assert due["investigation_form_due"] == started + timedelta(days=3)
    assert due["preliminary_report_due"] == started + timedelta(days=7)
    assert "preliminary_report_due" not in workflow.due_times(start_due, started, False, RULES)


def _states(now, **kw):
    base = dict(
        start_due_at=T0 + timedelta(hours=48),
        started_at=None,
        form_due_at=None,
        form_completed_at=None,
        preliminary_required=True,
        preliminary_due_at=None,
        preliminary_report_at=None,
        now=now,
    )
    base.update(kw)
    return {s.name: s for s in workflow.deadline_states(**base)}


def test_deadline_states_over_time():
    s = _states(T0 + timedelta(hours=47))
    assert not s["investigation_start_due"].overdue and s["investigation_start_due"].running
    assert s["investigation_form_due"].due_at is None and not s["investigation_form_due"].running

    s = _states(T0 + timedelta(hours=49))
    assert s["investigation_start_due"].overdue and s["investigation_start_due"].running

    started = T0 + timedelta(hours=49)
    s = _states(
        started + timedelta(days=4),
        started_at=started,
        form_due_at=started + timedelta(days=3),
        preliminary_due_at=started + timedelta(days=7),
    )
    late_start = s["investigation_start_due"]
    assert late_start.overdue and not late_start.running and not late_start.met
    assert s["investigation_form_due"].overdue and s["investigation_form_due"].running
    assert not s["preliminary_report_due"].overdue
    assert workflow.next_due(list(s.values())) == started + timedelta(days=3)


def test_a_closed_case_stops_its_clocks():
    started = T0
    s = _states(
        T0 + timedelta(days=30),
        started_at=started,
        form_due_at=started + timedelta(days=3),
        preliminary_due_at=started + timedelta(days=7),
        closed_at=T0 + timedelta(days=5),
    )
    assert not any(x.running for x in s.values())
    assert s["investigation_form_due"].overdue  # closed after it fell due, not done
    assert not s["preliminary_report_due"].overdue  # closed before it fell due
    assert workflow.next_due(list(s.values())) is None


def test_section_checks_keep_what_was_typed():
    section = sections.BY_KEY["examinations"]
    cleaned = sections.clean(
        section,
        {"temperature_c": "39,5", "pulse": "12x", "blood_pressure": "90/60", "autopsy": "maybe"},
    )
    assert cleaned.values["temperature_c"] == 39.5
    assert cleaned.values["blood_pressure"] == "90/60"
    assert set(cleaned.errors) == {"pulse", "autopsy"}
    assert cleaned.typed["pulse"] == "12x"
    out_of_range = sections.clean(section, {"temperature_c": "50"})
    msgid, params = out_of_range.errors["temperature_c"]
    assert msgid.format(**params) == "Out of range: between 30 and 45."


def test_required_fields_and_concerns():
    assert len(sections.missing_required({})) == sum(
        1 for s in sections.SECTIONS for f in s.fields if f.required
    )
    saved = {"practice": {"sterile_technique": "no", "right_dose": "yes"}}
    concerns = sections.concerns(saved)
    assert [(s.key, f.name) for s, f in concerns] == [("practice", "sterile_technique")]
    filled, required = sections.section_filled(sections.BY_KEY["practice"], saved["practice"])
    assert (filled, required) == (2, 7)


def _office(prefix: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr(f"{prefix}document.xml", "<x/>")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("a.pdf", b"%PDF-1.7\n...", "pdf"),
        ("a.JPG", b"\xff\xd8\xff\xe0....", "jpg"),
        ("a.png", b"\x89PNG\r\n\x1a\n....", "png"),
        ("a.docx", _office("word/"), "docx"),
        ("a.xlsx", _office("xl/"), "xlsx"),
        ("记录.txt", "冰箱温度 4℃".encode("gb18030"), "txt"),
        ("a.txt", "温度记录".encode(), "txt"),
        ("a.pdf", b"<html>not a pdf</html>", None),
        ("a.docx", _office("xl/"), None),
        ("a.txt", b"<!DOCTYPE html><script>", None),
        ("a.txt", b"MZ\x00\x00binary", None),
        ("a.exe", b"MZ\x90\x00", None),
        ("a.svg", b"<svg/>", None),
        ("", b"x", None),
    ],
)
def test_evidence_by_extension_and_content(name, content, kind):
    verdict = evidence.check(name, content, len(content), 1024 * 1024)
    assert verdict.kind == kind
    if kind is None:
        assert verdict.error


def test_evidence_size_and_names():
    assert evidence.check("a.txt", b"", 0, 10).kind is None
    big = evidence.check("a.txt", b"a" * 10, 11, 10)
    assert big.kind is None and "{limit}" in big.error
    assert evidence.safe_display_name("C:\\Users\\x\\病历.pdf") == "病历.pdf"
    assert evidence.safe_display_name('../../etc/"pass"wd.txt') == "passwd.txt"
    assert set(evidence.ALLOWED_EXTENSIONS) >= {".pdf", ".jpg", ".png", ".docx", ".xlsx", ".txt"}


def test_every_status_has_a_label():
    assert set(workflow.CASE_STATUS_LABELS) == set(CaseStatus)
