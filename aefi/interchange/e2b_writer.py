"""Write ICSRs as ICH E2B(R3): an ``MCCI_IN200100UV01`` batch of ``PORR_IN049016UV`` messages.

The element layout follows FDA's reference instances (``e2br3/examples``) and the XPaths of
FDA's data-element table; every element the ICH column marks Required is written, with a
nullFlavor where the table allows one and aefi does not know the value. Element numbers
(C.1.1, E.i.7, ...) in the comments are the ICH E2B(R3) data elements.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from lxml import etree

from aefi.interchange.icsr import (
    OUTCOME_CODES,
    ROUTE_CODES,
    SEX_CODES,
    Batch,
    Icsr,
    Party,
    Reaction,
    Relatedness,
    Seriousness,
    SuspectVaccine,
)

HL7 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {None: HL7, "xsi": XSI}
XSI_TYPE = f"{{{XSI}}}type"

# ICH OIDs (ICH E2B(R3) IG, appendix I).
OID_BATCH_ID = "2.16.840.1.113883.3.989.2.1.3.22"
OID_BATCH_SENDER = "2.16.840.1.113883.3.989.2.1.3.13"
OID_BATCH_RECEIVER = "2.16.840.1.113883.3.989.2.1.3.14"
OID_MESSAGE_ID = "2.16.840.1.113883.3.989.2.1.3.1"
OID_MESSAGE_SENDER = "2.16.840.1.113883.3.989.2.1.3.11"
OID_MESSAGE_RECEIVER = "2.16.840.1.113883.3.989.2.1.3.12"
OID_SAFETY_REPORT_ID = "2.16.840.1.113883.3.989.2.1.3.1"
OID_WORLDWIDE_ID = "2.16.840.1.113883.3.989.2.1.3.2"
OID_INTERACTION = "2.16.840.1.113883.1.6"
OID_MESSAGE_TYPE = "2.16.840.1.113883.3.989.2.1.1.1"
OID_ICH_OBS = "2.16.840.1.113883.3.989.2.1.1.19"
OID_ICH_ORGANIZER = "2.16.840.1.113883.3.989.2.1.1.20"
OID_REPORT_RELATION = "2.16.840.1.113883.3.989.2.1.1.22"
OID_CHARACTERISTIC = "2.16.840.1.113883.3.989.2.1.1.23"
OID_REPORT_TYPE = "2.16.840.1.113883.3.989.2.1.1.2"
OID_FIRST_SENDER = "2.16.840.1.113883.3.989.2.1.1.3"
OID_QUALIFICATION = "2.16.840.1.113883.3.989.2.1.1.6"
OID_SENDER_TYPE = "2.16.840.1.113883.3.989.2.1.1.7"
OID_OUTCOME = "2.16.840.1.113883.3.989.2.1.1.11"
OID_DRUG_ROLE = "2.16.840.1.113883.3.989.2.1.1.13"
OID_ROUTE = "2.16.840.1.113883.3.989.2.1.1.14"
OID_MEDDRA = "2.16.840.1.113883.6.163"
OID_SEX = "1.0.5218"
OID_COUNTRY = "1.0.3166.1.2.2"
OID_ACT_CODE = "2.16.840.1.113883.5.4"
OID_TRIGGER = "2.16.840.1.113883.1.18"

# E.i.3.2a-f: the ICH observation code for each seriousness criterion.
SERIOUSNESS_CODES: tuple[tuple[str, str, str], ...] = (
    ("34", "resultsInDeath", "death"),
    ("21", "isLifeThreatening", "life_threatening"),
    ("33", "requiresInpatientHospitalization", "hospitalization"),
    ("35", "resultsInPersistentOrSignificantDisability", "disability"),
    ("12", "congenitalAnomalyBirthDefect", "congenital_anomaly"),
    ("26", "otherMedicallyImportantCondition", "other_important"),
)


def hl7_time(value: datetime | date) -> str:
    """HL7 TS: CCYYMMDD for a date, CCYYMMDDhhmmss+ZZZZ for a time (naive means UTC)."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.strftime("%Y%m%d%H%M%S%z")
    return value.strftime("%Y%m%d")


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str):
    node = etree.SubElement(parent, f"{{{HL7}}}{tag}")
    for key, value in attrs.items():
        node.set(XSI_TYPE if key == "xsi_type" else key, value)
    if text is not None:
        node.text = text
    return node


def _device(parent: etree._Element, tag: str, type_code: str, party: Party, oid: str) -> None:
    holder = _el(parent, tag, typeCode=type_code)
    device = _el(holder, "device", classCode="DEV", determinerCode="INSTANCE")
    _el(device, "id", extension=party.identifier, root=oid)


