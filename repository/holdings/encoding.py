"""Reading a register file's bytes as text, and refusing legacy Vietnamese encodings that
would otherwise be imported as garbage ("Hµ Néi", "Haø Noäi" for "Hà Nội").

UTF-8 (with or without a BOM) and UTF-16 with a BOM are read as they are. Windows-1258 is
converted with Python's own ``cp1258`` codec (then NFC, since it writes tone marks as
combining characters). TCVN3 (ABC) and VNI have no codec in Python or in a well-kept
library, so they are refused with the name of the likely encoding and how to convert it.
"""
from __future__ import annotations

import codecs
import re
import unicodedata

from repository.errors import LegacyEncoding

# Every letter of the Vietnamese alphabet with its marks (NFC), lower and upper case.
_VIET_LOWER = ("àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ")
VIETNAMESE_LETTERS = frozenset(_VIET_LOWER + _VIET_LOWER.upper())

# VNI writes a marked vowel as the ASCII vowel followed by one Windows-1252 byte for the
# marks (a + 0xF8 "ø" = à); TCVN3 has one byte per marked letter, most of the common ones
# (à á ả ã ạ ă â đ ê ô ơ ư) in 0xA1–0xBF, a range VNI and Windows-1258 letters do not use.
_VNI_MARK = re.compile(rb"[AEIOUYaeiouy\xd4\xd6\xf4\xf6][\xc0-\xc5\xc8-\xcb\xcf\xd5\xd8-\xdc"
                       rb"\xe0-\xe5\xe8-\xeb\xef\xf5\xf8-\xfc]")
_VNI_LETTER = re.compile(rb"[\xd1\xf1\xd6\xf6\xd4\xf4]")  # Đ đ Ư ư Ơ ơ
_HIGH = re.compile(rb"[\x80-\xff]")
_TCVN3_RANGE = re.compile(rb"[\xa1-\xbf]")

HOW_TO_CONVERT = {
    "TCVN3 (ABC)": "convert it to Unicode first, e.g. `iconv -f TCVN5712-1 -t UTF-8 FILE > "
                   "FILE.utf8.csv`, or UniKey's converter (Công cụ chuyển mã: nguồn TCVN3 (ABC), "
                   "đích Unicode), then import the converted file",
    "VNI Windows": "convert it to Unicode first with UniKey's converter (Công cụ chuyển mã: "
                   "nguồn VNI Windows, đích Unicode) or VietKey, then save as CSV UTF-8 and "
                   "import the converted file",
    "an unknown 8-bit encoding": "save it again as UTF-8 (in Excel or LibreOffice: Save As, "
                                 "CSV UTF-8) and import that",
}


def decode_register(data: bytes, name: str = "the file") -> tuple[str, str]:
    """(text in NFC, the encoding it was read in); raises LegacyEncoding for TCVN3, VNI, …"""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return unicodedata.normalize("NFC", data.decode("utf-16")), "UTF-16"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    else:
        refuse_legacy_mojibake(text, name)
        return unicodedata.normalize("NFC", text), "UTF-8"
    encoding = guess_legacy_encoding(data)
    if encoding == "Windows-1258":
        return unicodedata.normalize("NFC", data.decode("cp1258")), encoding
    line = data.count(b"\n", 0, first_bad) + 1
    raise LegacyEncoding(
        f"{name} is not UTF-8 (line {line} has bytes UTF-8 cannot hold); it looks like "
        f"{encoding}, which would be imported as garbage: {HOW_TO_CONVERT[encoding]}",
        encoding)


def refuse_legacy_mojibake(text: str, name: str) -> None:
    """A UTF-8 file can hold TCVN3 or VNI text already garbled: opened as Windows-1252 (as
    Excel does) and saved again ("Hµ Néi"). Such text encodes back to Windows-1252, and those
    bytes look like TCVN3 or VNI; real Vietnamese (ơ ư ạ ộ …) never encodes to Windows-1252."""
    if text.isascii():
        return
    try:
        raw = text.encode("cp1252")
    except UnicodeEncodeError:
        return
    if len(_HIGH.findall(raw)) < 3:
        return
    encoding = guess_legacy_encoding(raw)
    if encoding in ("TCVN3 (ABC)", "VNI Windows"):
        raise LegacyEncoding(
            f"{name} is UTF-8, but its text is {encoding} that was read as Windows-1252 and "
            f"saved again (it shows e.g. {_sample(text)!r}); {HOW_TO_CONVERT[encoding]} — "
            "starting from the original file, or from this one opened as Windows-1252",
            encoding)


def _sample(text: str) -> str:
    word = next((w for w in text.split() if not w.isascii()), "")
    return word[:30]


def guess_legacy_encoding(data: bytes) -> str:
    """The most likely legacy Vietnamese encoding of bytes that are not UTF-8."""
    high = len(_HIGH.findall(data))
    if not high:
        return "an unknown 8-bit encoding"
    if _is_vietnamese_cp1258(data):
        return "Windows-1258"
    if len(_TCVN3_RANGE.findall(data)) >= 0.2 * high:
        return "TCVN3 (ABC)"
    vni = 2 * len(_VNI_MARK.findall(data)) + len(_VNI_LETTER.findall(data))
    if vni >= 0.6 * high:
        return "VNI Windows"
    return "an unknown 8-bit encoding"


def _is_vietnamese_cp1258(data: bytes) -> bool:
    """Whether the bytes read as Windows-1258 give Vietnamese letters and nothing stranger."""
    try:
        text = unicodedata.normalize("NFC", data.decode("cp1258"))
    except UnicodeDecodeError:
        return False  # a byte Windows-1258 leaves undefined
    letters = [ch for ch in text if ord(ch) > 127 and ch.isalpha()]
    if not letters:
        return False
    # A combining mark left over after NFC sits where no Vietnamese letter can: not 1258.
    if any(unicodedata.combining(ch) for ch in text):
        return False
    viet = sum(1 for ch in letters if ch in VIETNAMESE_LETTERS)
    return viet >= 0.95 * len(letters)
