"""Every rule RFC 8493 gives for tag files, one test each, written from the RFC's own words.

The sentence each test enforces is quoted in its docstring (§2.1.1 bag declaration, §2.1.3
payload manifests, §2.2.1 tag manifests, §2.2.2 bag-info, §2.2.3 fetch, §2.2.4 text tag
files, §3 complete bags).  RFC 8493 defines BagIt 1.0: where older drafts allowed more, the
older bag keeps its old leniency and the test says so.
"""
from __future__ import annotations

import hashlib

import pytest

from repository.ingest import validate_bag
from tests.fixtures.bags import make_bag, write_tag_manifest

DATA = {"data/Trang 1 – Hà Nội.txt": b"trang mot", "data/Huế/trang 2.txt": b"trang hai"}


def bag(tmp_path, name="bag", **options):
    options.setdefault("tag_manifest", False)
    return make_bag(tmp_path / name, DATA, **options)


def check(root):
    report = validate_bag(root, processes=1).report
    return report, {p.code for p in report.errors}, {p.code for p in report.warnings}


def declare(root, text: bytes) -> None:
    (root / "bagit.txt").write_bytes(text)


# --- §2.1.1 the bag declaration -----------------------------------------------------

@pytest.mark.parametrize("text", [
    b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\nContact-Name: Nam\n",
    b"Tag-File-Character-Encoding: UTF-8\nBagIt-Version: 1.0\n",
    b"BagIt-Version: 1.0\n\nTag-File-Character-Encoding: UTF-8\n",
    b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n  continued\n",
    b"BagIt-Version: 1.0\nBagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
], ids=["extra-line", "wrong-order", "blank-line", "continuation", "repeated"])
def test_bag_declaration_is_exactly_two_lines_in_order(tmp_path, text):
    """§2.1.1: 'The "bagit.txt" tag file MUST consist of exactly two lines in this order:
    BagIt-Version: M.N / Tag-File-Character-Encoding: ENCODING'."""
    root = bag(tmp_path)
    declare(root, text)
    report, errors, _ = check(root)
    assert "K108" in errors and not report.valid


@pytest.mark.parametrize("version", ["1", ".97", "1.0a", "\uff11.\uff10", "v1.0"])
def test_bagit_version_is_major_dot_minor_in_ascii_digits(tmp_path, version):
    """§2.1.1: 'M.N identifies the BagIt major (M) and minor (N) version numbers'; the
    ABNF spells them 1*DIGIT "." 1*DIGIT (ASCII digits, not full-width ones)."""
    root = bag(tmp_path)
    declare(root, f"BagIt-Version: {version}\nTag-File-Character-Encoding: UTF-8\n".encode())
    assert "K104" in check(root)[1]


@pytest.mark.parametrize("text", [
    b"BagIt-Version:1.0\nTag-File-Character-Encoding: UTF-8\n",
    b"BagIt-Version : 1.0\nTag-File-Character-Encoding: UTF-8\n",
    b"BagIt-Version:  1.0\nTag-File-Character-Encoding: UTF-8\n",
    b"BagIt-Version: 1.0 \nTag-File-Character-Encoding: UTF-8\n",
    b"BagIt-Version: 1.0\nTag-File-Character-Encoding:\tUTF-8\t\n",
], ids=["no-space", "space-before-colon", "two-spaces", "trailing-space", "trailing-tab"])
def test_bag_declaration_lines_of_a_1_0_bag_have_one_space_after_the_colon(tmp_path, text):
    """§2.1.1 gives the lines as 'BagIt-Version: M.N' and 'Tag-File-Character-Encoding:
    ENCODING'; §2.2.2: 'a label, a colon ":", a single linear whitespace character (space or
    tab), and a value'."""
    root = bag(tmp_path)
    declare(root, text)
    assert "K110" in check(root)[1]


def test_older_bags_may_have_whitespace_around_the_colon(tmp_path):
    """§2.2.2: 'Implementations wishing to support previous BagIt versions MUST accept
    multiple linear whitespace characters before and after the colon when the bag version is
    earlier than 1.0'."""
    root = bag(tmp_path, version="0.97")
    declare(root, b"BagIt-Version :  0.97\nTag-File-Character-Encoding:\tUTF-8\n")
    (root / "bag-info.txt").write_bytes("Contact-Name   :   Lê Văn Hưu\n".encode())
    report, errors, _ = check(root)
    assert report.valid, report.errors
    assert validate_bag(root, processes=1).bag.bag_info["Contact-Name"] == ["Lê Văn Hưu"]


