"""A PREMIS 3 XML document for one AIP: its objects, its events, their agents.

Element order follows the PREMIS 3.0 schema (https://www.loc.gov/standards/premis/v3/):
``premis`` holds object+, event*, agent*; a file object holds objectIdentifier,
objectCharacteristics (compositionLevel, fixity*, size, format), originalName.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from sqlalchemy.orm import Session

from repository.catalog.events import as_utc, events_for_aip
from repository.catalog.models import Aip, AipFile

PREMIS_NS = "http://www.loc.gov/premis/v3"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
PREMIS_SCHEMA_LOCATION = "http://www.loc.gov/standards/premis/v3/premis.xsd"

ET.register_namespace("premis", PREMIS_NS)
ET.register_namespace("xsi", XSI_NS)

# Names PREMIS uses for the digest algorithms Kho records (cryptographicHashFunctions vocabulary).
_ALGORITHM_NAMES = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256", "sha512": "SHA-512",
                    "blake2b-512": "BLAKE2b-512"}
IDENTIFIER_TYPE = "local"


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{PREMIS_NS}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def _identifier(parent: ET.Element, tag: str, value: str, kind: str = IDENTIFIER_TYPE) -> None:
    holder = _el(parent, tag)
    _el(holder, f"{tag}Type", kind)
    _el(holder, f"{tag}Value", value)


def file_object_identifier(aip: Aip, f: AipFile) -> str:
    return f"{aip.identifier}/{f.logical_path}"


def agent_type(agent: str) -> str:
    """Kho's own processes are recorded as "kho…"; any other agent is a person."""
    return "software" if agent.lower().startswith("kho") else "person"


def current_files(aip: Aip) -> list[AipFile]:
    """The files of the AIP's current version, in path order."""
    return sorted((f for f in aip.files if f.version == aip.current_version),
                  key=lambda f: f.logical_path)


def premis_xml(session: Session, aip: Aip, agent_label=None, *,
               files: list[AipFile] | None = None, events: list | None = None) -> bytes:
    """The AIP's PREMIS 3 document (UTF-8 XML bytes); ``agent_label`` renames agents for the
    reader (catalog.visibility.agent_labeller), as recorded when None. ``files`` and
    ``events`` narrow it to one version (an export); by default the current one, every event."""
    agent_label = agent_label or (lambda agent: agent)
    root = ET.Element(f"{{{PREMIS_NS}}}premis", {
        "version": "3.0",
        f"{{{XSI_NS}}}schemaLocation": f"{PREMIS_NS} {PREMIS_SCHEMA_LOCATION}",
    })
    entity = _el(root, "object", **{f"{{{XSI_NS}}}type": "premis:intellectualEntity"})
    _identifier(entity, "objectIdentifier", aip.identifier)
    _identifier(entity, "objectIdentifier", aip.ocfl_id, "OCFL object id")

    for f in current_files(aip) if files is None else files:
        obj = _el(root, "object", **{f"{{{XSI_NS}}}type": "premis:file"})
        _identifier(obj, "objectIdentifier", file_object_identifier(aip, f))
        chars = _el(obj, "objectCharacteristics")
        _el(chars, "compositionLevel", "0")
        digests = {"sha512": f.sha512, **(f.digests or {})}
        for algorithm, value in digests.items():
            fixity = _el(chars, "fixity")
            _el(fixity, "messageDigestAlgorithm", _ALGORITHM_NAMES.get(algorithm, algorithm))
            _el(fixity, "messageDigest", value)
        _el(chars, "size", str(f.size))
        fmt = _el(chars, "format")
        designation = _el(fmt, "formatDesignation")
        _el(designation, "formatName", f.format_name or f.mime_type or "unknown")
        if f.pronom_id:
            registry = _el(fmt, "formatRegistry")
            _el(registry, "formatRegistryName", "PRONOM")
            _el(registry, "formatRegistryKey", f.pronom_id)
        _el(obj, "originalName", f.logical_path)

    if events is None:
        events = events_for_aip(session, aip.identifier)
    for event in events:
        ev = _el(root, "event")
        _identifier(ev, "eventIdentifier", event.identifier, "UUID")
        _el(ev, "eventType", event.event_type)
        _el(ev, "eventDateTime", as_utc(event.event_datetime).isoformat())
        if event.detail:
            _el(_el(ev, "eventDetailInformation"), "eventDetail", event.detail)
        outcome = _el(ev, "eventOutcomeInformation")
        _el(outcome, "eventOutcome", event.outcome)
        _el(_el(outcome, "eventOutcomeDetail"), "eventOutcomeDetailNote",
            f"sha256 {event.digest} (prev {event.prev_digest or 'none'})")
        link = _el(ev, "linkingAgentIdentifier")
        _el(link, "linkingAgentIdentifierType", IDENTIFIER_TYPE)
        _el(link, "linkingAgentIdentifierValue", agent_label(event.agent))
        obj_link = _el(ev, "linkingObjectIdentifier")
        _el(obj_link, "linkingObjectIdentifierType", IDENTIFIER_TYPE)
        _el(obj_link, "linkingObjectIdentifierValue",
            f"{aip.identifier}/{event.file_path}" if event.file_path else aip.identifier)

    for agent in sorted({agent_label(e.agent) for e in events}):
        ag = _el(root, "agent")
        _identifier(ag, "agentIdentifier", agent)
        _el(ag, "agentName", agent)
        _el(ag, "agentType", agent_type(agent))

    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
