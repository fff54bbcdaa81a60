"""Kho's Dublin Core record: read it from a bag, check it against its JSON Schema, use it.

A record maps each of the 15 DCMES 1.1 elements (https://www.dublincore.org/specifications/
dublin-core/dces/) to a list of ``{"value": str, "lang": BCP 47 tag}``. The codes of the
problems found here (D1xx) are listed in docs/dublin-core.md.
"""
from __future__ import annotations

import calendar
import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from repository.errors import Problem
from repository.metadata.oai_dc import read_oai_dc
from repository.metadata.text import fold_for_search, normalise_text

if TYPE_CHECKING:  # jsonschema is imported when a record is first validated (~0.1 s):
    # every command that opens the catalogue imports this module through its OAI datestamps.
    from jsonschema import Draft202012Validator, FormatChecker

ELEMENTS = ("title", "creator", "subject", "description", "publisher", "contributor", "date",
            "type", "format", "identifier", "source", "language", "relation", "coverage",
            "rights")
DCMI_TYPES = ("Collection", "Dataset", "Event", "Image", "InteractiveResource", "MovingImage",
              "PhysicalObject", "Service", "Software", "Sound", "StillImage", "Text")
SCHEMA_PATH = Path(__file__).with_name("schemas") / "dublin-core.schema.json"

DC_JSON = "metadata/dc.json"
DC_XML = "metadata/dc.xml"
BAG_INFO = "bag-info.txt"
# Standard bag-info.txt fields (RFC 8493 §2.2.2) that fill an element no DC- field gives.
# Bagging-Date is deliberately absent: it dates the package, not the work it carries.
BAG_INFO_FALLBACKS = (("External-Description", "description"),
                      ("Source-Organization", "publisher"),
                      ("External-Identifier", "identifier"))
MAX_DESCRIPTION_BYTES = 16 * 1024 * 1024


# --- dates: ISO 8601 and EDTF (ISO 8601-2, levels 0 and 1) --------------------------------

_DATE = re.compile(r"""
    (?P<year>-?(?:\d{4}|\d{3}X|\d{2}XX|XXXX))
    (?:-(?P<month>\d{2}|XX)
       (?:-(?P<day>\d{2}|XX)
          (?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?
             (?P<zone>Z|[+-]\d{2}(?::?\d{2})?)?)?
       )?
    )?
    (?P<qualifier>[?~%])?
    """, re.VERBOSE)
_SEASONS = range(21, 25)  # EDTF level 1: 21 spring … 24 winter


def _date_bounds(text: str) -> tuple[tuple[int, int, int], tuple[int, int, int]] | None:
    """(earliest, latest) (year, month, day) of one EDTF date; ValueError names the fault."""
    m = _DATE.fullmatch(text)
    if not m:
        raise ValueError("")
    if m["qualifier"] and m["hour"]:
        raise ValueError("a date-time cannot carry an EDTF qualifier")
    year, month, day = m["year"], m["month"], m["day"]
    lo_year, hi_year = int(year.replace("X", "0")), int(year.replace("X", "9"))
    if month is None or month == "XX":
        lo_month, hi_month = 1, 12
    else:
        number = int(month)
        if number in _SEASONS and day is None:
            lo_month, hi_month = 1, 12
        elif 1 <= number <= 12:
            lo_month = hi_month = number
        else:
            raise ValueError(f"month {month} does not exist")
    if day is None or day == "XX":
        lo_day, hi_day = 1, 31
    else:
        number = int(day)
        longest = (calendar.monthrange(lo_year if "X" not in year else 2000, lo_month)[1]
                   if lo_month == hi_month else 31)
        if not 1 <= number <= longest:
            raise ValueError(f"day {day} does not exist in that month")
        lo_day = hi_day = number
    if m["hour"] and (int(m["hour"]) > 23 or int(m["minute"]) > 59
                      or int(m["second"] or 0) > 60):
        raise ValueError("the time of day does not exist")
    if year.startswith("-") and "X" in year:
        return None  # unspecified digits in a BCE year: no simple order to check
    return (lo_year, lo_month, lo_day), (hi_year, hi_month, hi_day)


def check_date(text: str) -> None:
    """Raise ValueError (reason may be empty) unless ``text`` is an ISO 8601/EDTF date or range."""
    if re.fullmatch(r"\d{4}\s*[-–]\s*\d{4}", text):
        raise ValueError("write a range with a slash: " + re.sub(r"\s*[-–]\s*", "/", text))
    if "/" not in text:
        _date_bounds(text)
        return
    start, _, end = text.partition("/")
    if "/" in end:
        raise ValueError("an interval has one '/'")
    # EDTF level 1: ".." is an open end, an empty side an unknown one.
    open_start, open_end = start in ("", ".."), end in ("", "..")
    if open_start and open_end:
        raise ValueError("an interval needs at least one date")
    first = None if open_start else _date_bounds(start)
    last = None if open_end else _date_bounds(end)
    if first and last and first[0] > last[1]:
        raise ValueError("the range ends before it starts")



