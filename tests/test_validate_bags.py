"""Kho's BagIt validator beyond the LoC suite: hostile paths, encodings, names, parallel hashing."""
from __future__ import annotations

import hashlib
import os
import unicodedata

import pytest

from repository.ingest import validate_bag
from tests.fixtures.bags import make_bag

NFC_NAME = "data/Trang 1 – Hà Nội.tif"


def codes(report, kind="errors"):
    return {p.code for p in getattr(report, kind)}


def test_vietnamese_bag_is_valid_and_describes_every_payload_file(bag_factory):
    root = bag_factory(algorithms=("sha256", "sha512"))
    result = validate_bag(root, processes=1)
    assert result.report.valid, result.report.errors
    assert not result.report.warnings
    bag = result.bag
    assert bag.version == "1.0" and not bag.incomplete
    assert bag.bag_info["Source-Organization"] == ["Thư viện tỉnh Quảng Nam"]
    by_path = {f.logical_path: f for f in bag.payload}
    page = by_path[NFC_NAME]
    data = (root / NFC_NAME).read_bytes()
    assert page.path == root / NFC_NAME and page.size == len(data)
    assert page.digests == {"sha256": hashlib.sha256(data).hexdigest(),
                            "sha512": hashlib.sha512(data).hexdigest()}
    assert set(bag.manifests) == {"sha256", "sha512"}
    assert NFC_NAME in bag.manifests["sha256"]


def test_every_problem_is_reported_not_only_the_first(bag_factory):
    root = bag_factory()
    (root / NFC_NAME).write_bytes(b"changed")
    (root / "data/Trang 2 – Huế.tif").unlink()
    (root / "data/unlisted.tif").write_bytes(b"x")
    report = validate_bag(root, processes=1).report
    assert {"K303", "K301", "K302", "K310"} <= codes(report)


@pytest.mark.parametrize("bad_path", ["/etc/passwd", "data/../../secret", "~/notes.txt",
                                      "data/a/../../../x", "C:/Windows/win.ini"])
def test_manifest_paths_that_leave_the_bag_are_errors(bag_factory, bad_path):
    root = bag_factory()
    with (root / "manifest-sha256.txt").open("a") as f:
        f.write(f"{'0' * 64}  {bad_path}\n")
    report = validate_bag(root, processes=1).report
    assert "K224" in codes(report)
    assert any(bad_path in p.message for p in report.errors)


def test_payload_oxum_mismatch_is_an_error(bag_factory):
    root = bag_factory(tag_manifest=False)
    info = (root / "bag-info.txt").read_text()
    (root / "bag-info.txt").write_text(info.replace("Payload-Oxum: ", "Payload-Oxum: 1"))
    assert "K310" in codes(validate_bag(root, processes=1).report)


def test_tag_manifest_catches_an_edited_bag_info(bag_factory):
    root = bag_factory()
    with (root / "bag-info.txt").open("a", encoding="utf-8") as f:
        f.write("Contact-Name: Nguyễn Văn A\n")
    report = validate_bag(root, processes=1).report
    assert [p.path for p in report.errors if p.code == "K231"] == ["bag-info.txt"]


def test_utf16_tag_files_with_vietnamese_names_are_read(bag_factory):
    root = bag_factory(encoding="UTF-16")
    result = validate_bag(root, processes=1)
    assert result.report.valid, result.report.errors
    assert result.bag.bag_info["External-Description"] == ["Địa bạ triều Nguyễn, làng Phú Chiêm"]


def test_iso_8859_1_tag_files_are_read(bag_factory):
    root = bag_factory({"data/Café crème.txt": b"x"}, encoding="ISO-8859-1",
                       bag_info={"Contact-Name": "Zoë Ångström"})
    result = validate_bag(root, processes=1)
    assert result.report.valid, result.report.errors
    assert result.bag.bag_info["Contact-Name"] == ["Zoë Ångström"]


