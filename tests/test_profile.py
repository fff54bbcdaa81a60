"""BagIt-Profile checks (spec 1.1–1.4) and Kho's shipped default profile."""
from __future__ import annotations

import json

import pytest

from repository.errors import UsageError
from repository.ingest import load_profile, validate_bag, validate_path
from tests.fixtures.bags import make_bag, zip_folder


def codes(report):
    return {p.code for p in report.errors}


def _profile(tmp_path, **rules):
    data = {"BagIt-Profile-Info": {"BagIt-Profile-Identifier": "https://example.org/p.json",
                                   "Source-Organization": "Thư viện", "Version": "1"},
            **rules}
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return load_profile(path)


def test_kho_default_accepts_a_well_described_sha256_bag(bag_factory):
    result = validate_bag(bag_factory(), profile=load_profile("kho-default"), processes=1)
    assert result.report.valid, result.report.errors


def test_kho_default_wants_identifiers_and_a_strong_manifest(bag_factory):
    root = bag_factory(algorithms=("md5",), bag_info={"Contact-Name": "Lê Thị B"})
    report = validate_bag(root, profile=load_profile("kho-default"), processes=1).report
    assert {"P101", "P205"} <= codes(report)
    missing = {p.message for p in report.errors if p.code == "P101"}
    assert any("External-Identifier" in m for m in missing)
    assert any("Bagging-Date" in m for m in missing)


def test_bag_info_values_repeatable_and_recommended(tmp_path, bag_factory):
    profile = _profile(tmp_path, **{"Bag-Info": {
        "Source-Organization": {"required": True, "values": ["Thư viện tỉnh Quảng Nam"]},
        "Bagging-Date": {"repeatable": False},
        "Contact-Phone": {"recommended": True}}})
    ok = validate_bag(bag_factory(), profile=profile, processes=1).report
    assert ok.valid and {p.code for p in ok.warnings} == {"P102"}
    root = bag_factory(name="bad", bag_info={"Source-Organization": "Thư viện khác",
                                             "Bagging-Date": ["2024-01-01", "2024-01-02"]})
    assert {"P103", "P104"} <= codes(validate_bag(root, profile=profile, processes=1).report)


def test_manifests_and_tag_manifests_required_and_allowed(tmp_path, bag_factory):
    profile = _profile(tmp_path, **{"Manifests-Required": ["sha512"],
                                    "Manifests-Allowed": ["sha512", "sha256"],
                                    "Tag-Manifests-Required": ["sha512"]})
    root = bag_factory(algorithms=("md5",))
    assert {"P201", "P202", "P203"} <= codes(
        validate_bag(root, profile=profile, processes=1).report)


def test_fetch_data_empty_and_file_rules(tmp_path, bag_factory):
    holey = bag_factory(name="holey", fetch=[("https://example.org/x", "data/x.tif", b"x")])
    no_fetch = _profile(tmp_path, **{"Allow-Fetch.txt": False})
    assert "P301" in codes(validate_bag(holey, profile=no_fetch, processes=1).report)
    rules = _profile(tmp_path, **{"Fetch.txt-Required": True, "Data-Empty": True,
                                  "Tag-Files-Required": ["dc.json"],
                                  "Tag-Files-Allowed": ["dc.json"],
                                  "Payload-Files-Required": ["data/*.pdf"],
                                  "Payload-Files-Allowed": ["data/*.tif"]})
    root = bag_factory()
    (root / "notes.txt").write_text("ghi chú")
    report = validate_bag(root, profile=rules, processes=1).report
    assert {"P302", "P303", "P401", "P402", "P403", "P404"} <= codes(report)
    assert any(p.path == "notes.txt" for p in report.errors if p.code == "P402")


def test_serialization_and_bagit_version(tmp_path, settings):
    bag = make_bag(tmp_path / "bag", version="0.97")
    profile = _profile(tmp_path, **{"Serialization": "required",
                                    "Accept-Serialization": ["application/x-tar"],
                                    "Accept-BagIt-Version": ["1.0"]})
    folder = validate_path(bag, settings=settings, profile=profile, processes=1).report
    assert {"P501", "P503"} <= codes(folder)
    archive = zip_folder(bag, tmp_path / "bag.zip")
    zipped = validate_path(archive, settings=settings, profile=profile, processes=1).report
    assert "P502" in codes(zipped) and "P501" not in codes(zipped)
    forbidden = _profile(tmp_path, Serialization="forbidden")
    assert "P501" in codes(validate_path(archive, settings=settings, profile=forbidden).report)


def test_bad_profile_references_are_usage_errors(tmp_path):
    with pytest.raises(UsageError):
        load_profile(tmp_path / "none.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(UsageError):
        load_profile(tmp_path / "x.json")
    for url in ("http://example.org/p.json", "file:///etc/passwd", "https://127.0.0.1/p.json"):
        with pytest.raises(UsageError):
            load_profile(url)