def _bl(parent: etree._Element, flag: bool | None) -> None:
    """A BL value: true/false, or nullFlavor NI when not known (``None``)."""
    if flag is None:
        _el(parent, "value", xsi_type="BL", nullFlavor="NI")
    else:
        _el(parent, "value", xsi_type="BL", value="true" if flag else "false")


def write_batch(batch: Batch) -> bytes:
    """The batch as UTF-8 XML bytes (N.1 wrapper around one N.2 message per case)."""
    root = etree.Element(f"{{{HL7}}}MCCI_IN200100UV01", nsmap=NSMAP)
    root.set("ITSVersion", "XML_1.0")
    _el(root, "id", extension=batch.batch_number, root=OID_BATCH_ID)  # N.1.2
    _el(root, "creationTime", value=hl7_time(batch.created_at))  # N.1.5
    _el(root, "responseModeCode", code="D")
    _el(root, "interactionId", extension="MCCI_IN200100UV01", root=OID_INTERACTION)
    _el(root, "name", code="1", codeSystem=OID_MESSAGE_TYPE, displayName="ichicsr")  # N.1.1
    for icsr in batch.messages:
        _message(root, icsr, batch)
    _device(root, "receiver", "RCV", batch.receiver, OID_BATCH_RECEIVER)  # N.1.4
    _device(root, "sender", "SND", batch.sender, OID_BATCH_SENDER)  # N.1.3
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _message(root: etree._Element, icsr: Icsr, batch: Batch) -> None:
    msg = _el(root, "PORR_IN049016UV")
    _el(msg, "id", extension=icsr.message_id, root=OID_MESSAGE_ID)  # N.2.r.1
    _el(msg, "creationTime", value=hl7_time(icsr.created_at))  # N.2.r.4
    _el(msg, "interactionId", extension="PORR_IN049016UV", root=OID_INTERACTION)
    _el(msg, "processingCode", code="P")
    _el(msg, "processingModeCode", code="T")
    _el(msg, "acceptAckCode", code="AL")
    _device(msg, "receiver", "RCV", batch.receiver, OID_MESSAGE_RECEIVER)  # N.2.r.3
    _device(msg, "sender", "SND", batch.sender, OID_MESSAGE_SENDER)  # N.2.r.2
    act = _el(msg, "controlActProcess", classCode="CACT", moodCode="EVN")
    _el(act, "code", code="PORR_TE049016UV", codeSystem=OID_TRIGGER)
    _el(act, "effectiveTime", value=hl7_time(icsr.created_at))  # C.1.2
    subject = _el(act, "subject", typeCode="SUBJ")
    inv = _el(subject, "investigationEvent", classCode="INVSTG", moodCode="EVN")
    _el(inv, "id", extension=icsr.safety_report_id, root=OID_SAFETY_REPORT_ID)  # C.1.1
    _el(inv, "id", extension=icsr.worldwide_case_id, root=OID_WORLDWIDE_ID)  # C.1.8.1
    _el(inv, "code", code="PAT_ADV_EVNT", codeSystem=OID_ACT_CODE)
    _el(inv, "text", icsr.narrative or "-")  # H.1
    _el(inv, "statusCode", code="active")
    eff = _el(inv, "effectiveTime")
    _el(eff, "low", value=hl7_time(icsr.first_received_on))  # C.1.4
    _el(inv, "availabilityTime", value=hl7_time(icsr.most_recent_on))  # C.1.5
    _assessment(inv, icsr)
    _observation_event(inv, "1", "additionalDocumentsAvailable", icsr.additional_documents)
    _observation_event(inv, "23", "localCriteriaForExpedited", icsr.expedited)  # C.1.7
    _first_sender(inv, icsr)  # C.1.8.2
    _primary_source(inv, icsr)  # C.2.r
    _sender(inv, icsr)  # C.3
    _characteristic_report_type(inv, icsr)  # C.1.3
    # C.1.9.1 other case identifiers in previous transmissions: aefi assigns its own and
    # has none from elsewhere, so NI (the one nullFlavor the element allows).
    char = _el(inv, "subjectOf2", typeCode="SUBJ")
    ic = _el(char, "investigationCharacteristic", classCode="OBS", moodCode="EVN")
    _el(ic, "code", code="2", codeSystem=OID_CHARACTERISTIC, displayName="otherCaseIds")
    _bl(ic, None)