def date_years(text: str) -> tuple[int | None, int | None] | None:
    """The (first, last) year an ISO 8601/EDTF date or interval covers ("1844/1909" →
    (1844, 1909), "189X" → (1890, 1899), "../1900" → (None, 1900)); None if not a date."""
    start, _, end = text.strip().partition("/")
    try:
        first = None if start in ("", "..") else _date_bounds(start)
        last = first if not _ else (None if end in ("", "..") else _date_bounds(end))
    except ValueError:
        return None
    if first is None and last is None:
        return None
    return (first[0][0] if first else None, last[1][0] if last else None)

# --- language tags: BCP 47 (RFC 5646 §2.1) ------------------------------------------------

_LANGTAG = re.compile(r"""
    (?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4}|[a-z]{5,8})   # language, extlang
    (?:-[a-z]{4})?                                         # script
    (?:-(?:[a-z]{2}|\d{3}))?                               # region
    (?:-(?:[a-z0-9]{5,8}|\d[a-z0-9]{3}))*                  # variants
    (?:-[0-9a-wyz](?:-[a-z0-9]{2,8})+)*                    # extensions
    (?:-x(?:-[a-z0-9]{1,8})+)?                             # private use
    |x(?:-[a-z0-9]{1,8})+
    """, re.VERBOSE | re.IGNORECASE)
_IRREGULAR_TAGS = {"en-gb-oed", "i-ami", "i-bnn", "i-default", "i-enochian", "i-hak",
                   "i-klingon", "i-lux", "i-mingo", "i-navajo", "i-pwn", "i-tao", "i-tay",
                   "i-tsu", "sgn-be-fr", "sgn-be-nl", "sgn-ch-de"}


def is_language_tag(tag: str) -> bool:
    """Whether ``tag`` is a well-formed BCP 47 tag (vi, en, vi-Hani, zh-Hant, vi-VN…)."""
    return bool(_LANGTAG.fullmatch(tag)) or tag.lower() in _IRREGULAR_TAGS


def canonical_language_tag(tag: str) -> str:
    """``tag`` in the case RFC 5646 §2.1.1 recommends: vi-hani → vi-Hani, en-gb → en-GB."""
    subtags = tag.split("-")
    out = [subtags[0].lower()]
    after_singleton = len(subtags[0]) == 1  # x-private, i-klingon
    for sub in subtags[1:]:
        after_singleton = after_singleton or len(sub) == 1
        if not after_singleton and len(sub) == 4 and sub.isalpha():
            out.append(sub.title())  # script
        elif not after_singleton and len(sub) == 2 and sub.isalpha():
            out.append(sub.upper())  # region
        else:
            out.append(sub.lower())
    return "-".join(out)


# --- the schema and the problems it finds -------------------------------------------------

def _raise_if_bad_tag(tag: str) -> bool:
    if not isinstance(tag, str) or is_language_tag(tag):
        return True
    raise ValueError("")


def _format_checker() -> FormatChecker:
    from jsonschema import FormatChecker
    checker = FormatChecker(formats=())
    checker.checks("edtf", raises=ValueError)(
        # Blank values are D123's to report; the date check would only repeat it.
        lambda v: check_date(v) is None if isinstance(v, str) and v.strip() else True)
    checker.checks("bcp47", raises=ValueError)(_raise_if_bad_tag)
    return checker


@lru_cache(maxsize=1)
def schema() -> dict:
    """The Dublin Core record's JSON Schema (draft 2020-12)."""
    with SCHEMA_PATH.open(encoding="utf-8") as f:
        return json.load(f)


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator
    return Draft202012Validator(schema(), format_checker=_format_checker())


