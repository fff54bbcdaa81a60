"""oai_dc XML written for OAI-PMH, and the record helpers IIIF and the catalogue use."""
from __future__ import annotations

import unicodedata
import xml.etree.ElementTree as ET

from repository.metadata import language_map, primary_title, read_oai_dc, record_to_oai_dc

OAI_DC = "{http://www.openarchives.org/OAI/2.0/oai_dc/}"
DC = "{http://purl.org/dc/elements/1.1/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

RECORD = {"title": [{"value": "Đại Nam thực lục", "lang": "vi"}, {"value": "大南寔錄", "lang": "vi-Hani"},
                    {"value": "Veritable Records of the Great South", "lang": "en"}],
          "creator": [{"value": "Quốc sử quán triều Nguyễn"}],
          "description": [{"value": "Chú thích <quan trọng> & \"trích dẫn\"", "lang": "vi"}],
          "date": [{"value": "1890/1910"}],
          "rights": [{"value": "http://rightsstatements.org/vocab/NoC-US/1.0/"}]}


def test_record_is_written_as_oai_dc_with_languages_and_escaping():
    xml = record_to_oai_dc(RECORD)
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(xml)
    assert root.tag == f"{OAI_DC}dc"
    assert [(child.tag, child.text, child.get(XML_LANG)) for child in root] == [
        (f"{DC}title", "Đại Nam thực lục", "vi"), (f"{DC}title", "大南寔錄", "vi-Hani"),
        (f"{DC}title", "Veritable Records of the Great South", "en"),
        (f"{DC}creator", "Quốc sử quán triều Nguyễn", None),
        (f"{DC}description", "Chú thích <quan trọng> & \"trích dẫn\"", "vi"),
        (f"{DC}date", "1890/1910", None),
        (f"{DC}rights", "http://rightsstatements.org/vocab/NoC-US/1.0/", None)]
    assert b"oai_dc.xsd" in xml  # xsi:schemaLocation, as OAI-PMH harvesters expect


def test_written_oai_dc_reads_back_to_the_same_record():
    record, problems = read_oai_dc(record_to_oai_dc(RECORD), "metadata/dc.xml")
    assert problems == [] and record == RECORD


def test_written_oai_dc_is_nfc():
    nfd = {"title": [{"value": unicodedata.normalize("NFD", "Hà Nội")}]}
    assert "Hà Nội".encode() in record_to_oai_dc(nfd)


def test_primary_title_prefers_vietnamese_then_untagged_then_english():
    assert primary_title(RECORD) == "Đại Nam thực lục"
    assert primary_title({"title": RECORD["title"][1:]}) == "Veritable Records of the Great South"
    assert primary_title({"title": [{"value": "English", "lang": "en"}, {"value": "Không rõ"}]}) == "Không rõ"
    assert primary_title({"title": [{"value": "Sài Gòn", "lang": "vi-VN"}, {"value": "Saigon", "lang": "en"}]}) == "Sài Gòn"
    assert primary_title({"title": [{"value": "西貢", "lang": "zh-Hant"}, {"value": "Sài Gòn", "lang": "vi-VN"}]}) == "Sài Gòn"
    assert primary_title(RECORD, prefer=("en",)) == "Veritable Records of the Great South"
    assert primary_title({"title": [{"value": "Paris", "lang": "fr"}]}) == "Paris"
    assert primary_title({}) == ""


def test_language_map_is_iiif_style():
    assert language_map(RECORD["title"]) == {"vi": ["Đại Nam thực lục"], "vi-Hani": ["大南寔錄"],
                                             "en": ["Veritable Records of the Great South"]}
    assert language_map([{"value": "a"}, {"value": "b", "lang": "vi"}, {"value": "c"}]) == {
        "none": ["a", "c"], "vi": ["b"]}
    assert language_map([]) == {}
