"""Reading a bag's description: dc.json, then dc.xml, then bag-info.txt DC- fields."""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from repository.metadata import read_dublin_core

DC_JSON = {"title": [{"value": "Đại Nam thực lục", "lang": "vi"}, {"value": "大南寔錄", "lang": "vi-Hani"}],
           "creator": [{"value": "Quốc sử quán triều Nguyễn", "lang": "vi"}],
           "date": [{"value": "1890/1910"}],
           "type": [{"value": "Text"}]}

DC_XML = """<?xml version="1.0" encoding="UTF-8"?>
<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/"
           xmlns:dc="http://purl.org/dc/elements/1.1/">
  <!-- exported from the library system -->
  <dc:title xml:lang="vi">Địa bạ làng Phú Chiêm</dc:title>
  <dc:title xml:lang="vi-hani">地簿</dc:title>
  <dc:creator>Bộ Hộ</dc:creator>
  <dc:date>1805~</dc:date>
  <dc:type>Text</dc:type>
  <dc:language>vi</dc:language>
</oai_dc:dc>
"""


def bag(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    root = tmp_path / "bag"
    (root / "data").mkdir(parents=True)
    (root / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def errors(problems):
    return [p for p in problems if p.severity == "error"]


# --- metadata/dc.json -----------------------------------------------------------------------

def test_dc_json_is_read_as_written(tmp_path):
    root = bag(tmp_path, {"metadata/dc.json": json.dumps(DC_JSON, ensure_ascii=False)})
    record, problems = read_dublin_core(root, {})
    assert problems == []
    assert record == DC_JSON


def test_decomposed_dc_json_is_stored_nfc_with_diacritics_intact(tmp_path):
    nfd = unicodedata.normalize("NFD", json.dumps(DC_JSON, ensure_ascii=False))
    root = bag(tmp_path, {"metadata/dc.json": nfd})
    record, problems = read_dublin_core(root, {})
    assert problems == []
    assert record["title"][0]["value"] == "Đại Nam thực lục"
    assert record["title"][0]["value"].encode() == "Đại Nam thực lục".encode()


def test_dc_json_shorthands_and_language_case_are_made_canonical(tmp_path):
    raw = {"subject": ["Lịch sử", " Địa chí "], "title": "Huế xưa",
           "creator": {"value": "Nguyễn Văn A", "lang": "VI"}, "coverage": [{"value": "Huế", "lang": "vi-hani"}],
           "description": [{"value": "Mô tả", "lang": ""}]}
    root = bag(tmp_path, {"metadata/dc.json": json.dumps(raw, ensure_ascii=False)})
    record, problems = read_dublin_core(root, {})
    assert problems == []
    assert list(record) == ["title", "creator", "subject", "description", "coverage"]  # DCMES order
    assert record["title"] == [{"value": "Huế xưa"}]
    assert record["subject"] == [{"value": "Lịch sử"}, {"value": "Địa chí"}]
    assert record["creator"] == [{"value": "Nguyễn Văn A", "lang": "vi"}]
    assert record["coverage"] == [{"value": "Huế", "lang": "vi-Hani"}]
    assert record["description"] == [{"value": "Mô tả"}]


def test_an_invalid_dc_json_is_returned_with_its_problems(tmp_path):
    root = bag(tmp_path, {"metadata/dc.json": json.dumps({"title": "x", "date": "1890-13"})})
    record, problems = read_dublin_core(root, {})
    assert record == {"title": [{"value": "x"}], "date": [{"value": "1890-13"}]}
    assert [(p.code, p.path) for p in problems] == [("D124", "metadata/dc.json")]
    assert "date[0] '1890-13' is not an ISO 8601 date or EDTF range" in problems[0].message


@pytest.mark.parametrize("content, code, fragment", [
    ('{"title": [{"value": "Huế"}]\n,,\n}', "D101", "line 2"),
    ('{"title": "Huế"', "D101", "line 1"),
    ("", "D101", "is not valid JSON"),
    (b'{"title": "Hu\xe1"}', "D101", "is not UTF-8"),
    ("[" * 100_000 + "]" * 100_000, "D101", ""),
    ('["Huế"]', "D110", "must be a JSON object"),
    ('{"title": "a", "title": "b"}', "D111", "'title' appears more than once"),
])
def test_malformed_dc_json_gives_a_problem_naming_the_file_not_a_crash(tmp_path, content, code, fragment):
    root = bag(tmp_path, {"metadata/dc.json": content})
    record, problems = read_dublin_core(root, {})
    assert code in [p.code for p in problems]
    problem = next(p for p in problems if p.code == code)
    assert problem.path == "metadata/dc.json"
    assert fragment in problem.message


def test_a_folder_named_dc_json_is_a_problem(tmp_path):
    root = bag(tmp_path, {})
    (root / "metadata" / "dc.json").mkdir(parents=True)
    record, problems = read_dublin_core(root, {})
    assert record is None
    assert [p.code for p in problems] == ["D100"]


def test_a_symbolic_link_is_not_followed(tmp_path):
    secret = tmp_path / "outside.json"
    secret.write_text(json.dumps({"title": "bí mật"}, ensure_ascii=False))
    root = bag(tmp_path, {})
    (root / "metadata").mkdir()
    (root / "metadata" / "dc.json").symlink_to(secret)
    record, problems = read_dublin_core(root, {})
    assert record is None
    assert [p.code for p in problems] == ["D100"]


# --- metadata/dc.xml ------------------------------------------------------------------------

def test_dc_xml_is_read_with_xml_lang_as_lang(tmp_path):
    root = bag(tmp_path, {"metadata/dc.xml": DC_XML})
    record, problems = read_dublin_core(root, {})
    assert problems == []
    assert record == {"title": [{"value": "Địa bạ làng Phú Chiêm", "lang": "vi"}, {"value": "地簿", "lang": "vi-Hani"}],
                      "creator": [{"value": "Bộ Hộ"}], "date": [{"value": "1805~"}],
                      "type": [{"value": "Text"}], "language": [{"value": "vi"}]}


def test_decomposed_dc_xml_is_stored_nfc(tmp_path):
    root = bag(tmp_path, {"metadata/dc.xml": unicodedata.normalize("NFD", DC_XML)})
    record, _ = read_dublin_core(root, {})
    assert record["title"][0]["value"] == unicodedata.normalize("NFC", "Địa bạ làng Phú Chiêm")


def test_dc_xml_in_utf_16_is_read(tmp_path):
    text = DC_XML.replace('encoding="UTF-8"', 'encoding="UTF-16"')
    root = bag(tmp_path, {"metadata/dc.xml": text.encode("utf-16")})
    record, problems = read_dublin_core(root, {})
    assert problems == [] and record["creator"] == [{"value": "Bộ Hộ"}]


def test_malformed_dc_xml_gives_a_problem_with_the_line(tmp_path):
    broken = DC_XML.replace("</dc:creator>", "</dc:creatr>")
    root = bag(tmp_path, {"metadata/dc.xml": broken})
    record, problems = read_dublin_core(root, {})
    assert record is None
    assert [(p.code, p.path) for p in problems] == [("D102", "metadata/dc.xml")]
    assert "line 7" in problems[0].message


def test_dc_xml_with_a_doctype_is_refused(tmp_path):
    laughs = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
              '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n'
              '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
              'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>&lol2;</dc:title></oai_dc:dc>')
    root = bag(tmp_path, {"metadata/dc.xml": laughs})
    record, problems = read_dublin_core(root, {})
    assert record is None
    assert [p.code for p in problems] == ["D103"]
    assert "DOCTYPE" in problems[0].message


def test_dc_xml_with_an_external_entity_is_refused_and_nothing_is_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("mật khẩu")
    xxe = (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
           '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
           'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>&x;</dc:title></oai_dc:dc>')
    root = bag(tmp_path, {"metadata/dc.xml": xxe})
    record, problems = read_dublin_core(root, {})
    assert record is None and [p.code for p in problems] == ["D103"]
    assert "mật khẩu" not in repr(problems)


def test_dc_xml_with_the_wrong_root_is_a_problem(tmp_path):
    root = bag(tmp_path, {"metadata/dc.xml": '<record xmlns:dc="http://purl.org/dc/elements/1.1/">'
                                             "<dc:title>x</dc:title></record>"})
    record, problems = read_dublin_core(root, {})
    assert record is None
    assert [p.code for p in problems] == ["D104"]
    assert "oai_dc:dc" in problems[0].message


def test_dc_xml_checks_its_values_against_the_schema(tmp_path):
    xml = DC_XML.replace("<dc:type>Text</dc:type>", "<dc:type>Sách</dc:type><dc:rights/>")
    xml = xml.replace('<dc:title xml:lang="vi-hani">', '<dc:title xml:lang="vi_VN">')
    xml = xml.replace("<dc:language>", "<other:x xmlns:other='urn:x'/><dc:language>")
    root = bag(tmp_path, {"metadata/dc.xml": xml})
    record, problems = read_dublin_core(root, {})
    assert sorted(p.code for p in problems) == ["D123", "D125", "D126", "D131"]
    assert all(p.path == "metadata/dc.xml" for p in problems)
    assert next(p for p in problems if p.code == "D131").severity == "warning"


# --- bag-info.txt ---------------------------------------------------------------------------

BAG_INFO = {"DC-Title": ["Địa bạ làng Phú Chiêm"], "dc-title-vi-hani": ["地簿"],
            "DC-CREATOR": ["Bộ Hộ"], "DC-Date": ["1805"],
            "Source-Organization": ["Thư viện tỉnh Quảng Nam"],
            "External-Identifier": ["QN-2024-0001"],
            "External-Description": ["Địa bạ triều Nguyễn"],
            "Bagging-Date": ["2024-05-01"], "Payload-Oxum": ["10.1"]}


def test_bag_info_dc_fields_are_read_case_insensitively_with_standard_fields_filling_gaps(tmp_path):
    root = bag(tmp_path, {})
    record, problems = read_dublin_core(root, BAG_INFO)
    assert problems == []
    assert record == {"title": [{"value": "Địa bạ làng Phú Chiêm"}, {"value": "地簿", "lang": "vi-Hani"}],
                      "creator": [{"value": "Bộ Hộ"}],
                      "description": [{"value": "Địa bạ triều Nguyễn"}],
                      "publisher": [{"value": "Thư viện tỉnh Quảng Nam"}],
                      "date": [{"value": "1805"}],
                      "identifier": [{"value": "QN-2024-0001"}]}


def test_bagging_date_is_never_the_date_of_the_work(tmp_path):
    info = {k: v for k, v in BAG_INFO.items() if k != "DC-Date"}
    record, _ = read_dublin_core(bag(tmp_path, {}), info)
    assert "date" not in record


def test_dc_fields_win_over_standard_bag_info_fields(tmp_path):
    info = {**BAG_INFO, "DC-Publisher": ["Nhà xuất bản Thuận Hóa"]}
    record, _ = read_dublin_core(bag(tmp_path, {}), info)
    assert record["publisher"] == [{"value": "Nhà xuất bản Thuận Hóa"}]


def test_a_bag_with_only_standard_bag_info_fields_carries_no_description(tmp_path):
    info = {k: v for k, v in BAG_INFO.items() if not k.lower().startswith("dc-")}
    assert read_dublin_core(bag(tmp_path, {}), info) == (None, [])


def test_a_bag_with_no_description_at_all_is_fine(tmp_path):
    assert read_dublin_core(bag(tmp_path, {}), {}) == (None, [])


def test_unknown_dc_fields_in_bag_info_are_warned_about(tmp_path):
    record, problems = read_dublin_core(bag(tmp_path, {}), {"DC-Titel": ["x"]})
    assert record is None
    assert [(p.code, p.path, p.severity) for p in problems] == [("D130", "bag-info.txt", "warning")]


def test_bag_info_without_dc_title_is_an_error_on_bag_info(tmp_path):
    record, problems = read_dublin_core(bag(tmp_path, {}), {"DC-Creator": ["Bộ Hộ"], "DC-Type": ["Book"]})
    assert [(p.code, p.path) for p in problems] == [("D120", "bag-info.txt"), ("D126", "bag-info.txt")]


def test_bag_info_values_are_stored_nfc(tmp_path):
    record, _ = read_dublin_core(bag(tmp_path, {}), {"DC-Title": [unicodedata.normalize("NFD", "Hà Nội")]})
    assert record["title"] == [{"value": "Hà Nội"}]


# --- precedence -----------------------------------------------------------------------------

def test_dc_json_comes_before_dc_xml_and_bag_info(tmp_path):
    root = bag(tmp_path, {"metadata/dc.json": json.dumps(DC_JSON, ensure_ascii=False), "metadata/dc.xml": DC_XML})
    record, problems = read_dublin_core(root, BAG_INFO)
    assert record == DC_JSON
    assert [(p.code, p.path, p.severity) for p in problems] == [
        ("D105", "metadata/dc.xml", "warning"), ("D105", "bag-info.txt", "warning")]


def test_dc_xml_comes_before_bag_info(tmp_path):
    root = bag(tmp_path, {"metadata/dc.xml": DC_XML})
    record, problems = read_dublin_core(root, BAG_INFO)
    assert record["title"][0]["value"] == "Địa bạ làng Phú Chiêm"
    assert "identifier" not in record
    assert [(p.code, p.path) for p in problems] == [("D105", "bag-info.txt")]


def test_a_broken_dc_json_does_not_fall_back_to_bag_info(tmp_path):
    root = bag(tmp_path, {"metadata/dc.json": "{oops"})
    record, problems = read_dublin_core(root, BAG_INFO)
    assert record is None
    assert errors(problems)[0].code == "D101"


def test_dc_json_inside_the_payload_is_not_the_description(tmp_path):
    root = bag(tmp_path, {"data/metadata/dc.json": json.dumps(DC_JSON)})
    assert read_dublin_core(root, {}) == (None, [])