def _shown(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return f"'{text[:limit]}…'" if len(text) > limit else f"'{text}'"


# Said with every missing-title problem: where a title goes, in each of the three sources.
TITLE_HOWTO = ('add one: a "title" list in metadata/dc.json ([{"value": "…", "lang": "vi"}]), '
               "a dc:title in metadata/dc.xml, or a DC-Title line in bag-info.txt")


def _problem_for(error, record: Any, source: str) -> list[Problem]:
    """Turn one jsonschema error into Kho's problems (a code and a sentence per fault)."""
    path, keyword = list(error.absolute_path), error.validator
    where = path[0] if path else ""
    if len(path) >= 2:
        where = f"{path[0]}[{path[1]}]"
    if not path:
        if keyword == "required":
            return [Problem("D120", source, "title is required: the record has no title; " + TITLE_HOWTO)]
        if keyword == "additionalProperties":
            return [Problem("D121", source, f"{_shown(k)} is not a Dublin Core element "
                                            f"(the elements are {', '.join(ELEMENTS)})")
                    for k in record if k not in ELEMENTS]
        if keyword == "type":
            return [Problem("D110", source, "the record must be an object of Dublin Core "
                                            "elements")]
    elif len(path) == 1:
        if keyword == "type":
            return [Problem("D122", source, f"{where} must be a list of values")]
        if keyword == "minItems":
            return [Problem("D120", source, "title is empty: at least one title is required; "
                            + TITLE_HOWTO)]
    elif len(path) == 2:
        if keyword == "type":
            return [Problem("D122", source, f"{where} must be text or an object with a 'value'")]
        if keyword == "required":
            return [Problem("D122", source, f"{where} has no 'value'")]
        if keyword == "additionalProperties":
            extra = ", ".join(_shown(k) for k in error.instance if k not in ("value", "lang"))
            return [Problem("D127", source, f"{where} has unknown key {extra} (a value has "
                                            "only 'value' and 'lang')")]
    elif path[2] == "value":
        value = error.instance
        if keyword == "type":
            return [Problem("D122", source, f"{where} value must be text, not {_shown(value)}")]
        if keyword == "pattern":
            return [Problem("D123", source, f"{where} is empty")]
        if keyword == "not":
            return [Problem("D123", source, f"{where} {_shown(value)} contains a control "
                                            "character, which XML and OAI-PMH cannot carry")]
        if keyword == "format":
            reason = str(error.cause or "")
            return [Problem("D124", source, f"{where} {_shown(value)} is not an ISO 8601 date "
                                            f"or EDTF range" + (f" ({reason})" if reason else ""))]
        if keyword == "enum":
            hint = next((t for t in DCMI_TYPES if isinstance(value, str)
                         and t.lower() == value.strip().lower()), None)
            return [Problem("D126", source, f"{where} {_shown(value)} is not a DCMI Type term ("
                                            + (f"did you mean '{hint}'?" if hint
                                               else ", ".join(DCMI_TYPES)) + ")")]
    elif path[2] == "lang":
        return [Problem("D125", source, f"{where} lang {_shown(error.instance)} is not a BCP 47 "
                                        "language tag (e.g. vi, en, vi-Hani, zh-Hant)")]
    return [Problem("D129", source, f"{'.'.join(map(str, path)) or 'record'}: {error.message}")]


def validate_record(record: dict, source: str) -> list[Problem]:
    """Every way ``record`` breaks the Dublin Core schema, as Problems on the file ``source``."""
    problems: list[Problem] = []
    errors = sorted(_validator().iter_errors(record),
                    key=lambda e: [(str(type(p)), p) for p in e.absolute_path])
    for error in errors:
        problems.extend(_problem_for(error, record, source))
    return list(dict.fromkeys(problems))


# --- reading a bag's description ----------------------------------------------------------

def _nfc_deep(value: Any) -> Any:
    if isinstance(value, str):
        return normalise_text(value)
    if isinstance(value, list):
        return [_nfc_deep(v) for v in value]
    if isinstance(value, dict):
        return {normalise_text(k): _nfc_deep(v) for k, v in value.items()}
    return value


def _canonical_value(item: Any) -> Any:
    if isinstance(item, str):
        return {"value": item.strip()}
    if not isinstance(item, dict):
        return item
    out = dict(item)
    if isinstance(out.get("value"), str):
        out["value"] = out["value"].strip()
    lang = out.get("lang")
    if isinstance(lang, str):
        lang = lang.strip()
        if not lang:
            del out["lang"]  # an empty tag means "no language", as xml:lang="" does
        else:
            out["lang"] = canonical_language_tag(lang) if is_language_tag(lang) else lang
    return out


def canonical_record(raw: dict) -> dict:
    """``raw`` in NFC, elements in DCMES order, values stripped, shorthands expanded.

    Shorthands accepted: a bare string or a single value object for an element, and
    bare strings inside an element's list. Anything else is left for the schema to judge.
    """
    raw = _nfc_deep(raw)
    out: dict[str, Any] = {}
    for key in [k for k in ELEMENTS if k in raw] + [k for k in raw if k not in ELEMENTS]:
        values = raw[key]
        if isinstance(values, (str, dict)):
            values = [values]
        out[key] = [_canonical_value(v) for v in values] if isinstance(values, list) else values
    return out


def _read_tag_file(path: Path, source: str) -> tuple[bytes | None, list[Problem]]:
    if path.is_symlink() or not path.is_file():
        return None, [Problem("D100", source, "is not a regular file; Kho reads the description "
                                              "only from a regular file inside the bag")]
    try:
        with path.open("rb") as f:
            data = f.read(MAX_DESCRIPTION_BYTES + 1)
    except OSError as exc:
        return None, [Problem("D100", source, f"cannot be read: {exc.strerror}")]
    if len(data) > MAX_DESCRIPTION_BYTES:
        return None, [Problem("D100", source, f"is larger than {MAX_DESCRIPTION_BYTES} bytes; "
                                              "a description this large is not accepted")]
    return data, []


def read_dc_json(data: bytes, source: str = DC_JSON) -> tuple[dict | None, list[Problem]]:
    """The record in JSON bytes ``data`` (canonical, not yet validated), or None and a Problem."""
    try:
        text = data.decode("utf-8-sig")  # RFC 8259 §8.1: a reader may ignore a BOM
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        return None, [Problem("D101", source, f"is not UTF-8: byte {exc.start} on line {line} "
                                              "cannot be decoded")]
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                duplicates.append(key)
            seen[key] = value
        return seen

    try:
        raw = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        return None, [Problem("D101", source, f"is not valid JSON: {exc.msg} at line {exc.lineno}, "
                                              f"column {exc.colno}")]
    except RecursionError:
        return None, [Problem("D101", source, "is not valid JSON: it is nested too deeply")]
    if not isinstance(raw, dict):
        return None, [Problem("D110", source, "must be a JSON object of Dublin Core elements, "
                                              f"not a {type(raw).__name__}")]
    problems = [Problem("D111", source, f"key {_shown(k)} appears more than once; only its "
                                        "last value would be kept")
                for k in dict.fromkeys(duplicates)]
    return canonical_record(raw), problems


def _field(bag_info: dict[str, list[str]], label: str) -> list[str]:
    return [v for k, vs in bag_info.items() if k.lower() == label.lower() for v in vs]


def _dc_labels(bag_info: dict[str, list[str]]) -> list[str]:
    return [k for k in bag_info if k.lower().startswith("dc-")]


def record_from_bag_info(bag_info: dict[str, list[str]]) -> tuple[dict | None, list[Problem]]:
    """The record in bag-info.txt's ``DC-<Element>[-<lang>]`` fields, or None if there is none."""
    record: dict[str, list[Any]] = {}
    problems: list[Problem] = []
    for label in _dc_labels(bag_info):
        element, _, lang = label[3:].partition("-")
        if element.lower() not in ELEMENTS:
            problems.append(Problem("D130", BAG_INFO, f"{label} does not name a Dublin Core "
                                                      "element; the field is ignored", "warning"))
            continue
        for value in bag_info[label]:
            item = {"value": value, "lang": lang} if lang else {"value": value}
            record.setdefault(element.lower(), []).append(item)
    if not record:
        return None, problems
    for label, element in BAG_INFO_FALLBACKS:
        if element not in record and _field(bag_info, label):
            record[element] = [{"value": v} for v in _field(bag_info, label)]
    return canonical_record(record), problems


def description_source(bag_root: Path, bag_info: dict[str, list[str]]) -> str | None:
    """Which file describes the bag: metadata/dc.json, metadata/dc.xml, bag-info.txt or None."""
    for source in (DC_JSON, DC_XML):
        if (bag_root / source).exists() or (bag_root / source).is_symlink():
            return source
    if any(k[3:].partition("-")[0].lower() in ELEMENTS for k in _dc_labels(bag_info)):
        return BAG_INFO
    return None


def read_dublin_core(bag_root: Path, bag_info: dict[str, list[str]]
                     ) -> tuple[dict | None, list[Problem]]:
    """The bag's Dublin Core record (None if it has no description) and every problem with it.

    Sources, first found wins: metadata/dc.json, metadata/dc.xml (oai_dc), DC- fields
    in bag-info.txt. A record is returned even when it breaks the schema, so callers
    can show it; an unreadable file gives None and a Problem.
    """
    bag_root = Path(bag_root)
    source = description_source(bag_root, bag_info)
    problems: list[Problem] = []
    if source is None:
        return None, record_from_bag_info(bag_info)[1]  # warnings on unknown DC- fields
    if source == BAG_INFO:
        record, problems = record_from_bag_info(bag_info)
    else:
        data, problems = _read_tag_file(bag_root / source, source)
        record = None
        if data is not None:
            if source == DC_JSON:
                record, problems = read_dc_json(data, source)
            else:
                record, problems = read_oai_dc(data, source)
                record = canonical_record(record) if record is not None else None
        if source == DC_JSON and (bag_root / DC_XML).exists():
            problems.append(Problem("D105", DC_XML, f"is ignored: {DC_JSON} describes the bag "
                                                    "and comes first", "warning"))
        if _dc_labels(bag_info):
            problems.append(Problem("D105", BAG_INFO, f"its DC- fields are ignored: {source} "
                                                      "describes the bag and comes first",
                                    "warning"))
    if record is not None:
        problems.extend(validate_record(record, source))
    return record, problems


# --- using a record -----------------------------------------------------------------------

def _values(record: dict) -> Iterable[dict]:
    for element in [e for e in ELEMENTS if e in record] + [k for k in record if k not in ELEMENTS]:
        values = record[element]
        if isinstance(values, list):
            yield from (v for v in values
                        if isinstance(v, dict) and isinstance(v.get("value"), str))


def search_text(record: dict) -> str:
    """Every value of ``record``, accent-folded and joined, for the catalogue's search column."""
    return " ".join(filter(None, (fold_for_search(v["value"]) for v in _values(record))))


def _language_and_script(tag: str) -> tuple[str, str]:
    subtags = tag.lower().split("-")
    script = next((s for s in subtags[1:] if len(s) == 4 and s.isalpha()), "")
    # Latin is the script Vietnamese (and English) are written in when none is named.
    return subtags[0], "" if script == "latn" else script


def is_latin_text(text: str) -> bool:
    """Whether most letters of ``text`` are Latin (quốc ngữ), not Han, Nôm or others."""
    letters = [c for c in text if c.isalpha()]
    latin = sum(1 for c in letters if unicodedata.name(c, "").startswith("LATIN"))
    return bool(letters) and latin * 2 > len(letters)


def primary_title(record: dict, prefer: tuple[str, ...] = ("vi", "und", "en")) -> str:
    """The title to show, first found for each tag of ``prefer`` in turn: the exact tag,
    then a tag with the same language and script (``vi`` finds ``vi-VN``, not ``vi-Hani``);
    else the first title. A title without a language counts as ``und``, and an untagged
    title in Latin letters comes before an untagged one in Han or Nôm (the Vietnamese
    title of a Hán-Nôm work is often left untagged beside a tagged ``vi-Hani`` one). "" if none."""
    titles = list(_values({"title": record.get("title", [])}))
    langs = [(v.get("lang") or "und").lower() for v in titles]
    for wanted in prefer:
        if wanted.lower() == "und":
            untagged = [t for t, lang in zip(titles, langs) if lang == "und"]
            latin = [t for t in untagged if is_latin_text(t["value"])]
            if latin:
                return latin[0]["value"]
            continue
        if wanted.lower() in langs:
            return titles[langs.index(wanted.lower())]["value"]
        for title, lang in zip(titles, langs):
            if _language_and_script(lang) == _language_and_script(wanted):
                return title["value"]
    return titles[0]["value"] if titles else ""


def title_label(record: dict) -> dict[str, list[str]]:
    """A IIIF label (language map) for the record's titles that shows the Vietnamese title
    whatever the viewer's language: it goes under ``vi``, and titles of the same language in
    other scripts (``vi-Hani``) or untagged stay out (they are in the metadata), since a
    viewer asked for ``vi`` would otherwise pick ``vi-Hani`` as its nearest match."""
    titles = list(_values({"title": record.get("title", [])}))
    if not titles:
        return {}
    primary = primary_title(record)
    chosen = next(t for t in titles if t["value"] == primary)
    language = _language_and_script(chosen.get("lang") or "und")
    vietnamese = language == ("vi", "") or (language[0] == "und" and is_latin_text(primary))
    if not vietnamese:
        return language_map(titles)
    label: dict[str, list[str]] = {"vi": [primary]}
    for title in titles:
        tag = title.get("lang") or ""
        if tag and _language_and_script(tag)[0] not in ("vi", "und"):
            label.setdefault(tag, []).append(title["value"])
    return label


def language_map(values: list[dict]) -> dict[str, list[str]]:
    """IIIF Presentation 3 language map of ``values`` (§4.3): {"vi": [...], "none": [...]}."""
    out: dict[str, list[str]] = {}
    for item in values or []:
        if isinstance(item, dict) and isinstance(item.get("value"), str):
            out.setdefault(item.get("lang") or "none", []).append(item["value"])
    return out
