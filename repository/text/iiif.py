"""Page text as IIIF: supplementing annotations per canvas, and IIIF Content Search
answers in versions 2.0 (https://iiif.io/api/search/2.0/) and 1.0 (which Mirador 4 speaks).

URLs (``Urls`` of access/presentation.py supplies the base):
    /iiif/3/<aip>/annotations/<canvas>            AnnotationPage of the canvas's text
    /iiif/search/2/<aip>?q=…&page=N               Content Search 2.0
    /iiif/search/2/<aip>/autocomplete?q=…         Autocomplete 2.0 (TermPage)
    /iiif/search/1/<aip>?q=…&page=N               Content Search 1.0
    /iiif/search/1/<aip>/autocomplete?q=…         Autocomplete 1.0 (TermList)
"""
from __future__ import annotations

import dataclasses
from urllib.parse import quote, urlencode

from sqlalchemy.orm import Session

from repository.access.presentation import ManifestSource
from repository.catalog import Aip

from repository.text.models import PageText
from repository.text.pages import Page, text_canvases
from repository.text.layout import PageLayout
from repository.text.search_within import Hit, SearchResult

PRESENTATION_3 = "http://iiif.io/api/presentation/3/context.json"
PRESENTATION_2 = "http://iiif.io/api/presentation/2/context.json"
SEARCH_2 = "http://iiif.io/api/search/2/context.json"
SEARCH_1 = "http://iiif.io/api/search/1/context.json"
SEARCH_1_PROFILE = "http://iiif.io/api/search/1/search"
AUTOCOMPLETE_1_PROFILE = "http://iiif.io/api/search/1/autocomplete"
# Tesseract's language codes as BCP 47, for the language of an OCR annotation's body.
TESSERACT_BCP47 = {"vie": "vi", "fra": "fr", "eng": "en", "chi_tra": "zh-Hant",
                   "chi_sim": "zh-Hans", "chi_tra_vert": "zh-Hant", "chi_sim_vert": "zh-Hans",
                   "lat": "la", "jpn": "ja"}


def body_language(row_language: str, source: str) -> str:
    if source == "ocr":
        return TESSERACT_BCP47.get(row_language.split("+")[0], "und")
    return row_language


class TextUrls:
    """URLs of the text resources of one AIP under one base."""

    def __init__(self, base: str, aip: str):
        self.base, self.aip = base, aip
        self._aip = quote(aip, safe="")

    def canvas(self, page: Page) -> str:
        return f"{self.base}/iiif/3/{self._aip}/canvas/{page.canvas_name}"

    def manifest(self) -> str:
        return f"{self.base}/iiif/3/{self._aip}/manifest"

    def annotations(self, canvas_name: str) -> str:
        return f"{self.base}/iiif/3/{self._aip}/annotations/{canvas_name}"

    def annotation(self, page: Page, row: PageText | Hit, n: int | str) -> str:
        lang = quote(getattr(row, "language"), safe="")
        return f"{self.annotations(page.canvas_name)}/{row.source}-{lang}/{n}"

    def search(self, version: int, **params) -> str:
        url = f"{self.base}/iiif/search/{version}/{self._aip}"
        return f"{url}?{urlencode(params)}" if params else url

    def autocomplete(self, version: int, **params) -> str:
        url = f"{self.base}/iiif/search/{version}/{self._aip}/autocomplete"
        return f"{url}?{urlencode(params)}" if params else url


def search_services(urls: TextUrls) -> list[dict]:
    """The manifest's ``service`` entries: Content Search 2.0 and 1.0, each with autocomplete."""
    return [
        {"id": urls.search(2), "type": "SearchService2",
         "service": [{"id": urls.autocomplete(2), "type": "AutoCompleteService2"}]},
        # Presentation 3.0 §3.3.1: a service of an older specification keeps @id/@type.
        {"@context": SEARCH_1, "@id": urls.search(1), "@type": "SearchService1",
         "profile": SEARCH_1_PROFILE,
         "service": [{"@id": urls.autocomplete(1), "@type": "AutoCompleteService1",
                      "profile": AUTOCOMPLETE_1_PROFILE}]},
    ]


def _xywh(box) -> str:
    return "#xywh=" + ",".join(str(v) for v in box)


def annotation_page(urls: TextUrls, page: Page, rows: list[PageText]) -> dict:
    """The canvas's text as ``supplementing`` annotations: a line each where the text has
    word boxes (OCR, hOCR/ALTO transcriptions), the whole text otherwise."""
    items = []
    for row in rows:
        language = body_language(row.language, row.source)
        layout = PageLayout(row.text, row.words or [])
        pieces = layout.lines() if row.words else [(row.text, None)]
        for n, (text, box) in enumerate(pieces, 1):
            items.append({
                "id": urls.annotation(page, row, n), "type": "Annotation",
                "motivation": "supplementing",
                "label": {"vi": ["Nhận dạng chữ (OCR)" if row.source == "ocr" else "Phiên âm"],
                          "en": ["OCR" if row.source == "ocr" else "Transcription"]},
                "body": {"type": "TextualBody", "value": text, "format": "text/plain",
                         "language": language},
                "target": urls.canvas(page) + (_xywh(box) if box else "")})
    return {"@context": PRESENTATION_3, "id": urls.annotations(page.canvas_name),
            "type": "AnnotationPage", "items": items}


