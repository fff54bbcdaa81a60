"""Format identification (Siegfried, through pygfried): PRONOM formats and image sizes, from
the beginning and end of a large file rather than all of it (issue 15), containers read
whole when their beginning and end only say "a ZIP"."""
from __future__ import annotations

import os
import zipfile

from PIL import Image

from repository.ingest.characterise import WINDOW, _stand_in, identify_formats

DOCX_TYPES = ('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
              '2006/content-types"><Override PartName="/word/document.xml" ContentType="'
              'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main'
              '+xml"/></Types>')


def test_a_large_file_is_shown_to_siegfried_by_its_two_ends(tmp_path):
    data = os.urandom(3 * 1024 * 1024)
    big = tmp_path / "trang 1.tif"
    big.write_bytes(data)
    stand_in = _stand_in(big, tmp_path / "windows")
    assert stand_in != big and stand_in.name == big.name  # the name for extension matches
    assert stand_in.read_bytes() == data[:WINDOW] + data[-WINDOW:]
    small = tmp_path / "nhỏ.txt"
    small.write_bytes(b"x" * (4 * WINDOW))
    assert _stand_in(small, tmp_path / "unused") == small  # small files are shown whole


def test_formats_and_sizes_of_large_images_documents_and_containers(tmp_path):
    # A 12 MB uncompressed TIFF scan: named from its header, sized from it.
    Image.new("RGB", (2000, 2000), (200, 100, 50)).save(tmp_path / "Địa bạ 1.tif",
                                                          compression=None)
    Image.new("L", (1500, 900), 128).save(tmp_path / "trang.png")
    # A DOCX larger than both windows: named from [Content_Types].xml, a container entry.
    with zipfile.ZipFile(tmp_path / "văn bản.docx", "w") as docx:
        docx.writestr("[Content_Types].xml", DOCX_TYPES)
        docx.writestr("word/document.xml", "<w:document/>")
        docx.writestr("media/scan.bin", os.urandom(2 * 1024 * 1024),
                      compress_type=zipfile.ZIP_STORED)
    # A large ZIP of unknown content: a ZIP, read whole as containers are.
    with zipfile.ZipFile(tmp_path / "gói.zip", "w") as archive:
        archive.writestr("a.bin", os.urandom(2 * 1024 * 1024), compress_type=zipfile.ZIP_STORED)
    (tmp_path / "rác.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    names = ["Địa bạ 1.tif", "trang.png", "văn bản.docx", "gói.zip", "rác.bin"]
    found = identify_formats([tmp_path / n for n in names])
    tif, png, docx, zipped, junk = (found[tmp_path / n] for n in names)
    assert (tif.pronom_id, tif.mime_type, tif.width, tif.height) == (
        "fmt/353", "image/tiff", 2000, 2000)
    assert (png.mime_type, png.width, png.height) == ("image/png", 1500, 900)
    assert docx.pronom_id == "fmt/412"
    assert zipped.pronom_id == "x-fmt/263"
    assert junk.width is None and junk.mime_type is None
