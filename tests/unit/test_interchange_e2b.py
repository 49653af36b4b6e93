"""E2B(R3) writer, reader and acknowledgement: schema validation against the shared ICH XSDs,
the ICH-mandatory elements of FDA's data-element table, FDA's instances, the round trip."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from lxml import etree

from aefi.interchange.ack import Acknowledgement, MessageAck, read_ack, write_ack
from aefi.interchange.e2b_reader import NotAnIcsrBatch, parse_hl7_time, read_batch
from aefi.interchange.e2b_writer import XSI, write_batch
from aefi.interchange.icsr import (
    Batch,
    Icsr,
    Party,
    Patient,
    Reaction,
    Relatedness,
    Reporter,
    Sender,
    Seriousness,
    SuspectVaccine,
)
from aefi.interchange.validation import schema_errors
from aefi.settings import Settings

STANDARDS = Settings().standards_dir
EXAMPLES = sorted((STANDARDS / "e2br3" / "examples").glob("*.xml"))
WHEN = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)

pytestmark = pytest.mark.skipif(
    not (STANDARDS / "e2br3").is_dir(), reason="shared/standards is not beside the checkout"
)


def serious_case(**changes) -> Icsr:
    """Serious (hospitalised), MedDRA-coded, two vaccines, WHO + China relatedness."""
    fever = Reaction(
        ref="6f1c3c5e-1b6a-4f7e-9d6b-0a0000000001",
        reported_term="高热惊厥",
        meddra_code="10016284",
        meddra_version="26.1",
        start_at=datetime(2026, 3, 1, 10, 15, tzinfo=UTC),
        seriousness=Seriousness(hospitalization=True, life_threatening=True),
        outcome="recovering",
    )
    dtap = SuspectVaccine(
        ref="6f1c3c5e-1b6a-4f7e-9d6b-0b0000000001",
        product_name="DTaP vaccine",
        product_code="DTAP",
        manufacturer="Wuhan Institute",
        lot_number="202501A",
        dose_number=2,
        route="im",
        administered_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
    )
    mmr = SuspectVaccine(
        ref="6f1c3c5e-1b6a-4f7e-9d6b-0b0000000002",
        product_name="MMR vaccine",
        lot_number="M-77",
        dose_number=1,
        route="sc",
        administered_at=datetime(2026, 3, 1, 9, 5, tzinfo=UTC),
    )
    values = dict(
        message_id="CN-AEFI-110101-2026-0001-v2",
        safety_report_id="CN-AEFI-110101-2026-0001",
        worldwide_case_id="CN-AEFI-110101-2026-0001",
        created_at=WHEN,
        first_received_on=date(2026, 3, 1),
        most_recent_on=date(2026, 3, 2),
        narrative="Febrile seizure 75 minutes after DTaP dose 2; admitted; recovering.",
        sender=Sender(organisation="Dongcheng County CDC", department="Immunization"),
        reporter=Reporter(name="李医生", organisation="Site 1", phone="010-1234"),
        patient=Patient(name="W", sex="female", birth_on=date(2025, 1, 5)),
        reactions=(fever,),
        vaccines=(dtap, mmr),
        relatedness=(
            Relatedness(
                dtap.ref,
                fever.ref,
                "County expert panel",
                "WHO AEFI causality assessment (2019)",
                "A1",
            ),
            Relatedness(
                dtap.ref,
                fever.ref,
                "County expert panel",
                "China AEFI classification",
                "rare_reaction",
            ),
        ),
        expedited=True,
    )
    values.update(changes)
    return Icsr(**values)


def uncoded_case() -> Icsr:
    """Non-serious, no MedDRA (the county has not loaded it), masked patient, no dose date."""
    rash = Reaction(
        ref="6f1c3c5e-1b6a-4f7e-9d6b-0a0000000009", reported_term="皮疹", start_at=date(2026, 3, 3)
    )
    vaccine = SuspectVaccine(
        ref="6f1c3c5e-1b6a-4f7e-9d6b-0b0000000009", product_name="Hepatitis B vaccine", route="肌内"
    )
    return serious_case(
        message_id="CN-AEFI-110101-2026-0002-v1",
        safety_report_id="CN-AEFI-110101-2026-0002",
        worldwide_case_id="CN-AEFI-110101-2026-0002",
        patient=Patient(),
        reporter=Reporter(),
        reactions=(rash,),
        vaccines=(vaccine,),
        relatedness=(),
        expedited=False,
    )


def batch_of(*cases: Icsr) -> Batch:
    return Batch("B-2026-0001", Party("CN-110101-CDC"), Party("CN-11-PROVINCE"), WHEN, cases)


@pytest.mark.parametrize(
    "cases", [(serious_case(),), (uncoded_case(),), (serious_case(), uncoded_case())]
)
def test_every_exported_batch_validates(cases):
    assert schema_errors(write_batch(batch_of(*cases)), STANDARDS) == []


def test_the_validator_catches_a_missing_required_element():
    doc = etree.fromstring(write_batch(batch_of(serious_case())))
    creation = doc.find("{urn:hl7-org:v3}creationTime")
    doc.remove(creation)
    errors = schema_errors(etree.tostring(doc), STANDARDS)
    assert errors and "creationTime" in " ".join(errors)


def _ich_required_rows() -> list[list[str]]:
    path = STANDARDS / "e2br3" / "data-elements" / "fda-core-regional-data-elements.csv"
    with path.open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    # Column 0 is the source (ICH/FDA), 2 the element number, 7 the ICH conformance,
    # 20-28 whether each nullFlavor is allowed, 32 the XPath.
    return [r for r in rows[2:] if r[0] == "ICH" and r[7].strip() == "Required"]


def _plain(xml: bytes) -> etree._Element:
    """The document without its default namespace, so FDA's XPaths apply as written."""
    doc = etree.fromstring(xml)
    for node in doc.iter():
        if isinstance(node.tag, str):
            node.tag = etree.QName(node).localname
    etree.cleanup_namespaces(doc)
    return doc