def _observation_event(inv: etree._Element, code: str, name: str, flag: bool) -> None:
    comp = _el(inv, "component", typeCode="COMP")
    obs = _el(comp, "observationEvent", classCode="OBS", moodCode="EVN")
    _el(obs, "code", code=code, codeSystem=OID_ICH_OBS, displayName=name)
    _bl(obs, flag)


def _characteristic_report_type(inv: etree._Element, icsr: Icsr) -> None:
    char = _el(inv, "subjectOf2", typeCode="SUBJ")
    ic = _el(char, "investigationCharacteristic", classCode="OBS", moodCode="EVN")
    _el(ic, "code", code="1", codeSystem=OID_CHARACTERISTIC, displayName="ichReportType")
    _el(ic, "value", xsi_type="CE", code=icsr.report_type, codeSystem=OID_REPORT_TYPE)


def _first_sender(inv: etree._Element, icsr: Icsr) -> None:
    rel = _el(inv, "outboundRelationship", typeCode="SPRT")
    ri = _el(rel, "relatedInvestigation", classCode="INVSTG", moodCode="EVN")
    _el(ri, "code", code="1", codeSystem=OID_REPORT_RELATION, displayName="initialReport")
    sub = _el(ri, "subjectOf2", typeCode="SUBJ")
    cae = _el(sub, "controlActEvent", classCode="CACT", moodCode="EVN")
    author = _el(cae, "author", typeCode="AUT")
    ae = _el(author, "assignedEntity", classCode="ASSIGNED")
    _el(ae, "code", code=icsr.first_sender, codeSystem=OID_FIRST_SENDER)


def _primary_source(inv: etree._Element, icsr: Icsr) -> None:
    reporter = icsr.reporter
    rel = _el(inv, "outboundRelationship", typeCode="SPRT")
    _el(rel, "priorityNumber", value="1")  # C.2.r.5: the primary source for regulatory use
    ri = _el(rel, "relatedInvestigation", classCode="INVSTG", moodCode="EVN")
    _el(ri, "code", code="2", codeSystem=OID_REPORT_RELATION, displayName="sourceReport")
    sub = _el(ri, "subjectOf2", typeCode="SUBJ")
    cae = _el(sub, "controlActEvent", classCode="CACT", moodCode="EVN")
    author = _el(cae, "author", typeCode="AUT")
    ae = _el(author, "assignedEntity", classCode="ASSIGNED")
    if reporter.phone:
        _el(ae, "telecom", value=f"tel:{reporter.phone}")  # C.2.r.2.7
    person = _el(ae, "assignedPerson", classCode="PSN", determinerCode="INSTANCE")
    name = _el(person, "name")
    if reporter.name:
        _el(name, "given", reporter.name)  # C.2.r.1.2 (the card has one name field)
    else:
        _el(name, "given", nullFlavor="UNK")
    qual = _el(person, "asQualifiedEntity", classCode="QUAL")
    _el(qual, "code", code=reporter.qualification, codeSystem=OID_QUALIFICATION)  # C.2.r.4
    located = _el(person, "asLocatedEntity", classCode="LOCE")
    loc = _el(located, "location", classCode="COUNTRY", determinerCode="INSTANCE")
    _el(loc, "code", code=reporter.country, codeSystem=OID_COUNTRY)  # C.2.r.3
    if reporter.organisation:
        org = _el(ae, "representedOrganization", classCode="ORG", determinerCode="INSTANCE")
        _el(org, "name", reporter.organisation)  # C.2.r.2.2


def _sender(inv: etree._Element, icsr: Icsr) -> None:
    sender = icsr.sender
    sub = _el(inv, "subjectOf1", typeCode="SUBJ")
    cae = _el(sub, "controlActEvent", classCode="CACT", moodCode="EVN")
    author = _el(cae, "author", typeCode="AUT")
    ae = _el(author, "assignedEntity", classCode="ASSIGNED")
    _el(ae, "code", code=sender.sender_type, codeSystem=OID_SENDER_TYPE)  # C.3.1
    if sender.phone:
        _el(ae, "telecom", value=f"tel:{sender.phone}")  # C.3.4.6
    person = _el(ae, "assignedPerson", classCode="PSN", determinerCode="INSTANCE")
    located = _el(person, "asLocatedEntity", classCode="LOCE")
    loc = _el(located, "location", classCode="COUNTRY", determinerCode="INSTANCE")
    _el(loc, "code", code=sender.country, codeSystem=OID_COUNTRY)  # C.3.4.5
    dept = _el(ae, "representedOrganization", classCode="ORG", determinerCode="INSTANCE")
    _el(dept, "name", sender.department or sender.organisation)  # C.3.3.1
    inner = _el(dept, "assignedEntity", classCode="ASSIGNED")
    org = _el(inner, "representedOrganization", classCode="ORG", determinerCode="INSTANCE")
    _el(org, "name", sender.organisation)  # C.3.2


