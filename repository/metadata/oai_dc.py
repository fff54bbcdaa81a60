"""oai_dc XML: read a bag's ``metadata/dc.xml`` and write a record for OAI-PMH.

The format is OAI-PMH 2.0 §6.2 "Unqualified Dublin Core" (schema
http://www.openarchives.org/OAI/2.0/oai_dc.xsd): an ``oai_dc:dc`` root holding
``dc:*`` elements in any order, each with an optional ``xml:lang``.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

from repository.errors import Problem
from repository.metadata.text import normalise_text

OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"

# Characters XML 1.0 §2.2 does not allow anywhere in a document.
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class _Refused(Exception):
    def __init__(self, what: str, line: int):
        super().__init__(what)
        self.what, self.line = what, line


def _refuse_declarations(data: bytes) -> None:
    """Raise _Refused at the first DOCTYPE or entity declaration; ExpatError if not well-formed.

    Stdlib ElementTree does not fetch external entities, but a DTD can still declare
    internal entities that expand exponentially ("billion laughs"); a Dublin Core record
    needs no DTD, so any is refused (the defusedxml approach, done with expat's hooks).
    """
    parser = expat.ParserCreate()

    def doctype(*_args) -> None:
        raise _Refused("a DOCTYPE declaration", parser.CurrentLineNumber)

    def entity(*_args) -> None:
        raise _Refused("an entity declaration", parser.CurrentLineNumber)

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.UnparsedEntityDeclHandler = entity
    parser.ExternalEntityRefHandler = lambda *_args: 0  # never resolve; 0 makes expat stop
    parser.Parse(data, True)


def read_oai_dc(data: bytes, source: str) -> tuple[dict | None, list[Problem]]:
    """The record held in oai_dc XML ``data`` (NFC, values stripped), or None and a Problem."""
    try:
        _refuse_declarations(data)
        root = ET.fromstring(data)
    except _Refused as exc:
        return None, [Problem("D103", source, f"line {exc.line}: {exc.what} is not allowed "
                                              "in a Dublin Core record; remove the DTD")]
    except expat.ExpatError as exc:
        reason = expat.ErrorString(exc.code) if exc.code else str(exc)
        return None, [Problem("D102", source, f"is not well-formed XML: {reason} at line "
                                              f"{exc.lineno}, column {exc.offset + 1}")]
    except ET.ParseError as exc:  # pragma: no cover - expat above finds the same faults first
        line, column = exc.position
        return None, [Problem("D102", source, f"is not well-formed XML at line {line}, "
                                              f"column {column + 1}")]
    if root.tag != f"{{{OAI_DC_NS}}}dc":
        return None, [Problem("D104", source, f"root element is {_clark_to_text(root.tag)}; "
                                              f"expected oai_dc:dc in namespace {OAI_DC_NS}")]
    record: dict[str, list[dict[str, str]]] = {}
    problems: list[Problem] = []
    for child in root:
        if not isinstance(child.tag, str):  # comments and processing instructions
            continue
        if not child.tag.startswith(f"{{{DC_NS}}}"):
            problems.append(Problem(
                "D131", source, f"element {_clark_to_text(child.tag)} is not in the Dublin Core "
                                f"namespace {DC_NS}; it is ignored", "warning"))
            continue
        name = child.tag[len(DC_NS) + 2:]
        value: dict[str, str] = {"value": normalise_text("".join(child.itertext()).strip())}
        lang = child.get(XML_LANG, "").strip()
        if lang:  # xml:lang="" means "no language" (XML 1.0 §2.12)
            value["lang"] = lang
        record.setdefault(name, []).append(value)
    return record, problems


def _clark_to_text(tag: str) -> str:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return f"'{local}' (namespace {ns})"
    return f"'{tag}' (no namespace)"


def record_to_oai_dc(record: dict) -> bytes:
    """``record`` as an oai_dc XML document (UTF-8), elements in the record's order."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<oai_dc:dc xmlns:oai_dc="{OAI_DC_NS}" xmlns:dc="{DC_NS}" '
             f'xmlns:xsi="{XSI_NS}" xsi:schemaLocation="{OAI_DC_NS} {OAI_DC_SCHEMA}">']
    for element, values in record.items():
        if not (element.isascii() and element.isalpha()):  # only DCMES names are written
            continue
        for item in values:
            text = _NOT_XML_CHAR.sub("", normalise_text(item["value"]))
            lang = item.get("lang")
            attr = f" xml:lang={quoteattr(lang)}" if lang else ""
            lines.append(f"  <dc:{element}{attr}>{escape(text)}</dc:{element}>")
    lines.append("</oai_dc:dc>")
    return ("\n".join(lines) + "\n").encode("utf-8")


# DCMES in its own order (dublin_core.ELEMENTS; that module imports this one).
_DCMES_ORDER = ("title", "creator", "subject", "description", "publisher", "contributor",
                "date", "type", "format", "identifier", "source", "language", "relation",
                "coverage", "rights")
_DCMES = frozenset(_DCMES_ORDER)


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def oai_dc_elements(record: dict) -> str:
    """The ``dc:*`` elements of ``record`` as compact XML text (no root, no declaration).

    What an OAI-PMH answer puts inside ``oai_dc:dc``; the catalogue keeps it beside the
    record so a harvest of many records does not rebuild it each time.
    """
    parts = []
    # In DCMES order, not the dict's: the record read back from storage (sorted keys, as
    # `kho catalog rebuild` reads it) must give a harvester the same XML.
    for element in _DCMES_ORDER:
        values = record.get(element)
        if not isinstance(values, list):
            continue
        for item in values:
            if not isinstance(item, dict):  # a bare string: a value without a language
                item = {"value": str(item)}
            text = _NOT_XML_CHAR.sub("", normalise_text(str(item.get("value", ""))))
            lang = item.get("lang")
            attr = f" xml:lang={quoteattr(lang)}" if lang else ""
            parts.append(f"<dc:{element}{attr}>{_escape_text(text)}</dc:{element}>")
    return "".join(parts)
