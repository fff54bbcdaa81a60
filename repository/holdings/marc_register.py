"""Reading a register from MARC 21 bibliographic records, ISO 2709 or MARCXML (pymarc).

The mapping, field by field, is in docs/holdings.md; keep the two in step.
"""
from __future__ import annotations

import io
import re
import unicodedata

from repository.errors import RegisterInvalid, RowProblem
from repository.holdings.records import ItemRecord
from repository.holdings.vocabulary import shelfmark_key
from repository.metadata import check_date

# Leader/06 (type of record) → the register's type; manuscripts are the programme's core.
RECORD_TYPES = {"a": "text", "t": "manuscript", "c": "notated music", "d": "manuscript music",
                "e": "map", "f": "manuscript map", "g": "moving image", "i": "sound",
                "j": "music recording", "k": "image", "m": "computer file", "o": "kit",
                "p": "mixed materials", "r": "object"}
MANUSCRIPT_TYPES = frozenset("tdf")
# 008/06 date types whose 07-10 and 11-14 are a range (m multiple, q questionable, i/k
# inclusive/bulk, c/d continuing/ceased serials).
RANGE_DATE_TYPES = frozenset("mqikcdu")
# Pages in 300 $a: "245 tr.", "xii, 300 p.", "120 tờ" (leaves: two pages each).
_PAGES = re.compile(r"(\d+)\s*(tr\b|tr\.|trang|p\b|p\.|pages?|tờ|to\b|leaves|leaf|l\.|f\.|folios?)",
                    re.IGNORECASE)
_LEAVES = ("tờ", "to", "leaves", "leaf", "l.", "f.", "folio", "folios")
_ISBD_END = re.compile(r"[\s/:;,.=]+$")


