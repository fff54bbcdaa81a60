"""From a Dublin Core record to a search document: its fields, years and facet values."""
from __future__ import annotations

from dataclasses import dataclass, field

from repository.metadata import date_years
from repository.metadata.dublin_core import canonical_language_tag
from repository.search.tokens import exact_form, search_form

# Which Dublin Core elements feed which weighted field; every other element goes to body.
TITLE_ELEMENTS = ("title",)
CREATOR_ELEMENTS = ("creator", "contributor")
SUBJECT_ELEMENTS = ("subject", "coverage")
# A span of years is listed under each decade it covers, so the decade facet counts what
# date=1890s finds; longer spans (a fonds 1400/1945) only under their first decade.
MAX_DECADES = 10
FACETS = ("collection", "type", "lang", "decade", "access")


@dataclass
class DocumentText:
    """A document ready to index: search-form fields, years and facet values."""

    title: str = ""
    creator: str = ""
    subject: str = ""
    body: str = ""
    exact: str = ""
    year_from: int | None = None
    year_to: int | None = None
    facets: set[tuple[str, str]] = field(default_factory=set)

    def row(self) -> dict:
        """The columns of search_documents this text fills (the rest is in the index)."""
        return {"title": self.title, "year_from": self.year_from, "year_to": self.year_to}

    def add_text(self, text: str) -> None:
        """Add running text (a page's OCR or transcription) to the body, weighted lowest."""
        self.body = " ".join(part for part in (self.body, search_form(text)) if part)
        self.exact = " ".join(dict.fromkeys((self.exact + " " + exact_form(text)).split()))

    @property
    def long_span(self) -> bool:
        """Dated across more decades than it is listed under (``_decades``)."""
        return len(decades_of(self.year_from, self.year_to)) > MAX_DECADES

    def words(self) -> set[str]:
        return set(" ".join((self.title, self.creator, self.subject, self.body)).split())


def values(record: dict, elements: tuple[str, ...] | None = None) -> list[dict]:
    """The ``{"value", "lang"}`` items of ``record`` (of ``elements`` only, if given)."""
    out = []
    for element, items in (record or {}).items():
        if elements is not None and element not in elements or not isinstance(items, list):
            continue
        for item in items:
            if isinstance(item, str):  # tolerate the bare-string form older code wrote
                item = {"value": item}
            if isinstance(item, dict) and isinstance(item.get("value"), str):
                out.append(item)
    return out


def _joined(items: list[dict]) -> str:
    return "\n".join(item["value"] for item in items)


def _type_name(value: str) -> str:
    # DCMI Type may come as a term URI: http://purl.org/dc/dcmitype/StillImage
    return value.strip().rstrip("/").rsplit("/", 1)[-1]


def decades_of(lo: int | None, hi: int | None) -> list[int]:
    """Every decade the years ``lo``..``hi`` touch (one end None: that one year)."""
    if lo is None and hi is None:
        return []
    lo = hi if lo is None else lo
    hi = lo if hi is None else hi
    return list(range(lo - lo % 10, hi - hi % 10 + 10, 10))


def _decades(lo: int | None, hi: int | None) -> list[int]:
    """The decades a document dated ``lo``..``hi`` is listed under (the decade facet)."""
    decades = decades_of(lo, hi)
    return decades if len(decades) <= MAX_DECADES else decades[:1]


def _language(tag: str) -> str:
    tag = tag.strip()
    return canonical_language_tag(tag) if tag else ""


def _has_script(tag: str) -> bool:
    return any(len(sub) == 4 and sub.isalpha() for sub in tag.split("-")[1:])


def describe(record: dict, *, fallback_title: str = "") -> DocumentText:
    """The search document of a work described by ``record``; its collection and access
    facets come from its AIP (``SearchDocument.collection_id`` and ``access``)."""
    titles = values(record, TITLE_ELEMENTS) or ([{"value": fallback_title}] if fallback_title
                                               else [])
    named = TITLE_ELEMENTS + CREATOR_ELEMENTS + SUBJECT_ELEMENTS
    rest = [v for element in record or {} if element not in named
            for v in values(record, (element,))]
    everything = titles + values(record, CREATOR_ELEMENTS + SUBJECT_ELEMENTS) + rest
    doc = DocumentText(title=search_form(_joined(titles)),
                       creator=search_form(_joined(values(record, CREATOR_ELEMENTS))),
                       subject=search_form(_joined(values(record, SUBJECT_ELEMENTS))),
                       body=search_form(_joined(rest)), exact=exact_form(_joined(everything)))
    spans = [s for s in (date_years(v["value"]) for v in values(record, ("date",))) if s]
    if spans:
        doc.year_from, doc.year_to = spans[0]
        for decade in _decades(*spans[0]):
            doc.facets.add(("decade", str(decade)))
    for item in values(record, ("type",)):
        doc.facets.add(("type", _type_name(item["value"])[:200]))
    languages = [_language(v["value"]) for v in values(record, ("language",))]
    # A title tagged with a script (vi-Hani for Hán, vi-Nom for Nôm) says the work is written
    # in it; a plain "en" title is a translation of the title, not the work's language.
    languages += [_language(v["lang"]) for v in titles
                  if isinstance(v.get("lang"), str) and _has_script(v["lang"])]
    doc.facets.update(("lang", tag[:200]) for tag in languages if tag)
    return doc