def test_tag_file_that_is_not_in_its_declared_encoding_is_an_error(bag_factory):
    root = bag_factory(tag_manifest=False)
    (root / "bag-info.txt").write_bytes("Contact-Name: Hà Nội\n".encode("utf-16"))
    assert "K401" in codes(validate_bag(root, processes=1).report)


def test_bom_in_bag_info_is_invalid_in_1_0_and_tolerated_in_older_bags(bag_factory):
    """RFC 8493 §2.2.4: "when bagit.txt specifies UTF-8 the tag files MUST NOT begin with a
    byte-order mark (BOM)"; the drafts before 1.0 did not say so."""
    for version, valid in (("1.0", False), ("0.97", True)):
        root = bag_factory(tag_manifest=False, version=version, name=f"bag-{version}")
        info = root / "bag-info.txt"
        info.write_bytes(b"\xef\xbb\xbf" + info.read_bytes())
        report = validate_bag(root, processes=1).report
        assert report.valid is valid
        assert "K403" in codes(report, "warnings" if valid else "errors")
        declaration = root / "bagit.txt"
        declaration.write_bytes(b"\xef\xbb\xbf" + declaration.read_bytes())
        assert "K102" in codes(validate_bag(root, processes=1).report)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_cr_lf_and_crlf_line_endings_are_all_accepted(bag_factory, newline):
    root = bag_factory(newline=newline)
    report = validate_bag(root, processes=1).report
    assert report.valid, report.errors


@pytest.mark.parametrize("disk_form,manifest_form", [("NFC", "NFD"), ("NFD", "NFC")])
def test_name_in_other_unicode_normalisation_matches_with_a_warning(tmp_path, disk_form,
                                                                    manifest_form):
    data = b"trang mot"
    root = tmp_path / "bag"
    make_bag(root, {unicodedata.normalize(disk_form, NFC_NAME): data}, tag_manifest=False)
    listed = unicodedata.normalize(manifest_form, NFC_NAME)
    (root / "manifest-sha256.txt").write_text(
        f"{hashlib.sha256(data).hexdigest()}  {listed}\n", encoding="utf-8")
    result = validate_bag(root, processes=1)
    assert result.report.valid, result.report.errors
    assert "K602" in codes(result.report, "warnings")
    assert [f.logical_path for f in result.bag.payload] == [NFC_NAME]


def test_two_files_differing_only_by_case_or_normalisation_warn(bag_factory):
    root = bag_factory({"data/Huế.tif": b"a", "data/HUẾ.tif": b"b",
                        unicodedata.normalize("NFD", "data/Hà Nội.txt"): b"c",
                        "data/Hà Nội.txt": b"d"})
    report = validate_bag(root, processes=1).report
    assert report.valid, report.errors
    assert len([p for p in report.warnings if p.code == "K604"]) == 2


def test_percent_encoded_names_are_decoded_in_bagit_1_0(bag_factory):
    files = {"data/a%25b 100%.txt": b"1", "data/line\nbreak.txt": b"2", "data/cr\rname": b"3"}
    root = bag_factory(files)
    assert "%250A" not in (root / "manifest-sha256.txt").read_text()
    result = validate_bag(root, processes=1)
    assert result.report.valid, result.report.errors
    assert {f.name for f in result.bag.payload} == set(files)


def test_file_missing_from_one_of_two_manifests_is_an_error(bag_factory):
    root = bag_factory(algorithms=("sha256", "md5"), tag_manifest=False)
    lines = (root / "manifest-md5.txt").read_text().splitlines(keepends=True)
    (root / "manifest-md5.txt").write_text("".join(lines[1:]))
    assert "K304" in codes(validate_bag(root, processes=1).report)


def test_symlink_in_payload_is_refused(bag_factory, tmp_path):
    root = bag_factory()
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the archive")
    os.symlink(secret, root / "data" / "link.txt")
    assert "K306" in codes(validate_bag(root, processes=1).report)


