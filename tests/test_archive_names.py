"""Zips and tars made by ordinary tools keep their Vietnamese file names.

The archives are built byte by byte, as each tool writes them: Info-ZIP on Linux (UTF-8
names without the UTF-8 flag), 7-Zip (flagged), old Windows tools (the machine's code page,
cp1258 on Vietnamese Windows), and a name that is neither (refused with a clear error).
"""
from __future__ import annotations

import hashlib
import io
import struct
import tarfile
import unicodedata
import zlib
from pathlib import Path

import pytest

from repository.errors import UnsafeArchive
from repository.ingest import validate_path

PAGE = b"\xff\xd8\xff\xe0 not really a jpeg, but bytes to keep"
NAMES = ["data/bìa.jpg", "data/Địa bạ/trang 1.txt", "data/Sắc phong.txt"]
TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def cp1258(text: str) -> bytes:
    """``text`` as Vietnamese Windows writes it: a base letter, then its tone mark."""
    out = b""
    for char in unicodedata.normalize("NFC", text):
        try:
            out += char.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONES))
            out += base.encode("cp1258") + "".join(c for c in parts if c in TONES).encode("cp1258")
    return out


def bag_files() -> dict[str, bytes]:
    """A small valid bag (UTF-8 manifests), as name → bytes."""
    payload = {name: PAGE + name.encode() for name in NAMES}
    manifest = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n"
                       for name, data in payload.items())
    oxum = f"{sum(map(len, payload.values()))}.{len(payload)}"
    return {"bagit.txt": b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
            "bag-info.txt": f"Payload-Oxum: {oxum}\nDC-Title: Địa bạ làng Hà Nội\n".encode(),
            "manifest-sha256.txt": manifest.encode(), **payload}


def zip_bytes(entries: list[tuple[bytes, bytes]], *, utf8_flag: bool = False,
              extra=lambda raw: b"") -> bytes:
    """A stored (uncompressed) zip written field by field (APPNOTE.TXT 4.3.7, 4.3.12)."""
    flags = 0x800 if utf8_flag else 0
    local, central = io.BytesIO(), io.BytesIO()
    for raw, data in entries:
        offset = local.tell()
        crc = zlib.crc32(data)
        more = extra(raw)
        local.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, 0, 0, 0, crc,
                                len(data), len(data), len(raw), len(more)) + raw + more + data)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, 0, 0, 0,
                                  crc, len(data), len(data), len(raw), len(more), 0, 0, 0, 0,
                                  offset) + raw + more)
    body = local.getvalue()
    directory = central.getvalue()
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries),
                      len(directory), len(body), 0)
    return body + directory + end


def unicode_path_extra(utf8_name: bytes):
    """Info-ZIP's Unicode Path extra field (0x7075) carrying ``utf8_name``."""
    def build(raw: bytes) -> bytes:
        body = b"\x01" + struct.pack("<L", zlib.crc32(raw)) + utf8_name
        return struct.pack("<HH", 0x7075, len(body)) + body
    return build


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def assert_valid_with_names(path: Path, settings) -> None:
    result = validate_path(path, settings=settings)
    assert result.report.valid, [str(p) for p in result.report.errors]
    assert sorted(item.logical_path for item in result.bag.payload) == sorted(NAMES)


def test_zip_from_info_zip_on_linux_utf8_names_without_the_flag_is_read_as_utf8(tmp_path,
                                                                                 settings):
    entries = [(f"bag/{n}".encode("utf-8"), d) for n, d in bag_files().items()]
    assert_valid_with_names(write(tmp_path, "infozip.zip", zip_bytes(entries)), settings)


def test_zip_with_the_utf8_flag_is_read_as_utf8(tmp_path, settings):
    entries = [(f"bag/{n}".encode("utf-8"), d) for n, d in bag_files().items()]
    assert_valid_with_names(write(tmp_path, "7zip.zip", zip_bytes(entries, utf8_flag=True)),
                            settings)