def _concrete(xpath: str) -> str:
    for placeholder in ("[r]", "[i]", "[k]"):
        xpath = xpath.replace(placeholder, "[1]")
    for uuid_of in ("UUID of k-th drug", "UUID of k-th drag", "UUID of i-th reaction"):
        xpath = xpath.replace(f"[@root='{uuid_of}']", "")
    return xpath


# Written with HL7's nullFlavor UNC and the term in originalText when the county has no
# MedDRA: FDA's table allows no nullFlavor there, so such a case is what a receiver that
# requires MedDRA will send back for coding (the report says so).
UNCODED_WITHOUT_MEDDRA = {"E.i.2.1a", "E.i.2.1b"}


@pytest.mark.parametrize("case", [serious_case(), uncoded_case()], ids=["coded", "uncoded"])
def test_every_ich_mandatory_element_of_fdas_table_is_filled(case):
    rows = _ich_required_rows()
    assert len(rows) >= 30  # the table, not an empty file
    doc = _plain(write_batch(batch_of(case)))
    nulls = ["NI", "MSK", "UNK", "NA", "ASKU", "NASK", "NINF", "PINF", "OTH"]  # columns 20-28
    assert {"N.1.2", "C.1.1", "C.1.8.1", "D.1", "E.i.7", "G.k.1", "H.1"} <= {
        r[2].strip() for r in rows
    }
    empty = []
    for row in rows:
        number = row[2].strip()
        xpath = _concrete(row[32].strip())
        found = doc.xpath(xpath, namespaces={"xsi": XSI})
        if any(str(v).strip() for v in found):
            continue
        allowed = {nulls[i] for i, flag in enumerate(row[20:29]) if flag.strip().startswith("Yes")}
        # The element is written with a nullFlavor: find it by dropping the last step.
        holder = doc.xpath(xpath.rsplit("/", 1)[0], namespaces={"xsi": XSI})
        flavor = holder[0].get("nullFlavor") if holder else None
        if flavor and flavor in allowed:
            continue
        if not case.reactions[0].meddra_code and number in UNCODED_WITHOUT_MEDDRA:
            value = doc.xpath(
                "//observation[code/@code='29']/value[@codeSystem='2.16.840.1.113883.6.163']"
            )
            assert value and value[0].get("nullFlavor") == "UNC"
            assert value[0].findtext("originalText") == case.reactions[0].reported_term
            continue
        empty.append((number, flavor))
    assert empty == []