def _assessment(inv: etree._Element, icsr: Icsr) -> None:
    comp = _el(inv, "component", typeCode="COMP")
    aea = _el(comp, "adverseEventAssessment", classCode="INVSTG", moodCode="EVN")
    s1 = _el(aea, "subject1", typeCode="SBJ")
    role = _el(s1, "primaryRole", classCode="INVSBJ")
    player = _el(role, "player1", classCode="PSN", determinerCode="INSTANCE")
    patient = icsr.patient
    if patient.name:
        _el(player, "name", patient.name)  # D.1
    else:
        _el(player, "name", nullFlavor="MSK")
    if patient.sex in SEX_CODES:
        _el(player, "administrativeGenderCode", code=SEX_CODES[patient.sex], codeSystem=OID_SEX)
    else:
        _el(player, "administrativeGenderCode", nullFlavor="UNK")  # D.5
    if patient.birth_on:
        _el(player, "birthTime", value=hl7_time(patient.birth_on))  # D.2.1
    for reaction in icsr.reactions:
        _reaction(role, reaction)
    organizer_holder = _el(role, "subjectOf2", typeCode="SBJ")
    organizer = _el(organizer_holder, "organizer", classCode="CATEGORY", moodCode="EVN")
    _el(organizer, "code", code="4", codeSystem=OID_ICH_ORGANIZER, displayName="drugInformation")
    for vaccine in icsr.vaccines:
        _vaccine(organizer, vaccine)
    for vaccine in icsr.vaccines:  # G.k.1: every vaccine is a suspect
        c = _el(aea, "component", typeCode="COMP")
        ca = _el(c, "causalityAssessment", classCode="OBS", moodCode="EVN")
        _el(
            ca,
            "code",
            code="20",
            codeSystem=OID_ICH_OBS,
            displayName="interventionCharacterization",
        )
        _el(ca, "value", xsi_type="CE", code="1", codeSystem=OID_DRUG_ROLE, displayName="Suspect")
        s2 = _el(ca, "subject2", typeCode="SUBJ")
        ref = _el(s2, "productUseReference", classCode="SBADM", moodCode="EVN")
        _el(ref, "id", root=vaccine.ref)
    for rel in icsr.relatedness:
        _relatedness(aea, rel)


def _reaction(role: etree._Element, reaction: Reaction) -> None:
    holder = _el(role, "subjectOf2", typeCode="SBJ")
    obs = _el(holder, "observation", classCode="OBS", moodCode="EVN")
    _el(obs, "id", root=reaction.ref)
    _el(obs, "code", code="29", codeSystem=OID_ICH_OBS, displayName="reaction")
    if reaction.start_at:
        eff = _el(obs, "effectiveTime", xsi_type="IVL_TS")
        _el(eff, "low", value=hl7_time(reaction.start_at))  # E.i.4
    if reaction.meddra_code:
        value = _el(
            obs,
            "value",
            xsi_type="CE",
            code=reaction.meddra_code,
            codeSystem=OID_MEDDRA,
            codeSystemVersion=reaction.meddra_version or "0",
        )
    else:
        # No MedDRA loaded in the county: the term is not coded yet, and HL7's UNC
        # ("uncoded: no attempt has been made to encode; the raw source information is in
        # originalText") says exactly that, so a receiver's coder can code it.
        value = _el(obs, "value", xsi_type="CE", nullFlavor="UNC", codeSystem=OID_MEDDRA)
    _el(value, "originalText", reaction.reported_term)  # E.i.1.1a
    _seriousness(obs, reaction.seriousness)
    rel = _el(obs, "outboundRelationship2", typeCode="PERT")
    out = _el(rel, "observation", classCode="OBS", moodCode="EVN")
    _el(out, "code", code="27", codeSystem=OID_ICH_OBS, displayName="outcome")
    _el(
        out,
        "value",
        xsi_type="CE",
        code=OUTCOME_CODES.get(reaction.outcome, "6"),
        codeSystem=OID_OUTCOME,
    )  # E.i.7


def _seriousness(obs: etree._Element, seriousness: Seriousness) -> None:
    for code, name, attr in SERIOUSNESS_CODES:
        rel = _el(obs, "outboundRelationship2", typeCode="PERT")
        crit = _el(rel, "observation", classCode="OBS", moodCode="EVN")
        _el(crit, "code", code=code, codeSystem=OID_ICH_OBS, displayName=name)
        # ICH allows only "true" or NI here: an unticked box is "no information".
        _bl(crit, True if getattr(seriousness, attr) else None)


