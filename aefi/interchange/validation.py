"""Validate E2B(R3) files against the ICH schema set in ``shared/standards/e2br3/schemas``.

The schemas are read where they lie (``Settings.standards_dir``), never copied into the
repository; a compiled schema is kept per file path, since compiling the 53 documents of
the ICSR entry point takes about a second.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lxml import etree

ICSR_SCHEMA = "e2br3/schemas/multicacheschemas/MCCI_IN200100UV01.xsd"
ACK_SCHEMA = "e2br3/schemas/multicacheschemas/MCCI_IN200101UV01.xsd"


class SchemaMissing(RuntimeError):
    """The standards folder is not where the settings say."""


@lru_cache(maxsize=4)
def _schema(path: str) -> etree.XMLSchema:
    if not Path(path).is_file():
        raise SchemaMissing(path)
    return etree.XMLSchema(etree.parse(path))


def schema_errors(xml: bytes, standards_dir: Path, *, ack: bool = False) -> list[str]:
    """Every schema error of ``xml`` as "line N: message"; empty when it validates."""
    schema = _schema(str(standards_dir / (ACK_SCHEMA if ack else ICSR_SCHEMA)))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        doc = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        return [f"line {exc.lineno}: {exc.msg}"]
    if schema.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]
