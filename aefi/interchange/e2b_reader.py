"""Read an E2B(R3) ``MCCI_IN200100UV01`` batch back into ``Icsr`` values.

It reads what aefi writes and what other senders write (FDA's reference instances in
``e2br3/examples`` among them): every element it does not use is ignored, an element it uses
but does not find takes the model's default, and a message that is not an ICSR at all
(no case identifier) is reported by number rather than stopping the batch.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from lxml import etree

from aefi.interchange.e2b_writer import (
    HL7,
    OID_BATCH_ID,
    OID_BATCH_RECEIVER,
    OID_BATCH_SENDER,
    OID_MEDDRA,
    OID_MESSAGE_ID,
    OID_SAFETY_REPORT_ID,
    OID_WORLDWIDE_ID,
    SERIOUSNESS_CODES,
)
from aefi.interchange.icsr import (
    OUTCOMES_BY_CODE,
    ROUTES_BY_CODE,
    SEX_BY_CODE,
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

NS = {"h": HL7}


class NotAnIcsrBatch(ValueError):
    """The bytes are not XML, or not an MCCI_IN200100UV01 batch."""


@dataclass(frozen=True)
class ReadResult:
    batch: Batch
    problems: tuple[tuple[str, str], ...]  # (message id or position, what was wrong)


def parse_hl7_time(value: str | None) -> datetime | date | None:
    """HL7 TS (CCYY[MM[DD[hh[mm[ss[.s]]]]]][+/-ZZZZ]) → a date, or a time when it has one;
    None for anything else (a receiver keeps the message and goes without the time)."""
    if not value:
        return None
    try:
        return _parse_ts(value.strip())
    except (ValueError, OverflowError):
        return None


def _parse_ts(value: str) -> datetime | date | None:
    text, tz = value, None
    for sign in ("+", "-"):
        if sign in text[4:]:
            pos = text.index(sign, 4)
            text, offset = text[:pos], text[pos:]
            minutes = int(offset[1:3]) * 60 + int(offset[3:5] or 0)
            tz = timezone(timedelta(minutes=minutes if sign == "+" else -minutes))
            break
    text = text.split(".")[0]
    if not text.isdigit() or len(text) < 4:
        return None
    year = int(text[:4])
    month = int(text[4:6]) if len(text) >= 6 else 1
    day = int(text[6:8]) if len(text) >= 8 else 1
    if len(text) <= 8:
        return date(year, month, day)
    hour = int(text[8:10])
    minute = int(text[10:12]) if len(text) >= 12 else 0
    second = int(text[12:14]) if len(text) >= 14 else 0
    return datetime(year, month, day, hour, minute, second, tzinfo=tz or UTC)


def _first(node: etree._Element, path: str) -> str:
    found = node.xpath(path, namespaces=NS)
    if not found:
        return ""
    value = found[0]
    if isinstance(value, etree._Element):
        return (value.text or "").strip()
    return str(value).strip()


def _as_date(value: datetime | date | None) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value


def read_batch(xml: bytes) -> ReadResult:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise NotAnIcsrBatch(f"not well-formed XML (line {exc.lineno}: {exc.msg})") from exc
    if root.tag != f"{{{HL7}}}MCCI_IN200100UV01":
        raise NotAnIcsrBatch(
            f"the root element is {etree.QName(root).localname}, not MCCI_IN200100UV01"
        )
    created = parse_hl7_time(_first(root, "h:creationTime/@value"))
    messages: list[Icsr] = []
    problems: list[tuple[str, str]] = []
    for pos, msg in enumerate(root.xpath("h:PORR_IN049016UV", namespaces=NS), start=1):
        message_id = _first(msg, f"h:id[@root='{OID_MESSAGE_ID}']/@extension") or f"#{pos}"
        try:
            messages.append(_read_message(msg, message_id))
        except ValueError as exc:
            problems.append((message_id, str(exc)))
    batch = Batch(
        batch_number=_first(root, f"h:id[@root='{OID_BATCH_ID}']/@extension"),
        sender=Party(
            _first(root, f"h:sender/h:device/h:id[@root='{OID_BATCH_SENDER}']/@extension")
        ),
        receiver=Party(
            _first(root, f"h:receiver/h:device/h:id[@root='{OID_BATCH_RECEIVER}']/@extension")
        ),
        created_at=created if isinstance(created, datetime) else datetime.now(UTC),
        messages=tuple(messages),
    )
    return ReadResult(batch=batch, problems=tuple(problems))


def _read_message(msg: etree._Element, message_id: str) -> Icsr:
    inv_path = "h:controlActProcess/h:subject/h:investigationEvent"
    invs = msg.xpath(inv_path, namespaces=NS)
    if not invs:
        raise ValueError("no investigationEvent: not an ICSR")
    inv = invs[0]
    report_id = _first(inv, f"h:id[@root='{OID_SAFETY_REPORT_ID}']/@extension")
    if not report_id:
        raise ValueError("no sender's safety report unique identifier (C.1.1)")
    worldwide = _first(inv, f"h:id[@root='{OID_WORLDWIDE_ID}']/@extension") or report_id
    created = parse_hl7_time(_first(msg, "h:controlActProcess/h:effectiveTime/@value"))
    received = _as_date(parse_hl7_time(_first(inv, "h:effectiveTime/h:low/@value")))
    recent = _as_date(parse_hl7_time(_first(inv, "h:availabilityTime/@value")))
    aea_list = inv.xpath("h:component/h:adverseEventAssessment", namespaces=NS)
    aea = aea_list[0] if aea_list else None
    role = aea.xpath("h:subject1/h:primaryRole", namespaces=NS)[0] if aea is not None else None
    created_at = created if isinstance(created, datetime) else datetime.now(UTC)
    return Icsr(
        message_id=message_id,
        safety_report_id=report_id,
        worldwide_case_id=worldwide,
        created_at=created_at,
        first_received_on=received or created_at.date(),
        most_recent_on=recent or received or created_at.date(),
        narrative=_first(inv, "h:text"),
        sender=_read_sender(inv),
        reporter=_read_reporter(inv),
        patient=_read_patient(role),
        reactions=tuple(_read_reactions(role)),
        vaccines=tuple(_read_vaccines(role, aea)),
        relatedness=tuple(_read_relatedness(aea)),
        report_type=_first(
            inv, "h:subjectOf2/h:investigationCharacteristic[h:code/@code='1']/h:value/@code"
        )
        or "1",
        expedited=_first(inv, "h:component/h:observationEvent[h:code/@code='23']/h:value/@value")
        == "true",
        additional_documents=_first(
            inv, "h:component/h:observationEvent[h:code/@code='1']/h:value/@value"
        )
        == "true",
        first_sender=_first(
            inv,
            "h:outboundRelationship/h:relatedInvestigation[h:code/@code='1']"
            "/h:subjectOf2/h:controlActEvent/h:author/h:assignedEntity/h:code/@code",
        )
        or "2",
    )


def _read_sender(inv: etree._Element) -> Sender:
    ae_path = "h:subjectOf1/h:controlActEvent/h:author/h:assignedEntity"
    found = inv.xpath(ae_path, namespaces=NS)
    if not found:
        return Sender(organisation="")
    ae = found[0]
    phone = _first(ae, "h:telecom[starts-with(@value,'tel:')]/@value")
    dept = _first(ae, "h:representedOrganization/h:name")
    org = _first(ae, "h:representedOrganization/h:assignedEntity/h:representedOrganization/h:name")
    return Sender(
        organisation=org or dept,
        department=dept if dept != org else "",
        sender_type=_first(ae, "h:code/@code") or "4",
        country=_first(ae, "h:assignedPerson/h:asLocatedEntity/h:location/h:code/@code") or "CN",
        phone=phone.removeprefix("tel:"),
    )


def _read_reporter(inv: etree._Element) -> Reporter:
    path = (
        "h:outboundRelationship/h:relatedInvestigation[h:code/@code='2']"
        "/h:subjectOf2/h:controlActEvent/h:author/h:assignedEntity"
    )
    found = inv.xpath(path, namespaces=NS)
    if not found:
        return Reporter()
    ae = found[0]
    parts = [
        (p.text or "").strip()
        for p in ae.xpath("h:assignedPerson/h:name/*", namespaces=NS)
        if (p.text or "").strip()
    ]
    return Reporter(
        name=" ".join(parts),
        organisation=_first(ae, "h:representedOrganization/h:name"),
        phone=_first(ae, "h:telecom[starts-with(@value,'tel:')]/@value").removeprefix("tel:"),
        qualification=_first(ae, "h:assignedPerson/h:asQualifiedEntity/h:code/@code") or "3",
        country=_first(ae, "h:assignedPerson/h:asLocatedEntity/h:location/h:code/@code") or "CN",
    )


def _read_patient(role: etree._Element | None) -> Patient:
    if role is None:
        return Patient()
    player = role.xpath("h:player1", namespaces=NS)
    if not player:
        return Patient()
    p = player[0]
    names = p.xpath("h:name", namespaces=NS)
    name = ""
    if names:
        parts = names[0].xpath("h:*/text()", namespaces=NS)
        name = (names[0].text or "").strip() or " ".join(p.strip() for p in parts if p.strip())
    born = _as_date(parse_hl7_time(_first(p, "h:birthTime/@value")))
    return Patient(
        name=name,
        sex=SEX_BY_CODE.get(_first(p, "h:administrativeGenderCode/@code"), "unknown"),
        birth_on=born,
    )


def _read_reactions(role: etree._Element | None) -> list[Reaction]:
    if role is None:
        return []
    out = []
    for obs in role.xpath("h:subjectOf2/h:observation[h:code/@code='29']", namespaces=NS):
        ref = _first(obs, "h:id/@root") or str(uuid.uuid4())
        value = obs.xpath("h:value", namespaces=NS)
        code = version = term = ""
        if value:
            v = value[0]
            if v.get("codeSystem") == OID_MEDDRA and v.get("code"):
                code, version = v.get("code", ""), v.get("codeSystemVersion", "")
            term = _first(v, "h:originalText")
        if not term:
            term = _first(
                obs, "h:outboundRelationship2/h:observation[h:code/@code='30']/h:value"
            ) or (f"MedDRA {code}" if code else "")
        flags = {}
        for sc, _name, attr in SERIOUSNESS_CODES:
            flags[attr] = (
                _first(
                    obs,
                    f"h:outboundRelationship2/h:observation[h:code/@code='{sc}']/h:value/@value",
                )
                == "true"
            )
        outcome = _first(
            obs, "h:outboundRelationship2/h:observation[h:code/@code='27']/h:value/@code"
        )
        out.append(
            Reaction(
                ref=ref,
                reported_term=term,
                meddra_code=code,
                meddra_version=version,
                start_at=parse_hl7_time(_first(obs, "h:effectiveTime/h:low/@value")),
                seriousness=Seriousness(**flags),
                outcome=OUTCOMES_BY_CODE.get(outcome, "unknown"),
            )
        )
    return out


def _read_vaccines(role: etree._Element | None, aea: etree._Element | None) -> list[SuspectVaccine]:
    """The suspect products (G.k.1 = 1); interacting ones (3) are suspects too."""
    if role is None or aea is None:
        return []
    suspects = set()
    for ca in aea.xpath("h:component/h:causalityAssessment[h:code/@code='20']", namespaces=NS):
        if _first(ca, "h:value/@code") in ("1", "3"):
            suspects.add(_first(ca, "h:subject2/h:productUseReference/h:id/@root"))
    out = []
    path = "h:subjectOf2/h:organizer[h:code/@code='4']/h:component/h:substanceAdministration"
    for sa in role.xpath(path, namespaces=NS):
        ref = _first(sa, "h:id/@root")
        if ref not in suspects:
            continue
        kind = "h:consumable/h:instanceOfKind/h:kindOfProduct"
        dose = sa.xpath(
            "h:outboundRelationship2[@typeCode='COMP']/h:substanceAdministration", namespaces=NS
        )
        d = dose[0] if dose else None
        dose_number = None
        lot = route = ""
        given: datetime | date | None = None
        if d is not None:
            text = _first(d, "h:text")
            if text.startswith("Dose ") and text[5:].isdigit():
                dose_number = int(text[5:])
            given = parse_hl7_time(_first(d, "h:effectiveTime/h:low/@value")) or parse_hl7_time(
                _first(d, "h:effectiveTime/h:comp/h:low/@value")
            )
            route_code = _first(d, "h:routeCode/@code")
            route = ROUTES_BY_CODE.get(route_code) or _first(d, "h:routeCode/h:originalText")
            lot = _first(
                d, "h:consumable/h:instanceOfKind/h:productInstanceInstance/h:lotNumberText"
            )
        out.append(
            SuspectVaccine(
                ref=ref,
                product_name=_first(sa, f"{kind}/h:name"),
                product_code=_first(sa, f"{kind}/h:code/@code"),
                manufacturer=_first(
                    sa,
                    f"{kind}/h:asManufacturedProduct/h:subjectOf/h:approval/h:holder/h:role"
                    "/h:playingOrganization/h:name",
                ),
                lot_number=lot,
                dose_number=dose_number,
                route=route,
                administered_at=given,
            )
        )
    return out


def _read_relatedness(aea: etree._Element | None) -> list[Relatedness]:
    if aea is None:
        return []
    out = []
    for ca in aea.xpath("h:component/h:causalityAssessment[h:code/@code='39']", namespaces=NS):
        out.append(
            Relatedness(
                vaccine_ref=_first(ca, "h:subject2/h:productUseReference/h:id/@root"),
                reaction_ref=_first(ca, "h:subject1/h:adverseEffectReference/h:id/@root"),
                source=_first(ca, "h:author/h:assignedEntity/h:code/h:originalText"),
                method=_first(ca, "h:methodCode/h:originalText"),
                result=_first(ca, "h:value"),
            )
        )
    return out