def _vaccine(organizer: etree._Element, vaccine: SuspectVaccine) -> None:
    comp = _el(organizer, "component", typeCode="COMP")
    sa = _el(comp, "substanceAdministration", classCode="SBADM", moodCode="EVN")
    _el(sa, "id", root=vaccine.ref)
    cons = _el(sa, "consumable", typeCode="CSM")
    iok = _el(cons, "instanceOfKind", classCode="INST")
    kind = _el(iok, "kindOfProduct", classCode="MMAT", determinerCode="KIND")
    if vaccine.product_code:
        # G.k.2.1.1b: aefi's own product code (no MPID/PhPID registry is reachable).
        _el(kind, "code", code=vaccine.product_code, codeSystem="aefi-vaccine-code")
    _el(kind, "name", vaccine.product_name)  # G.k.2.2
    if vaccine.manufacturer:
        manu = _el(kind, "asManufacturedProduct", classCode="MANU")
        so = _el(manu, "subjectOf", typeCode="SBJ")
        approval = _el(so, "approval", classCode="CNTRCT", moodCode="EVN")
        _el(approval, "id", nullFlavor="UNK", root="2.16.840.1.113883.3.989.2.1.3.4")
        holder = _el(approval, "holder", typeCode="HLD")
        hrole = _el(holder, "role", classCode="HLD")
        org = _el(hrole, "playingOrganization", classCode="ORG", determinerCode="INSTANCE")
        _el(org, "name", vaccine.manufacturer)  # G.k.3.3
    rel = _el(sa, "outboundRelationship2", typeCode="COMP")
    dose = _el(rel, "substanceAdministration", classCode="SBADM", moodCode="EVN")
    if vaccine.dose_number:
        # G.k.4.r.8 dosage text: the shared ICH/FDA tables have no "dose number in
        # series" element, so the free-text dosage carries it ("Dose 2"), which the
        # reader parses back.
        _el(dose, "text", f"Dose {vaccine.dose_number}")
    if vaccine.administered_at:
        eff = _el(dose, "effectiveTime", xsi_type="IVL_TS")
        stamp = hl7_time(vaccine.administered_at)
        _el(eff, "low", value=stamp)  # G.k.4.r.4
        _el(eff, "high", value=stamp)  # G.k.4.r.5: one injection starts and ends there
    if vaccine.route:
        code = ROUTE_CODES.get(vaccine.route)
        route = (
            _el(dose, "routeCode", code=code, codeSystem=OID_ROUTE, codeSystemVersion="2.0")
            if code
            else _el(dose, "routeCode", nullFlavor="UNC", codeSystem=OID_ROUTE)
        )
        _el(route, "originalText", vaccine.route)  # G.k.4.r.10.1
    if vaccine.lot_number:
        dc = _el(dose, "consumable", typeCode="CSM")
        diok = _el(dc, "instanceOfKind", classCode="INST")
        inst = _el(diok, "productInstanceInstance", classCode="MMAT", determinerCode="INSTANCE")
        _el(inst, "lotNumberText", vaccine.lot_number)  # G.k.4.r.7
        _el(diok, "kindOfProduct", classCode="MMAT", determinerCode="KIND")


def _relatedness(aea: etree._Element, rel: Relatedness) -> None:
    comp = _el(aea, "component", typeCode="COMP")
    ca = _el(comp, "causalityAssessment", classCode="OBS", moodCode="EVN")
    _el(ca, "code", code="39", codeSystem=OID_ICH_OBS, displayName="causality")
    _el(ca, "value", rel.result, xsi_type="ST")  # G.k.9.i.2.r.3
    method = _el(ca, "methodCode")
    _el(method, "originalText", rel.method)  # G.k.9.i.2.r.2
    author = _el(ca, "author", typeCode="AUT")
    ae = _el(author, "assignedEntity", classCode="ASSIGNED")
    code = _el(ae, "code")
    _el(code, "originalText", rel.source)  # G.k.9.i.2.r.1
    s1 = _el(ca, "subject1", typeCode="SUBJ")
    aer = _el(s1, "adverseEffectReference", classCode="OBS", moodCode="EVN")
    _el(aer, "id", root=rel.reaction_ref)
    s2 = _el(ca, "subject2", typeCode="SUBJ")
    pur = _el(s2, "productUseReference", classCode="SBADM", moodCode="EVN")
    _el(pur, "id", root=rel.vaccine_ref)