def test_zip_from_vietnamese_windows_cp1258_names_are_read_as_cp1258(tmp_path, settings):
    entries = [(cp1258(f"bag/{n}"), d) for n, d in bag_files().items()]
    assert any(not raw.isascii() for raw, _ in entries)
    assert_valid_with_names(write(tmp_path, "windows.zip", zip_bytes(entries)), settings)


def test_zip_with_macos_decomposed_names_matches_a_precomposed_manifest(tmp_path, settings):
    entries = [(unicodedata.normalize("NFD", f"bag/{n}").encode("utf-8"), d)
               for n, d in bag_files().items()]
    assert_valid_with_names(write(tmp_path, "macos.zip", zip_bytes(entries, utf8_flag=True)),
                            settings)


def test_zip_with_an_info_zip_unicode_path_field_uses_it(tmp_path, settings):
    # A legacy (cp437) name with the UTF-8 one beside it, as Info-ZIP on Windows writes.
    entries = []
    for name, data in bag_files().items():
        full = f"bag/{name}"
        legacy = full.encode("cp437", "replace")
        entries.append((legacy, data, full.encode("utf-8")))
    body = zip_bytes([(legacy, data) for legacy, data, _ in entries],
                     extra=lambda raw: unicode_path_extra(
                         next(u for l, _, u in entries if l == raw))(raw))
    assert_valid_with_names(write(tmp_path, "infozip-win.zip", body), settings)


def test_zip_name_that_is_neither_utf8_nor_the_legacy_code_page_is_refused_naming_it(
        tmp_path, settings):
    # 0x81 is undefined in cp1258 and cannot start a UTF-8 character.
    entries = [(f"bag/{n}".encode("utf-8"), d) for n, d in bag_files().items()]
    entries.append((b"bag/data/b\x81a.jpg", PAGE))
    with pytest.raises(UnsafeArchive) as refused:
        validate_path(write(tmp_path, "broken.zip", zip_bytes(entries)), settings=settings)
    assert refused.value.code == "K708"
    assert "b\\x81a.jpg" in refused.value.message
    assert "neither UTF-8 nor cp1258" in refused.value.message


def test_zip_flagged_utf8_whose_name_is_not_utf8_is_refused(tmp_path, settings):
    entries = [(cp1258("bag/data/bìa.jpg"), PAGE)]
    with pytest.raises(UnsafeArchive, match="marked as UTF-8"):
        validate_path(write(tmp_path, "lying.zip", zip_bytes(entries, utf8_flag=True)),
                      settings=settings)


@pytest.mark.parametrize("encoding", ["utf-8", "cp1258"])
def test_tar_names_in_utf8_or_cp1258_are_read(tmp_path, settings, encoding):
    path = tmp_path / f"bag-{encoding}.tar"
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT, encoding="utf-8") as tar:
        for name, data in bag_files().items():
            info = tarfile.TarInfo("x")
            raw = cp1258(f"bag/{name}") if encoding == "cp1258" else f"bag/{name}".encode()
            # tarfile encodes names itself; surrogateescape lets the raw bytes through.
            info.name = raw.decode("utf-8", "surrogateescape")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert_valid_with_names(path, settings)


def test_the_legacy_code_page_is_a_setting(tmp_path, settings):
    # A zip from a Russian Windows machine: cp1251, named in KHO_ARCHIVE_NAME_ENCODING.
    entries = [(f"bag/{n}".encode("utf-8"), d) for n, d in bag_files().items()]
    entries.append(("bag/data/опись.txt".encode("cp1251"), b"x"))
    path = write(tmp_path, "ru.zip", zip_bytes(entries))
    result = validate_path(path, settings=settings.replace(archive_name_encoding="cp1251"))
    assert any(p.path == "data/опись.txt" for p in result.report.errors)  # read, not in manifest
