"""The PREMIS 3 document of an AIP: its files with fixity and format, its events, its agents."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from repository.catalog import (Aip, AipFile, get_or_create_collection, premis_xml,
                                record_event)

NS = {"p": "http://www.loc.gov/premis/v3",
      "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


def _aip_with_two_files(session) -> Aip:
    collection = get_or_create_collection(session, "Địa bạ triều Nguyễn")
    aip = Aip(identifier="aip-premis", ocfl_id="urn:kho:aip-premis", collection=collection,
              location="local", object_root="aip-premis", payload_digest="0" * 64)
    aip.files = [
        AipFile(version=1, logical_path="data/trang 1.tif", content_path="v1/content/data/trang 1.tif",
                size=1234, sha512="a" * 128, digests={"md5": "b" * 32}, pronom_id="fmt/353",
                format_name="Tagged Image File Format", mime_type="image/tiff"),
        AipFile(version=1, logical_path="data/mô tả.txt", content_path="v1/content/data/mô tả.txt",
                size=12, sha512="c" * 128, pronom_id=None, format_name=None, mime_type="text/plain"),
    ]
    session.add(aip)
    session.flush()
    return aip


def test_premis_document_lists_files_events_and_agents(catalog):
    with catalog.session() as session:
        aip = _aip_with_two_files(session)
        record_event(session, event_type="ingestion", agent="kho/0.1.0", outcome="success",
                     aip_identifier=aip.identifier, detail="nộp từ thư mục")
        record_event(session, event_type="fixity check", agent="kho/0.1.0", outcome="success",
                     aip_identifier=aip.identifier, file_path="data/trang 1.tif")
        record_event(session, event_type="metadata modification", agent="Trần Thị B",
                     outcome="success", aip_identifier=aip.identifier)
        record_event(session, event_type="ingestion", agent="kho/0.1.0", outcome="success",
                     aip_identifier="another-aip")
        document = premis_xml(session, aip)

    root = ET.fromstring(document)
    assert root.tag == "{http://www.loc.gov/premis/v3}premis" and root.get("version") == "3.0"
    objects = root.findall("p:object", NS)
    assert [o.get(XSI_TYPE) for o in objects] == [
        "premis:intellectualEntity", "premis:file", "premis:file"]
    assert objects[0].findtext("p:objectIdentifier/p:objectIdentifierValue", namespaces=NS) == "aip-premis"

    tif = next(o for o in objects[1:]
               if o.findtext("p:originalName", namespaces=NS) == "data/trang 1.tif")
    fixity = {f.findtext("p:messageDigestAlgorithm", namespaces=NS):
              f.findtext("p:messageDigest", namespaces=NS)
              for f in tif.findall("p:objectCharacteristics/p:fixity", NS)}
    assert fixity == {"SHA-512": "a" * 128, "MD5": "b" * 32}
    assert tif.findtext("p:objectCharacteristics/p:size", namespaces=NS) == "1234"
    registry = tif.find("p:objectCharacteristics/p:format/p:formatRegistry", NS)
    assert registry.findtext("p:formatRegistryName", namespaces=NS) == "PRONOM"
    assert registry.findtext("p:formatRegistryKey", namespaces=NS) == "fmt/353"
    assert any(o.findtext("p:originalName", namespaces=NS) == "data/mô tả.txt" for o in objects)

    events = root.findall("p:event", NS)
    assert [e.findtext("p:eventType", namespaces=NS) for e in events] == [
        "ingestion", "fixity check", "metadata modification"]  # not the other AIP's event
    assert events[0].findtext("p:eventDetailInformation/p:eventDetail", namespaces=NS) == "nộp từ thư mục"
    assert events[0].findtext("p:eventOutcomeInformation/p:eventOutcome", namespaces=NS) == "success"
    assert events[0].findtext("p:eventDateTime", namespaces=NS).endswith("+00:00")
    assert events[1].findtext("p:linkingObjectIdentifier/p:linkingObjectIdentifierValue",
                              namespaces=NS) == "aip-premis/data/trang 1.tif"
    assert events[2].findtext("p:linkingAgentIdentifier/p:linkingAgentIdentifierValue",
                              namespaces=NS) == "Trần Thị B"

    agents = {a.findtext("p:agentName", namespaces=NS): a.findtext("p:agentType", namespaces=NS)
              for a in root.findall("p:agent", NS)}
    assert agents == {"kho/0.1.0": "software", "Trần Thị B": "person"}
    # Element order required by the PREMIS 3 schema: objects, then events, then agents.
    order = [child.tag.split("}")[1] for child in root]
    assert order == sorted(order, key=["object", "event", "agent"].index)