def is_marcxml(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def is_iso2709(data: bytes) -> bool:
    return len(data) >= 24 and data[:5].isdigit()


def read_marc_register(data: bytes, *, rare_before: int, name: str = "the file") -> list[ItemRecord]:
    """Every MARC record of ``data`` (ISO 2709 or MARCXML) as an ItemRecord."""
    import pymarc
    problems: list[RowProblem] = []
    records = []
    if is_marcxml(data):
        try:
            parsed = pymarc.parse_xml_to_array(io.BytesIO(data), strict=False, normalize_form="NFC")
        except Exception as exc:  # the XML parser's own errors vary (SAX, expat)
            raise RegisterInvalid([RowProblem(0, "", f"{name} is not well-formed MARCXML: {exc}")])
        records = list(enumerate(parsed, start=1))
    else:
        # permissive: a broken record comes back as None with the reason, and reading goes on,
        # so every bad record is reported, not only the first.
        reader = pymarc.MARCReader(data, to_unicode=True, force_utf8=False,
                                   utf8_handling="strict", permissive=True)
        for number, record in enumerate(reader, start=1):
            if record is None:
                problems.append(RowProblem(number, "", f"not a readable MARC 21 record: "
                                           f"{reader.current_exception}"))
            else:
                records.append((number, record))
    if not records and not problems:
        problems.append(RowProblem(0, "", f"{name} holds no MARC records"))
    items: list[ItemRecord] = []
    first: dict[str, int] = {}
    for number, record in records:
        item, record_problems = map_record(record, number, rare_before=rare_before)
        problems.extend(record_problems)
        if item is not None:
            key = item.key = shelfmark_key(item.shelfmark)
            if key in first:
                problems.append(RowProblem(number, "shelfmark", f"shelfmark {item.shelfmark!r} "
                                           f"is also in record {first[key]}"))
            first.setdefault(key, number)
            items.append(item)
    if problems:
        raise RegisterInvalid(problems)
    return items


def _nfc(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def _sub(record, tag: str, codes: str) -> list[str]:
    return [_nfc(v) for field in record.get_fields(tag) for v in field.get_subfields(*codes) if _nfc(v)]


def map_record(record, number: int, *, rare_before: int) -> tuple[ItemRecord | None, list[RowProblem]]:
    """One MARC record → an ItemRecord (docs/holdings.md, "MARC 21 mapping")."""
    problems = []
    item = ItemRecord(number)
    shelfmark = shelfmark_of(record)
    if not shelfmark:
        problems.append(RowProblem(number, "852 $h $i", "no shelfmark: give 852 $h $i (or $j), "
                                   "952 $o or 090/099 $a"))
    title = title_of(record)
    if not title:
        problems.append(RowProblem(number, "245 $a", "no title"))
    if problems:
        return None, problems
    values = item.values
    values["shelfmark"], values["title"] = shelfmark, title
    values["parallel_titles"] = parallel_titles(record)
    creator = (_sub(record, "100", "a") or _sub(record, "110", "a") or _sub(record, "111", "a")
               or _sub(record, "245", "c"))
    values["creator"] = _ISBD_END.sub("", creator[0]) if creator else ""
    values["date"] = date_of(record)
    leader = str(record.leader)
    values["item_type"] = RECORD_TYPES.get(leader[6:7], "")
    if leader[7:8] == "s":
        values["item_type"] = "serial"
    values["languages"] = languages_of(record)
    values["scripts"] = [_ISBD_END.sub("", s) for s in _sub(record, "546", "b")]
    values["condition"] = "; ".join(_sub(record, "583", "l"))
    values["pages"] = pages_of(record)
    values["notes"] = " ".join(_sub(record, "500", "a"))
    values["rare"] = is_rare(leader[6:7], values["date"], rare_before)
    collection = _sub(record, "852", "b") or _sub(record, "952", "8") or _sub(record, "952", "c")
    item.collection = collection[0] if collection else None
    return item, []


def shelfmark_of(record) -> str:
    """852 $h $i (or $j), Koha's 952 $o, then the local call numbers 090 and 099."""
    for field in record.get_fields("852"):
        parts = [_nfc(v) for v in field.get_subfields("h", "i") if _nfc(v)]
        if parts:
            return " ".join(parts)
        if _nfc(field.get("j")):
            return _nfc(field.get("j"))
    for tag, codes in (("952", "o"), ("090", "ab"), ("099", "a")):
        for field in record.get_fields(tag):
            parts = [_nfc(v) for v in field.get_subfields(*codes) if _nfc(v)]
            if parts:
                return " ".join(parts)
    return ""


def title_of(record) -> str:
    parts = []
    for field in record.get_fields("245")[:1]:
        parts = [_nfc(v) for v in field.get_subfields("a", "b", "n", "p") if _nfc(v)]
    title = " ".join(_ISBD_END.sub("", p) for p in parts)
    return title.strip()


def parallel_titles(record) -> list[str]:
    """880 fields linked to 245 (the title in its own script: Hán, Nôm), then 246 $a."""
    titles = []
    for field in record.get_fields("880"):
        if (field.get("6") or "").startswith("245"):
            text = " ".join(_ISBD_END.sub("", _nfc(v)) for v in field.get_subfields("a", "b") if _nfc(v))
            if text:
                titles.append(text)
    titles += [_ISBD_END.sub("", t) for t in _sub(record, "246", "a")]
    return list(dict.fromkeys(titles))


def date_of(record) -> str:
    """EDTF from 008/06-14 ("u" digits become X), else the first year in 264/260 $c."""
    fixed = record.get("008")
    data = fixed.data if fixed is not None and fixed.data else ""
    if len(data) >= 15:
        kind, first, second = data[6], data[7:11], data[11:15]
        first, second = first.replace("u", "X"), second.replace("u", "X")
        if re.fullmatch(r"[\dX]{4}", first) and first != "XXXX":
            if kind in RANGE_DATE_TYPES and re.fullmatch(r"[\dX]{4}", second) and second not in (first, "XXXX", "9999"):
                candidate = f"{first}/{second}"
            else:
                candidate = first
            if kind == "q" and "/" not in candidate:
                candidate += "?"
            try:
                check_date(candidate)
                return candidate
            except ValueError:
                pass
    for text in _sub(record, "264", "c") + _sub(record, "260", "c"):
        year = re.search(r"\d{4}", text)
        if year:
            return year.group(0)
    return ""


def languages_of(record) -> list[str]:
    codes = _sub(record, "041", "a")
    fixed = record.get("008")
    if not codes and fixed is not None and fixed.data and len(fixed.data) >= 38:
        code = fixed.data[35:38].strip()
        if code and code not in ("|||", "und", "zxx"):
            codes = [code]
    return list(dict.fromkeys(codes))


_ROMAN_PRELIMS = re.compile(r"\b([ivxlc]+)\s*,\s*\d", re.IGNORECASE)  # "xii, 312 p."
_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}


def pages_of(record) -> int | None:
    """Pages to scan from 300 $a: numbered pages, leaves twice, roman preliminaries too."""
    total = 0
    for text in _sub(record, "300", "a"):
        if not _PAGES.search(text):
            continue
        for count, unit in _PAGES.findall(text):
            total += int(count) * (2 if unit.lower() in _LEAVES else 1)
        for numeral in _ROMAN_PRELIMS.findall(text):
            total += roman_value(numeral)
    return total or None


def roman_value(numeral: str) -> int:
    values = [_ROMAN[ch] for ch in numeral.lower()]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def is_rare(record_type: str, date: str, rare_before: int) -> bool:
    """Manuscripts, and items made before KHO_HOLDINGS_RARE_BEFORE, count as rare."""
    if record_type in MANUSCRIPT_TYPES:
        return True
    year = re.match(r"-?\d{4}|\d{3}X|\d{2}XX", date or "")
    if not year:
        return False
    # The latest year the date allows must be before the cut-off ("18XX" is before 1945).
    latest = int(year.group(0).replace("X", "9"))
    end = date.partition("/")[2]
    if end[:4].isdigit():
        latest = int(end[:4])
    return latest < rare_before
