"""The Dublin Core JSON Schema: each rule accepts what it should and rejects the rest."""
from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from repository.metadata import ELEMENTS, schema, validate_record

SOURCE = "metadata/dc.json"


def record(**elements):
    return {"title": [{"value": "Đại Nam thực lục", "lang": "vi"}], **elements}


def codes(problems):
    return [p.code for p in problems]


def test_schema_is_a_valid_draft_2020_12_schema_with_the_15_elements():
    Draft202012Validator.check_schema(schema())
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert tuple(schema()["properties"]) == ELEMENTS


def test_the_example_record_of_the_issue_is_valid():
    example = {"title": [{"value": "Đại Nam thực lục", "lang": "vi"},
                         {"value": "大南寔錄", "lang": "vi-Hani"}],
               "date": [{"value": "1890/1910"}]}
    assert validate_record(example, SOURCE) == []


def test_a_record_with_every_element_is_valid():
    full = {e: [{"value": f"giá trị {e}"}] for e in ELEMENTS}
    full["date"] = [{"value": "1890"}]
    full["type"] = [{"value": "Text"}, {"value": "http://purl.org/dc/dcmitype/StillImage"}]
    full["rights"] = [{"value": "http://rightsstatements.org/vocab/NoC-US/1.0/"},
                      {"value": "Phạm vi công cộng", "lang": "vi"}]
    assert validate_record(full, SOURCE) == []


@pytest.mark.parametrize("date", [
    "1890", "1890-05", "1890-05-01", "2024-02-29", "2024-05-01T10:20:30Z", "2024-05-01T10:20+07:00",
    "189X", "18XX", "1890-XX", "1890-05-XX", "1890~", "1890?", "1890%", "1890-21",
    "1890/1910", "1890-05/1891", "../1910", "1890/..", "/1910", "1890/", "1890~/1910?", "-0100",
])
def test_iso_8601_and_edtf_dates_are_accepted(date):
    assert validate_record(record(date=[{"value": date}]), SOURCE) == []


@pytest.mark.parametrize("date, reason", [
    ("1890-13", "month 13 does not exist"),
    ("2023-02-29", "day 29 does not exist"),
    ("1910/1890", "ends before it starts"),
    ("1890-1910", "write a range with a slash: 1890/1910"),
    ("../..", "needs at least one date"),
    ("1890/1900/1910", "one '/'"),
    ("năm 1890", None),
    ("90", None),
    ("1890-05-01T25:00", "time of day"),
])
def test_malformed_dates_are_rejected_with_the_reason(date, reason):
    problems = validate_record(record(date=[{"value": date}]), SOURCE)
    assert codes(problems) == ["D124"]
    assert problems[0].path == SOURCE
    assert problems[0].message.startswith(f"date[0] '{date}' is not an ISO 8601 date or EDTF range")
    if reason:
        assert reason in problems[0].message


def test_the_issue_s_example_message_for_a_bad_month():
    [problem] = validate_record(record(date=[{"value": "1890-13"}]), SOURCE)
    assert "date[0] '1890-13' is not an ISO 8601 date or EDTF range" in str(problem)


@pytest.mark.parametrize("lang", ["vi", "en", "vi-Hani", "zh-Hant", "vi-VN", "und", "nom", "x-kho", "en-GB-oed"])
def test_bcp_47_language_tags_are_accepted(lang):
    assert validate_record({"title": [{"value": "Tên", "lang": lang}]}, SOURCE) == []


@pytest.mark.parametrize("lang", ["vi_VN", "vietnamese-language", "v", "123", "vi-", "", "vi VN"])
def test_malformed_language_tags_are_rejected(lang):
    problems = validate_record({"title": [{"value": "Tên", "lang": lang}]}, SOURCE)
    assert codes(problems) == ["D125"]
    assert f"title[0] lang '{lang}' is not a BCP 47 language tag" in problems[0].message


def test_dcmi_types_are_accepted_by_name_and_by_uri():
    for term in ("Collection", "Dataset", "Event", "Image", "InteractiveResource", "MovingImage",
                 "PhysicalObject", "Service", "Software", "Sound", "StillImage", "Text"):
        assert validate_record(record(type=[{"value": term}]), SOURCE) == []
        uri = f"http://purl.org/dc/dcmitype/{term}"
        assert validate_record(record(type=[{"value": uri}]), SOURCE) == []


def test_a_type_outside_the_dcmi_vocabulary_is_rejected_with_a_hint():
    problems = validate_record(record(type=[{"value": "Photograph"}, {"value": "text"}]), SOURCE)
    assert codes(problems) == ["D126", "D126"]
    assert "type[0] 'Photograph' is not a DCMI Type term" in problems[0].message
    assert "StillImage" in problems[0].message
    assert "did you mean 'Text'?" in problems[1].message


def test_a_record_without_a_title_is_rejected():
    problems = validate_record({"creator": [{"value": "Quốc sử quán"}]}, SOURCE)
    assert codes(problems) == ["D120"]
    assert "title" in problems[0].message
    assert codes(validate_record({"title": []}, SOURCE)) == ["D120"]


def test_unknown_elements_and_keys_are_rejected_by_name():
    problems = validate_record(record(titel=[{"value": "x"}],
                                      subject=[{"value": "Lịch sử", "language": "vi"}]), SOURCE)
    assert sorted(codes(problems)) == ["D121", "D127"]
    messages = " ".join(p.message for p in problems)
    assert "'titel' is not a Dublin Core element" in messages
    assert "subject[0] has unknown key 'language'" in messages


def test_values_must_be_non_empty_text_without_control_characters():
    problems = validate_record(record(creator="Nguyễn Du",
                                      subject=[5, {"lang": "vi"}, {"value": "  "}, {"value": "a\x07b"}]),
                               SOURCE)
    assert codes(problems) == ["D122", "D122", "D122", "D123", "D123"]
    assert problems[0].message == "creator must be a list of values"
    assert "subject[1] has no 'value'" in problems[2].message
    assert "control character" in problems[4].message


def test_rights_may_be_a_uri_or_free_text():
    assert validate_record(record(rights=[{"value": "https://creativecommons.org/publicdomain/mark/1.0/"}]), SOURCE) == []
    assert validate_record(record(rights=[{"value": "Bản quyền thuộc Thư viện tỉnh", "lang": "vi"}]), SOURCE) == []


def test_every_problem_names_the_source_file():
    problems = validate_record({"date": [{"value": "x"}], "type": [{"value": "y"}]}, "bag-info.txt")
    assert len(problems) == 3
    assert {p.path for p in problems} == {"bag-info.txt"}
    assert all(p.severity == "error" for p in problems)