def test_missing_bagit_txt_and_data_folder_are_errors(tmp_path):
    root = tmp_path / "not-a-bag"
    root.mkdir()
    report = validate_bag(root, processes=1).report
    assert {"K101", "K109", "K201"} <= codes(report)


def test_holey_bag_is_valid_but_incomplete_and_nothing_is_fetched(bag_factory):
    root = bag_factory(fetch=[("https://example.org/p3.tif", "data/Trang 3 – Sài Gòn.tif",
                               b"trang ba")])
    result = validate_bag(root, processes=1)
    assert result.report.valid, result.report.errors
    assert result.incomplete and result.bag.incomplete
    assert "K501" in codes(result.report, "warnings")
    assert not (root / "data/Trang 3 – Sài Gòn.tif").exists()


def test_fetch_entry_missing_from_manifest_is_an_error(bag_factory):
    root = bag_factory(tag_manifest=False)
    (root / "fetch.txt").write_text("https://example.org/x 3 data/x.tif\n")
    assert "K505" in codes(validate_bag(root, processes=1).report)


@pytest.mark.parametrize("way", ["processes", "processes learning sizes", "threads"])
def test_parallel_hashing_agrees_and_finds_the_one_corrupt_file(tmp_path, monkeypatch, way):
    # The three ways validate_bag spreads the reading: many small files to processes (sizes
    # from stat(), or, past STAT_MAX_FILES, from the bytes read) and large files to threads.
    # This test process has threads, so forking is refused and "processes" run in threads;
    # test_forking.py validates in a fresh process that forks.
    from repository.ingest import validate as validate_module
    if way == "processes learning sizes":
        monkeypatch.setattr(validate_module, "STAT_MAX_FILES", 0)
    elif way == "threads":
        monkeypatch.setattr(validate_module, "THREAD_MIN_AVERAGE", 0)
    files = {f"data/trang/{i:04d} – ảnh.txt": f"trang {i}".encode() for i in range(300)}
    files["data/lớn.bin"] = os.urandom(3 * 1024 * 1024 + 17)  # several 1 MiB chunks
    root = make_bag(tmp_path / "bag", files, algorithms=("sha512", "md5"))
    result = validate_bag(root, processes=2)
    assert result.report.valid, result.report.errors[:3]
    assert {f.name: f.size for f in result.bag.payload} == {n: len(d) for n, d in files.items()}
    assert result.bag.payload_oxum == f"{sum(map(len, files.values()))}.301"
    assert result.bag.payload[0].digests["md5"] == hashlib.md5(
        files[result.bag.payload[0].name]).hexdigest()
    (root / "data/trang/0123 – ảnh.txt").write_bytes(b"bad")
    report = validate_bag(root, processes=2).report
    # One file's bytes and size changed: its digests and the Payload-Oxum, nothing else.
    assert {(p.code, p.path) for p in report.errors} == {
        ("K303", "data/trang/0123 – ảnh.txt"), ("K310", "bag-info.txt")}


def test_dublin_core_in_bag_info_is_read_with_the_bag(bag_factory):
    root = bag_factory(bag_info={"Source-Organization": "Thư viện tỉnh",
                                 "DC-Title-vi": "Địa bạ làng Phú Chiêm",
                                 "DC-Language": "vi"})
    result = validate_bag(root, processes=1)
    assert result.dublin_core is not None
    assert "Địa bạ làng Phú Chiêm" in str(result.dublin_core)
    plain = validate_bag(bag_factory(name="plain"), processes=1)
    assert plain.dublin_core is None


def test_symlinked_tag_files_and_data_folder_are_refused(bag_factory, tmp_path):
    root = bag_factory()
    outside = tmp_path / "outside"
    (root / "data").rename(outside)
    os.symlink(outside, root / "data")
    (root / "bag-info.txt").rename(tmp_path / "info.txt")
    os.symlink(tmp_path / "info.txt", root / "bag-info.txt")
    report = validate_bag(root, processes=1).report
    assert {p.path for p in report.errors if p.code == "K306"} >= {"data", "bag-info.txt"}