def _hit_targets(urls: TextUrls, hit: Hit) -> list[tuple[str, str]]:
    """(annotation id, target) for each line segment of a hit (one without boxes)."""
    key = f"{hit.row_id}-{hit.start}-{hit.end}"
    if not hit.boxes:
        return [(urls.annotation(hit.page, hit, f"hit-{key}"), urls.canvas(hit.page))]
    return [(urls.annotation(hit.page, hit, f"hit-{key}-{n}"), urls.canvas(hit.page) + _xywh(box))
            for n, box in enumerate(hit.boxes, 1)]


def search_response_2(urls: TextUrls, query: str, result: SearchResult,
                      ignored: list[str]) -> dict:
    """A Content Search 2.0 AnnotationPage (§4.2.2 paging, §4.3.1 match context)."""
    items, context = [], []
    for hit in result.hits:
        targets = _hit_targets(urls, hit)
        for anno_id, target in targets:
            items.append({"id": anno_id, "type": "Annotation", "motivation": "supplementing",
                          "body": {"type": "TextualBody", "value": hit.exact,
                                   "format": "text/plain",
                                   "language": body_language(hit.language, hit.source)},
                          "target": target})
        selector = [{"type": "TextQuoteSelector", "prefix": hit.prefix, "exact": hit.exact,
                     "suffix": hit.suffix}]
        specific = [{"type": "SpecificResource", "source": anno_id, "selector": selector}
                    for anno_id, _ in targets]
        context.append({"id": f"{targets[0][0]}/context", "type": "Annotation",
                        "motivation": "contextualizing",
                        "target": specific[0] if len(specific) == 1 else specific})
    page = {"@context": SEARCH_2, "id": urls.search(2, q=query, page=result.page),
            "type": "AnnotationPage",
            "partOf": {"id": urls.search(2, q=query), "type": "AnnotationCollection",
                       "total": result.total,
                       "first": {"id": urls.search(2, q=query, page=1), "type": "AnnotationPage"},
                       "last": {"id": urls.search(2, q=query, page=result.pages),
                                "type": "AnnotationPage"}},
            "startIndex": result.start_index}
    if result.page < result.pages:
        page["next"] = {"id": urls.search(2, q=query, page=result.page + 1), "type": "AnnotationPage"}
    if result.page > 1:
        page["prev"] = {"id": urls.search(2, q=query, page=result.page - 1), "type": "AnnotationPage"}
    if ignored:
        page["ignored"] = ignored
    page["items"] = items
    if context:
        page["annotations"] = [{"type": "AnnotationPage", "items": context}]
    return page


def search_response_1(urls: TextUrls, query: str, result: SearchResult,
                      ignored: list[str]) -> dict:
    """A Content Search 1.0 AnnotationList with ``hits`` (Search 1.0 §3.4)."""
    resources, hits = [], []
    for hit in result.hits:
        targets = _hit_targets(urls, hit)
        for anno_id, target in targets:
            resources.append({"@id": anno_id, "@type": "oa:Annotation",
                              "motivation": "sc:painting",
                              "resource": {"@type": "cnt:ContentAsText", "chars": hit.exact},
                              "on": target})
        hits.append({"@type": "search:Hit", "annotations": [a for a, _ in targets],
                     "match": hit.exact, "before": hit.prefix, "after": hit.suffix})
    answer = {"@context": [PRESENTATION_2, SEARCH_1],
              "@id": urls.search(1, q=query, page=result.page), "@type": "sc:AnnotationList",
              "within": {"@type": "sc:Layer", "total": result.total,
                         "first": urls.search(1, q=query, page=1),
                         "last": urls.search(1, q=query, page=result.pages)},
              "startIndex": result.start_index}
    if result.page < result.pages:
        answer["next"] = urls.search(1, q=query, page=result.page + 1)
    if result.page > 1:
        answer["prev"] = urls.search(1, q=query, page=result.page - 1)
    if ignored:
        answer["ignored"] = ignored
    answer["resources"] = resources
    answer["hits"] = hits
    return answer


def autocomplete_response_2(urls: TextUrls, query: str, terms: list[tuple[str, int]],
                            ignored: list[str]) -> dict:
    """An Autocomplete 2.0 TermPage (§5.2, §5.3: value, total)."""
    answer = {"@context": SEARCH_2, "id": urls.autocomplete(2, q=query), "type": "TermPage"}
    if ignored:
        answer["ignored"] = ignored
    answer["items"] = [{"value": term, "total": count} for term, count in terms]
    return answer


def autocomplete_response_1(urls: TextUrls, query: str, terms: list[tuple[str, int]],
                            ignored: list[str]) -> dict:
    """An Autocomplete 1.0 TermList: match, url of the search, count."""
    answer = {"@context": SEARCH_1, "@id": urls.autocomplete(1, q=query),
              "@type": "search:TermList"}
    if ignored:
        answer["ignored"] = ignored
    answer["terms"] = [{"match": term, "url": urls.search(1, q=term), "count": count}
                       for term, count in terms]
    return answer


def with_text(session: Session, aip: Aip, source: ManifestSource, base: str) -> ManifestSource:
    """``source`` with its canvases' text annotations and the search services, when the
    AIP's pages have text (a manifest without text offers no search)."""
    canvases = text_canvases(session, aip)
    if not canvases:
        return source
    urls = TextUrls(base, aip.identifier)
    return dataclasses.replace(source, annotation_pages={c: urls.annotations(c) for c in canvases},
                               services=tuple(search_services(urls)))