def test_tag_file_encoding_other_than_utf8_is_allowed_with_a_warning(tmp_path):
    """§2.1.1: 'ENCODING SHOULD be "UTF-8", but for backwards compatibility it MAY be any
    other encoding registered in [IANA-CHARSETS]'."""
    root = make_bag(tmp_path / "bag", {"data/Café.txt": b"x"}, encoding="ISO-8859-1",
                    bag_info={"Contact-Name": "Zoë"}, tag_manifest=False)
    report, _, warnings = check(root)
    assert report.valid, report.errors
    assert "K112" in warnings
    declare(root, b"BagIt-Version: 1.0\nTag-File-Character-Encoding: KLINGON-8\n")
    assert "K107" in check(root)[1]


def test_bag_declaration_must_be_utf8_without_a_byte_order_mark(tmp_path):
    """§2.1.1: 'The bag declaration itself MUST be encoded in UTF-8 and MUST NOT contain a
    byte-order mark (BOM)'."""
    root = bag(tmp_path)
    declare(root, "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n".encode("utf-16"))
    assert "K103" in check(root)[1]
    declare(root, b"\xef\xbb\xbfBagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    assert "K102" in check(root)[1]
    declare(root, b"BagIt-Version: 1.0\n\xef\xbb\xbfTag-File-Character-Encoding: UTF-8\n")
    assert "K102" in check(root)[1]


def test_tag_file_encoding_must_be_a_character_set_encoding(tmp_path):
    """§2.1.1: ENCODING is 'any other encoding registered in [IANA-CHARSETS]': codecs that
    turn bytes into bytes (Python knows base64, rot13, zlib by name) are none; the bag is
    refused with K107 and validation goes on (it used to stop on a LookupError)."""
    root = make_bag(tmp_path / "bag", {"data/Cầu.txt": b"x"}, bag_info={"Contact-Name": "Lê"},
                    tag_manifest=False)
    for name in (b"base64", b"rot13", b"zlib", b"hex", b"KLINGON-8"):
        declare(root, b"BagIt-Version: 1.0\nTag-File-Character-Encoding: " + name + b"\n")
        report, errors, _ = check(root)
        assert not report.valid and "K107" in errors, name
        assert [p for p in report.errors if p.code == "K107"][0].path == "bagit.txt"


def test_utf8_under_another_name_is_read_with_a_warning(tmp_path):
    """§2.1.1: 'ENCODING SHOULD be "UTF-8"'; IANA names it UTF-8 (alias csUTF8), and names are
    case-insensitive. Python's other names for it (utf8, u8, utf_8, cp65001) are read, with
    a warning naming the spelling to use."""
    root = make_bag(tmp_path / "bag", {"data/Cầu.txt": b"x"}, bag_info={"Contact-Name": "Lê"},
                    tag_manifest=False)
    for name in (b"utf8", b"u8", b"utf_8", b"cp65001"):
        declare(root, b"BagIt-Version: 1.0\nTag-File-Character-Encoding: " + name + b"\n")
        report, _, warnings = check(root)
        assert report.valid and "K113" in warnings, (name, report.errors)
    for name in (b"UTF-8", b"utf-8", b"csUTF8"):
        declare(root, b"BagIt-Version: 1.0\nTag-File-Character-Encoding: " + name + b"\n")
        report, _, warnings = check(root)
        assert report.valid and not warnings, (name, report.errors, warnings)


def test_label_in_other_case_is_read_with_a_warning(tmp_path):
    """§2.1.1 writes 'BagIt-Version'; the RFC's own example writes 'BagIt-version: 1.0', and
    its ABNF literals are case-insensitive: such a bag is read, with a warning."""
    root = bag(tmp_path)
    declare(root, b"BagIt-version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    report, _, warnings = check(root)
    assert report.valid, report.errors
    assert "K111" in warnings


def test_valid_declaration_has_no_problem(tmp_path):
    """§2.1.1: 'The number for this version of BagIt is "1.0"'; CR, LF and CRLF end lines."""
    for newline in (b"\n", b"\r\n", b"\r"):
        root = bag(tmp_path, name=f"bag{len(newline)}{newline[0]}")
        declare(root, b"BagIt-Version: 1.0" + newline + b"Tag-File-Character-Encoding: UTF-8"
                + newline)
        report, _, warnings = check(root)
        assert report.valid and not warnings, (report.errors, warnings)


# --- §2.2.4 text tag files ----------------------------------------------------------

def test_last_line_without_a_line_break_is_a_warning(tmp_path):
    """§2.2.4: 'It is RECOMMENDED that the last line in a tag file also ends with LF, CR, or
    CRLF.'"""
    root = bag(tmp_path)
    declare(root, b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8")
    report, _, warnings = check(root)
    assert report.valid and "K405" in warnings


def test_bom_is_refused_where_the_encoding_does_not_need_one(tmp_path):
    """§2.2.4: 'Text tag files except for the bag declaration file MAY include a byte-order
    mark (BOM) only if the specified encoding requires it for proper decoding.'"""
    root = bag(tmp_path, encoding="UTF-16LE")
    info = root / "bag-info.txt"
    info.write_bytes(b"\xff\xfe" + info.read_bytes())
    assert "K403" in check(root)[1]
    needs_bom = bag(tmp_path, name="utf16", encoding="UTF-16")  # Python writes the BOM
    assert check(needs_bom)[0].valid


# --- §2.2.2 bag-info.txt ------------------------------------------------------------

@pytest.mark.parametrize("line", ["Contact-Name:Nguyễn Trãi", "Contact-Name :Nguyễn Trãi",
                                  "Contact-Name\t: Nguyễn Trãi"])
def test_bag_info_element_is_label_colon_one_whitespace_value(tmp_path, line):
    """§2.2.2: 'A metadata element MUST consist of a label, a colon ":", a single linear
    whitespace character (space or tab), and a value' and 'The label ... MUST NOT start or
    end with whitespace.'"""
    root = bag(tmp_path)
    (root / "bag-info.txt").write_bytes(f"{line}\n".encode())
    report, errors, _ = check(root)
    assert "K407" in errors and not report.valid


def test_bag_info_line_without_a_colon_or_label_is_an_error(tmp_path):
    """§2.2.2: an element is 'a label, a colon ":" ... and a value'; a first line that is
    indented continues no element."""
    for text in ("Contact-Name Nguyễn Trãi\n", ": no label\n", "  indented first\n"):
        root = bag(tmp_path)
        (root / "bag-info.txt").write_bytes(text.encode())
        assert "K402" in check(root)[1], text


def test_long_values_continue_on_indented_lines(tmp_path):
    """§2.2.2: 'Long values MAY be continued onto the next line by inserting a LF, CR, or
    CRLF, and then indenting the next line with one or more linear white space characters'."""
    root = bag(tmp_path)
    (root / "bag-info.txt").write_bytes(
        "External-Description: Địa bạ triều Nguyễn,\n\t  làng Phú Chiêm\n".encode())
    result = validate_bag(root, processes=1)
    assert result.report.valid, result.report.errors
    assert result.bag.bag_info["External-Description"] == ["Địa bạ triều Nguyễn, làng Phú Chiêm"]


def test_payload_oxum_must_not_be_repeated_and_its_name_is_case_insensitive(tmp_path):
    """§2.2.2: Payload-Oxum 'MUST NOT be present more than once'; 'Reserved metadata element
    names are case insensitive.'"""
    root = bag(tmp_path, oxum=False)
    oxum = f"{sum(map(len, DATA.values()))}.{len(DATA)}"
    (root / "bag-info.txt").write_text(f"Payload-Oxum: {oxum}\nPayload-Oxum: {oxum}\n")
    assert "K311" in check(root)[1]
    (root / "bag-info.txt").write_text("payload-oxum: 1.1\n")
    assert "K310" in check(root)[1]
    (root / "bag-info.txt").write_text("PAYLOAD-OXUM: １.1\n")
    assert "K311" in check(root)[1]


def test_elements_that_should_not_repeat_warn(tmp_path):
    """§2.2.2: Bagging-Date, Bag-Size, Bag-Group-Identifier and Bag-Count: 'This metadata
    element SHOULD NOT be repeated.'  Other elements 'MAY be repeated'."""
    root = bag(tmp_path)
    (root / "bag-info.txt").write_text("Bagging-Date: 2024-05-01\nbagging-date: 2024-05-02\n"
                                       "Contact-Name: A\nContact-Name: B\n")
    report, _, warnings = check(root)
    assert report.valid and "K408" in warnings
    assert len([p for p in report.warnings if p.code == "K408"]) == 1


def test_order_of_bag_info_elements_is_preserved(tmp_path):
    """§2.2.2: 'the ordering of metadata elements MUST be preserved.'"""
    root = bag(tmp_path)
    (root / "bag-info.txt").write_text("DC-Creator: A\nContact-Name: B\nDC-Creator: C\n")
    elements = validate_bag(root, processes=1).bag.bag_info_elements
    assert elements == [("DC-Creator", "A"), ("Contact-Name", "B"), ("DC-Creator", "C")]


def test_empty_line_in_bag_info_is_a_warning(tmp_path):
    """§2.2.2: a line holds 'a metadata element' or its continuation; an empty line is
    neither, though the prose does not forbid it, so it is a warning."""
    root = bag(tmp_path)
    (root / "bag-info.txt").write_text("Contact-Name: A\n\nContact-Phone: 1\n")
    report, _, warnings = check(root)
    assert report.valid and "K406" in warnings


# --- §2.1.3 payload manifests -------------------------------------------------------

def test_every_manifest_line_is_checksum_and_filepath(tmp_path):
    """§2.1.3: 'Each line of a payload manifest file MUST be of the form: checksum filepath'
    (an empty line is not)."""
    root = bag(tmp_path)
    with (root / "manifest-sha256.txt").open("a") as f:
        f.write("\n")
    assert "K220" in check(root)[1]
    old = bag(tmp_path, name="old", version="0.97")
    with (old / "manifest-sha256.txt").open("a") as f:
        f.write("\n")
    assert check(old)[0].valid


def test_manifest_name_uses_a_normalised_algorithm_name(tmp_path):
    """§2.4: 'The name of the checksum algorithm MUST be normalized for use in the manifest's
    filename by lowercasing the common name of the algorithm and removing all
    non-alphanumeric characters.'"""
    root = bag(tmp_path)
    (root / "manifest-sha256.txt").rename(root / "manifest-SHA256.txt")
    assert "K206" in check(root)[1]


def test_percent_in_a_1_0_path_must_be_encoded(tmp_path):
    """§2.1.3: 'If a filepath includes a Line Feed (LF), a Carriage Return (CR), a
    Carriage-Return Line Feed (CRLF), or a percent sign (%), those characters (and only those)
    MUST be percent-encoded'."""
    files = {"data/giảm 50%.txt": b"x"}
    root = make_bag(tmp_path / "bag", files, tag_manifest=False)
    digest = hashlib.sha256(b"x").hexdigest()
    (root / "manifest-sha256.txt").write_text(f"{digest}  data/giảm 50%.txt\n")
    assert "K227" in check(root)[1]
    (root / "manifest-sha256.txt").write_text(f"{digest}  data/giảm 50%25.txt\n")
    assert check(root)[0].valid


def test_manifest_must_not_list_a_folder(tmp_path):
    """§2.1.3: 'A manifest MUST NOT reference directories.'"""
    root = bag(tmp_path)
    with (root / "manifest-sha256.txt").open("a") as f:
        f.write(f"{'0' * 64}  data/Huế\n")
    assert "K228" in check(root)[1]


def test_payload_file_missing_from_one_manifest_is_an_error_in_1_0_only(tmp_path):
    """§3: 'For BagIt 1.0, every payload file MUST be listed in every payload manifest.  Note
    that older versions of BagIt allowed payload files to be listed in just one of the
    manifests.'"""
    for version, valid in (("1.0", False), ("0.97", True)):
        root = bag(tmp_path, name=version, version=version, algorithms=("sha256", "sha512"))
        lines = (root / "manifest-sha512.txt").read_text().splitlines(keepends=True)
        (root / "manifest-sha512.txt").write_text("".join(lines[1:]))
        report = check(root)[0]
        assert report.valid is valid
        assert "K304" in {p.code for p in report.errors + report.warnings}


# --- §2.2.1 tag manifests -----------------------------------------------------------

def tagged(tmp_path, name="bag", **options):
    root = bag(tmp_path, name=name, **options)
    write_tag_manifest(root, options.get("algorithms", ("sha256",)))
    return root


def rewrite_tag_manifest(root, keep=lambda path: True, extra=()):
    lines = [line for line in (root / "tagmanifest-sha256.txt").read_text().splitlines()
             if keep(line.split("  ", 1)[1])]
    lines += [f"{hashlib.sha256((root / p).read_bytes()).hexdigest()}  {p}" for p in extra]
    (root / "tagmanifest-sha256.txt").write_text("".join(f"{line}\n" for line in lines))


def test_complete_tag_manifest_has_no_problem(tmp_path):
    """§2.2.1: a tag manifest lists every payload manifest and the remaining tag files."""
    report, _, warnings = check(tagged(tmp_path))
    assert report.valid and not warnings, (report.errors, warnings)


def test_tag_manifest_must_list_every_payload_manifest(tmp_path):
    """§2.2.1: 'Each tag manifest MUST list every payload manifest.'"""
    root = tagged(tmp_path)
    rewrite_tag_manifest(root, keep=lambda p: not p.startswith("manifest-"))
    assert "K232" in check(root)[1]


def test_tag_manifest_must_not_list_a_tag_manifest(tmp_path):
    """§2.2.1: 'Each tag manifest MUST NOT list any tag manifests'."""
    root = tagged(tmp_path, algorithms=("sha256", "sha512"))
    rewrite_tag_manifest(root, extra=["tagmanifest-sha512.txt"])
    assert "K233" in check(root)[1]


def test_tag_manifest_must_not_list_payload_files(tmp_path):
    """§2.2.1: a tag manifest 'MUST NOT list any payload files.  As a result, no filepath
    listed in a tag manifest begins "data/".'"""
    root = tagged(tmp_path)
    rewrite_tag_manifest(root, extra=["data/Huế/trang 2.txt"])
    assert "K226" in check(root)[1]


def test_tag_manifest_should_list_the_remaining_tag_files(tmp_path):
    """§2.2.1: each tag manifest 'SHOULD list the remaining tag files present in the bag.'"""
    root = tagged(tmp_path)
    (root / "metadata").mkdir()
    (root / "metadata" / "ghi chú.txt").write_text("Thư viện tỉnh")
    report, _, warnings = check(root)
    assert report.valid and "K234" in warnings
    assert any("metadata/ghi chú.txt" in p.message for p in report.warnings)


def test_tag_manifests_should_agree_and_use_the_payload_algorithms(tmp_path):
    """§2.2.1: 'each tag manifest SHOULD list the same set of tag files' and 'Tag manifests
    SHOULD use the same algorithms as the payload manifests that are present in the bag.'"""
    root = tagged(tmp_path)
    write_tag_manifest(root, ("sha512",))
    (root / "tagmanifest-sha512.txt").write_text(
        "".join(line + "\n" for line in (root / "tagmanifest-sha512.txt").read_text()
                .splitlines() if "bag-info.txt" not in line))
    report, _, warnings = check(root)
    assert report.valid, report.errors
    assert {"K235", "K236"} <= warnings


# --- §2.2.3 fetch.txt ---------------------------------------------------------------

def holey(tmp_path, line: str, version="1.0"):
    root = make_bag(tmp_path / "holey", DATA, tag_manifest=False, version=version,
                    fetch=[("https://example.org/3", "data/trang 3.txt", b"ba")])
    (root / "fetch.txt").write_bytes(line.encode())
    return root


@pytest.mark.parametrize("line", ["example.org/3 2 data/trang 3.txt\n",
                                  "/trang/3 2 data/trang 3.txt\n"])
def test_fetch_url_must_be_an_absolute_uri(tmp_path, line):
    """§2.2.3: 'url identifies the file to be fetched and MUST be an absolute URI as defined
    in [RFC3986]'."""
    assert "K507" in check(holey(tmp_path, line))[1]


@pytest.mark.parametrize("line", ["https://example.org/3 ٢ data/trang 3.txt\n",
                                  " https://example.org/3 2 data/trang 3.txt\n",
                                  "https://example.org/3 2\n", "\n"],
                         ids=["arabic-digit", "leading-space", "two-fields", "empty"])
def test_fetch_line_is_url_length_filepath(tmp_path, line):
    """§2.2.3: 'Each line of a fetch file MUST be of the form: url length filepath', length
    being 'the number of octets in the file (or "-", to leave it unspecified)'."""
    assert "K503" in check(holey(tmp_path, line))[1]


def test_fetch_filepath_percent_must_be_encoded_and_trailing_space_is_kept(tmp_path):
    """§2.2.3: 'If filename includes an LF, a CR, a CRLF, or a percent sign (%), those
    characters (and only those) MUST be percent-encoded'; fields are separated by 'one or more
    linear whitespace characters', so a space ending the file name belongs to it."""
    assert "K508" in check(holey(tmp_path, "https://example.org/3 2 data/50%.txt\n"))[1]
    root = holey(tmp_path, "https://example.org/3 2 data/trang 3.txt \n")
    assert "K505" in check(root)[1]  # 'data/trang 3.txt ' is not the manifest's file
    root = holey(tmp_path, "https://example.org/3 - data/trang 3.txt\n")
    report = check(root)[0]
    assert report.valid and validate_bag(root, processes=1).incomplete


def test_fetch_must_not_list_tag_files(tmp_path):
    """§2.2.3: 'A fetch file MUST NOT list any tag files.'"""
    assert "K504" in check(holey(tmp_path, "https://example.org/3 2 bag-info.txt\n"))[1]
