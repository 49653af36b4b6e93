"""The acknowledgement (``MCCI_IN200101UV01``) that answers a received ICSR batch.

ICH E2B(R3) IG, "Acknowledgement message": one batch-level code (ACK.A.4: AA all accepted,
AE accepted with errors, AR rejected) and one message-level code per ICSR (ACK.B.r.6: CA
accepted, CR rejected) with the receiver's reason (ACK.B.r.7).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from aefi.interchange.e2b_reader import NS, parse_hl7_time
from aefi.interchange.e2b_writer import (
    HL7,
    NSMAP,
    OID_BATCH_ID,
    OID_INTERACTION,
    OID_MESSAGE_ID,
    _el,
    hl7_time,
)
from aefi.interchange.icsr import Party

OID_ACK_BATCH_ID = "2.16.840.1.113883.3.989.2.1.3.20"  # ACK.M.1
OID_ACK_BATCH_SENDER = "2.16.840.1.113883.3.989.2.1.3.18"  # ACK.M.2
OID_ACK_BATCH_RECEIVER = "2.16.840.1.113883.3.989.2.1.3.17"  # ACK.M.3
OID_ACK_MESSAGE_ID = "2.16.840.1.113883.3.989.2.1.3.19"
OID_ACK_SENDER = "2.16.840.1.113883.3.989.2.1.3.16"
OID_ACK_RECEIVER = "2.16.840.1.113883.3.989.2.1.3.15"


@dataclass(frozen=True)
class MessageAck:
    message_id: str  # the N.2.r.1 it answers
    accepted: bool
    reason: str = ""
    safety_report_id: str = ""  # C.1.1, when the message had one
    local_id: str = ""  # what the receiver filed it as (its report number)


@dataclass(frozen=True)
class Acknowledgement:
    ack_number: str
    batch_number: str  # the N.1.2 it answers
    sender: Party  # who acknowledges (the receiver of the batch)
    receiver: Party
    created_at: datetime
    messages: tuple[MessageAck, ...]
    batch_error: str = ""  # set when the batch itself could not be read

    @property
    def code(self) -> str:
        if self.batch_error or (self.messages and not any(m.accepted for m in self.messages)):
            return "AR"
        if all(m.accepted for m in self.messages):
            return "AA"
        return "AE"


def write_ack(ack: Acknowledgement) -> bytes:
    root = etree.Element(f"{{{HL7}}}MCCI_IN200101UV01", nsmap=NSMAP)
    root.set("ITSVersion", "XML_1.0")
    _el(root, "id", extension=ack.ack_number, root=OID_ACK_BATCH_ID)
    _el(root, "creationTime", value=hl7_time(ack.created_at))
    _el(root, "responseModeCode", code="D")
    _el(root, "interactionId", extension="MCCI_IN200101UV01", root=OID_INTERACTION)
    for pos, m in enumerate(ack.messages, start=1):
        msg = _el(root, "MCCI_IN000002UV01")
        _el(msg, "id", extension=f"{ack.ack_number}-{pos}", root=OID_ACK_MESSAGE_ID)
        _el(msg, "creationTime", value=hl7_time(ack.created_at))
        _el(msg, "interactionId", extension="MCCI_IN000002UV01", root=OID_INTERACTION)
        _el(msg, "processingCode", code="P")
        _el(msg, "processingModeCode", code="T")
        _el(msg, "acceptAckCode", code="NE")
        _device(msg, "receiver", "RCV", ack.receiver, OID_ACK_RECEIVER)
        _device(msg, "sender", "SND", ack.sender, OID_ACK_SENDER)
        if m.safety_report_id:
            line = _el(msg, "attentionLine")
            _el(
                line,
                "keyWordText",
                "2.16.840.1.113883.3.989.2.1.1.24",
                code="1",
                codeSystem="2.16.840.1.113883.3.989.2.1.1.24",
            )
            _el(
                line,
                "value",
                xsi_type="II",
                extension=m.safety_report_id,
                root="2.16.840.1.113883.3.989.2.1.3.1",
            )
        if m.local_id:
            line = _el(msg, "attentionLine")
            _el(
                line,
                "keyWordText",
                "2.16.840.1.113883.3.989.2.1.1.24",
                code="3",
                codeSystem="2.16.840.1.113883.3.989.2.1.1.24",
            )
            _el(
                line,
                "value",
                xsi_type="II",
                extension=m.local_id,
                root="2.16.840.1.113883.3.989.2.1.3.6",
            )
        a = _el(msg, "acknowledgement", typeCode="CA" if m.accepted else "CR")
        target = _el(a, "targetMessage")
        _el(target, "id", extension=m.message_id, root=OID_MESSAGE_ID)
        if m.reason:
            detail = _el(a, "acknowledgementDetail", typeCode="E")
            _el(detail, "text", m.reason)
    _device(root, "receiver", "RCV", ack.receiver, OID_ACK_BATCH_RECEIVER)
    _device(root, "sender", "SND", ack.sender, OID_ACK_BATCH_SENDER)
    batch_ack = _el(root, "acknowledgement", typeCode=ack.code)
    target = _el(batch_ack, "targetBatch")
    _el(target, "id", extension=ack.batch_number or "UNKNOWN", root=OID_BATCH_ID)
    if ack.batch_error:
        detail = _el(batch_ack, "acknowledgementDetail", typeCode="E")
        _el(detail, "text", ack.batch_error)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _device(parent: etree._Element, tag: str, type_code: str, party: Party, oid: str) -> None:
    holder = _el(parent, tag, typeCode=type_code)
    device = _el(holder, "device", classCode="DEV", determinerCode="INSTANCE")
    _el(device, "id", extension=party.identifier or "UNKNOWN", root=oid)


def read_ack(xml: bytes) -> Acknowledgement:
    """An acknowledgement back into values (the sender side records it per case)."""
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    if root.tag != f"{{{HL7}}}MCCI_IN200101UV01":
        raise ValueError("not an MCCI_IN200101UV01 acknowledgement")

    def first(node: etree._Element, path: str) -> str:
        found = node.xpath(path, namespaces=NS)
        if not found:
            return ""
        v = found[0]
        return (v.text or "").strip() if isinstance(v, etree._Element) else str(v)

    messages = []
    for msg in root.xpath("h:MCCI_IN000002UV01", namespaces=NS):
        messages.append(
            MessageAck(
                message_id=first(msg, "h:acknowledgement/h:targetMessage/h:id/@extension"),
                accepted=first(msg, "h:acknowledgement/@typeCode") == "CA",
                reason=first(msg, "h:acknowledgement/h:acknowledgementDetail/h:text"),
                safety_report_id=first(
                    msg, "h:attentionLine[h:keyWordText/@code='1']/h:value/@extension"
                ),
                local_id=first(msg, "h:attentionLine[h:keyWordText/@code='3']/h:value/@extension"),
            )
        )
    created = parse_hl7_time(first(root, "h:creationTime/@value"))
    return Acknowledgement(
        ack_number=first(root, "h:id/@extension"),
        batch_number=first(root, "h:acknowledgement/h:targetBatch/h:id/@extension"),
        sender=Party(first(root, "h:sender/h:device/h:id/@extension")),
        receiver=Party(first(root, "h:receiver/h:device/h:id/@extension")),
        created_at=created if isinstance(created, datetime) else datetime.now().astimezone(),
        messages=tuple(messages),
        batch_error=first(root, "h:acknowledgement/h:acknowledgementDetail/h:text"),
    )
