"""The intake and registry forms parsed by pydantic models: what was typed is kept, what
cannot be used gets a message (or, for a hidden field, is ignored)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.datastructures import FormData, UploadFile

from aefi.intake.follow_up.form import FollowUpForm
from aefi.intake.forms import FormMeta
from aefi.registry.records.form import record_values
from aefi.registry.records.service import KINDS

NOW = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)


def test_follow_up_form_keeps_what_was_typed_and_names_a_future_time() -> None:
    form = FollowUpForm.from_form(
        FormData(
            [
                ("at", (NOW + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")),
                ("diagnosis", "  过敏  "),
                ("hospitalization", "1"),
                ("symptoms_added", "URTIC"),
                ("note", "复诊"),
            ]
        )
    )
    body, errors = form.parse(NOW)
    assert body is None and set(errors) == {"at"}
    typed = form.typed()
    assert typed["diagnosis"] == "  过敏  " and typed["hospitalization"] == "1"
    assert typed["death"] == "" and typed["symptoms_added"] == ["URTIC"]


def test_follow_up_form_asks_for_the_ticked_facts_only() -> None:
    form = FollowUpForm.from_form(
        FormData(
            [
                ("outcome", "recovered"),
                ("treatment", " 抗过敏 "),
                ("death", ""),
                ("note", "x" * 5000),
            ]
        )
    )
    body, errors = form.parse(NOW)
    assert errors == {} and body is not None
    assert body.changes() == {"outcome": "recovered", "treatment": "抗过敏"}
    assert len(body.note) == 4000 and body.at is None


def test_follow_up_form_names_a_time_that_does_not_parse() -> None:
    _body, errors = FollowUpForm.from_form(FormData([("at", "yesterday")])).parse(NOW)
    assert set(errors) == {"at"}


def test_form_meta_ignores_hidden_ids_it_cannot_use() -> None:
    meta = FormMeta.from_form(
        FormData(
            [
                ("draft_id", "١٢"),
                ("follow_up_of", "42"),
                ("submission_key", "k" * 150),
                ("touched", "onset_at,,symptoms"),
                ("_field", "serious_death"),
            ]
        )
    )
    assert meta.draft_id is None and meta.follow_up_of == 42
    assert meta.submission_key == "k" * 100
    assert meta.touched == {"onset_at", "symptoms"} and meta.field == "serious_death"
    assert FormMeta.from_form(FormData([])).device_token == ""


def test_record_form_keeps_every_field_and_a_protected_one_sent() -> None:
    lots = KINDS["lots"]
    upload = UploadFile(file=None, filename="x.csv")  # type: ignore[arg-type]
    values = record_values(
        lots, FormData([("lot_number", "L-1"), ("status", "active"), ("expiry_on", upload)])
    )
    assert values["lot_number"] == "L-1" and values["status"] == "active"
    assert values["expiry_on"] is None
    assert set(values) == {f.name for f in lots.fields} | {"status"}
    assert "status_note" not in values  # not sent, so not named
