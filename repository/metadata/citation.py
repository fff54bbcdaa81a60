"""Citations of a described item: APA and Chicago in Vietnamese and English, RIS, BibTeX,
and the HighWire Press ``citation_*`` meta tags that Zotero and Google Scholar read.

Everything comes from the Dublin Core record (dublin_core.py's form: element → list of
``{"value", "lang"}``); the stable URL and the holding library are given by the caller.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from repository.metadata.dublin_core import primary_title

_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")


@dataclass(frozen=True)
class Citation:
    """One formatted citation as text around the title (which styles set in italics)."""

    style: str
    language: str
    before: str
    title: str
    after: str

    @property
    def text(self) -> str:
        return f"{self.before}{self.title}{self.after}"


def _all(record: dict, element: str) -> list[str]:
    return [v["value"] for v in record.get(element, [])
            if isinstance(v, dict) and isinstance(v.get("value"), str) and v["value"].strip()]


def _first(record: dict, element: str) -> str:
    values = _all(record, element)
    return values[0] if values else ""


def date_text(record: dict) -> str:
    """The date as people write it: an EDTF range ``1844/1909`` becomes ``1844–1909``."""
    return _first(record, "date").replace("/", "–")


def year(record: dict) -> str:
    found = _YEAR.search(_first(record, "date"))
    return found.group(1) if found else ""


def _join_names(names: list[str], language: str) -> str:
    if len(names) <= 1:
        return "".join(names)
    conjunction = " và " if language == "vi" else ", & "
    return ", ".join(names[:-1]) + conjunction + names[-1]


def citations(record: dict, *, url: str, publisher: str, fallback_title: str,
              accessed: dict[str, str]) -> list[Citation]:
    """APA 7 and Chicago 17 (bibliography) citations, each in Vietnamese and English;
    ``accessed`` is today's date as each language writes it ({"vi": …, "en": …})."""
    title = primary_title(record) or fallback_title
    creators_vi = _join_names(_all(record, "creator"), "vi")
    creators_en = _join_names(_all(record, "creator"), "en")
    when = date_text(record)
    publisher = _first(record, "publisher") or publisher
    out = []
    for language, creators, no_date, kind, seen in (
            ("vi", creators_vi, "k.n.", "Tài liệu số hoá", "Truy cập ngày"),
            ("en", creators_en, "n.d.", "Digitised item", "Accessed")):
        lead = f"{creators}. " if creators else ""
        out.append(Citation("APA", language, f"{lead}({when or no_date}). ", title,
                            f" [{kind}]. {publisher}. {url}"))
        out.append(Citation("Chicago", language, lead, title,
                            f". {publisher}, {when or no_date}. {seen} {accessed[language]}. "
                            f"{url}."))
    return out


def ris(record: dict, *, url: str, publisher: str, fallback_title: str, identifier: str) -> str:
    """An RIS record (reference managers' import format), CRLF lines as the format wants."""
    lines = ["TY  - MANSCPT" if _is_manuscript(record) else "TY  - GEN",
             f"TI  - {primary_title(record) or fallback_title}"]
    lines += [f"AU  - {name}" for name in _all(record, "creator")]
    if year(record):
        lines.append(f"PY  - {year(record)}")
    if date_text(record):
        lines.append(f"DA  - {date_text(record)}")
    lines += [f"KW  - {s}" for s in _all(record, "subject")]
    lines += [f"AB  - {d}" for d in _all(record, "description")[:1]]
    lines += [f"LA  - {lang}" for lang in _all(record, "language")]
    lines += [f"PB  - {_first(record, 'publisher') or publisher}", f"UR  - {url}",
              f"ID  - {identifier}", "ER  - "]
    return "\r\n".join(lines) + "\r\n"


def _is_manuscript(record: dict) -> bool:
    return any("manuscript" in t.lower() or "thủ bản" in t.lower() or "chép tay" in t.lower()
               for t in _all(record, "type") + _all(record, "format"))


def _bibtex_escape(text: str) -> str:
    # BibTeX (and biber) read UTF-8; only its own special characters need braces.
    return re.sub(r"([{}%&$#_])", r"\\\1", text)


def bibtex(record: dict, *, url: str, publisher: str, fallback_title: str,
           identifier: str) -> str:
    """A BibTeX ``@misc`` entry keyed by the AIP identifier."""
    key = re.sub(r"[^A-Za-z0-9_-]", "", identifier) or "kho"
    fields = [("title", f"{{{_bibtex_escape(primary_title(record) or fallback_title)}}}")]
    if _all(record, "creator"):
        fields.append(("author", " and ".join(f"{{{_bibtex_escape(n)}}}"
                                              for n in _all(record, "creator"))))
    if year(record):
        fields.append(("year", year(record)))
    fields += [("publisher", _bibtex_escape(_first(record, "publisher") or publisher)),
               ("howpublished", f"\\url{{{url}}}"), ("url", url)]
    if _all(record, "language"):
        fields.append(("language", _bibtex_escape(_all(record, "language")[0])))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}\n"


def highwire_tags(record: dict, *, url: str, publisher: str, fallback_title: str,
                  pdf_url: str | None = None) -> list[tuple[str, str]]:
    """(name, content) of the ``citation_*`` meta tags (Google Scholar's inclusion rules)."""
    tags = [("citation_title", primary_title(record) or fallback_title)]
    tags += [("citation_author", name) for name in _all(record, "creator")]
    if year(record):
        tags.append(("citation_publication_date", year(record)))
    tags += [("citation_publisher", _first(record, "publisher") or publisher),
             ("citation_public_url", url)]
    tags += [("citation_language", lang) for lang in _all(record, "language")]
    tags += [("citation_keywords", s) for s in _all(record, "subject")]
    if pdf_url:
        tags.append(("citation_pdf_url", pdf_url))
    return tags
