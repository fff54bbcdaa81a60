"""A harvested record read into Kho's Dublin Core form, and the key of the work it describes.

The same work held by several libraries is one result with every holder: records match on
their identifiers (ISBN, ISSN, DOI, a call number…, never the URL of a record page, which
is each library's own), else on the folded title, creator and year.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from repository.metadata.text import fold_for_search, normalise_text

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_O = f"{{{OAI_NS}}}"
_URL = re.compile(r"^(https?|ftp)://", re.I)
_LABELLED = re.compile(r"^(isbn|issn|doi|urn:isbn|urn:issn|urn:nbn|hdl|handle)[\s:]*(.+)$")
_YEAR = re.compile(r"\d{4}")


class RecordProblem(ValueError):
    """A record that cannot be used (no identifier or datestamp)."""


@dataclass
class HarvestedRecord:
    oai_identifier: str
    datestamp: str
    deleted: bool
    set_specs: list[str] = field(default_factory=list)
    raw_xml: str = ""
    record: dict = field(default_factory=dict)


def read_header(header) -> tuple[str, str, bool, list[str]]:
    identifier = (header.findtext(f"{_O}identifier") or "").strip()
    datestamp = (header.findtext(f"{_O}datestamp") or "").strip()
    if not identifier or not datestamp:
        raise RecordProblem("a header without identifier or datestamp")
    specs = [(s.text or "").strip() for s in header.findall(f"{_O}setSpec")]
    return identifier, datestamp, header.get("status") == "deleted", specs


def read_record(element) -> HarvestedRecord:
    """A <record> (lxml element) as a HarvestedRecord, its raw XML kept as received."""
    from lxml import etree
    header = element.find(f"{_O}header")
    if header is None:
        raise RecordProblem("a record without a header")
    identifier, datestamp, deleted, specs = read_header(header)
    raw = etree.tostring(element, encoding="unicode")
    record: dict[str, list[dict[str, str]]] = {}
    dc = element.find(f"{_O}metadata/{{{OAI_DC_NS}}}dc")
    if dc is not None and not deleted:
        for child in dc:
            if not isinstance(child.tag, str) or not child.tag.startswith(f"{{{DC_NS}}}"):
                continue
            value = normalise_text("".join(child.itertext()).strip())
            if not value:
                continue
            item = {"value": value}
            lang = (child.get(XML_LANG) or "").strip()
            if lang:
                item["lang"] = lang
            record.setdefault(child.tag[len(DC_NS) + 2:], []).append(item)
    return HarvestedRecord(identifier, datestamp, deleted, specs, raw, record)


def _values(record: dict, element: str) -> list[str]:
    # Kho's own records are indexed by the same key: tolerate the bare-string values older
    # code wrote ({"title": ["Địa bạ"]}) as the search documents do.
    items = record.get(element, [])
    return [v for v in ((item if isinstance(item, str) else item.get("value", ""))
                        for item in (items if isinstance(items, list) else [])
                        if isinstance(item, (str, dict))) if isinstance(v, str) and v]


def normalise_identifier(value: str) -> str | None:
    """An identifier as a match key ("ISBN 978-604-1-12345-6" → "isbn:9786041123456")."""
    folded = fold_for_search(value)
    if not folded or _URL.match(folded):
        return None
    labelled = _LABELLED.match(folded)
    if labelled:
        label = labelled.group(1).split(":")[-1].replace("handle", "hdl")
        return f"{label}:{re.sub(r'[^0-9a-z./]', '', labelled.group(2))}"
    digits = re.sub(r"[\s-]", "", folded)
    if re.fullmatch(r"(97[89])?\d{9}[\dx]", digits):  # a bare ISBN
        return f"isbn:{digits}"
    return f"id:{folded}"


def work_key(record: dict) -> str:
    """The key shared by every record of one work (see the module docstring)."""
    keys = sorted(filter(None, (normalise_identifier(v) for v in _values(record, "identifier"))))
    if keys:
        return keys[0][:500]
    title = fold_for_search((_values(record, "title") or [""])[0])
    creator = fold_for_search((_values(record, "creator") or [""])[0])
    year = _YEAR.search(" ".join(_values(record, "date")))
    return f"tcd:{title}|{creator}|{year.group(0) if year else ''}"[:500]


def record_link(record: dict, base_url: str, oai_identifier: str, prefix: str) -> str:
    """Where a reader sees the record at its source: its own URL, else GetRecord."""
    for value in _values(record, "identifier"):
        if value.lower().startswith(("http://", "https://")):
            return value
    from urllib.parse import urlencode
    return f"{base_url}?" + urlencode({"verb": "GetRecord", "metadataPrefix": prefix,
                                       "identifier": oai_identifier})


def searchable_text(record: dict) -> str:
    """The folded text a search matches ("ha noi" finds "Hà Nội")."""
    return fold_for_search(" ".join(v for values in record.values() for v in
                                    (item.get("value", "") for item in values)))