def test_round_trip_export_import_export_keeps_the_content():
    first = write_batch(batch_of(serious_case(), uncoded_case()))
    result = read_batch(first)
    assert result.problems == ()
    assert list(result.batch.messages) == [serious_case(), uncoded_case()]
    assert write_batch(result.batch) == first


def test_a_follow_up_keeps_the_case_numbers_and_changes_the_message():
    initial = serious_case(
        message_id="CN-AEFI-110101-2026-0001-v1", most_recent_on=date(2026, 3, 1)
    )
    follow_up = serious_case()
    read = [read_batch(write_batch(batch_of(c))).batch.messages[0] for c in (initial, follow_up)]
    assert read[0].safety_report_id == read[1].safety_report_id
    assert read[0].worldwide_case_id == read[1].worldwide_case_id
    assert read[0].message_id != read[1].message_id
    assert read[1].most_recent_on > read[0].most_recent_on


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_fdas_example_instances_are_read(path: Path):
    result = read_batch(path.read_bytes())
    assert result.problems == ()
    assert result.batch.messages
    for icsr in result.batch.messages:
        assert icsr.safety_report_id
        assert icsr.reactions and all(r.reported_term for r in icsr.reactions)
        assert icsr.vaccines and all(v.product_name for v in icsr.vaccines)


def test_the_vaers_example_is_a_vaccine_case():
    icsr = read_batch((STANDARDS / "e2br3/examples/VAERS_EXAMPLE.xml").read_bytes()).batch.messages[
        0
    ]
    assert icsr.vaccines[0].product_name == "influenza virus vaccine, inactivated"
    assert icsr.reactions[0].meddra_code == "10004223"
    assert icsr.reactions[0].outcome == "recovering"
    assert icsr.patient.sex == "male" and icsr.patient.birth_on == date(1955, 7, 22)


def test_not_a_batch_is_refused_with_a_reason():
    with pytest.raises(NotAnIcsrBatch, match="well-formed"):
        read_batch(b"<MCCI_IN200100UV01")
    with pytest.raises(NotAnIcsrBatch, match="not MCCI_IN200100UV01"):
        read_batch(b"<x xmlns='urn:hl7-org:v3'/>")


def test_a_message_without_a_case_number_is_reported_not_fatal():
    doc = etree.fromstring(write_batch(batch_of(serious_case(), uncoded_case())))
    inv = doc.findall(".//{urn:hl7-org:v3}investigationEvent")[1]
    for ident in inv.findall("{urn:hl7-org:v3}id"):
        inv.remove(ident)
    result = read_batch(etree.tostring(doc))
    assert len(result.batch.messages) == 1
    assert result.problems == (
        ("CN-AEFI-110101-2026-0002-v1", "no sender's safety report unique identifier (C.1.1)"),
    )


@pytest.mark.parametrize(
    "messages,error,code",
    [
        ((MessageAck("m1", True, safety_report_id="CN-1", local_id="R-1"),), "", "AA"),
        ((MessageAck("m1", True), MessageAck("m2", False, "no reaction (E.i)")), "", "AE"),
        ((MessageAck("m1", False, "no reaction (E.i)"),), "", "AR"),
        ((), "not well-formed XML", "AR"),
    ],
)
def test_acknowledgements_validate_and_read_back(messages, error, code):
    ack = Acknowledgement(
        "ACK-1",
        "B-2026-0001",
        Party("CN-11-PROVINCE"),
        Party("CN-110101-CDC"),
        WHEN,
        messages,
        batch_error=error,
    )
    assert ack.code == code
    xml = write_ack(ack)
    assert schema_errors(xml, STANDARDS, ack=True) == []
    assert read_ack(xml) == ack


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2026", date(2026, 1, 1)),
        ("20260301", date(2026, 3, 1)),
        ("20260301101500+0800", datetime(2026, 3, 1, 2, 15, tzinfo=UTC)),
        ("20260301101500.123-0500", datetime(2026, 3, 1, 15, 15, tzinfo=UTC)),
        ("20260230", None),
        ("2026+9999", None),
        ("20260301+ab", None),
        ("26", None),
        ("", None),
    ],
)
def test_hl7_times_are_read_or_dropped(value, expected):
    assert parse_hl7_time(value) == expected
